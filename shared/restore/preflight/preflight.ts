/**
 * The restore pre-flight: reads the facts once (each archive's table of contents, then the target server's
 * catalogs), runs every check over them and returns the findings. It creates nothing, so the same function answers
 * a dry run and opens every real restore (which fails with the first fatal finding before anything exists).
 */
import { checkIntoSchemaTarget } from "../intoSchema";
import type { DatabaseRestoreTarget, DumpRecoveryPoint, LtrRecoveryPoint, ServerRestoreTarget } from "../../domain";
import { unwrapDataKey } from "../../encryption/dataKeys";
import type { ConnectionParams } from "../../postgres/connection";
import { restoreSourceOf } from "../databaseRestore";
import { databaseMappings, databaseSource } from "../serverRestore";
import { readArchiveFacts, type ArchiveFacts } from "./archiveFacts";
import { runChecks, type PreflightRequest } from "./checks";
import { bounded, findingOf, type PreflightFinding } from "./findings";
import { PgVaultError } from "../../errors";
import { readTargetFacts } from "./targetFacts";

export interface PreflightResult {
  /** The server the sign-in is bound to: where the restore's locks are keyed. */
  server: { host: string; port: number };
  findings: PreflightFinding[];
}

async function checkAgainstTarget(params: ConnectionParams, request: PreflightRequest, archives: ArchiveFacts[]): Promise<PreflightResult> {
  const owners = [...new Set(archives.flatMap((a) => a.owners))].sort();
  const target = await readTargetFacts(params, request.databases, owners);
  return { server: target.server, findings: bounded(runChecks({ request, target, archives })) };
}

/** A database point to a database target. An encrypted point's key is unwrapped to read its head, as a restore does. */
export async function preflightDatabaseRestore(params: ConnectionParams, rp: DumpRecoveryPoint, target: DatabaseRestoreTarget): Promise<PreflightResult> {
  const source = restoreSourceOf(rp);
  const dataKey = source.encryption && (await unwrapDataKey(source.encryption));
  let archive: ArchiveFacts;
  try {
    archive = await readArchiveFacts(source, dataKey, params, target.database, rp.serverVersion);
  } finally {
    dataKey?.fill(0);
  }
  // intoSchema writes into the existing database (which is no name in use) under a new schema: its own check.
  const into = target.intoSchema !== undefined;
  const request: PreflightRequest = { target, databases: into ? [] : [target.database], overwrite: target.overwrite, preserveOwnership: target.preserveOwnership, createRoles: target.roles === "createMissing" };
  const result = await checkAgainstTarget(params, request, [archive]);
  if (!into) return result;
  const intoSchemaFinding = await checkIntoSchemaTarget(params, target).then(
    () => [],
    (err: unknown) => {
      if (!(err instanceof PgVaultError) || !err.code.startsWith("UserError")) throw err;
      return [findingOf(err, `schema '${target.intoSchema}' in database '${target.database}'`, "intoSchema")];
    },
  );
  return { ...result, findings: bounded([...intoSchemaFinding, ...result.findings]) };
}

/** A Flexible Server point to a server: each chosen database's archive, checked against the one target server. */
export async function preflightServerRestore(params: ConnectionParams, rp: LtrRecoveryPoint, target: ServerRestoreTarget): Promise<PreflightResult> {
  const mappings = databaseMappings(rp, target.databases);
  const archives: ArchiveFacts[] = [];
  for (const { name, restoreAs } of mappings) archives.push(await readArchiveFacts(databaseSource(rp, name), undefined, params, restoreAs, rp.serverVersion));
  const request: PreflightRequest = {
    target,
    databases: mappings.map((m) => m.restoreAs),
    overwrite: target.overwrite,
    preserveOwnership: false,
    createRoles: target.roles === "createMissing",
  };
  return checkAgainstTarget(params, request, archives);
}
