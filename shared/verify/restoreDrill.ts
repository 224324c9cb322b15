/**
 * The restore drill (POST /backupInstances/{name}/verify): a recovery point is restored, through the restore
 * pipeline (shared/restore/databaseRestore.ts: SHA-256 over every byte, decryption, pg_restore --exit-on-error),
 * into a scratch database `pgvault_verify_<hash of job id>` on the instance's own server with the instance's own
 * credentials, checked there against the contents record taken at backup time, and dropped again. A Flexible
 * Server point's databases are restored one by one, each into a scratch database of its own, on the drill server
 * the instance names (drillServer.ts), and counted there (the server's backup records no counts to compare with).
 *
 * A verdict about the point is a `UserErrorRecoveryPointCorrupted`: its bytes or its contents record do not match
 * their SHA-256, it does not decrypt, pg_restore fails on its content, or the restore holds other objects or rows
 * than were recorded. Anything else (no CREATEDB, the server unreachable, ...) fails the drill with its own code and
 * says nothing about the point.
 */
import { createHash } from "node:crypto";
import type pg from "pg";
import { readContentsRecord, type ContentsRecord } from "../contents/contentsRecord";
import { compareContents, countDatabaseContents, totalRows, type ObjectCounts } from "../contents/databaseContents";
import type { DatabaseRestoreTarget, DumpRecoveryPoint, LtrRecoveryPoint, RecoveryPoint, RequestedDatabaseEndpoint } from "../domain";
import { databaseSource } from "../restore/serverRestore";
import { ensureError, PgVaultError, someOf, type JobError } from "../errors";
import { withConnection, type ConnectionParams } from "../postgres/connection";
import { isArchiveFailure, markOf, restoreIntoTemporary, restoreSourceOf, type RestoreAttempt, type RestoreProgress, type RestoreSource } from "../restore/databaseRestore";
import { connectMaintenance } from "../restore/restoreAccess";
import { compareDigests, readBackTables } from "./digestReadBack";

/**
 * The stem of the drill's scratch databases: deterministic per job, so the drill's drop (and a cancel's cleanup)
 * finds what any attempt left; each attempt restores into `attemptDatabaseName(stem)`, a database of its own.
 */
export function scratchDatabaseName(jobId: string): string {
  return `pgvault_verify_${createHash("sha256").update(jobId).digest("hex").slice(0, 16)}`;
}

/**
 * The stem of one database's scratch databases in a Flexible Server point's drill: under the job's stem, so the
 * drill's final drop and a cancel's cleanup sweep them too; the `x` ends it, so `_d1x` is no prefix of `_d12x`.
 */
export function databaseScratchStem(jobStem: string, index: number): string {
  return `${jobStem}_d${index}x`;
}

/**
 * The scratch database as a restore target on the drill's server (`server`: the instance's own database, or its
 * drill server): fresh, owned by the restoring user, no owners or grants restored.
 */
export function scratchTarget(server: RequestedDatabaseEndpoint, scratchDatabase: string): DatabaseRestoreTarget {
  const { host, port } = server;
  const signIn = server.auth ? { auth: server.auth } : { secretRef: server.secretRef };
  return {
    type: "database",
    ...(host !== undefined ? { host } : {}),
    ...(port !== undefined ? { port } : {}),
    database: scratchDatabase,
    ...signIn,
    overwrite: false,
    preserveOwnership: false,
  };
}

/**
 * The drill's user may create the scratch databases (`scratchDatabase` names them in the message): CREATEDB or
 * superuser, checked on the maintenance database.
 */
