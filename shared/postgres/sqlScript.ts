/**
 * Splits a SQL script as pg_dump, pg_restore and pg_dumpall print it into statements of tokens, so a reader can ask
 * "what kind of statement, naming which roles" without being fooled by text that only looks like SQL: a quoted
 * identifier may hold ` TO ` or `;`, a string or a function body (dollar-quoted) may hold whole statements.
 * Lexical rules as PostgreSQL documents them ("Lexical Structure", https://www.postgresql.org/docs/current/sql-syntax-lexical.html):
 * unquoted names fold to lower case, `""` and `''` escape a quote inside their quotes, `E'...'` strings take
 * backslash escapes, dollar quotes end only at the same tag, block comments nest. A line starting with a backslash
 * is a psql meta-command (pg_dump's `\restrict`, `\connect`) and ends at the end of its line.
 */
import { PgVaultError } from "../errors";

export type SqlTokenKind = "word" | "quotedName" | "string" | "number" | "symbol";

export interface SqlToken {
  kind: SqlTokenKind;
  /**
   * A word folded to lower case (ASCII letters only, as the server does), a quoted name or a string without its
   * quotes and escapes, anything else as written.
   */
  value: string;
  /** Where the token starts and ends in its statement's `text`. */
  start: number;
  end: number;
}

export interface SqlStatement {
  /** The statement as written, without its `;` and the whitespace and comments around it. */
  text: string;
  tokens: SqlToken[];
}

const wordStart = /[A-Za-z_\u0080-\uffff]/;
const wordPart = /[A-Za-z0-9_$\u0080-\uffff]/;
const dollarTag = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

const foldCase = (word: string) => word.replace(/[A-Z]/g, (c) => c.toLowerCase());

function unterminated(what: string, at: number): PgVaultError {
  return new PgVaultError("SystemErrorUnexpected", `The SQL text ends inside ${what} (opened at character ${at}).`);
}

/** Reads one script; throws on a quote, dollar quote or comment that is never closed. */
export function sqlStatements(script: string): SqlStatement[] {
  const statements: SqlStatement[] = [];
  let tokens: (SqlToken & { at: number })[] = [];
  let i = 0;
  const finish = (end: number) => {
    if (tokens.length > 0) {
      const from = tokens[0]!.at;
      const text = script.slice(from, end).trimEnd();
      statements.push({ text, tokens: tokens.map(({ at: _at, ...token }) => ({ ...token, start: token.start - from, end: token.end - from })) });
    }
    tokens = [];
  };
  const push = (kind: SqlTokenKind, value: string, start: number, end: number) => tokens.push({ kind, value, start, end, at: start });
  while (i < script.length) {
    const c = script[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "-" && script[i + 1] === "-") {
      i = lineEnd(script, i);
    } else if (c === "/" && script[i + 1] === "*") {
      i = blockCommentEnd(script, i);
    } else if (c === "\\" && tokens.length === 0 && atLineStart(script, i)) {
      i = lineEnd(script, i);
    } else if (c === ";") {
      finish(i);
      i++;
    } else if (c === "'") {
      const [value, end] = quoted(script, i, "'", false);
      push("string", value, i, end);
      i = end;
    } else if ((c === "E" || c === "e") && script[i + 1] === "'") {
      const [value, end] = quoted(script, i + 1, "'", true);
      push("string", value, i, end);
      i = end;
    } else if (c === '"') {
      const [value, end] = quoted(script, i, '"', false);
      push("quotedName", value, i, end);
      i = end;
    } else if (c === "$" && dollarTag.test(script.slice(i, i + 64))) {
      const tag = dollarTag.exec(script.slice(i, i + 64))![0];
      const close = script.indexOf(tag, i + tag.length);
      if (close < 0) throw unterminated(`the dollar quote ${tag}`, i);
      push("string", script.slice(i + tag.length, close), i, close + tag.length);
      i = close + tag.length;
    } else if (wordStart.test(c)) {
      let end = i + 1;
      while (end < script.length && wordPart.test(script[end]!)) end++;
      push("word", foldCase(script.slice(i, end)), i, end);
      i = end;
    } else if (/[0-9]/.test(c)) {
      let end = i + 1;
      while (end < script.length && /[0-9._]/.test(script[end]!)) end++;
      push("number", script.slice(i, end), i, end);
      i = end;
    } else {
      push("symbol", c, i, i + 1);
      i++;
    }
  }
  finish(script.length);
  return statements;
}

function lineEnd(script: string, from: number): number {
  const end = script.indexOf("\n", from);
  return end < 0 ? script.length : end + 1;
}

function atLineStart(script: string, at: number): boolean {
  const lineStart = script.lastIndexOf("\n", at - 1) + 1;
  return script.slice(lineStart, at).trim() === "";
}

function blockCommentEnd(script: string, from: number): number {
  let depth = 0;
  for (let i = from; i < script.length - 1; i++) {
    if (script[i] === "/" && script[i + 1] === "*") {
      depth++;
      i++;
    } else if (script[i] === "*" && script[i + 1] === "/") {
      depth--;
      i++;
      if (depth === 0) return i + 1;
    }
  }
  throw unterminated("a comment", from);
}

/** The text between `quote` at `from` and its closing quote (a doubled quote is one), and where it ends. */
function quoted(script: string, from: number, quote: string, backslashEscapes: boolean): [string, number] {
  let value = "";
  for (let i = from + 1; i < script.length; i++) {
    const c = script[i]!;
    if (backslashEscapes && c === "\\") {
      value += script[i + 1] ?? "";
      i++;
    } else if (c === quote) {
      if (script[i + 1] !== quote) return [value, i + 1];
      value += quote;
      i++;
    } else {
      value += c;
    }
  }
  throw unterminated(quote === '"' ? "a quoted name" : "a string", from);
}

/** A word token with this (lower-case) value. */
export function isWord(token: SqlToken | undefined, word: string): boolean {
  return token?.kind === "word" && token.value === word;
}

/** Whether the statement starts with these words. */
export function startsWith(statement: SqlStatement, ...words: string[]): boolean {
  return words.every((word, i) => isWord(statement.tokens[i], word));
}

/** A role or other name: a word or a quoted name, as the server would read it. */
export function nameOf(token: SqlToken | undefined): string | undefined {
  return token?.kind === "word" || token?.kind === "quotedName" ? token.value : undefined;
}

/** Index of the first word `word` outside parentheses at or after `from`, or -1. */
export function topLevelWord(tokens: readonly SqlToken[], word: string, from = 0): number {
  let depth = 0;
  for (let i = from; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind === "symbol" && token.value === "(") depth++;
    else if (token.kind === "symbol" && token.value === ")") depth--;
    else if (depth === 0 && isWord(token, word)) return i;
  }
  return -1;
}
