/**
 * Loads the app the way the Node worker does: `@azure/functions-core` resolves to this host's implementation,
 * then every file matched by `package.json` `main` (a path or a glob with `*` and `{a,b}`) is required, which
 * runs the app's `app.*` and `df.app.*` registrations.
 */
import { readdirSync, readFileSync } from "node:fs";
import Module from "node:module";
import path from "node:path";
import { registry } from "./functionsCore";

const coreModuleName = "@azure/functions-core";

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;

/** Answers `require("@azure/functions-core")` with this host's module, before any app file is loaded. */
export function provideFunctionsCore(): void {
  const loader = Module as unknown as { _resolveFilename: ResolveFilename };
  const original = loader._resolveFilename;
  const implementation = require.resolve("./functionsCore");
  if ((original as { pgvaultHost?: boolean }).pgvaultHost) return;
  const resolve: ResolveFilename = (request, parent, isMain, options) =>
    request === coreModuleName ? implementation : original.call(Module, request, parent, isMain, options);
  Object.assign(resolve, { pgvaultHost: true });
  loader._resolveFilename = resolve;
}

/** Expands `{a,b}` alternatives, then matches `*` within one path segment. */
export function expandMainGlob(appRoot: string, pattern: string): string[] {
  const brace = /\{([^{}]*)\}/.exec(pattern);
  if (brace) {
    return brace[1]!
      .split(",")
      .flatMap((choice) => expandMainGlob(appRoot, pattern.replace(brace[0], choice)))
      .sort();
  }
  if (!pattern.includes("*")) return [path.resolve(appRoot, pattern)];
  const dir = path.resolve(appRoot, path.dirname(pattern));
  const file = new RegExp(`^${path.basename(pattern).split("*").map(escapeRegExp).join("[^/]*")}$`);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.filter((name) => file.test(name)).map((name) => path.join(dir, name)).sort();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function loadApp(appRoot: string): typeof registry {
  provideFunctionsCore();
  const main = (JSON.parse(readFileSync(path.join(appRoot, "package.json"), "utf8")) as { main?: string }).main;
  if (!main) throw new Error("package.json has no 'main': the host cannot find the app's entry files.");
  const files = expandMainGlob(appRoot, main);
  if (files.length === 0) throw new Error(`package.json 'main' (${main}) matches no files; run 'npm run build' first.`);
  for (const file of files) require(file);
  if (!registry.programmingModel) throw new Error("The app did not load @azure/functions: no programming model was set.");
  return registry;
}
