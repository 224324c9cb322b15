/**
 * Azure Functions HTTP route templates (`app.http(name, { route })`, relative to the `api` prefix), matched the way
 * the host's ASP.NET Core routing does for the subset used here. Pure: no I/O.
 *
 * Template syntax: literal segments (compared case-insensitively), `{name}`, an optional last parameter `{name?}`,
 * constraints `{id:int}`, `{id:int:min(1)}` (checked: int, long, bool, alpha, guid, decimal, double, float, min,
 * max, range, length, minlength, maxlength, regex; any other constraint is accepted without checking), and a
 * catch-all last segment `{*rest}` / `{**rest}`. Complex segments (`{a}.{b}`) and defaults (`{a=x}`) throw,
 * so an unsupported template fails at start-up instead of silently never matching.
 *
 * Matching: a path is split on `/` first and each segment then percent-decoded, so `%2F` inside a parameter
 * value stays within that segment and arrives as `/`. A single leading or trailing slash is ignored; empty segments
 * (`a//b`) match nothing. Parameters never match an empty segment.
 */

export type RouteSegment =
  | { readonly kind: "literal"; readonly text: string }
  | {
      readonly kind: "parameter" | "catchAll";
      readonly name: string;
      readonly optional: boolean;
      readonly constraints: readonly RouteConstraint[];
    };

export interface RouteConstraint {
  readonly text: string;
  /** Absent for constraints this module does not know: they are accepted without checking. */
  readonly check?: (value: string) => boolean;
}

export interface CompiledRoute {
  readonly template: string;
  readonly segments: readonly RouteSegment[];
}

export function compileRoute(template: string): CompiledRoute {
  const fail = (detail: string): never => {
    throw new Error(`Unsupported route template "${template}": ${detail}`);
  };
  const texts = splitPath(template);
  const names = new Set<string>();
  const segments = texts.map((text, index): RouteSegment => {
    const isLast = index === texts.length - 1;
    if (!text.startsWith("{") || !text.endsWith("}")) {
      if (/[{}]/.test(text)) fail(`segment "${text}" mixes literal text and parameters`);
      if (text === "") fail("empty segment");
      return { kind: "literal", text: text.toLowerCase() };
    }
    let inner = text.slice(1, -1);
    const optional = inner.endsWith("?");
    if (optional) inner = inner.slice(0, -1);
    const catchAll = inner.startsWith("*");
    if (catchAll) inner = inner.replace(/^\*\*?/, "");
    const [name = "", ...constraintTexts] = splitOutsideParentheses(inner, ":");
    if (name.includes("=")) fail(`default values ("${text}") are not supported`);
    if (!/^[A-Za-z_]\w*$/.test(name)) fail(`"${text}" is not {name}, {name?}, {name:constraint} or {*name}`);
    if (names.has(name.toLowerCase())) fail(`parameter "${name}" appears twice`);
    names.add(name.toLowerCase());
    if ((optional || catchAll) && !isLast) fail(`"${text}" must be the last segment`);
    if (optional && catchAll) fail(`catch-all "${text}" cannot be optional (it already matches nothing)`);
    const constraints = constraintTexts.map((constraint) => {
      if (constraint === "" || /[{}]/.test(constraint.replace(/\(.*\)$/s, ""))) fail(`"${text}" is malformed`);
      try {
        return compileConstraint(constraint);
      } catch (error) {
        return fail(`constraint "${constraint}": ${(error as Error).message}`); // e.g. an invalid regex
      }
    });
    return { kind: catchAll ? "catchAll" : "parameter", name, optional, constraints };
  });
  return { template, segments };
}

/** Splits on `separator` except inside `(...)`, so `regex(^a:b$)` stays one constraint. */
function splitOutsideParentheses(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === "(") depth++;
    else if (char === ")") depth = Math.max(0, depth - 1);
    else if (char === separator && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

const int32 = { min: -(2n ** 31n), max: 2n ** 31n - 1n };
const int64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };
const integerPattern = /^[+-]?\d+$/;
const numberPattern = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
// The formats .NET's Guid.TryParse accepts: D (hyphens), N (32 digits), B {braces} and P (parentheses).
const guidD = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const guidPattern = new RegExp(`^(?:${guidD}|[0-9a-f]{32}|\\{${guidD}\\}|\\(${guidD}\\))$`, "i");

function inInteger(value: string, range: { min: bigint; max: bigint }): boolean {
  if (!integerPattern.test(value)) return false;
  const n = BigInt(value);
  return n >= range.min && n <= range.max;
}

