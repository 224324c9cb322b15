/** Locating and identifying the PostgreSQL client programs the app runs. */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { getConfig } from "../config";
import { PgVaultError } from "../errors";

const execFileAsync = promisify(execFile);

export type PgTool = "pg_dump" | "pg_restore";

export function toolPath(tool: PgTool): string {
  const dir = getConfig().pgBinDir;
  return dir ? path.join(dir, tool) : tool;
}

export interface ToolVersion {
  /** As the tool prints it, e.g. "pg_dump 15.18". */
  text: string;
  major: number;
}

const versions = new Map<string, Promise<ToolVersion>>();

async function readVersion(file: string, tool: PgTool): Promise<ToolVersion> {
  const { stdout } = await execFileAsync(file, ["--version"]);
  const match = /\(PostgreSQL\)\s+(\d+)(\.\d+)?/.exec(stdout);
  if (!match) throw new PgVaultError("SystemErrorUnexpected", `${tool} printed an unrecognised version.`);
  return { text: `${tool} ${match[1]}${match[2] ?? ""}`, major: Number(match[1]) };
}

export function toolVersion(tool: PgTool): Promise<ToolVersion> {
  const file = toolPath(tool);
  let version = versions.get(file);
  if (!version) {
    version = readVersion(file, tool);
    versions.set(file, version);
    version.catch(() => versions.delete(file));
  }
  return version;
}

/** pg_dump refuses servers newer than itself; say so before starting instead of after the first error line. */
export function assertDumpSupportsServer(dump: ToolVersion, serverVersionNum: number, serverVersion: string): void {
  const serverMajor = Math.floor(serverVersionNum / 10000);
  if (serverMajor > dump.major) {
    throw new PgVaultError(
      "UserErrorPgDumpVersionMismatch",
      `${dump.text} cannot dump PostgreSQL ${serverVersion}; a pg_dump of version ${serverMajor} or newer is needed.`,
    );
  }
}
