/**
 * Restore as files: the recovery point's blobs plus `manifest.json` (the recovery point record and the exact
 * pg_restore command) under a prefix of any blob container. A compressed dump is streamed through the app, checked
 * and decompressed on the way, so the file is a plain pg_dump archive that pg_restore reads directly; other blobs
 * (encrypted dumps, Flexible Server files) are copied as stored, server-side (copy from URL with a short-lived read
 * SAS) where the service allows, else streamed. The manifest is written last, so its presence marks a complete export.
 */
import {
  BlobSASPermissions,
  BlobServiceClient,
  ContainerClient,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  type BlobClient,
  type BlobRequestConditions,
} from "@azure/storage-blob";
import { createHash } from "node:crypto";
import path from "node:path";
import { Readable } from "node:stream";
import { backupContainer, type BlobRestoreTarget, type DumpRecoveryPoint, type RecoveryPoint, type RecoveryPointEncryption } from "../domain";
import { getAzureCredential } from "../azureCredential";
import { getConfig } from "../config";
import { PgVaultError } from "../errors";
import { ltrFileOf } from "../flexServer/ltrFiles";
import { parseKeyRef } from "../secrets/keyRef";
import { isTransientStorageError, statusOf, storageFailure } from "../storageErrors";
import { getBlobServiceClient } from "../catalog/vaultClients";
import { readContentsRecord } from "../contents/contentsRecord";
import { archiveBytes, hashed, restoreSourceOf } from "./databaseRestore";
import { accountOfServiceUrl, checkExportTarget } from "./exportTarget";
import { csvFileName } from "./csvFileNames";
import { parseQualifiedName, type QualifiedName } from "./restoreNames";

/** Azurite's documented development account; not a secret. */
const devAccount = { name: "devstoreaccount1", key: "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==" };
const sasLifetimeMs = 60 * 60_000;

/** `https://host[:port][/account]` of a blob service or container URL (path-style accounts on loopback). */
function serviceOrigin(url: URL): string {
  const isPathStyle = /^(127\.0\.0\.1|localhost|\[::1\])$/.test(url.hostname);
  return isPathStyle ? `${url.origin}/${url.pathname.split("/")[1] ?? ""}` : url.origin;
}

function sharedKeyFromVaultConnection(): { name: string; key: string } | undefined {
  const { vault } = getConfig();
  if (vault.kind !== "connectionString") return undefined;
  const name = /AccountName=([^;]+)/i.exec(vault.connectionString)?.[1];
  const key = /AccountKey=([^;]+)/i.exec(vault.connectionString)?.[1];
  return name && key ? { name, key } : undefined;
}

/** The account identities of the vault and of the Functions runtime's storage: never an export target. */
function ownAccounts(): string[] {
  const { runtimeStorage } = getConfig();
  const runtimeUrl = runtimeStorage && ("connectionString" in runtimeStorage ? BlobServiceClient.fromConnectionString(runtimeStorage.connectionString).url : runtimeStorage.blobServiceUri);
  return [getBlobServiceClient().url, runtimeUrl].flatMap((url) => (url ? [accountOfServiceUrl(url) ?? url] : []));
}

/**
 * The target container, after `checkExportTarget` (never pgvault's own storage): Azurite's development key for a
 * local Azurite, otherwise the app's Microsoft Entra identity.
 */
export function targetContainerClient(containerUrl: string): ContainerClient {
  checkExportTarget(containerUrl, ownAccounts());
  const origin = serviceOrigin(new URL(containerUrl));
  const isLocalAzurite = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\/devstoreaccount1$/.test(origin);
  if (isLocalAzurite) return new ContainerClient(containerUrl, new StorageSharedKeyCredential(devAccount.name, devAccount.key));
  return new ContainerClient(containerUrl, getAzureCredential());
}

/** A read-only URL of a vault blob for the target service to copy from. */
async function readSasUrl(source: BlobClient): Promise<string> {
  const shared = sharedKeyFromVaultConnection();
  const expiresOn = new Date(Date.now() + sasLifetimeMs);
  const permissions = BlobSASPermissions.parse("r");
  if (shared) return source.generateSasUrl({ permissions, expiresOn });
  const service = getBlobServiceClient();
  const key = await service.getUserDelegationKey(new Date(Date.now() - 5 * 60_000), expiresOn);
  const sas = generateBlobSASQueryParameters(
    { containerName: source.containerName, blobName: source.name, permissions, expiresOn },
    key,
    service.accountName,
  );
  return `${source.url}?${sas.toString()}`;
}

