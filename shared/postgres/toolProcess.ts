/**
 * Runs a PostgreSQL client program (pg_dump, pg_restore) with credentials in its environment, never on its
 * command line. `exited` settles only when the process is gone: resolved on exit code 0, rejected with the spec
 * error `mapFailure` derives from what it printed. Its stderr is kept bounded and scrubbed of the password.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";
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
 * pg_dump writes its archive through stdio with the default buffer, a few KiB on a pipe (glibc sizes it by the
 * pipe's st_blksize), in one write per buffer: a reader of the pipe gets small reads, each a round of Node's
 * event loop. Under coreutils' `stdbuf -o1M` (which gives stdout a 1 MiB buffer with setvbuf before pg_dump's main
 * runs) it writes a MiB at a time. Measured on a 1 GB database's 742 MB archive read by Node: 82,915 reads of 8.9
 * KiB on average, 1.9 s of Node CPU and 9.6 s for pg_dump, against 15,390 reads, 0.4 s and 5.5 s under stdbuf
 * (docs/benchmarks.md, "Table digests"). Where there is no stdbuf on PATH, pg_dump runs as it is.
 */
let stdbufPath: string | null | undefined;

function stdbuf(): string | null {
  if (stdbufPath !== undefined) return stdbufPath;
  stdbufPath = null;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    try {
      accessSync(path.join(dir, "stdbuf"), constants.X_OK);
      stdbufPath = path.join(dir, "stdbuf");
      break;
    } catch {
      // not in this directory
    }
  }
  return stdbufPath;
}

/** The program and arguments that run `tool`: pg_dump with a large stdout buffer where stdbuf exists. */
function commandOf(tool: PgTool, args: readonly string[]): [string, string[]] {
  const wrapper = tool === "pg_dump" ? stdbuf() : null;
  return wrapper ? [wrapper, ["-o1M", toolPath(tool), ...args]] : [toolPath(tool), [...args]];
}

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
  const [file, argv] = commandOf(tool, args);
  const child = spawn(file, argv, {
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
