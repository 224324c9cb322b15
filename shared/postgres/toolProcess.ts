/**
 * Runs a PostgreSQL client program (pg_dump, pg_restore) with credentials in its environment, never on its
 * command line. `exited` settles only when the process is gone: resolved on exit code 0, rejected with the spec
 * error `mapFailure` derives from what it printed. Its stderr is kept bounded and scrubbed of the password.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Writable } from "node:stream";
import { PgVaultError } from "../errors";
import { libpqEnvironment, type ConnectionParams } from "./connection";
import { toolPath, type PgTool } from "./pgTools";

export interface ToolProcess {
  child: ChildProcess;
  exited: Promise<void>;
  kill(): void;
}

const stderrLimit = 16 * 1024;

/**
 * How libpq reports a connection the server dropped (a restart, a failover, a terminated backend), in the clear and
 * under TLS, where the same loss reads "SSL connection has been closed unexpectedly" or "SSL SYSCALL error: EOF
 * detected" (libpq, fe-secure-openssl.c). Worth another attempt.
 */
export const connectionLostPattern = /server closed the connection|terminating connection|SSL connection has been closed unexpectedly|SSL SYSCALL/i;

/** The first error line naming what failed, without the program's prefix and with the password scrubbed. */
export function errorLine(stderr: string, password: string): string {
  const lines = stderr.split("\n").map((line) => line.trim()).filter(Boolean);
  const line = lines.find((l) => /error|fatal|failed|denied/i.test(l)) ?? lines[0] ?? "no output";
  return (password ? line.split(password).join("***") : line).replace(/^pg_(dump|restore):\s*(error:\s*)?/, "").slice(0, 500);
}

export function startPgTool(
  tool: PgTool,
  args: readonly string[],
  params: ConnectionParams,
  /** `stdout` may be another process's stdin (a pipe between the two, bypassing Node). */
  stdio: { stdin: "pipe" | "ignore"; stdout: "pipe" | "ignore" | Writable },
  mapFailure: (stderr: string, exitCode: number | null) => PgVaultError,
): ToolProcess {
  const child = spawn(toolPath(tool), args, {
    // Only what the tool needs: the app's own settings (and their secrets) stay out of the child.
    env: { PATH: process.env.PATH ?? "", LANG: "C.UTF-8", ...libpqEnvironment(params) },
    stdio: [stdio.stdin, stdio.stdout, "pipe"],
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (text: string) => {
    if (stderr.length < stderrLimit) stderr += text.slice(0, stderrLimit - stderr.length);
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.once("error", (err) => reject(new PgVaultError("SystemErrorUnexpected", `${tool} could not start: ${err.message}`)));
    child.once("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(mapFailure(stderr || `terminated by ${signal ?? "unknown"}`, code));
    });
  });
  return { child, exited, kill: () => child.kill("SIGTERM") };
}