export function notAccessible(err: unknown, containerUrl: string): PgVaultError {
  const status = statusOf(err);
  if (status === 401 || status === 403 || status === 404) {
    return new PgVaultError("UserErrorContainerNotAccessible", `The app cannot write to ${containerUrl} (HTTP ${status}).`);
  }
  if (status === undefined && (err as { code?: string }).code === "ENOTFOUND") {
    return new PgVaultError("UserErrorContainerNotAccessible", `The host of ${containerUrl} does not resolve.`);
  }
  if (status === undefined && !isTransientStorageError(err)) {
    // No answer from the service at all: no token for the identity, bearer auth refused over http, and the like.
    const message = err instanceof Error ? err.message.split("\n")[0]!.slice(0, 200) : String(err);
    return new PgVaultError("UserErrorContainerNotAccessible", `The app cannot authenticate to ${containerUrl}: ${message}`);
  }
  return storageFailure(err, `writing to ${containerUrl}`);
}

async function copyBlob(source: BlobClient, target: ContainerClient, name: string, write: FileWrite): Promise<"server" | "streamed"> {
  const destination = target.getBlockBlobClient(name);
  try {
    const poller = await destination.beginCopyFromURL(await readSasUrl(source), write);
    await poller.pollUntilDone();
    return "server";
  } catch (err) {
    const status = statusOf(err);
    // Refusals about the target itself are the caller's error to report; the service not reaching the source
    // (CannotVerifyCopySource, 403 or 404: a vault behind a private endpoint; Azurite never reads another account),
    // and anything else: stream it through.
    const aboutSource = /CannotVerifyCopySource/i.test(String((err as { code?: unknown }).code ?? err));
    // A failed condition (412, 409) is for the caller to judge: another copy wrote the file meanwhile.
    if (!aboutSource && (status === 401 || status === 403 || status === 404 || status === 409 || status === 412)) throw err;
    const download = await source.download();
    await destination.uploadStream(download.readableStreamBody as Readable, 8 * 1024 * 1024, 4, write);
    return "streamed";
  }
}

/** What an export reports (to the orchestration's history): counts and the manifest's name; the files are in the manifest. */
export interface ExportResult {
  /** Files exported besides the manifest. */
  fileCount: number;
  manifest: string;
  bytes: number;
  copiedServerSide: boolean;
}

/** Where a recovery point blob lands under the prefix: a dump by its file name, server files by their full path. */
function exportedName(rp: RecoveryPoint, blobPath: string, prefix: string): string {
  return rp.format === "pg_dump-custom" ? `${prefix}${path.posix.basename(blobPath)}` : `${prefix}${blobPath}`;
}

/** The vault blob behind a container-qualified path; only the point's own containers are read. */
function vaultBlob(rp: RecoveryPoint, blobPath: string): BlobClient {
  const slash = blobPath.indexOf("/");
  const container = blobPath.slice(0, slash);
  const own = rp.format === "pg_dump-custom" ? container === backupContainer : rp.containers.includes(container);
  if (slash < 1 || !own) {
    throw new PgVaultError("SystemErrorUnexpected", `Recovery point ${rp.instanceName}/${rp.id} names a blob outside its own storage (${blobPath}).`);
  }
  return getBlobServiceClient().getContainerClient(container).getBlobClient(blobPath.slice(slash + 1));
}

interface ExportedFile {
  name: string;
  sizeBytes: number;
  /** Of the exported file, when it differs from the stored bytes (a decompressed dump). */
  sha256?: string;
}

/**
 * The dump as a plain archive: read once, every stored segment checked before it is decompressed, uploaded in
 * blocks committed only at the end; the stored bytes' SHA-256 must match the point's, else nothing is left.
 */
