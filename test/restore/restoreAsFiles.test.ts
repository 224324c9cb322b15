/**
 * Restore as files: the recovery point's dump and manifest.json land under a prefix of another blob container,
 * and the downloaded dump restores with plain pg_restore following the manifest's command.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { getJob } from "../../shared/catalog/jobRows";
import type { DumpRecoveryPoint, RecoveryPoint } from "../../shared/domain";
import { asDumpPoint, vaultContainer } from "../support/backupFixture";
import { decodeStoredDump } from "../support/storedDump";
import { backedUpRichDatabase, runRestore } from "../support/restoreFixture";
import { contentFingerprint, pgRestoreFile, uniqueName } from "../support/testDatabase";

const scratch = mkdtempSync(path.join(tmpdir(), "pgvault-files-"));
let rp: DumpRecoveryPoint;
let source: string;
const service = () => BlobServiceClient.fromConnectionString(inject("vaultConnectionString"));
/** Exports go to another account: the vault's own is refused. */
const exportService = () => BlobServiceClient.fromConnectionString(inject("exportConnectionString"));

beforeAll(async () => {
  const backedUp = await backedUpRichDatabase("files_src");
  source = backedUp.database;
  rp = asDumpPoint(backedUp.rp);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test("when a recovery point is restored as files, then the dump and manifest arrive under the prefix and pg_restore restores the dump", async () => {
  const container = exportService().getContainerClient(uniqueName("exports").replaceAll("_", "-"));
  await container.create();
  const run = await runRestore(rp, { type: "blob", containerUrl: container.url, prefix: "sales/2026" });
  expect(run.state.error).toBeUndefined();
  expect((await getJob(run.jobId))?.status).toBe("Succeeded");

  const names: string[] = [];
  for await (const blob of container.listBlobsFlat()) names.push(blob.name);
  const dumpName = `sales/2026/${path.posix.basename(rp.blobs[0]!)}`;
  expect(names.sort()).toEqual([dumpName, "sales/2026/manifest.json"].sort());

  const manifest = JSON.parse((await container.getBlobClient("sales/2026/manifest.json").downloadToBuffer()).toString()) as {
    recoveryPoint: RecoveryPoint;
    restoreCommand: string;
    files: { name: string; sha256: string }[];
    notes: string;
    roles?: string;
    rolesNote?: string;
  };
  expect(manifest.recoveryPoint).toEqual(rp);
  // The role definitions recorded with the point (the backup role is a grantee of the dump), never a password.
  expect(manifest.roles).toMatch(/^CREATE ROLE "files_src_backup_\w+";$/m);
  expect(manifest.roles).not.toMatch(/PASSWORD/);
  expect(manifest.rolesNote).toContain("pg_dumpall --roles-only");
  // A plain pg_dump archive, decompressed on the way out: the manifest's sha256 and size are the file's own.
  const exported = await container.getBlobClient(dumpName).downloadToBuffer();
  expect(exported.subarray(0, 5).toString("ascii")).toBe("PGDMP");
  const stored = await vaultContainer().getBlobClient(rp.blobs[0]!.replace(/^backups\//, "")).downloadToBuffer();
  expect(exported.equals(decodeStoredDump(stored))).toBe(true);
  expect(manifest.files).toEqual([{ name: dumpName, sha256: createHash("sha256").update(exported).digest("hex"), sizeBytes: exported.length }]);
  expect(manifest.restoreCommand).toContain("pg_restore");
  expect(manifest.notes).toContain("zstd-compressed bytes it stores (recoveryPoint.sha256, recoveryPoint.sizeBytes)");

  const file = path.join(scratch, "export.dump");
  writeFileSync(file, exported);
  const restored = uniqueName("from_files");
  await pgRestoreFile(file, restored);
  expect(await contentFingerprint(restored)).toEqual(await contentFingerprint(source));
});

test("when the target container does not exist or the app has no credential for it, then UserErrorContainerNotAccessible", async () => {
  const vaultBackups = await getJob((await runRestore(rp, { type: "blob", containerUrl: service().getContainerClient("backups").url, prefix: "other/" })).jobId);
  expect(vaultBackups?.error?.code).toBe("UserErrorContainerNotAccessible"); // never into the vault's own backups
  const missing = exportService().getContainerClient("no-such-container").url;
  const refused = await getJob((await runRestore(rp, { type: "blob", containerUrl: missing, prefix: "" })).jobId);
  expect(refused?.error?.code).toBe("UserErrorContainerNotAccessible");
  expect(refused?.error?.message).toContain("HTTP 404");

  const azurite = new URL(service().url);
  const unknownAccount = `${azurite.protocol}//${azurite.host}/nosuchaccount/exports`;
  const run = await runRestore(rp, { type: "blob", containerUrl: unknownAccount, prefix: "" });
  const job = await getJob(run.jobId);
  expect(job?.status).toBe("Failed");
  expect(job?.error?.code).toBe("UserErrorContainerNotAccessible");
  expect(job?.error?.message).toContain("nosuchaccount");
});
