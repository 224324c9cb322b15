/**
 * The vault reached with the app's Entra identity (identity-based VaultStorage): the Flexible Server's SAS URLs
 * are then user delegation SAS, signed with a key the app's token obtains. Proven against a second Azurite
 * that serves HTTPS and accepts bearer tokens (`--oauth basic`), with the token from the managed-identity
 * stand-in, through the real DefaultAzureCredential.
 */
import { ContainerClient } from "@azure/storage-blob";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { probeContainerSas, sasPermissions, statusOf } from "../support/sasProbe";
import { startAzurite, type AzuriteInstance } from "../../local-host/embedded/azurite";
import { containerWriteSasUrls, createLtrContainers, ltrContainerNames } from "../../shared/flexServer/ltrContainers";
import { getBlobServiceClient } from "../../shared/catalog/vaultClients";
import { startIdentityEndpoint, type IdentityEndpoint } from "../support/identityEndpoint";

let azurite: AzuriteInstance;
let identity: IdentityEndpoint;

beforeAll(async () => {
  [azurite, identity] = await Promise.all([startAzurite({ tls: inject("tls") }), startIdentityEndpoint()]);
  // Before the app's first config read in this process: identity-based vault, token from the stand-in.
  delete process.env.VaultStorage;
  process.env.VaultStorage__blobServiceUri = `https://127.0.0.1:${azurite.blobPort}/devstoreaccount1`;
  process.env.VaultStorage__tableServiceUri = `https://127.0.0.1:${azurite.tablePort}/devstoreaccount1`;
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.header;
});
afterAll(async () => {
  await Promise.all([azurite.stop(), identity.close()]);
});

test("when the vault uses the app's identity, then the server gets user delegation SAS URLs with Microsoft's rights on their own container only", async () => {
  const id = "rp-20260301T030000Z-5e6f7a8b";
  const names = ltrContainerNames(id, 2);
  await createLtrContainers(names, { instanceName: "flex-ud", recoveryPointId: id });
  const expiresOn = new Date(Date.now() + 2 * 3600_000);

  const [first, second] = await containerWriteSasUrls(names, expiresOn);

  const sas = new URL(first!);
  // A user delegation SAS names the identity that signed it; there is no account key to sign with.
  expect(sas.searchParams.get("skoid")).toBe(identity.principalId);
  expect(sas.searchParams.get("sktid")).toMatch(/^[0-9a-f-]{36}$/);
  expect(sas.searchParams.get("spr")).toBe("https");
  expect(sasPermissions(first!)).toBe("dlrw");
  expect(identity.requests.some((r) => r.resource === "https://storage.azure.com" && r.status === 200)).toBe(true);

  const writer = new ContainerClient(first!);
  await writer.getBlockBlobClient("appdb_database.sql").upload("ltr bytes", 9);
  const listed: string[] = [];
  for await (const blob of writer.listBlobsFlat()) listed.push(blob.name);
  expect(listed).toEqual(["appdb_database.sql"]);
  // The app itself (bearer token) sees what the server wrote.
  const written = await getBlobServiceClient().getContainerClient(names[0]!).getBlobClient("appdb_database.sql").downloadToBuffer();
  expect(written.toString()).toBe("ltr bytes");

  // A user delegation SAS reaches exactly what an account-key SAS does (test/flexServer/ltrContainers.test.ts).
  const reach = await probeContainerSas(second!, getBlobServiceClient().getContainerClient(names[0]!).url);
  expect(reach).toEqual({ write: true, read: true, list: true, deleteBlob: true, otherContainer: false, createContainer: false, deleteContainer: false });
  expect(await statusOf(() => getBlobServiceClient().getContainerClient(names[1]!).getProperties())).toBe(200);
});
