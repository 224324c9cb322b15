/**
 * Everything pgvault must verify before dumping a database: the secret resolves and is for the server asked for,
 * the user can connect and holds every grant, and the configured pg_dump is new enough for the server. Used by
 * configure-protection (HTTP) and by the backup orchestration's access-check activity alike.
 */
import type { RequestedDatabaseEndpoint } from "../domain";
import { checkBackupAccess, type ServerFacts } from "../postgres/backupAccess";
import { connectionParamsFor } from "../postgres/connectionParams";
import type { DatabaseServer } from "../postgres/serverBinding";
import { assertDumpSupportsServer, toolVersion } from "../postgres/pgTools";

export interface VerifiedAccess extends ServerFacts {
  /** Absent for an Entra sign-in. */
  secretVersion?: string;
  toolVersion: string;
  /** The server checked: the request's, or the secret's where the request left them out. Configure-protection stores it. */
  server: DatabaseServer;
}

export async function verifyDatabaseAccess(datasource: RequestedDatabaseEndpoint, secretVersion?: string): Promise<VerifiedAccess> {
  const params = await connectionParamsFor(datasource, secretVersion);
  const facts = await checkBackupAccess(params);
  const dump = await toolVersion("pg_dump");
  assertDumpSupportsServer(dump, facts.serverVersionNum, facts.serverVersion);
  const server = { host: params.host, port: params.port };
  return { ...facts, ...(params.secretVersion ? { secretVersion: params.secretVersion } : {}), toolVersion: dump.text, server };
}