export async function checkScratchAccess(params: ConnectionParams, scratchDatabase: string): Promise<{ serverVersion: string }> {
  const client = await connectMaintenance(params);
  try {
    const { rows } = await client.query<{ createdb: boolean; superuser: boolean; version: string }>(
      `SELECT r.rolcreatedb AS createdb, r.rolsuper AS superuser, current_setting('server_version') AS version
       FROM pg_roles r WHERE r.rolname = current_user`,
    );
    const facts = rows[0]!;
    if (!facts.createdb && !facts.superuser) {
      throw new PgVaultError(
        "UserErrorMissingRestorePermissions",
        `User '${params.user}' lacks CREATEDB on ${params.host}:${params.port}; a restore drill restores into a scratch database ` +
          `('${scratchDatabase}') on this server with these credentials, and drops it afterwards.`,
      );
    }
    return { serverVersion: facts.version.split(" ")[0]! };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Restores one archive into the attempt's scratch database (created fresh, marked complete at the end, dropped on
 * any failure); pg_restore failing on the archive's content is the verdict `corrupted(pg_restore's error)`.
 * Returns the bytes read.
 */
async function restoreArchiveIntoScratch(
  params: ConnectionParams,
  server: RequestedDatabaseEndpoint,
  source: RestoreSource,
  attempt: RestoreAttempt,
  progress: RestoreProgress,
  corrupted: (detail: string) => PgVaultError,
): Promise<number> {
  try {
    // No privileges option: a drill restores no owners and no grants.
    return (await restoreIntoTemporary(params, scratchTarget(server, attempt.database), source, attempt, progress)).bytes;
  } catch (err) {
    throw isArchiveFailure(err) ? corrupted(err.detail) : err;
  }
}

/** Restores the point's dump into the attempt's scratch database; returns the bytes read. */
export function restoreIntoScratch(
  params: ConnectionParams,
  server: RequestedDatabaseEndpoint,
  rp: DumpRecoveryPoint,
  attempt: RestoreAttempt,
  progress: RestoreProgress,
): Promise<number> {
  // On the very server the dump came from, a statement of the archive that does not apply is the archive's fault.
  return restoreArchiveIntoScratch(params, server, restoreSourceOf(rp), attempt, progress, (detail) =>
    new PgVaultError("UserErrorRecoveryPointCorrupted", `Recovery point ${rp.id} does not restore: ${detail}`),
  );
}

/** Where a drill server may be at fault for what looks like the archive's: said with the verdict. */
const drillServerAction =
  "pg_restore failed on the archive on the drill server (the instance's verification server). If its error names something the drill server lacks " +
  "(an extension, a role a policy or grant names, a feature of a newer PostgreSQL), give the drill server the Flexible Server's major version and " +
  "extensions and verify again. Otherwise restore from another recovery point, and take a new backup.";

/**
 * Restores the archive of `database` in a Flexible Server point into the attempt's scratch database on the drill
 * server; returns the bytes read. The server wrote the file and recorded no checksum: pg_restore is the check.
 */
export async function restoreServerDatabaseIntoScratch(
  params: ConnectionParams,
  server: RequestedDatabaseEndpoint,
  rp: LtrRecoveryPoint,
  database: string,
  attempt: RestoreAttempt,
  progress: RestoreProgress,
): Promise<number> {
  const source = databaseSource(rp, database);
  // Taken as the archive's fault, as on the source's own server; the action says when the drill server may be to blame.
  return restoreArchiveIntoScratch(params, server, source, attempt, progress, (detail) =>
    new PgVaultError("UserErrorRecoveryPointCorrupted", `Recovery point ${rp.id}: database '${database}' does not restore: ${detail}`, { recommendedAction: drillServerAction }),
  );
}

export interface DrillReport {
  /** Tables whose rows were counted in the scratch database, and those rows. */
  tablesChecked: number;
  rowsChecked: number;
  /** Whether the point has a contents record (points taken before pgvault recorded one have none). */
  rowCountsRecorded: boolean;
  /**
   * Tables whose restored data was read back and compared with the digest taken from the archive at backup time
   * (docs/architecture.md, "Per-table digests"); 0 when the point's record has no digests (taken before pgvault
   * digested tables: the drill then compares counts only).
   */
  tablesDigested: number;
  /** Whether the point's contents record has table digests (false: counts only). */
  digestsRecorded: boolean;
  /** What the scratch database holds, by kind of object. */
  objects: ObjectCounts;
  /** Set when the restore is not what was recorded: the verdict Failed, `UserErrorRecoveryPointCorrupted`. */
  problem?: JobError;
}

const shownDifferences = 20;

/** A count that cannot be taken in the scratch database; not a verdict about the point. */
function countFailure(err: unknown, params: ConnectionParams): PgVaultError {
  if (err instanceof PgVaultError) return err;
  const error = ensureError(err);
  const code = (error as { code?: string }).code ?? "";
  if (code === "42501") {
    return new PgVaultError("UserErrorMissingRestorePermissions", `User '${params.user}' may not count rows in the scratch database '${params.database}': ${error.message}.`);
  }
  if (code.startsWith("08") || code.startsWith("57P")) {
    return new PgVaultError("UserErrorServerUnreachable", `Lost ${params.host}:${params.port} while counting the scratch database.`, { transient: true });
  }
  return new PgVaultError("SystemErrorUnexpected", `Counting the scratch database '${params.database}' on ${params.host}:${params.port} failed (${code || error.name}).`);
}

/** The point's contents record, or the verdict that it cannot be read; undefined when the point has none. */
async function recordOf(rp: RecoveryPoint): Promise<ContentsRecord | PgVaultError | undefined> {
  if (rp.format !== "pg_dump-custom" || !rp.contents) return undefined;
  try {
    return await readContentsRecord({ ...rp, contents: rp.contents });
  } catch (err) {
    if (err instanceof PgVaultError && err.code === "UserErrorRecoveryPointCorrupted") return err;
    throw err;
  }
}

/**
 * Counts objects and rows in the restored scratch database (`params` address it) and compares them with the
 * point's contents record, where it has one (a Flexible Server point never does); then reads back every table the
 * record has a digest of and compares the digests. A record that is missing, altered or not this point's is a
 * verdict too. Only a database that carries `mark` (its restore completed and verified) is judged: anything else
 * fails the check, no verdict.
 */
export async function checkRestoredDatabase(params: ConnectionParams, rp: RecoveryPoint, mark: string): Promise<DrillReport> {
  // Read first: its digests say which tables to read back.
  const recorded = await recordOf(rp);
  const digested = recorded instanceof PgVaultError ? undefined : recorded?.digests && recorded.digestSettings && { digests: recorded.digests, settings: recorded.digestSettings };
  const { restored, readBack } = await withConnection(params, async (client: pg.Client) => {
    try {
      // Checked in the counting session: a database cannot be renamed, and is not dropped, under an open session.
      if ((await markOf(client, params.database)) !== mark) {
        throw new PgVaultError("SystemErrorUnexpected", `The scratch database '${params.database}' is not marked as a complete restore of this drill; nothing was judged.`);
      }
      // As at backup time: a row-level security policy errors instead of hiding rows from the count.
      await client.query("SET row_security = off");
      const counts = await countDatabaseContents(client);
      // Nothing has written to the tables since pg_restore loaded them: reading leaves every row where it is.
      return { restored: counts, readBack: digested && (await readBackTables(client, digested.digests, digested.settings)) };
    } catch (err) {
      throw countFailure(err, params);
    }
  });
  const report: DrillReport = {
    tablesChecked: restored.tables.length,
    rowsChecked: totalRows(restored.tables),
    rowCountsRecorded: rp.format === "pg_dump-custom" && rp.contents !== undefined,
    tablesDigested: readBack?.length ?? 0,
    digestsRecorded: readBack !== undefined,
    objects: restored.objects,
  };
  if (!recorded) return report;
  if (recorded instanceof PgVaultError) return { ...report, problem: recorded.toJobError() };
  const nameTables = rp.format === "pg_dump-custom" && rp.encryption === undefined;
  const differences = [
    ...compareContents(recorded, restored, nameTables).differences,
    ...(digested && readBack ? compareDigests(digested.digests, readBack, nameTables) : []),
  ];
  if (differences.length === 0) return report;
  const problem = new PgVaultError(
    "UserErrorRecoveryPointCorrupted",
    `Recovery point ${rp.id} restored, but not to what was recorded at backup: ${someOf(differences, shownDifferences)}.`,
  );
  return { ...report, problem: problem.toJobError() };
}
