/**
 * The SAS URLs a Flexible Server writes its backup through, against real Azurite: they carry the rights
 * Microsoft's own tooling grants (`dlrw`, see `ltrSasPermissions`), reach their own container only, and expire
 * when asked.
 */
import { BlobServiceClient, ContainerClient } from "@azure/storage-blob";
import { expect, inject, test } from "vitest";
import { createLtrContainersActivity } from "../../activities/createLtrContainers";
import { putRecoveryPoint } from "../../shared/catalog/catalog";
import { updateJob } from "../../shared/catalog/jobRows";
import { probeContainerSas, sasPermissions, statusOf } from "../support/sasProbe";
import { containerWriteSasUrls, createLtrContainers, isContainerOf, ltrContainerNames, ltrSasPermissions } from "../../shared/flexServer/ltrContainers";

const vault = () => BlobServiceClient.fromConnectionString(inject("vaultConnectionString"));
let serial = 0;
const rpId = () => `rp-20260104T023007Z-${(0x1a2b3c00 + serial++ + Math.floor(Math.random() * 200)).toString(16)}`;

test("when SAS URLs are issued for a point's containers, then each carries delete, list, read and write on its own container, and reaches no other", async () => {
  const id = rpId();
  const names = ltrContainerNames(id, 2);
  expect(names).toEqual([0, 1].map((i) => `ltr-${id.slice(3).toLowerCase()}-${i}`));
  await createLtrContainers(names, { instanceName: "sales-flex", recoveryPointId: id });
  const expiresOn = new Date(Date.now() + 3 * 3600_000);

  const [first, second] = await containerWriteSasUrls(names, expiresOn);

  const sas = new URL(first!);
  // Microsoft's live test of this API (azure-cli FlexibleServerLtrMgmtScenarioTest) grants `dlrw`.
  expect(ltrSasPermissions).toBe("dlrw");
  expect(sasPermissions(first!)).toBe("dlrw");
  expect(sasPermissions(second!)).toBe("dlrw");
  expect(Math.abs(Date.parse(sas.searchParams.get("se")!) - expiresOn.getTime())).toBeLessThan(1000);
  expect(sas.searchParams.get("sr")).toBe("c");
  const writer = new ContainerClient(first!);
  await writer.getBlockBlobClient("appdb_database.sql").upload("backup bytes", 12);
  const listed: string[] = [];
  for await (const blob of writer.listBlobsFlat()) listed.push(blob.name);
  expect(listed).toEqual(["appdb_database.sql"]);
  // Scoped to its own container: the other container's signature does not open this one.
  const crossed = `${vault().getContainerClient(names[0]!).url}?${new URL(second!).searchParams.toString()}`;
  expect(await statusOf(() => new ContainerClient(crossed).getBlockBlobClient("x").upload("x", 1))).toBe(403);
  const metadata = (await vault().getContainerClient(names[0]!).getProperties()).metadata;
  expect(metadata).toEqual({ instance: "sales-flex", recoverypoint: id });

  // Everything the holder of the second URL can do, tried: its own container's blobs, and nothing beyond them
  // (no other container, no new container, not the container itself: a service SAS cannot delete containers).
  const reach = await probeContainerSas(second!, vault().getContainerClient(names[0]!).url);
  expect(reach).toEqual({ write: true, read: true, list: true, deleteBlob: true, otherContainer: false, createContainer: false, deleteContainer: false });
  expect(await vault().getContainerClient(names[1]!).exists()).toBe(true);
});

test("when a SAS URL has expired, then the server can no longer write through it", async () => {
  const id = rpId();
  const names = ltrContainerNames(id, 1);
  await createLtrContainers(names, { instanceName: "sales-flex", recoveryPointId: id });
  const [expired] = await containerWriteSasUrls(names, new Date(Date.now() - 1000));
  expect(await statusOf(() => new ContainerClient(expired!).getBlockBlobClient("late_database.sql").upload("x", 1))).toBe(403);
});

test("a point's containers are recognised by name, and no other container is", () => {
  const id = "rp-20260104T023007Z-1a2b3c4d";
  expect(isContainerOf(id, "ltr-20260104t023007z-1a2b3c4d-0")).toBe(true);
  expect(isContainerOf(id, "ltr-20260104t023007z-1a2b3c4d-12")).toBe(true);
  expect(isContainerOf(id, "ltr-20260104t023007z-1a2b3c4e-0")).toBe(false);
  expect(isContainerOf(id, "backups")).toBe(false);
  expect(isContainerOf(id, "ltr-20260104t023007z-1a2b3c4d-0x")).toBe(false);
});

test("when a late copy of the container step runs after a cancel of a job whose point was recorded, then it leaves the point's containers and files alone", async () => {
  const id = rpId();
  const names = ltrContainerNames(id, 1);
  const point = { jobId: `flex-late-${id}`, instanceName: "sales-flex", recoveryPointId: id, containers: names };
  await createLtrContainers(names, point);
  await vault().getContainerClient(names[0]!).getBlockBlobClient("appdb_database.sql").upload("backup bytes", 12);
  await putRecoveryPoint({
    ...{ id, instanceName: point.instanceName, time: "2026-01-04T02:30:07Z", tag: "Default", expiresAt: "2027-01-04T02:30:07Z", status: "Available" },
    ...{ sizeBytes: 12, blobs: [`${names[0]!}/appdb_database.sql`], format: "flexibleServer-ltr", serverResourceId: "/subscriptions/x", serverVersion: "16" },
    containers: names,
    ltr: { backupName: `pgvault-${id}`, datasourceSizeInBytes: 12, dataTransferredInBytes: 12, startTime: "2026-01-04T02:30:07Z", endTime: "2026-01-04T02:40:07Z" },
  });
  await updateJob(point.jobId, { operation: "Backup", trigger: "OnDemand", instanceName: point.instanceName, status: "InProgress", phase: "Recording", startTime: "2026-01-04T02:30:00Z", bytes: 0, cancelRequested: true });

  expect(await createLtrContainersActivity(point)).toMatchObject({ ok: false, error: { message: `Job ${point.jobId} was cancelled on request.` } });

  expect(await vault().getContainerClient(names[0]!).getBlockBlobClient("appdb_database.sql").exists()).toBe(true);
});
