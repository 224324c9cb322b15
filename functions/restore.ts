import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import type { DurableClient } from "durable-functions";
import { restoreOrchestrationName, type RestoreInput } from "../orchestrators/restore";
import { getInstance } from "../shared/catalog/catalog";
import { getRecoveryPoint } from "../shared/catalog/recoveryPointReads";
import { NotFoundError, PgVaultError, ValidationError } from "../shared/errors";
import { errorResponse, json, readJson, routeName, secured } from "../shared/http";
import { dryRunRestore } from "../shared/restore/preflight/dryRun";
import { parseRestoreRequest } from "../shared/validation/restore";
import { queueOnDemandJob } from "../shared/jobs/onDemandJob";
import { orchestrationProbe } from "../shared/durableInstances";
import { refuseIfRestoreTargetBusy } from "../shared/jobs/operationLock";
import type { RecoveryPoint, RestoreTarget } from "../shared/domain";
import { ltrDatabaseNames } from "../shared/flexServer/ltrFiles";
import { databaseMappings, databaseSource, noDatabases, unknownDatabases } from "../shared/restore/serverRestore";
import { namesMissingFromArchive, namesMissingFromPoint } from "../shared/restore/databaseRestore";
import { unknownNamesError } from "../shared/restore/archiveSubset";
import { csvExportRefusal } from "../shared/restore/csvExport";

/**
 * A database dump restores to a `database`, a Flexible Server point (one archive per database) to a `server`;
 * either as files to a `blob` container. The databases a server target lists must be in the point.
 */
function checkTargetFitsPoint(rp: RecoveryPoint, target: RestoreTarget): void {
  if (rp.format === "flexibleServer-ltr" && target.type === "database") {
    throw new ValidationError([{ path: "target.type", message: "a Flexible Server recovery point holds several databases: restore it with type 'server' (choosing them under target.databases) or as files ('blob')" }]);
  }
  if (target.type === "blob" && target.format === "csv") checkCsvDatabase(rp, target.database);
  if (rp.format === "pg_dump-custom" && target.type === "server") {
    throw new ValidationError([{ path: "target.type", message: "'server' restores Flexible Server recovery points; this point is one database's dump: use type 'database'" }]);
  }
  if (rp.format === "flexibleServer-ltr" && target.type === "server") {
    const unknown = new Set(unknownDatabases(rp, target.databases));
    const names = ltrDatabaseNames(rp);
    if (names.length === 0) throw new ValidationError([{ path: "target.type", message: noDatabases(rp.id) }]);
    const held = names.join(", ");
    const issues = (target.databases ?? []).flatMap((d, i) => (unknown.has(d.name) ? [{ path: `target.databases[${i}].name`, message: `is not in recovery point ${rp.id}; it holds ${held}` }] : []));
    if (issues.length > 0) throw new ValidationError(issues);
  }
}

/**
 * A CSV export reads one database's archive: a dump is one already; of a Flexible Server point, `database` names
 * which, and it must be one of the point's.
 */
function checkCsvDatabase(rp: RecoveryPoint, database: string | undefined): void {
  if (rp.format === "pg_dump-custom") {
    if (database !== undefined) throw new ValidationError([{ path: "target.database", message: "is for Flexible Server points, which hold several databases; this point is one database's dump" }]);
    return;
  }
  const names = ltrDatabaseNames(rp);
  if (names.length === 0) throw new ValidationError([{ path: "target.type", message: noDatabases(rp.id) }]);
  if (database === undefined) {
    throw new ValidationError([{ path: "target.database", message: `is required to export tables of a Flexible Server point as CSV: name one of its databases (${names.join(", ")})` }]);
  }
  if (!names.includes(database)) throw new ValidationError([{ path: "target.database", message: `is not in recovery point ${rp.id}; it holds ${names.join(", ")}` }]);
}

/**
 * `include` names (of a subset restore, or a CSV export's tables) the point's archive does not hold: 422 (`UserErrorDBNotFound`) naming them, before a job starts.
 * Reading the listing is one read of the archive's head (and, for an encrypted point, unwrapping its key); when it
 * cannot be read here, the job's own exact check decides (archiveSubset.ts), with the code the failure deserves.
 */
async function refuseNamesNotInPoint(rp: RecoveryPoint, target: RestoreTarget): Promise<void> {
  if (rp.format === "pg_dump-custom" && target.type === "database" && target.include) {
    const missing = await namesMissingFromPoint(rp, target.include).catch(() => []);
    if (missing.length > 0) throw unknownNamesError(missing, `Recovery point ${rp.id}`);
  }
  if (target.type === "blob" && target.format === "csv") {
    // Exactly, from the table of contents as the archive reader reads it (names in the database's own encoding).
    const refusal = await csvExportRefusal(rp, target).catch(() => undefined);
    if (refusal) throw refusal;
  }
  if (rp.format === "flexibleServer-ltr" && target.type === "server") {
    // Each database entry with an include of its own, against that database's archive in the point.
    for (const { name, include } of target.databases ?? []) {
      if (!include) continue;
      const missing = await Promise.resolve()
        .then(() => namesMissingFromArchive(databaseSource(rp, name), include))
        .catch(() => []);
      if (missing.length > 0) throw unknownNamesError(missing, `Database '${name}' of recovery point ${rp.id}`);
    }
  }
}

/** POST /backupInstances/{name}/restore: validates the request and the recovery point, then starts the job (or, with dryRun, answers the pre-flight's findings). */
export async function startRestore(request: HttpRequest, client: DurableClient, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const name = routeName(request, "name");
    const body = parseRestoreRequest(await readJson(request));
    if (!(await getInstance(name))) throw new NotFoundError(`Backup instance '${name}' does not exist.`);
    const recoveryPoint = await getRecoveryPoint(name, body.recoveryPointId);
    if (!recoveryPoint || recoveryPoint.status === "Deleted") {
      throw new PgVaultError("UserErrorRecoveryPointNotFound", `Recovery point '${body.recoveryPointId}' of '${name}' does not exist or is deleted.`);
    }
    const { target } = body;
    checkTargetFitsPoint(recoveryPoint, target);
    await refuseNamesNotInPoint(recoveryPoint, target);
    // The pre-flight only, in this request: findings, nothing created, no job (docs/architecture.md, "Restore pre-flight").
    if (body.dryRun && target.type !== "blob") return json(200, await dryRunRestore(recoveryPoint, target));
    // Another restore writing into the same database (of any instance): 409 naming it; the job's lock checks again.
    // (Only when the request names the server: otherwise its secret does, and the job's lock checks once it is read.)
    if (target.type !== "blob" && target.host !== undefined && target.port !== undefined) {
      const { host, port } = target;
      const databases =
        target.type === "database" ? [target.database] : recoveryPoint.format === "flexibleServer-ltr" ? databaseMappings(recoveryPoint, target.databases).map((d) => d.restoreAs) : [];
      for (const database of databases) await refuseIfRestoreTargetBusy({ host, port, database }, orchestrationProbe(client));
    }
    const input: RestoreInput = { instanceName: name, recoveryPointId: recoveryPoint.id, target: body.target };
    return await queueOnDemandJob(client, context, {
      operation: "Restore", instanceName: name, recoveryPointId: recoveryPoint.id, orchestration: restoreOrchestrationName, input, what: `restore of ${recoveryPoint.id}`,
    });
  } catch (err) {
    return errorResponse(err, context);
  }
}

df.app.client.http("startRestore", { route: "backupInstances/{name}/restore", methods: ["POST"], authLevel: "function", handler: secured("POST backupInstances/{name}/restore", startRestore) });
