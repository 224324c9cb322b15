/**
 * Two copies of one `exportRecoveryPoint` activity at once (docs/architecture.md, "Two copies of an activity at
 * once"): Durable Functions may run a second copy while the first still runs. Each copy reaches the target account
 * through its own endpoint of a gated proxy (test/support/gatedBlobProxy.ts) in front of the same Azurite, so the
 * test forces, request by request, whose write lands first. Whatever the order, both copies succeed and the prefix
 * holds one complete export: the dump as the recovery point stores it (decompressed) and a manifest describing it,
 * every file labelled with the job.
 */
import { createHash } from "node:crypto";
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { exportRecoveryPointActivity, type ExportRecoveryPointInput } from "../../activities/exportRecoveryPoint";
import type { DumpRecoveryPoint } from "../../shared/domain";
import { asDumpPoint, vaultContainer } from "../support/backupFixture";
import { backedUpRichDatabase } from "../support/restoreFixture";
import { isPutBlob, isPutBlock, isPutBlockList, startGatedBlobProxy, type CallMatch, type GatedBlobProxy } from "../support/gatedBlobProxy";
import { blobEndpointOf } from "../support/recordingBlobProxy";
import { decodeStoredDump, pgRestoreList } from "../support/storedDump";
import { uniqueName } from "../support/testDatabase";

const copies = ["A", "B"] as const;
type Copy = (typeof copies)[number];
let proxy: GatedBlobProxy;
let rp: DumpRecoveryPoint;
let container: ContainerClient;

beforeAll(async () => {
  rp = asDumpPoint((await backedUpRichDatabase("twice_export")).rp);
  const exportConnection = inject("exportConnectionString");
  proxy = await startGatedBlobProxy(blobEndpointOf(exportConnection), copies);
  container = BlobServiceClient.fromConnectionString(exportConnection).getContainerClient(uniqueName("twice-exports").replaceAll("_", "-"));
  await container.create();
});
afterAll(() => proxy?.close());

const isWrite: CallMatch = (call) => isPutBlock(call) || isPutBlob(call) || isPutBlockList(call);
const from = (copy: Copy, match: CallMatch): CallMatch => (call) => call.client === copy && match(call);

/** The copy's input: the same job and prefix, the same container reached through the copy's own proxy endpoint. */
function inputOf(copy: Copy, jobId: string, prefix: string): ExportRecoveryPointInput {
  return { jobId, instanceName: rp.instanceName, recoveryPointId: rp.id, target: { type: "blob", containerUrl: `${proxy.endpoint(copy)}/${container.containerName}`, prefix, overwrite: false } };
}

/** One complete export under `prefix`, every file the job's, the dump the point's bytes decompressed. */
async function expectOneCompleteExport(prefix: string, jobId: string): Promise<void> {
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix, includeMetadata: true })) {
    names.push(blob.name);
    expect(blob.metadata).toEqual({ pgvaultjob: jobId });
  }
  const dumpName = `${prefix}${rp.blobs[0]!.split("/").at(-1)!}`;
  expect(names.sort()).toEqual([dumpName, `${prefix}manifest.json`].sort());
  const exported = await container.getBlobClient(dumpName).downloadToBuffer();
  const stored = await vaultContainer().getBlobClient(rp.blobs[0]!.replace(/^backups\//, "")).downloadToBuffer();
  expect(exported.equals(decodeStoredDump(stored))).toBe(true);
  const manifest = JSON.parse((await container.getBlobClient(`${prefix}manifest.json`).downloadToBuffer()).toString()) as { files: { name: string; sha256: string; sizeBytes: number }[] };
  expect(manifest.files).toEqual([{ name: dumpName, sha256: createHash("sha256").update(exported).digest("hex"), sizeBytes: exported.length }]);
  expect(await pgRestoreList(exported)).toContain("TABLE DATA");
}

test("when both copies look before either writes and A writes everything first, then B's writes find A's files of the same job and the export is whole", async () => {
  const jobId = uniqueName("export-job");
  const gate = proxy.hold(from("B", isWrite), 1);
  const a = exportRecoveryPointActivity(inputOf("A", jobId, "first/"));
  const b = exportRecoveryPointActivity(inputOf("B", jobId, "first/"));
  const heldB = await gate.next();
  expect(await a).toMatchObject({ ok: true });
  await heldB.release();
  expect(await b).toMatchObject({ ok: true });
  await gate.open();
  await expectOneCompleteExport("first/", jobId);
});

test("when A's commit of the dump is held while B exports everything, then A's late commit neither fails the job nor mixes the files", async () => {
  const jobId = uniqueName("export-job");
  const gate = proxy.hold(from("A", isPutBlockList), 1);
  const a = exportRecoveryPointActivity(inputOf("A", jobId, "second/"));
  const heldA = await gate.next();
  expect(await exportRecoveryPointActivity(inputOf("B", jobId, "second/"))).toMatchObject({ ok: true });
  expect([409, 412]).toContain(await heldA.release()); // A planned a new name; B's file is there now
  expect(await a).toMatchObject({ ok: true });
  await gate.open();
  await expectOneCompleteExport("second/", jobId);
});

test("when another job's export finishes while this job's copies run, then neither copy replaces its files", async () => {
  const jobId = uniqueName("export-job");
  const gate = proxy.hold(from("A", isWrite), 1);
  const a = exportRecoveryPointActivity(inputOf("A", jobId, "third/"));
  const heldA = await gate.next();
  const other = uniqueName("other-job");
  expect(await exportRecoveryPointActivity(inputOf("B", other, "third/"))).toMatchObject({ ok: true });
  await heldA.release();
  expect(await a).toMatchObject({ ok: false, error: { code: "UserErrorContainerNotAccessible" } });
  await gate.open();
  await expectOneCompleteExport("third/", other);
});