async function exportDecompressed(rp: DumpRecoveryPoint, source: BlobClient, target: ContainerClient, name: string, write: FileWrite): Promise<ExportedFile> {
  const storedHash = createHash("sha256");
  const fileHash = createHash("sha256");
  let sizeBytes = 0;
  const download = await source.download().catch((err: unknown) => {
    throw storageFailure(err, `reading ${rp.blobs[0]}`);
  });
  const archive = archiveBytes(hashed(download.readableStreamBody as Readable, storedHash), restoreSourceOf(rp), undefined);
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of archive) {
      fileHash.update(chunk);
      sizeBytes += chunk.length;
      yield chunk;
    }
  }
  const destination = target.getBlockBlobClient(name);
  await destination.uploadStream(Readable.from(counted()), 8 * 1024 * 1024, 4, write);
  if (storedHash.digest("hex") !== rp.sha256) {
    await destination.deleteIfExists();
    throw new PgVaultError("UserErrorRecoveryPointCorrupted", `The stored bytes of ${rp.blobs[0]} do not match the recovery point's SHA-256; nothing was exported.`);
  }
  return { name, sizeBytes, sha256: fileHash.digest("hex") };
}

/**
 * The role definitions a database point recorded (contents record, `roles`), for the manifest: as text when the
 * point is not encrypted; an encrypted point's stay sealed in the vault (the export carries no plaintext of it),
 * and a record that cannot be read is said so rather than failing the export of the dump.
 */
async function rolesOf(rp: RecoveryPoint): Promise<{ roles?: string; rolesNote?: string }> {
  if (rp.format !== "pg_dump-custom" || !rp.contents) return {};
  if (rp.encryption) return { rolesNote: "The role definitions recorded with this point are sealed in its contents record in the vault; a pgvault restore with roles: \"createMissing\" uses them." };
  try {
    const { roles } = await readContentsRecord({ ...rp, contents: rp.contents });
    if (roles === undefined) return {};
    return {
      roles,
      rolesNote:
        "roles: the roles the dump refers to, as pg_dumpall --roles-only writes them (no passwords). Before a restore with ownership, create the missing ones from it " +
        "without the SUPERUSER, REPLICATION and BYPASSRLS attributes and without azure_* or pg_* roles (or restore through pgvault with roles: \"createMissing\", which does this).",
    };
  } catch (err) {
    return { rolesNote: `The role definitions recorded with this point could not be read: ${err instanceof PgVaultError ? err.detail : String(err)}` };
  }
}

/** manifest.json: the recovery point record, the files, and how to restore them. */
function manifestOf(rp: RecoveryPoint, files: ExportedFile[]): Record<string, unknown> {
  const exportedAt = new Date().toISOString();
  if (rp.format === "pg_dump-custom") {
    const dumpFile = path.posix.basename(rp.blobs[0] ?? "");
    if (rp.encryption) return encryptedDumpManifest(rp, rp.encryption, files, exportedAt, dumpFile);
    const decompressedFrom = rp.compression && rp.compression !== "none" ? `${rp.compression}-compressed ` : "";
    return {
      recoveryPoint: rp,
      files: files.map((file) => ({ ...file, sha256: file.sha256 ?? rp.sha256 })),
      exportedAt,
      restoreCommand: `pg_restore --no-owner --no-privileges --exit-on-error --dbname <target database> ${dumpFile}`,
      notes:
        "Create the target database first (createdb <target database>). Check the file against sha256 before restoring." +
        (rp.compression
          ? ` ${dumpFile} is a plain pg_dump custom-format archive: pgvault checked the ${decompressedFrom}bytes it stores (recoveryPoint.sha256, recoveryPoint.sizeBytes) on the way out` +
            `${decompressedFrom ? " and decompressed them" : ""}; files[].sha256 is of the file itself.`
          : ""),
    };
  }
  // Each file's kind as Microsoft's restore guide names them (shared/flexServer/ltrFiles.ts); files are in the point's order.
  const named = files.map((file, i) => {
    const { kind, database } = ltrFileOf(rp.blobs[i] ?? "");
    return { ...file, kind, ...(database ? { database } : {}) };
  });
  return {
    recoveryPoint: rp,
    files: named,
    exportedAt,
    restoreCommand:
      "For each file of kind 'database': createdb <name>, then pg_restore --no-owner --exit-on-error --dbname <name> <file>. " +
      "Create the roles first from the file of kind 'roles', after removing azure_* roles and the SUPERUSER, REPLICATION and BYPASSRLS attributes (or restore through pgvault with target type 'server', which does this).",
    notes:
      "These are the files Azure Database for PostgreSQL Flexible Server wrote for its long-term-retention backup " +
      `'${rp.ltr.backupName}', one folder per container. recoveryPoint.ltr.backupMetadata is the server's description of them.`,
  };
}

