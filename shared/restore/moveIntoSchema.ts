/**
 * The last step of a restore `intoSchema` (intoSchema.ts): the schema gathered in the temporary database moved into
 * the live one with `pg_dump --schema` piped into `pg_restore --single-transaction`, then the temporary databases
 * dropped. The dump holds that schema and its objects only, so nothing else of the live database is written; one
 * transaction creates the schema and everything in it or, failing, nothing.
 */
import type { DatabaseRestoreTarget } from "../domain";
import { PgVaultError } from "../errors";
import { startPgDump } from "../backup/pgDumpProcess";
import { withConnection, type ConnectionParams } from "../postgres/connection";
import { startPgTool } from "../postgres/toolProcess";
import { dropAttemptDatabases, markOf, restoreFailure, type RestoreAttempt } from "./databaseRestore";
import { inUse, schemaMark } from "./intoSchema";
import { connectMaintenance } from "./restoreAccess";

/**
 * Moves the marked schema of the temporary database into the live one (the point of no return), then drops the
 * job's temporary databases (`stem`). Runs after the job claimed its swap.
 */
export async function moveIntoSchema(params: ConnectionParams, target: DatabaseRestoreTarget, restored: RestoreAttempt, stem: string): Promise<void> {
  const schema = target.intoSchema!;
  const live = { ...params, database: target.database };
  const where = `${params.host}:${params.port}`;
  const liveMark = () => withConnection(live, (client) => schemaMark(client, schema));
  const before = await liveMark();
  if (before !== restored.mark) {
    if (before !== undefined) throw inUse(schema, target.database, where);
    const maintenance = await connectMaintenance(params);
    const mark = await markOf(maintenance, restored.database).finally(() => maintenance.end().catch(() => undefined));
    if (mark !== restored.mark) {
      throw new PgVaultError("SystemErrorUnexpected", `The restored database '${restored.database}' is gone or not marked complete on ${where}; database '${target.database}' was not touched.`);
    }
    await pipeSchema(params, restored.database, target.database, schema).catch(async (err: unknown) => {
      // Another copy of this step may have moved it meanwhile: then its transaction is the one that counts.
      if ((await liveMark().catch(() => undefined)) === restored.mark) return;
      if (!(err instanceof PgVaultError)) throw err;
      throw new PgVaultError(err.code, `${err.detail} Database '${target.database}' was not changed: the move is one transaction.`, { transient: err.transient, recommendedAction: err.recommendedAction });
    });
  }
  await dropAttemptDatabases(params, stem);
}

/** `pg_dump --schema` of `from` straight into `pg_restore --single-transaction` on `into` (the archive bypasses Node). */
async function pipeSchema(params: ConnectionParams, from: string, into: string, schema: string): Promise<void> {
  const intoParams = { ...params, database: into };
  const restore = startPgTool(
    "pg_restore",
    ["--single-transaction", "--exit-on-error", "--no-owner", "--no-password", `--dbname=${into}`],
    intoParams,
    { stdin: "pipe", stdout: "ignore" },
    (stderr, code) => restoreFailure(stderr, code, intoParams),
  );
  // In a --schema pattern, double quotes make the name literal (pg_dump, "Patterns" of psql's documentation).
  const dump = startPgDump({ ...params, database: from }, ["--compress=0", `--schema="${schema.replaceAll('"', '""')}"`], restore.child.stdin!);
  restore.child.stdin!.destroy(); // pg_dump holds the pipe: pg_restore sees its end when pg_dump exits
  const [dumped, restoredResult] = await Promise.allSettled([dump.exited, restore.exited]);
  // pg_restore stopping first leaves pg_dump a broken pipe: then pg_restore's error is the cause.
  const brokenPipe = dumped.status === "rejected" && dumped.reason instanceof PgVaultError && /could not write|broken pipe/i.test(dumped.reason.detail);
  if (dumped.status === "rejected" && !(brokenPipe && restoredResult.status === "rejected")) throw dumped.reason;
  if (restoredResult.status === "rejected") throw restoredResult.reason;
}
