/**
 * The vault containers of one Flexible Server recovery point. The server writes its backup straight into them
 * through container SAS URLs, one per container, that reach that container only and expire soon after the
 * backup's deadline; the SAS is made where it is used and never returned (activity results are stored in the
 * history). Which rights they carry, and why: `ltrSasPermissions` below.
 */
import {
  ContainerSASPermissions,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  type ContainerClient,
} from "@azure/storage-blob";
import { PgVaultError } from "../errors";
import { isImmutableBlobRefusal } from "../recoveryPoints/immutability";
import { storageFailure } from "../storageErrors";
import { getBlobServiceClient } from "../catalog/vaultClients";

/** `rp-20260104T023007Z-1a2b3c4d` -> `ltr-20260104t023007z-1a2b3c4d-<i>`: container names are lowercase. */
export function ltrContainerNames(recoveryPointId: string, count: number): string[] {
  const stem = recoveryPointId.replace(/^rp-/, "").toLowerCase();
  return Array.from({ length: count }, (_, i) => `ltr-${stem}-${i}`);
}

const ltrContainerPattern = /^ltr-\d{8}t\d{6}z-[0-9a-f]{8}-\d{1,2}$/;

/** Only containers named for `recoveryPointId` are ever deleted on its behalf: a damaged row cannot reach others. */
export function isContainerOf(recoveryPointId: string, name: string): boolean {
  const stem = recoveryPointId.replace(/^rp-/, "").toLowerCase();
  return ltrContainerPattern.test(name) && name.startsWith(`ltr-${stem}-`);
}

function vaultContainer(name: string): ContainerClient {
  return getBlobServiceClient().getContainerClient(name);
}

/** Creates the containers (a retry finds them there), labelled with the point they belong to. */
export async function createLtrContainers(names: readonly string[], owner: { instanceName: string; recoveryPointId: string }): Promise<void> {
  for (const name of names) {
    try {
      await vaultContainer(name).createIfNotExists({ metadata: { instance: owner.instanceName, recoverypoint: owner.recoveryPointId } });
    } catch (err) {
      throw storageFailure(err, `creating vault container ${name}`);
    }
  }
}

/**
 * The rights of the server's SAS: delete, list, read, write (`dlrw`), as Microsoft's own live test of this API
 * grants them (Azure/azure-cli, `src/azure-cli/azure/cli/command_modules/postgresql/tests/latest/
 * test_postgres_flexible_commands_ltr.py`, `FlexibleServerLtrMgmtScenarioTest`: `az storage container
 * generate-sas --permissions dlrw`). Microsoft documents nothing narrower: the REST reference says only "List of
 * SAS uri of storage containers where backup data is to be streamed/copied" (azure-rest-api-specs,
 * `PostgreSQL/stable/2025-08-01/openapi.json`, `BackupStoreDetails.sasUriList`). Whether the writer reads back,
 * lists or deletes (a retried upload, a resumed stream) is not documented, and the in-repo ARM stand-in cannot
 * tell what the real writer does, so nothing proves a narrower set works: pgvault grants what Microsoft's
 * tooling grants. pgvault's earlier `wcl` (write, create, list) was narrower than that without a test against
 * Azure to back it. What bounds the wider set: one container per SAS, HTTPS, an expiry at the backup deadline
 * plus a margin, and a user delegation key (docs/security.md, "Flexible Server SAS").
 */
export const ltrSasPermissions = "dlrw";
const sasPermissions = ContainerSASPermissions.parse(ltrSasPermissions);
/** Clocks of the vault and of the server may differ by minutes. */
const clockSkewMs = 5 * 60_000;

/**
 * SAS URLs with `ltrSasPermissions`, one per container: signed with the account key when the vault is reached
 * with one (Azurite, connection strings), else a user delegation SAS from the app's Entra identity.
 */
export async function containerWriteSasUrls(names: readonly string[], expiresOn: Date): Promise<string[]> {
  const service = getBlobServiceClient();
  const startsOn = new Date(Date.now() - clockSkewMs);
  // Azure is HTTPS only; Azurite on loopback serves plain HTTP.
  const protocol = new URL(service.url).protocol === "https:" ? SASProtocol.Https : SASProtocol.HttpsAndHttp;
  try {
    if (service.credential instanceof StorageSharedKeyCredential) {
      const key = service.credential;
      return names.map((containerName) => {
        const sas = generateBlobSASQueryParameters({ containerName, permissions: sasPermissions, startsOn, expiresOn, protocol }, key);
        return `${vaultContainer(containerName).url}?${sas.toString()}`;
      });
    }
    const delegationKey = await service.getUserDelegationKey(startsOn, expiresOn);
    return names.map((containerName) => {
      const sas = generateBlobSASQueryParameters({ containerName, permissions: sasPermissions, startsOn, expiresOn, protocol }, delegationKey, service.accountName);
      return `${vaultContainer(containerName).url}?${sas.toString()}`;
    });
  } catch (err) {
    throw storageFailure(err, "issuing SAS URLs for the backup containers");
  }
}

export interface LtrFile {
  /** Container-qualified, like every recovery point blob path. */
  path: string;
  sizeBytes: number;
}

/** What a finished backup wrote; none is a failure: a point over empty containers could never be restored. */
export async function listWrittenLtrFiles(backupName: string, names: readonly string[]): Promise<LtrFile[]> {
  const files = await listLtrFiles(names);
  if (files.length === 0) {
    throw new PgVaultError("SystemErrorUnexpected", `The long-term-retention backup '${backupName}' reported success but wrote no files.`);
  }
  return files;
}

async function listLtrFiles(names: readonly string[]): Promise<LtrFile[]> {
  const files: LtrFile[] = [];
  for (const name of names) {
    try {
      for await (const blob of vaultContainer(name).listBlobsFlat()) {
        files.push({ path: `${name}/${blob.name}`, sizeBytes: blob.properties.contentLength ?? 0 });
      }
    } catch (err) {
      throw storageFailure(err, `listing vault container ${name}`);
    }
  }
  return files;
}

/**
 * Deletes the point's containers; one already gone counts as deleted. With `emptyFirst` (a point whose files were
 * made immutable: its containers have version-level immutability, and Azure deletes such a container only when it
 * is empty) the files are deleted one by one first; a file still under its policy is refused with 409
 * `BlobImmutableDueToPolicy`, which is passed on as it is so retention can tell it from a failure.
 */
export async function deleteLtrContainers(recoveryPointId: string, names: readonly string[], options: { emptyFirst?: boolean } = {}): Promise<void> {
  for (const name of names) {
    if (!isContainerOf(recoveryPointId, name)) {
      throw new PgVaultError("SystemErrorUnexpected", `Recovery point ${recoveryPointId} names container '${name}', which is not one of its own; it was left alone.`);
    }
    const container = vaultContainer(name);
    try {
      if (options.emptyFirst && (await container.exists())) {
        for await (const blob of container.listBlobsFlat()) await container.getBlobClient(blob.name).deleteIfExists({ deleteSnapshots: "include" });
      }
      await container.deleteIfExists();
    } catch (err) {
      if (isImmutableBlobRefusal(err)) throw err;
      throw storageFailure(err, `deleting vault container ${name}`);
    }
  }
}
