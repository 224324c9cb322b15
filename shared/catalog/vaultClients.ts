/** Clients of the vault storage account (blob data and catalog tables), created once from the config. */
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import { TableClient } from "@azure/data-tables";
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { getConfig, type VaultConnection } from "../config";
import { backupContainer } from "../domain";
import { storageFailure } from "../storageErrors";

function identityCredential(vault: Extract<VaultConnection, { kind: "identity" }>): TokenCredential {
  if (vault.credential === "managedidentity") {
    return vault.clientId ? new ManagedIdentityCredential({ clientId: vault.clientId }) : new ManagedIdentityCredential();
  }
  return new DefaultAzureCredential(vault.clientId ? { managedIdentityClientId: vault.clientId } : {});
}

let blobService: BlobServiceClient | undefined;

export function getBlobServiceClient(): BlobServiceClient {
  if (!blobService) {
    const { vault } = getConfig();
    blobService =
      vault.kind === "connectionString"
        ? BlobServiceClient.fromConnectionString(vault.connectionString)
        : new BlobServiceClient(vault.blobServiceUri, identityCredential(vault));
  }
  return blobService;
}

export function getBackupContainer(): ContainerClient {
  return getBlobServiceClient().getContainerClient(backupContainer);
}

const tableClients = new Map<string, TableClient>();

export function getTableClient(table: string): TableClient {
  let client = tableClients.get(table);
  if (!client) {
    const { vault } = getConfig();
    client =
      vault.kind === "connectionString"
        ? TableClient.fromConnectionString(vault.connectionString, table, {
            // Azurite serves plain http on loopback; Azure itself is always https.
            allowInsecureConnection: /https?:\/\/127\.0\.0\.1|localhost|UseDevelopmentStorage/i.test(vault.connectionString),
          })
        : new TableClient(vault.tableServiceUri, table, identityCredential(vault));
    tableClients.set(table, client);
  }
  return client;
}

const readyTables = new Map<string, Promise<void>>();

/** The table client, after making sure the table exists (once per process; a failed creation is tried again next time). */
export async function getReadyTableClient(table: string): Promise<TableClient> {
  const client = getTableClient(table);
  let ready = readyTables.get(table);
  if (!ready) {
    ready = client.createTable().catch((err: unknown) => {
      readyTables.delete(table);
      throw storageFailure(err, `creating table '${table}'`);
    });
    readyTables.set(table, ready);
  }
  await ready;
  return client;
}
