/**
 * What the settings parity test compares: the app settings code reads (from its syntax trees), the app settings the
 * compiled template sets, the settings docs/configuration.md documents, and the names local.settings.sample.json lists.
 */
import ts from "typescript";
import { parseSource, sourceFiles, visit, where } from "../support/sourceTree";
import { ofType, prop, type Snapshot } from "./compiledTemplate";

export interface SettingReads {
  /** Setting name → where it is read (`file:line`), for messages. */
  names: Map<string, string[]>;
  /** Reads whose name is not a constant (`process.env[ref.name]`), as `file:line`. */
  dynamic: string[];
}

/** Identifiers that hold the settings in app and host code: `process.env`, `env` (shared/config.ts), `settings` (local host). */
function isSettingsObject(node: ts.Expression): boolean {
  if (ts.isIdentifier(node)) return node.text === "env" || node.text === "settings";
  return ts.isPropertyAccessExpression(node) && node.name.text === "env" && ts.isIdentifier(node.expression) && node.expression.text === "process";
}

/** String constants declared anywhere in the file (`const applicationInsightsSetting = "..."`). */
function stringConstants(source: ts.SourceFile): Map<string, string> {
  const constants = new Map<string, string>();
  visit(source, (node) => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer && ts.isStringLiteralLike(node.initializer)) {
      const list = node.parent;
      if (ts.isVariableDeclarationList(list) && list.flags & ts.NodeFlags.Const) constants.set(node.name.text, node.initializer.text);
    }
  });
  return constants;
}

/** Every setting read in one source file: `env.NAME`, `process.env.NAME`, `settings.NAME`, and `env[...]` forms. */
export function settingReadsIn(source: ts.SourceFile, into: SettingReads = { names: new Map(), dynamic: [] }): SettingReads {
  const constants = stringConstants(source);
  const add = (name: string, node: ts.Node) => into.names.set(name, [...(into.names.get(name) ?? []), where(source, node)]);
  visit(source, (node) => {
    if (ts.isPropertyAccessExpression(node) && isSettingsObject(node.expression)) {
      add(node.name.text, node);
    } else if (ts.isElementAccessExpression(node) && isSettingsObject(node.expression)) {
      const key = node.argumentExpression;
      const name = ts.isStringLiteralLike(key) ? key.text : ts.isIdentifier(key) ? constants.get(key.text) : undefined;
      if (name === undefined) into.dynamic.push(where(source, node));
      else add(name, node);
    }
  });
  return into;
}

export function settingReadsUnder(roots: readonly string[]): SettingReads {
  const reads: SettingReads = { names: new Map(), dynamic: [] };
  for (const file of roots.flatMap((root) => sourceFiles(root))) settingReadsIn(parseSource(file), reads);
  return reads;
}

/** Names of the function app's app settings in a snapshot of the compiled template (compiledTemplate.ts). */
export function compiledAppSettings(snap: Snapshot): string[] {
  const sites = ofType(snap, "Microsoft.Web/sites");
  if (sites.length !== 1) throw new Error(`expected one Microsoft.Web/sites in the compiled template, found ${sites.length}`);
  const settings = prop(sites[0], "siteConfig.appSettings");
  if (!Array.isArray(settings)) throw new Error("the function app in the compiled template has no siteConfig.appSettings");
  return (settings as { name: string }[]).map((setting) => setting.name);
}

export interface DocumentedSetting {
  name: string;
  /** The table's "required" cell: `yes`, `no`, `platform`, or the vault's `one of two forms`. */
  required: string;
}

/** The rows of the first settings table in docs/configuration.md: backticked names in the first cell, then "required". */
export function documentedSettings(markdown: string): DocumentedSetting[] {
  const rows: DocumentedSetting[] = [];
  for (const line of markdown.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    if (cells.length < 4 || cells[0] !== "" || !cells[1]?.startsWith("`")) continue;
    for (const match of cells[1].matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)) rows.push({ name: match[1]!, required: cells[2] ?? "" });
  }
  return rows;
}

export function sampleSettingNames(sampleJson: string): string[] {
  return Object.keys((JSON.parse(sampleJson) as { Values: Record<string, string> }).Values);
}

export interface ParityInput {
  /** Settings app code (what runs in Azure) reads. */
  readByCode: readonly string[];
  /** Settings libraries read on the app's behalf (AZURE_CLIENT_ID for DefaultAzureCredential). */
  readByLibraries: readonly string[];
  /** Settings the Functions host reads, which the app's deployment must give it. */
  readByHost: readonly string[];
  bicep: readonly string[];
  documented: readonly DocumentedSetting[];
  sample: readonly string[];
}

/** Every way the lists disagree, one line each; empty when they agree. */
export function parityProblems(input: ParityInput): string[] {
  const problems: string[] = [];
  const documented = new Map(input.documented.map((row) => [row.name, row.required]));
  const bicep = new Set(input.bicep);
  const sample = new Set(input.sample);
  const appSettings = [...new Set([...input.readByCode, ...input.readByLibraries])];
  const isPlatform = (name: string) => documented.get(name) === "platform";
  for (const name of appSettings) {
    const required = documented.get(name);
    if (required === undefined) problems.push(`${name}: read by the app but not documented in docs/configuration.md`);
    else if (!bicep.has(name) && required === "yes") problems.push(`${name}: documented as required but not set by the Bicep app settings`);
    if (!isPlatform(name) && !sample.has(name)) problems.push(`${name}: read by the app but missing from local.settings.sample.json`);
    if (isPlatform(name) && (sample.has(name) || bicep.has(name))) problems.push(`${name}: set by the platform, so neither the Bicep nor the sample may set it`);
  }
  const known = new Set([...appSettings, ...input.readByHost]);
  const hostSetting = (name: string) => input.readByHost.some((host) => name === host || name.startsWith(`${host}__`));
  for (const name of bicep) {
    if (!known.has(name) && !hostSetting(name)) problems.push(`${name}: set by the Bicep but read by nothing`);
    if (!documented.has(name) && !hostSetting(name)) problems.push(`${name}: set by the Bicep but not documented in docs/configuration.md`);
  }
  for (const name of sample) {
    if (!known.has(name)) problems.push(`${name}: listed in local.settings.sample.json but read by nothing`);
  }
  return problems;
}
