/**
 * One run of the app's restore path, alone in its own Node process so its peak RSS is the app's:
 * `restoreIntoTemporary` streams the recovery point's blob through SHA-256, out of its checked segments and through
 * its decompression into pg_restore on a fresh temporary database, and `swapIn` renames that into place as
 * `<database>` (which must not exist). Started (compiled) by bench/restore.ts as `node dist-bench/bench/restoreChild.js
 * <blobPath> <sha256> <compression> <database> [<schema.table>]` (`compression` as the recovery point records it: zstd,
 * gzip, none; a table: restore only it, `include.tables`, as a DBA recovering one table does)
 * with VaultStorage and PG_BIN_DIR set and the server's credentials in the libpq environment. Prints one JSON line:
 * RestoreChildResult.
 */
import { compressionAlgorithms, type DatabaseRestoreTarget } from "../shared/domain";
import { attemptDatabaseName, restoreAttempt, restoreIntoTemporary, swapIn, temporaryDatabaseName } from "../shared/restore/databaseRestore";
import { measureAndPrint, paramsFromEnv, type Measurement } from "./child";

export type RestoreChildResult = { bytes: number } & Measurement;

const [blobPath, sha256, compressionArg, database, table] = process.argv.slice(2);
if (!blobPath || !sha256 || !compressionArg || !database) throw new Error("usage: restoreChild.js <blobPath> <sha256> <compression> <database> [<schema.table>]");
const compression = compressionAlgorithms.find((algorithm) => algorithm === compressionArg);
if (!compression) throw new Error(`unknown compression '${compressionArg}'`);
const params = { ...paramsFromEnv(), database };
const target: DatabaseRestoreTarget = {
  type: "database",
  host: params.host,
  port: params.port,
  database,
  secretRef: "bench",
  overwrite: false,
  preserveOwnership: false,
  ...(table ? { include: { tables: [table] } } : {}),
};
const jobId = `bench-${database}`;
const stem = temporaryDatabaseName(jobId);
const attempt = restoreAttempt(jobId, attemptDatabaseName(stem));
measureAndPrint(async () => {
  const { bytes } = await restoreIntoTemporary(params, target, { blobPath, sha256, compression }, attempt);
  await swapIn(params, target, attempt, stem);
  return { bytes };
});
