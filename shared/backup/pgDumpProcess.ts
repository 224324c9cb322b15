/** `pg_dump --format=custom` as a stream, with its failures mapped to spec codes. */
import type { Readable, Writable } from "node:stream";
import { PgVaultError } from "../errors";
import { authenticationFailure, serverNotVerifiedInOutput, type ConnectionParams } from "../postgres/connection";
import { connectionLostPattern, errorLine, startPgTool } from "../postgres/toolProcess";

export interface DumpProcess {
  /** The archive; null when it goes straight into another process (`into`). */
  stdout: Readable | null;
  exited: Promise<void>;
  kill(): void;
}

/** Maps pg_dump's failure output to a spec code (SPEC section 9). */
export function dumpFailure(stderr: string, exitCode: number | null, params: ConnectionParams): PgVaultError {
  const line = errorLine(stderr, params.password);
  const where = `${params.host}:${params.port}`;
  if (/server version mismatch/i.test(stderr)) return new PgVaultError("UserErrorPgDumpVersionMismatch", line);
  const unverified = serverNotVerifiedInOutput(stderr, params);
  if (unverified) return unverified;
  if (/password authentication failed|authentication failed|no pg_hba\.conf entry/i.test(stderr)) return authenticationFailure(params);
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
  if (connectionLostPattern.test(stderr) || /connection to server .* (lost|failed)/i.test(stderr)) {
    // The server went away mid-dump (restart, failover): worth another attempt.
    return new PgVaultError("UserErrorServerUnreachable", `The connection to ${where} was lost during the dump: ${line}`, {
      transient: true,
    });
  }
  return new PgVaultError("SystemErrorUnexpected", `pg_dump exited with code ${exitCode}: ${line}`);
}

/** pg_dump with its archive on a pipe to the app, or written straight `into` another process's stdin. */
export function startPgDump(params: ConnectionParams, extraArgs: readonly string[] = [], into?: Writable): DumpProcess {
  const dump = startPgTool("pg_dump", ["--format=custom", "--no-password", ...extraArgs], params, { stdin: "ignore", stdout: into ?? "pipe" }, (stderr, code) =>
    dumpFailure(stderr, code, params),
  );
  return { stdout: dump.child.stdout, exited: dump.exited, kill: dump.kill };
}
