/**
 * Runs `pg_dump --format=custom` with credentials in its environment and exposes its output as a stream. The
 * `exited` promise settles only when the process is gone: resolved on exit code 0, rejected with a spec error
 * derived from what pg_dump printed otherwise. Its stderr is kept bounded and scrubbed of the password.
 */
import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { PgVaultError } from "../errors";
import { libpqEnvironment, type ConnectionParams } from "../postgres/connection";
import { toolPath } from "../postgres/pgTools";

export interface DumpProcess {
  stdout: Readable;
  exited: Promise<void>;
  kill(): void;
}

const stderrLimit = 16 * 1024;

/** The first pg_dump error line naming what failed, with the password scrubbed in case a server echoed it. */
function errorLine(stderr: string, password: string): string {
  const lines = stderr.split("\n").map((line) => line.trim()).filter(Boolean);
  const line = lines.find((l) => /error|fatal|failed|denied/i.test(l)) ?? lines[0] ?? "no output";
  return (password ? line.split(password).join("***") : line).replace(/^pg_dump:\s*(error:\s*)?/, "").slice(0, 500);
}

/** Maps pg_dump's failure output to a spec code (SPEC section 9). */
export function dumpFailure(stderr: string, exitCode: number | null, params: ConnectionParams): PgVaultError {
  const line = errorLine(stderr, params.password);
  const where = `${params.host}:${params.port}`;
  if (/server version mismatch/i.test(stderr)) return new PgVaultError("UserErrorPgDumpVersionMismatch", line);
  if (/password authentication failed|authentication failed/i.test(stderr)) {
    return new PgVaultError("UserErrorDBUserAuthFailed", `Authentication failed for user '${params.user}' on ${where}.`);
  }
  if (/database ".*" does not exist/i.test(stderr)) {
    return new PgVaultError("UserErrorDBNotFound", `Database '${params.database}' does not exist on ${where}.`);
  }
  const denied = /permission denied for ([a-z ]+?) ("?[^\s"]+"?)/i.exec(stderr);
  if (denied) {
    return new PgVaultError("UserErrorMissingDBPermissions", `User '${params.user}' lacks SELECT on ${denied[1]} ${denied[2]}.`);
  }
  if (/could not connect|Connection refused|could not translate host name|timeout expired/i.test(stderr)) {
    return new PgVaultError("UserErrorServerUnreachable", `Could not reach ${where}: ${line}`);
  }
  if (/server closed the connection|terminating connection|connection to server .* (lost|failed)|SSL SYSCALL/i.test(stderr)) {
    // The server went away mid-dump (restart, failover): worth another attempt.
    return new PgVaultError("UserErrorServerUnreachable", `The connection to ${where} was lost during the dump: ${line}`, {
      transient: true,
    });
  }
  return new PgVaultError("SystemErrorUnexpected", `pg_dump exited with code ${exitCode}: ${line}`);
}

export function startPgDump(params: ConnectionParams, extraArgs: readonly string[] = []): DumpProcess {
  const child = spawn(toolPath("pg_dump"), ["--format=custom", "--no-password", ...extraArgs], {
    // Only what pg_dump needs: the app's own settings (and their secrets) stay out of the child.
    env: { PATH: process.env.PATH ?? "", LANG: "C.UTF-8", ...libpqEnvironment(params) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text: string) => {
    if (stderr.length < stderrLimit) stderr += text.slice(0, stderrLimit - stderr.length);
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.once("error", (err) => reject(new PgVaultError("SystemErrorUnexpected", `pg_dump could not start: ${err.message}`)));
    child.once("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(dumpFailure(stderr || `terminated by ${signal ?? "unknown"}`, code, params));
    });
  });
  return { stdout: child.stdout, exited, kill: () => child.kill("SIGTERM") };
}