function compileConstraint(text: string): RouteConstraint {
  const [, kind = "", argumentText] = /^([^(]*)(?:\((.*)\))?$/s.exec(text) ?? [];
  const args = argumentText === undefined ? [] : argumentText.split(",").map(Number);
  const [a = Number.NaN, b = Number.NaN] = args;
  const number = (value: string) => (integerPattern.test(value) ? Number(value) : Number.NaN);
  switch (kind.toLowerCase()) {
    case "int":
      return { text, check: (value) => inInteger(value, int32) };
    case "long":
      return { text, check: (value) => inInteger(value, int64) };
    case "bool":
      return { text, check: (value) => /^(true|false)$/i.test(value) };
    case "alpha":
      return { text, check: (value) => /^[a-z]+$/i.test(value) };
    case "guid":
      return { text, check: (value) => guidPattern.test(value) };
    case "decimal":
    case "double":
    case "float":
      return { text, check: (value) => numberPattern.test(value) };
    case "min":
      return { text, check: (value) => number(value) >= a };
    case "max":
      return { text, check: (value) => number(value) <= a };
    case "range":
      return { text, check: (value) => number(value) >= a && number(value) <= b };
    case "minlength":
      return { text, check: (value) => value.length >= a };
    case "maxlength":
      return { text, check: (value) => value.length <= a };
    case "length":
      return {
        text,
        check: args.length === 2
          ? (value) => value.length >= a && value.length <= b
          : (value) => value.length === a,
      };
    case "regex": {
      // Templates escape braces by doubling them; ASP.NET matches regex constraints case-insensitively.
      const pattern = new RegExp((argumentText ?? "").replace(/\{\{/g, "{").replace(/\}\}/g, "}"), "i");
      return { text, check: (value) => pattern.test(value) };
    }
    default:
      return { text };
  }
}

/** Segments of a template or path, ignoring one leading and one trailing slash; the root is no segments at all. */
function splitPath(path: string): string[] {
  const trimmed = path.replace(/^\//, "").replace(/\/$/, "");
  return trimmed === "" ? [] : trimmed.split("/");
}

/**
 * Route values for `path` (without the `/api/` prefix and without the query), or undefined when it does not match.
 * Omitted optional and empty catch-all parameters are absent from the result rather than "".
 */
export function matchRoute(route: CompiledRoute, path: string): Record<string, string> | undefined {
  const decoded: string[] = [];
  for (const raw of splitPath(path)) {
    try {
      decoded.push(decodeURIComponent(raw));
    } catch {
      return undefined; // malformed percent-encoding: no route can claim it
    }
  }
  const params: Record<string, string> = {};
  const passes = (segment: { constraints: readonly RouteConstraint[] }, value: string) =>
    segment.constraints.every((constraint) => constraint.check?.(value) ?? true);

  for (const [index, segment] of route.segments.entries()) {
    if (segment.kind === "catchAll") {
      const rest = decoded.slice(index).join("/");
      if (rest === "") return params;
      if (!passes(segment, rest)) return undefined;
      params[segment.name] = rest;
      return params;
    }
    const value = decoded[index];
    if (value === undefined) {
      // The path ran out: only an optional (hence last) parameter may be missing.
      return segment.kind === "parameter" && segment.optional ? params : undefined;
    }
    if (segment.kind === "literal") {
      if (value.toLowerCase() !== segment.text) return undefined;
    } else {
      if (value === "" || !passes(segment, value)) return undefined;
      params[segment.name] = value;
    }
  }
  return decoded.length === route.segments.length ? params : undefined;
}

/** Smaller is more specific, per segment, in the spirit of ASP.NET Core's inbound route precedence. */
function segmentRank(segment: RouteSegment): number {
  if (segment.kind === "literal") return 1;
  const constrained = segment.constraints.length > 0;
  if (segment.kind === "parameter") return constrained ? 2 : 3;
  return constrained ? 4 : 5;
}

/** Negative when `a` is more specific: the first differing segment decides; a route that is a prefix wins. */
function comparePrecedence(a: CompiledRoute, b: CompiledRoute): number {
  const length = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < length; i++) {
    const [segmentA, segmentB] = [a.segments[i], b.segments[i]];
    const rankA = segmentA ? segmentRank(segmentA) : 0;
    const rankB = segmentB ? segmentRank(segmentB) : 0;
    if (rankA !== rankB) return rankA - rankB;
  }
  return 0;
}

export type RouteSelection<T> =
  | { value: T; params: Record<string, string> }
  | { methodNotAllowed: true; allow: string[] };

/**
 * Picks the function for `method` and `path`: among routes whose template matches and whose methods include
 * `method` (case-insensitive; an empty list allows every method, as an omitted `methods` does in function.json),
 * the most specific wins, ties going to the earlier candidate. When the path matches only routes with other methods
 * the answer is methodNotAllowed, with `allow` for the Allow header. Note: the real Functions host answers such
 * requests 404 (azure-functions-host#10098); mapping methodNotAllowed to 404 reproduces that.
 */
export function selectRoute<T>(
  candidates: readonly { route: CompiledRoute; methods: readonly string[]; value: T }[],
  method: string,
  path: string,
): RouteSelection<T> | undefined {
  const wanted = method.toUpperCase();
  let best: { route: CompiledRoute; value: T; params: Record<string, string> } | undefined;
  const allow = new Set<string>();
  for (const candidate of candidates) {
    const params = matchRoute(candidate.route, path);
    if (!params) continue;
    const methods = candidate.methods.map((m) => m.toUpperCase());
    if (methods.length > 0 && !methods.includes(wanted)) {
      methods.forEach((m) => allow.add(m));
      continue;
    }
    if (!best || comparePrecedence(candidate.route, best.route) < 0) {
      best = { route: candidate.route, value: candidate.value, params };
    }
  }
  if (best) return { value: best.value, params: best.params };
  return allow.size > 0 ? { methodNotAllowed: true, allow: [...allow].sort() } : undefined;
}