/**
 * An encrypted dump is exported as stored (its SHA-256 is the recovery point's); the manifest says how to decrypt
 * it: which key unwraps the data key, the wrapped data key, and the format. Never the data key itself.
 */
function encryptedDumpManifest(
  rp: DumpRecoveryPoint,
  encryption: RecoveryPointEncryption,
  files: ExportedFile[],
  exportedAt: string,
  dumpFile: string,
): Record<string, unknown> {
  const key = parseKeyRef(encryption.keyRef);
  const decompress = rp.compression === "zstd" ? "zstd -d" : rp.compression === "gzip" ? "gzip -d" : undefined;
  const unwrap =
    key.kind === "keyVault"
      ? `decrypt encryption.wrappedKey with RSA-OAEP-256 using Key Vault key ${key.vaultUrl}/keys/${key.name}/${encryption.keyVersion} (Key Vault's unwrapkey operation, for example CryptographyClient.unwrapKey of @azure/keyvault-keys; needs unwrapKey permission on the key)`
      : `unwrap encryption.wrappedKey with AES key wrap (RFC 3394, id-aes256-wrap) using the 256-bit key in ${encryption.keyRef} (its fingerprint is ${encryption.keyVersion})`;
  return {
    recoveryPoint: rp,
    files: files.map((file) => ({ ...file, sha256: rp.sha256 })),
    exportedAt,
    encryption: {
      ...encryption,
      steps: [
        `1. Data key (32 bytes): ${unwrap}.`,
        `2. ${dumpFile}: a 20-byte header ("PGVENC", version 1, cipher 1 = AES-256-GCM, segment size uint32 big-endian, 8-byte nonce prefix), then segments of segmentSize plaintext bytes (the last shorter, possibly empty), each stored as ciphertext followed by a 16-byte GCM tag.`,
        "3. Segment i (from 0): AES-256-GCM with the data key, nonce = nonce prefix || i as uint32 big-endian, AAD = the 20 header bytes || i as uint32 big-endian || 1 byte final flag (1 for the last segment, else 0). Reject the file if any tag fails or the last segment does not verify as final.",
        `4. The plaintext is the pg_dump custom-format archive${decompress ? `, ${rp.compression}-compressed: decompress it (${decompress})` : ""}.`,
      ],
      documentation: "docs/architecture.md, section Encryption, of pgvault",
    },
    restoreCommand: `<decrypt ${dumpFile} as described under encryption.steps> |${decompress ? ` ${decompress} |` : ""} pg_restore --no-owner --no-privileges --exit-on-error --dbname <target database>`,
    notes:
      "The dump is encrypted; the data key is only here wrapped by the key named in encryption.keyRef. Check the file against sha256 (of the encrypted bytes) first, create the target database, then decrypt into pg_restore.",
  };
}

export const folderOf = (target: BlobRestoreTarget) => (target.prefix && !target.prefix.endsWith("/") ? `${target.prefix}/` : target.prefix);

/** The names an export of `rp` writes under the target's prefix, the manifest first. */
export function exportNames(rp: RecoveryPoint, target: BlobRestoreTarget): string[] {
  const prefix = folderOf(target);
  const files = target.format === "csv" ? csvTables(target).map((table) => csvFileName(prefix, table)) : rp.blobs.map((blobPath) => exportedName(rp, blobPath, prefix));
  return [`${prefix}manifest.json`, ...files];
}

/** The tables of a CSV export, as the request named them (validated there). */
export function csvTables(target: BlobRestoreTarget): QualifiedName[] {
  return (target.include?.tables ?? []).map((text) => {
    const table = parseQualifiedName(text);
    if (!table) throw new PgVaultError("SystemErrorUnexpected", `The export names '${text}', which is not schema.table.`);
    return table;
  });
}

/** Blob metadata naming the job that wrote an exported file: only that job's cancel may delete it. */
const ownerKey = "pgvaultjob";

/** How one file is written: labelled with its job, and only over what was there a moment before. */
export interface FileWrite {
  metadata: Record<string, string>;
  conditions: BlobRequestConditions;
}

/** The file at `name` now: its etag and the job that wrote it; undefined when there is none. */
async function existingFile(blob: BlobClient): Promise<{ etag?: string; owner?: string } | undefined> {
  const properties = await blob.getProperties().catch((err: unknown) => {
    if (statusOf(err) === 404) return undefined;
    throw err;
  });
  return properties && { etag: properties.etag, owner: properties.metadata?.[ownerKey] };
}

