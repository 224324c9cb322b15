/**
 * Where a restore drill restores, and how it signs in (references only, never a secret value): a `database`
 * instance's point on the instance's own server with its own credentials; a `flexibleServer` instance's point on
 * the drill server the instance names (`verification`; pgvault holds no credentials for a Flexible Server), each of
 * the point's databases into a scratch database of its own. Shared by the HTTP route, the scheduler, the
 * orchestration and a cancel's cleanup, so all of them reach the same server.
 */
import type { BackupInstance, DatabaseDatasource, FlexibleServerDatasource, RequestedDatabaseEndpoint, ServerEndpoint } from "../domain";
import { connectionParamsFor } from "../postgres/connectionParams";
import type { DatabaseServer } from "../postgres/serverBinding";
import { checkScratchAccess } from "./restoreDrill";

/** What a drill of an instance's point needs to know about the instance. */
export type DrillSubject =
  | { datasource: DatabaseDatasource; drillServer?: never }
  | { datasource: FlexibleServerDatasource; drillServer: ServerEndpoint };

/** The instance's drill subject; undefined for a Flexible Server instance that names no drill server. */
export function drillSubjectOf(instance: Pick<BackupInstance, "datasource" | "verification">): DrillSubject | undefined {
  if (instance.datasource.type === "database") return { datasource: instance.datasource };
  return instance.verification ? { datasource: instance.datasource, drillServer: instance.verification } : undefined;
}

/** Where the drill server is signed in to: a database every PostgreSQL server has (scratch databases are made from there). */
const drillServerDatabase = "postgres";

/** A drill server as the address every step connects with (connectionParamsFor). */
export function drillServerEndpoint(server: ServerEndpoint): RequestedDatabaseEndpoint {
  return { ...server, database: drillServerDatabase };
}

/** What the drill's steps connect to: the instance's own database, or the drill server. */
export function drillEndpoint(subject: DrillSubject): RequestedDatabaseEndpoint {
  return subject.drillServer ? drillServerEndpoint(subject.drillServer) : subject.datasource;
}

/**
 * The drill's access check, as its CheckingAccess step and PUT /backupInstances run it: the sign-in resolves and is
 * for the server named, the user connects and may create the scratch databases (CREATEDB or superuser). Answers
 * the server checked (the request's, or the secret's where the request left host or port out).
 */
export async function checkDrillAccess(endpoint: RequestedDatabaseEndpoint, scratch: string, secretVersion?: string): Promise<{ server: DatabaseServer; serverVersion: string }> {
  const params = await connectionParamsFor(endpoint, secretVersion);
  const { serverVersion } = await checkScratchAccess(params, scratch);
  return { server: { host: params.host, port: params.port }, serverVersion };
}

/**
 * PUT /backupInstances: a drill server passes the drill's access check before it is stored, and is stored with the
 * server checked (as a datasource is), so GET shows it and every drill binds the secret to it.
 */
export async function verifiedDrillServer(server: ServerEndpoint): Promise<ServerEndpoint> {
  const checked = await checkDrillAccess(drillServerEndpoint(server), "pgvault_verify_<hash of the job id>_...");
  return { ...server, ...checked.server };
}
