/**
 * Rules the source tree keeps (issue 8), checked on the syntax tree of every TypeScript file of the app and the
 * local host, so a new file cannot quietly break them:
 * - no shell anywhere: child processes get a program and an argument array (`spawn`, `execFile`), never a command
 *   line (`exec`, `execSync`, `shell: true`, or a program string with spaces in it);
 * - SQL text is built from constants, quoted identifiers (`pg.escapeIdentifier`) and literals (`pg.escapeLiteral`)
 *   only; every value travels as a query parameter.
 */
import { readFileSync } from "node:fs";
import ts from "typescript";
import { describe, expect, test } from "vitest";
import { parseSource as parse, sourceFiles, visit, where } from "../support/sourceTree";

const roots = ["shared", "activities", "functions", "orchestrators", "local-host"];

const files = roots.flatMap((root) => sourceFiles(root)).sort();

const childProcessModules = new Set(["child_process", "node:child_process"]);
const commandLineFunctions = new Set(["exec", "execSync"]);
const argumentArrayFunctions = new Set(["spawn", "spawnSync", "execFile", "execFileSync", "fork"]);

/** Every way a file could run a shell; empty when it only spawns programs with argument arrays. */
function shellViolations(source: ts.SourceFile): string[] {
  const problems: string[] = [];
  /** Local names of child_process functions (after `import { x as y }` and `const z = promisify(y)`). */
  const functions = new Map<string, string>();
  const namespaces = new Set<string>();
  visit(source, (node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && childProcessModules.has(node.moduleSpecifier.text)) {
      const bindings = node.importClause?.namedBindings;
      if (node.importClause?.name) namespaces.add(node.importClause.name.text);
      if (bindings && ts.isNamespaceImport(bindings)) namespaces.add(bindings.name.text);
      if (bindings && ts.isNamedImports(bindings)) {
        for (const element of bindings.elements) {
          const imported = (element.propertyName ?? element.name).text;
          if (commandLineFunctions.has(imported)) problems.push(`${where(source, element)}: imports ${imported} (runs a shell)`);
          functions.set(element.name.text, imported);
        }
      }
    }
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "require") {
      const [first] = node.arguments;
      if (first && ts.isStringLiteral(first) && childProcessModules.has(first.text)) problems.push(`${where(source, node)}: require("${first.text}") (import named functions instead)`);
    }
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer && ts.isCallExpression(node.initializer)) {
      const [wrapped] = node.initializer.arguments;
      const callee = node.initializer.expression;
      if (ts.isIdentifier(callee) && callee.text === "promisify" && wrapped && ts.isIdentifier(wrapped) && functions.has(wrapped.text)) {
        functions.set(node.name.text, functions.get(wrapped.text)!);
      }
    }
    if (ts.isPropertyAssignment(node) && node.name.getText(source) === "shell" && node.initializer.kind !== ts.SyntaxKind.FalseKeyword) {
      problems.push(`${where(source, node)}: shell option`);
    }
  });
  visit(source, (node) => {
    if (!ts.isCallExpression(node)) return;
    const callee = node.expression;
    let name: string | undefined;
    if (ts.isIdentifier(callee)) name = functions.get(callee.text);
    else if (ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && namespaces.has(callee.expression.text)) name = callee.name.text;
    if (!name) return;
    if (commandLineFunctions.has(name)) {
      problems.push(`${where(source, node)}: ${name}() runs a command line through a shell`);
      return;
    }
    if (!argumentArrayFunctions.has(name)) return;
    const [program, args] = node.arguments;
    if (program && (ts.isStringLiteral(program) || ts.isNoSubstitutionTemplateLiteral(program) || ts.isTemplateExpression(program)) && /\s/.test(program.getText(source))) {
      problems.push(`${where(source, node)}: ${name}() with a command line as its program`);
    }
    if (name !== "fork" && (!args || (!ts.isArrayLiteralExpression(args) && !ts.isIdentifier(args)))) {
      problems.push(`${where(source, node)}: ${name}() without an argument array`);
    }
  });
  return problems;
}

/** Template parts that may go into SQL text: quoted identifiers, quoted literals, and constants of the file. */
function sqlViolations(source: ts.SourceFile): string[] {
  const problems: string[] = [];
  const constants = new Map<string, ts.Expression>();
  const quoters = new Set<string>();
  visit(source, (node) => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer && ts.isVariableDeclarationList(node.parent) && node.parent.flags & ts.NodeFlags.Const) {
      constants.set(node.name.text, node.initializer);
      // `const ident = (name: string) => pg.escapeIdentifier(name)`
      const body = ts.isArrowFunction(node.initializer) ? node.initializer.body : undefined;
      if (body && ts.isCallExpression(body) && /\bescape(Identifier|Literal)$/.test(body.expression.getText(source))) quoters.add(node.name.text);
    }
  });
  const isQuoted = (expression: ts.Expression): boolean =>
    ts.isCallExpression(expression) &&
    (/\bescape(Identifier|Literal)$/.test(expression.expression.getText(source)) || (ts.isIdentifier(expression.expression) && quoters.has(expression.expression.text)));
  const safeText = (expression: ts.Expression, seen: Set<string>): boolean => {
    if (ts.isStringLiteral(expression) || ts.isNoSubstitutionTemplateLiteral(expression)) return true;
    if (ts.isTemplateExpression(expression)) return expression.templateSpans.every((span) => isQuoted(span.expression) || safeText(span.expression, seen));
    if (ts.isIdentifier(expression)) {
      const value = constants.get(expression.text);
      if (!value || seen.has(expression.text)) return false;
      return safeText(value, new Set([...seen, expression.text]));
    }
    return false;
  };
  visit(source, (node) => {
    if (!ts.isCallExpression(node) || !ts.isPropertyAccessExpression(node.expression) || node.expression.name.text !== "query") return;
    const [text] = node.arguments;
    if (!text) return;
    // `for (const sql of [a, b]) client.query(sql)`: the loop's array items are what is checked.
    if (ts.isIdentifier(text) && !constants.has(text.text)) {
      const loop = findLoopOver(text);
      if (loop && loop.elements.every((element) => safeText(element, new Set()))) return;
    }
    if (!safeText(text, new Set()) && !vouchedFor(source, node)) problems.push(`${where(source, node)}: query text built from something other than constants and escaped names`);
  });
  return problems;
}

