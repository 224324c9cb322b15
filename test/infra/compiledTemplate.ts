/**
 * The infrastructure as the real Bicep compiler produces it: `bicep build` turns infra/main.bicep into an ARM template,
 * and `bicep snapshot` expands that template (nested deployments, loops, conditions, every expression that does not
 * need a deployed resource) for one set of parameters into the resources a deployment would create. Tests read those
 * resources, never the Bicep text. The compiler is the pinned one infra/build.sh obtains from NuGet.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const repoRoot = path.resolve(__dirname, "..", "..");

/** The deployment scope every snapshot is taken in (made-up ids: nothing is deployed). */
export const scope = {
  subscriptionId: "33333333-3333-3333-3333-333333333333",
  tenantId: "44444444-4444-4444-4444-444444444444",
  location: "westeurope",
};

export type ParameterValue = string | number | boolean;

export interface PredictedResource {
  id: string;
  type: string;
  name: string;
  apiVersion: string;
  kind?: string;
  sku?: Record<string, unknown>;
  properties?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface Snapshot {
  predictedResources: PredictedResource[];
  diagnostics: unknown[];
  outputs: Record<string, unknown>;
}

export interface ArmTemplate {
  parameters: Record<string, { type: string; defaultValue?: unknown; allowedValues?: unknown[] }>;
  resources: unknown;
  outputs: Record<string, unknown>;
}

const timeoutMs = 120_000;
let compilerPath: string | undefined;

/** The pinned compiler, obtained (once per machine) by infra/build.sh. */
export function bicep(): string {
  compilerPath ??= execFileSync("bash", [path.join(repoRoot, "infra", "build.sh"), "path"], { encoding: "utf8", timeout: timeoutMs }).trim();
  return compilerPath;
}

/** `bicep build` of `<infraDir>/main.bicep` into a new folder; returns the folder holding main.json. */
export function compile(infraDir = path.join(repoRoot, "infra")): string {
  const out = mkdtempSync(path.join(tmpdir(), "pgvault-infra-"));
  execFileSync(bicep(), ["build", path.join(infraDir, "main.bicep"), "--outfile", path.join(out, "main.json"), "--no-restore"], { stdio: "pipe", timeout: timeoutMs });
  return out;
}

/** A copy of infra/ with one text replacement in one file, for tests that prove a widened grant is caught. */
export function mutatedInfra(file: string, from: string, to: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "pgvault-infra-src-"));
  cpSync(path.join(repoRoot, "infra"), dir, { recursive: true });
  const target = path.join(dir, file);
  const text = readFileSync(target, "utf8");
  if (!text.includes(from)) throw new Error(`${file} does not contain ${from}`);
  writeFileSync(target, text.replace(from, to));
  return dir;
}

export function readTemplate(compiledDir: string): ArmTemplate {
  return JSON.parse(readFileSync(path.join(compiledDir, "main.json"), "utf8")) as ArmTemplate;
}

function bicepParamLiteral(value: ParameterValue): string {
  if (typeof value !== "string") return String(value);
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

let snapshots = 0;

/** The resources the compiled template in `compiledDir` creates with these parameters. */
export function snapshot(compiledDir: string, parameters: Record<string, ParameterValue>): Snapshot {
  const name = `scenario${++snapshots}`;
  const lines = ["using './main.json'", ...Object.entries(parameters).map(([key, value]) => `param ${key} = ${bicepParamLiteral(value)}`)];
  const paramFile = path.join(compiledDir, `${name}.bicepparam`);
  writeFileSync(paramFile, `${lines.join("\n")}\n`);
  execFileSync(
    bicep(),
    ["snapshot", paramFile, "--mode", "overwrite", "--subscription-id", scope.subscriptionId, "--tenant-id", scope.tenantId, "--location", scope.location, "--deployment-name", "pgvault"],
    { stdio: "pipe", timeout: timeoutMs },
  );
  return JSON.parse(readFileSync(path.join(compiledDir, `${name}.snapshot.json`), "utf8")) as Snapshot;
}

/** `properties.a.b` of a resource, or undefined. */
export function prop(resource: PredictedResource | undefined, dotted: string): unknown {
  let value: unknown = resource?.properties;
  for (const key of dotted.split(".")) value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}

export function ofType(snap: Snapshot, type: string): PredictedResource[] {
  return snap.predictedResources.filter((resource) => resource.type.toLowerCase() === type.toLowerCase());
}