/**
 * How `name` may be written now: a new name only while it is still new, a file of this job (an earlier or a
 * concurrent attempt) or, with `overwrite`, anyone's only as it is now. Someone else's file without `overwrite`
 * refuses the export.
 */
export async function writeFor(container: ContainerClient, name: string, target: BlobRestoreTarget, jobId: string): Promise<FileWrite> {
  const existing = await existingFile(container.getBlobClient(name));
  if (existing && existing.owner !== jobId && !target.overwrite) {
    throw new PgVaultError(
      "UserErrorContainerNotAccessible",
      `${target.containerUrl} already holds '${name}', written by another export or by someone else; choose another prefix, or set target.overwrite to true to replace it.`,
    );
  }
  return { metadata: { [ownerKey]: jobId }, conditions: existing ? { ifMatch: existing.etag } : { ifNoneMatch: "*" } };
}

/** Sibling copies of one job may each replace a file once between another's look and write. */
const maxWriteTries = 4;

/**
 * Writes one file conditionally on what `writeFor` saw. When another copy of the same job wrote it in between (the
 * condition fails: 412, or 409 for a name that became taken), it looks again and writes again.
 */
export async function writeConditionally<T>(container: ContainerClient, name: string, target: BlobRestoreTarget, jobId: string, write: (how: FileWrite) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const how = await writeFor(container, name, target, jobId);
    try {
      return await write(how);
    } catch (err) {
      const status = statusOf(err);
      if ((status !== 412 && status !== 409) || attempt >= maxWriteTries) throw err;
    }
  }
}

/**
 * Removes what job `jobId` wrote for an export of `rp` under the prefix, the manifest first (without it the folder
 * no longer claims to be a complete export). Files of other exports at the same names are left alone.
 */
export async function removeExport(rp: RecoveryPoint, target: BlobRestoreTarget, jobId: string): Promise<void> {
  const container = targetContainerClient(target.containerUrl);
  try {
    for (const name of exportNames(rp, target)) {
      const blob = container.getBlobClient(name);
      const existing = await existingFile(blob);
      if (!existing || existing.owner !== jobId) continue;
      await blob.deleteIfExists({ conditions: { ifMatch: existing.etag } }).catch((err: unknown) => {
        // Replaced since it was read: no longer this job's.
        if (statusOf(err) !== 412) throw err;
      });
    }
  } catch (err) {
    throw notAccessible(err, target.containerUrl);
  }
}

export async function exportToContainer(rp: RecoveryPoint, target: BlobRestoreTarget, jobId: string): Promise<ExportResult> {
  const container = targetContainerClient(target.containerUrl);
  const prefix = folderOf(target);
  const files: ExportedFile[] = [];
  let copiedServerSide = true;
  try {
    const [manifestName, ...fileNames] = exportNames(rp, target);
    // Every name is looked at before the first is written: a refused export writes nothing.
    for (const name of [manifestName!, ...fileNames]) await writeFor(container, name, target, jobId);
    for (const blobPath of rp.blobs) {
      const source = vaultBlob(rp, blobPath);
      const name = exportedName(rp, blobPath, prefix);
      if (rp.format === "pg_dump-custom" && rp.compression && !rp.encryption) {
        files.push(await writeConditionally(container, name, target, jobId, (write) => exportDecompressed(rp, source, container, name, write)));
        copiedServerSide = false;
        continue;
      }
      const how = await writeConditionally(container, name, target, jobId, (write) => copyBlob(source, container, name, write));
      copiedServerSide &&= how === "server";
      const sizeBytes = rp.format === "pg_dump-custom" ? rp.sizeBytes : ((await source.getProperties()).contentLength ?? 0);
      files.push({ name, sizeBytes });
    }
    const body = JSON.stringify({ ...manifestOf(rp, files), ...(await rolesOf(rp)) }, null, 2);
    await writeConditionally(container, manifestName!, target, jobId, (write) =>
      container.getBlockBlobClient(manifestName!).upload(body, Buffer.byteLength(body), { ...write, blobHTTPHeaders: { blobContentType: "application/json" } }),
    );
  } catch (err) {
    if (err instanceof PgVaultError) throw err;
    throw notAccessible(err, target.containerUrl);
  }
  return { fileCount: files.length, manifest: `${prefix}manifest.json`, bytes: rp.sizeBytes, copiedServerSide };
}
