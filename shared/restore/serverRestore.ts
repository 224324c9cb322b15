/**
 * Restoring a Flexible Server point to any PostgreSQL server: which of the point's database archives go where, the
 * temporary databases each one restores into, and the roles file the roles come from. Each database goes through
 * the database-restore pipeline (databaseRestore.ts); all are swapped in together at the end.
 */
import type { Readable } from "node:stream";
import type { DatabaseMapping, DatabaseRestoreTarget, LtrRecoveryPoint, RecoveryPoint, RestoreInclude, ServerRestoreTarget } from "../domain";
import { PgVaultError } from "../errors";
import { ltrDatabaseFiles, ltrDatabaseNames, ltrRolesFile } from "../flexServer/ltrFiles";
import { ownedBlob } from "../recoveryPoints/recoveryPointBlobs";
import { statusOf, storageFailure } from "../storageErrors";
import { getBlobServiceClient } from "../catalog/vaultClients";
import { temporaryDatabaseName, type RestoreSource } from "./databaseRestore";

/** The listed databases the point does not hold (a request naming them is refused before a job starts). */
export function unknownDatabases(rp: Pick<LtrRecoveryPoint, "blobs">, requested: readonly DatabaseMapping[] | undefined): string[] {
  const held = new Set(ltrDatabaseNames(rp));
  return (requested ?? []).map((mapping) => mapping.name).filter((name) => !held.has(name));
}

/** A server with no user database backs up to a point with roles and schema files only (the service leaves out `postgres`). */
export const noDatabases = (rpId: string) =>
  `Recovery point ${rpId} holds no database archive: the server had no user database (Azure leaves out 'postgres' and databases owned by azure_pg_admin or azuresu); restore it as files for its roles and schema.`;

/** What is restored where: the requested databases, or every database of the point under its own name. */
export function databaseMappings(rp: Pick<LtrRecoveryPoint, "id" | "blobs">, requested: readonly DatabaseMapping[] | undefined): DatabaseMapping[] {
  const unknown = unknownDatabases(rp, requested);
  if (unknown.length > 0) {
    throw new PgVaultError("UserErrorRecoveryPointNotFound", `Recovery point ${rp.id} holds no database ${unknown.map((name) => `'${name}'`).join(", ")}; it holds ${ltrDatabaseNames(rp).join(", ") || "none"}.`);
  }
  const mappings = requested ? [...requested] : ltrDatabaseNames(rp).map((name) => ({ name, restoreAs: name }));
  if (mappings.length === 0) throw new PgVaultError("UserErrorRecoveryPointNotFound", noDatabases(rp.id));
  return mappings;
}

/** The point read from the catalog as a Flexible Server point; any other is refused (the API never sends one). */
export function asServerPoint(rp: RecoveryPoint): LtrRecoveryPoint {
  if (rp.format !== "flexibleServer-ltr") throw new PgVaultError("SystemErrorUnexpected", `Recovery point ${rp.id} is a database dump; restore it with target type 'database'.`);
  return rp;
}

/**
 * The stem of the temporary databases of the job's `index`-th database: under the job's stem, so the failure
 * path, a cancel and the final swap sweep them all; `x` ends the number, so `_d1x` is no prefix of `_d10x`.
 */
export function databaseStem(jobId: string, index: number): string {
  return `${temporaryDatabaseName(jobId)}_d${index}x`;
}

/**
 * One database of a server target, as the database-restore pipeline takes it (no ownership: the roles mode decides),
 * with the part of it the target's entry includes.
 */
export function databaseTargetOf(target: ServerRestoreTarget, database: string, include?: RestoreInclude): DatabaseRestoreTarget {
  const { host, port, overwrite } = target;
  const signIn = target.auth ? { auth: target.auth } : { secretRef: target.secretRef };
  return { type: "database", ...(host !== undefined ? { host } : {}), ...(port !== undefined ? { port } : {}), database, ...signIn, overwrite, preserveOwnership: false, ...(include ? { include } : {}) };
}

/**
 * Where the archive of the point's database `name` is: a file the server wrote, with no checksum of its own. One
 * file per database is what Microsoft's guide describes; a database with files in several containers (pieces of
 * one archive, or copies) is not guessed at.
 */
export function databaseSource(rp: LtrRecoveryPoint, name: string): RestoreSource {
  const files = ltrDatabaseFiles(rp).filter((candidate) => candidate.database === name);
  if (files.length === 0) throw new PgVaultError("UserErrorRecoveryPointNotFound", `Recovery point ${rp.id} holds no database '${name}'.`);
  if (files.length > 1) {
    throw new PgVaultError(
      "UserErrorRecoveryPointCorrupted",
      `Recovery point ${rp.id} holds ${files.length} files for database '${name}' (${files.map((file) => file.blobPath).join(", ")}); pgvault restores one archive per database. Restore the point as files and load them by hand.`,
    );
  }
  ownedBlob(rp, files[0]!.blobPath); // only the point's own containers are read
  return { blobPath: files[0]!.blobPath };
}

/** A roles file larger than this is not a roles file. */
const rolesFileLimit = 16 * 1024 * 1024;

/** The point's roles file as text (what `pg_dumpall --roles-only` wrote on the source server). */
export async function readRolesFile(rp: LtrRecoveryPoint): Promise<string> {
  const file = ltrRolesFile(rp);
  if (!file) throw new PgVaultError("UserErrorRecoveryPointCorrupted", `Recovery point ${rp.id} has no roles file, which roles: "createMissing" needs; restore with roles: "skip".`);
  const { container, name } = ownedBlob(rp, file.blobPath);
  try {
    const download = await getBlobServiceClient().getContainerClient(container).getBlobClient(name).download();
    if ((download.contentLength ?? 0) > rolesFileLimit) throw new PgVaultError("UserErrorRecoveryPointCorrupted", `The roles file ${file.blobPath} is larger than ${rolesFileLimit} bytes.`);
    const chunks: Buffer[] = [];
    for await (const chunk of download.readableStreamBody as Readable) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  } catch (err) {
    if (err instanceof PgVaultError) throw err;
    if (statusOf(err) === 404) throw new PgVaultError("UserErrorRecoveryPointCorrupted", `The roles file of recovery point ${rp.id} is missing from the vault (${file.blobPath}).`);
    throw storageFailure(err, `reading ${file.blobPath}`);
  }
}