/**
 * A query whose text the checker cannot follow, vouched for on the line above by `// SQL text: <why it is safe>`
 * (at least a few words): the reason is read in review, and the exemption covers that one call only.
 */
function vouchedFor(source: ts.SourceFile, node: ts.Node): boolean {
  const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
  const above = source.text.split("\n")[line - 1]?.trim() ?? "";
  return /^\/\/ SQL text: \S+( \S+){3,}/.test(above);
}

/** The array literal a `for (const x of [...])` loop iterates, when `identifier` is that loop's variable. */
function findLoopOver(identifier: ts.Identifier): ts.ArrayLiteralExpression | undefined {
  for (let node: ts.Node | undefined = identifier.parent; node; node = node.parent) {
    if (ts.isForOfStatement(node) && ts.isVariableDeclarationList(node.initializer)) {
      const declared = node.initializer.declarations[0]?.name;
      if (declared && ts.isIdentifier(declared) && declared.text === identifier.text && ts.isArrayLiteralExpression(node.expression)) return node.expression;
    }
  }
  return undefined;
}

describe("no shell anywhere", () => {
  test("when the app and the local host start programs, then each gets an argument array and no shell", () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files.flatMap((file) => shellViolations(parse(file)))).toEqual([]);
  });

  test.each([
    ["imports exec", 'import { exec } from "node:child_process";\nexec("pg_dump " + db);', /imports exec/],
    ["imports execSync under another name", 'import { execSync as run } from "child_process";\nrun("ls");', /imports execSync/],
    ["calls exec through a namespace import", 'import * as cp from "node:child_process";\ncp.exec("ls -l");', /exec\(\) runs a command line/],
    ["passes shell: true", 'import { spawn } from "node:child_process";\nspawn("pg_dump", ["x"], { shell: true });', /shell option/],
    ["spawns a concatenated command line", 'import { spawn } from "node:child_process";\nspawn("pg_dump --format=custom " + db);', /without an argument array/],
    ["spawns a template command line", 'import { spawn } from "node:child_process";\nspawn(`pg_dump ${db}`, []);', /command line as its program/],
    ["runs a command line through promisify(execFile)", 'import { execFile } from "node:child_process";\nconst run = promisify(execFile);\nrun("sh -c x", []);', /command line as its program/],
    ["requires child_process", 'const cp = require("child_process");', /require/],
  ])("when a file %s, then the check catches it", (_what, text, problem) => {
    const problems = shellViolations(ts.createSourceFile("probe.ts", text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS));
    expect(problems.join("\n")).toMatch(problem);
  });
});

describe("identifiers quoted", () => {
  test("when the app builds SQL text, then names go through pg.escapeIdentifier and values are parameters", () => {
    const checked = files.filter((file) => /\.query\s*[<(]/.test(readFileSync(file, "utf8")));
    expect(checked).toEqual(expect.arrayContaining(["shared/restore/databaseRestore.ts", "shared/postgres/backupAccess.ts"]));
    expect(checked.flatMap((file) => sqlViolations(parse(file)))).toEqual([]);
  });

  test("when a query the checker cannot follow is vouched for on the line above, then it passes; a bare marker does not", () => {
    const text = (marker: string) => `${marker}\nclient.query(\`CREATE ROLE \${ident(r)} WITH \${options}\`);`;
    const check = (marker: string) => sqlViolations(ts.createSourceFile("probe.ts", text(marker), ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS));
    expect(check("// SQL text: options are fixed keywords and an integer")).toEqual([]);
    expect(check("// SQL text:")).toHaveLength(1);
    expect(check("// options are fine")).toHaveLength(1);
  });

  test("when SQL text interpolates a name without quoting it, then the check catches it", () => {
    const text = "const ident = (name: string) => pg.escapeIdentifier(name);\nclient.query(`DROP DATABASE ${ident(a)}`);\nclient.query(`DROP DATABASE ${b}`);";
    expect(sqlViolations(ts.createSourceFile("probe.ts", text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS))).toEqual([
      "probe.ts:3: query text built from something other than constants and escaped names",
    ]);
  });
});
