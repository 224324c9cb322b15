/**
 * Exact counts that agree with the dump: a REPEATABLE READ transaction exports its snapshot
 * (`pg_export_snapshot()`), pg_dump is started with `--snapshot=<id>` so it dumps exactly that snapshot, and the
 * same transaction counts objects and rows while pg_dump runs. The transaction stays open until pg_dump has
 * finished (an exported snapshot can be imported only while its transaction lives).
 */
import type pg from "pg";
import { countDatabaseContents, type DatabaseContents } from "../contents/databaseContents";
import type { DigestSettings } from "../contents/tableDigests";
import { readSourceRoles } from "../contents/sourceRoles";
import { ensureError, PgVaultError } from "../errors";
import { connect, withConnection, type ConnectionParams } from "../postgres/connection";

/** The output settings pg_dump takes from the session defaults (table digests read back under them). */
export type SessionOutputSettings = Omit<DigestSettings, "clientEncoding">;

export interface SnapshotCounter {
  /** For `pg_dump --snapshot`. */
  snapshotId: string;
  /**
   * TimeZone, bytea_output and lc_monetary as a new session of the same user on the same database gets them (role
   * and database settings apply): what pg_dump's session has, since pg_dump sets none of them and is started with
   * none in its environment (toolProcess.ts).
   */
  outputSettings: SessionOutputSettings;
  /**
   * Counts in the snapshot, and reads there the definitions of the roles the dump refers to (sourceRoles.ts);
   * `signal` stops it (the running count is cancelled on the server).
   */
  count(signal: AbortSignal): Promise<DatabaseContents & { roles: string }>;
  /** Ends the transaction and the session; call it only once pg_dump has exited. Never throws. */
  close(): Promise<void>;
}

/** As pg_dump sets them: no server default may cut the session, and row security errors instead of hiding rows. */
const sessionSettings = "SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0; SET row_security = off";

/** A failed count in spec terms; the server's message names the object, never a password. */
export function countingFailure(err: unknown, params: ConnectionParams): PgVaultError {
  if (err instanceof PgVaultError) return err;
  const error = ensureError(err);
  const code = (error as { code?: string }).code ?? "";
  const where = `${params.host}:${params.port}`;
  if (code === "42501") {
    return new PgVaultError("UserErrorMissingDBPermissions", `User '${params.user}' may not count the rows of database '${params.database}': ${error.message}.`);
  }
  if (code.startsWith("08") || code.startsWith("57P") || /terminated|Connection terminated|ECONNRESET/i.test(error.message)) {
    return new PgVaultError("UserErrorServerUnreachable", `The connection to ${where} was lost while counting rows for the contents record.`, { transient: true });
  }
  return new PgVaultError("SystemErrorUnexpected", `Counting the rows of database '${params.database}' on ${where} failed (${code || error.name}).`);
}

/**
 * Opens the transaction and exports its snapshot. `undefined` when the server cannot export one (the dump then
 * runs without a contents record, as before); a connection failure is thrown like pg_dump's would be.
 */
export async function openSnapshot(params: ConnectionParams): Promise<SnapshotCounter | undefined> {
  const client = await connect(params);
  let snapshotId: string;
  let pid: number;
  let outputSettings: SessionOutputSettings;
  try {
    // Read before this session changes anything: the defaults pg_dump's own session starts with.
    outputSettings = (
      await client.query<SessionOutputSettings>(
        `SELECT current_setting('TimeZone') AS "timeZone", current_setting('bytea_output') AS "byteaOutput", current_setting('lc_monetary') AS "lcMonetary"`,
      )
    ).rows[0]!;
    await client.query(sessionSettings);
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    snapshotId = (await client.query<{ id: string }>("SELECT pg_export_snapshot() AS id")).rows[0]!.id;
    pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
  } catch (err) {
    await client.end().catch(() => undefined);
    const failure = countingFailure(err, params);
    if (failure.code === "UserErrorServerUnreachable") throw failure;
    return undefined;
  }
  return {
    snapshotId,
    outputSettings,
    count: async (signal) => {
      // A count of one big table can take minutes, and a stopped backup (cancelled, pg_dump failed) must not wait for it.
      const stop = () => void cancelBackend(params, pid);
      signal.addEventListener("abort", stop, { once: true });
      try {
        const contents = await countDatabaseContents(client, signal);
        return { ...contents, roles: await readSourceRoles(client) };
      } catch (err) {
        throw countingFailure(err, params);
      } finally {
        signal.removeEventListener("abort", stop);
      }
    },
    close: () => end(client),
  };
}

/** Cancels the session's running statement (a role may cancel its own sessions); best effort. */
async function cancelBackend(params: ConnectionParams, pid: number): Promise<void> {
  await withConnection(params, (client) => client.query("SELECT pg_cancel_backend($1)", [pid])).catch(() => undefined);
}

async function end(client: pg.Client): Promise<void> {
  await client.query("ROLLBACK").catch(() => undefined);
  await client.end().catch(() => undefined);
}
