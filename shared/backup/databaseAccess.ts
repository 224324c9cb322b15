/**
 * Everything pgvault must verify before dumping a database: the secret resolves, the user can connect and holds
 * every grant, and the configured pg_dump is new enough for the server. Used by configure-protection (HTTP) and by
 * the backup orchestration's access-check activity alike.
 */
import type { DatabaseDatasource } from "../domain";
import { checkBackupAccess, type ServerFacts } from "../postgres/backupAccess";
import type { ConnectionParams } from "../postgres/connection";
import { assertDumpSupportsServer, toolVersion } from "../postgres/pgTools";
import { resolveSecret } from "../secrets/resolveSecret";

export interface VerifiedAccess extends ServerFacts {
  secretVersion: string;
  toolVersion: string;
}

export async function connectionParamsFor(datasource: DatabaseDatasource, secretVersion?: string): Promise<ConnectionParams & { secretVersion: string }> {
  const secret = await resolveSecret(datasource.secretRef, secretVersion);
  const { host, port, database } = datasource;
  return { host, port, database, ...secret.credentials, secretVersion: secret.version };
}

export async function verifyDatabaseAccess(datasource: DatabaseDatasource, secretVersion?: string): Promise<VerifiedAccess> {
  const params = await connectionParamsFor(datasource, secretVersion);
  const facts = await checkBackupAccess(params);
  const dump = await toolVersion("pg_dump");
  assertDumpSupportsServer(dump, facts.serverVersionNum, facts.serverVersion);
  return { ...facts, secretVersion: params.secretVersion, toolVersion: dump.text };
}
