/**
 * Client-side encryption end to end, through the backup and restore orchestrations (replayed by durable-functions,
 * real activities) with real PostgreSQL, Azurite, pg_dump/pg_restore and the Key Vault stand-in driven by the real
 * CryptographyClient: a policy with `encryption.keyRef` (an app-setting key, or a Key Vault key) stores its dumps
 * as AES-256-GCM segments under a data key of each recovery point, and they restore identical. A wrong key, a
 * flipped byte, a dropped final segment or a cut in the middle of one each fail with
 * UserErrorRecoveryPointCorrupted, and leave neither the target nor a temporary database; a missing or forbidden
 * Key Vault key fails the backup before pg_dump runs. Segments are 4 KiB here (an argument of the dump activity),
 * so a small database spans many of them.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { dumpDatabaseWith } from "../../activities/dumpDatabase";
import { backupOrchestrationName, backupOrchestrator, type BackupInput } from "../../orchestrators/backup";
import { putBackupInstance } from "../../functions/backupInstances";
import { getInstance, putInstance, putPolicy, putRecoveryPoint } from "../../shared/catalog/catalog";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import { handled } from "../../shared/http";
import type { BackupInstance, DatabaseRestoreTarget, DumpRecoveryPoint } from "../../shared/domain";
import { asDumpPoint, backupActivities, committedBlobs, dailyPolicy, databaseSource, envSecret, vaultContainer } from "../support/backupFixture";
import { bodyOf, invocation, request } from "../support/http";
import { useKeyVaultStandIn, type KeyVaultTestServer } from "../support/keyVaultServer";
import { runOrchestration } from "../support/replayDriver";
import { runRestore } from "../support/restoreFixture";
import { decryptStoredDump, unwrapA256kw } from "../support/storedDump";
import { cluster, contentFingerprint, createBackupRole, createDatabase, pgRestoreFile, schemaDump, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";

const segmentSize = 4096;
const scratch = mkdtempSync(path.join(tmpdir(), "pgvault-encrypted-"));
let kv: KeyVaultTestServer;
let source: string;
let backupSecret: string;
let restoreSecret: string;
const envKeySetting = "PGVAULT_TEST_BACKUP_KEK";
/** One recovery point per key kind, shared by the stories that damage copies of it. */
let envPoint: DumpRecoveryPoint;
let vaultPoint: DumpRecoveryPoint;

async function protectEncrypted(keyRef: string): Promise<BackupInstance> {
  const name = uniqueName("enc").replaceAll("_", "-");
  await putPolicy({ ...dailyPolicy(`${name}-policy`), encryption: { keyRef } });
  const instance: BackupInstance = {
    name,
    policyName: `${name}-policy`,
    datasource: databaseSource(source, backupSecret),
    protectionState: "ProtectionConfigured",
    createdAt: new Date().toISOString(),
  };
  await putInstance(instance);
  return instance;
}

async function backUp(instance: BackupInstance) {
  const jobId = `backup-${instance.name}-${Date.now()}`;
  const input: BackupInput = { instanceName: instance.name, datasource: instance.datasource, trigger: "OnDemand" };
  const activities = { ...backupActivities, dumpDatabase: dumpDatabaseWith({ segmentSize }) };
  const run = await runOrchestration(backupOrchestrator, { name: backupOrchestrationName, instanceId: jobId, input, activities });
  return { ...run, jobId };
}

const blobOf = (rp: DumpRecoveryPoint) => vaultContainer().getBlockBlobClient(rp.blobs[0]!.replace(/^backups\//, ""));
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

function target(database: string, extra: { overwrite?: boolean; preserveOwnership?: boolean; secretRef?: string } = {}): DatabaseRestoreTarget {
  return { type: "database", host: cluster().host, port: cluster().port, database, secretRef: restoreSecret, overwrite: false, preserveOwnership: false, ...extra };
}

async function databasesLike(pattern: string): Promise<string[]> {
  return withAdmin("postgres", async (c) => (await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [pattern])).rows.map((r) => r.datname));
}

/**
 * A copy of `rp` whose blob holds `bytes`, under a recovery point id of its own, recorded in the catalog with the
 * SHA-256 of the new bytes (unless `sha256` says otherwise): as if whoever altered the blob also fixed the
 * catalog, so only the encryption can notice.
 */
async function alteredCopy(rp: DumpRecoveryPoint, bytes: Buffer, recorded: { sha256?: string } = {}): Promise<DumpRecoveryPoint> {
  const id = `${rp.id.slice(0, -8)}${randomBytes(4).toString("hex")}`;
  const blobPath = rp.blobs[0]!.replace(rp.id, id);
  await vaultContainer().getBlockBlobClient(blobPath.replace(/^backups\//, "")).uploadData(bytes);
  const copy: DumpRecoveryPoint = { ...rp, id, blobs: [blobPath], sha256: recorded.sha256 ?? sha256(bytes), sizeBytes: bytes.length };
  await putRecoveryPoint(copy);
  return copy;
}

/** Restores `rp` into a fresh name and expects it to fail with `code` leaving no database at all. */
async function expectRefusedRestore(rp: DumpRecoveryPoint, code: string, message: RegExp) {
  const restored = uniqueName("refused");
  const run = await runRestore(rp, target(restored));
  const job = await getJob(run.jobId);
  expect(job?.status).toBe("Failed");
  expect(job?.error?.code).toBe(code);
  expect(job?.error?.message).toMatch(message);
  expect(await databasesLike(restored)).toEqual([]);
  expect(await databasesLike("pgvault_restore_%")).toEqual([]);
  // A user error: not retried.
  expect(run.attempts.filter((a) => a.name === "restoreDatabase").length).toBeLessThanOrEqual(1);
  return run;
}

beforeAll(async () => {
  kv = await useKeyVaultStandIn(inject("tls"));
  process.env[envKeySetting] = randomBytes(32).toString("base64");
  source = uniqueName("enc_src");
  await createDatabase(source);
  await seedRichDatabase(source);
  // Enough rows for the dump to span dozens of 4 KiB segments.
  await withAdmin(source, (c) => c.query(`CREATE TABLE public.filler AS SELECT g, md5(g::text) AS h FROM generate_series(1, 5000) g`));
  const role = uniqueName("backup_user");
  await createBackupRole(source, role, "pw-enc");
  backupSecret = envSecret(`PGVAULT_SECRET_${role}`, role, "pw-enc");
  const restorer = uniqueName("restorer");
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${restorer} LOGIN CREATEDB PASSWORD 'pw-restore'`));
  restoreSecret = envSecret(`PGVAULT_SECRET_${restorer}`, restorer, "pw-restore");
  kv.createKey("backup-kek");
});
afterAll(async () => {
  await kv?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe("encrypted backups", () => {
  test("when a policy encrypts with an app-setting key, then the stored dump is ciphertext, and it restores identical", async () => {
    const instance = await protectEncrypted(`env:${envKeySetting}`);
    const run = await backUp(instance);
    expect(run.state.error).toBeUndefined();
    envPoint = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
    expect(envPoint.encryption).toMatchObject({
      format: "pgvault-aes-256-gcm-segments",
      formatVersion: 1,
      segmentSize,
      keyRef: `env:${envKeySetting}`,
      algorithm: "A256KW",
    });
    expect(envPoint.encryption?.keyVersion).toMatch(/^sha256:[0-9a-f]{16}$/);
    // The history carries the reference only; the key and the data key never enter it.
    expect(JSON.stringify(run.history)).not.toContain(process.env[envKeySetting]);

    const stored = await blobOf(envPoint).downloadToBuffer();
    expect(stored.length).toBe(envPoint.sizeBytes);
    expect(sha256(stored)).toBe(envPoint.sha256);
    expect(stored.length).toBeGreaterThan(10 * segmentSize);
    expect(stored.subarray(0, 6).toString()).toBe("PGVENC");
    for (const plain of ["PGDMP", "orders", "CREATE TABLE", "filler"]) expect(stored.includes(plain)).toBe(false);
    const metadata = (await blobOf(envPoint).getProperties()).metadata ?? {};
    expect(metadata).toMatchObject({ encryption: "pgvault-aes-256-gcm-segments/1", wrappedkey: envPoint.encryption?.wrappedKey, keyref: `env:${envKeySetting}` });

    const restored = uniqueName("enc_restored");
    const restore = await runRestore(envPoint, target(restored));
    expect(restore.state.error).toBeUndefined();
    expect(await schemaDump(restored)).toBe(await schemaDump(source));
    expect(await contentFingerprint(restored)).toEqual(await contentFingerprint(source));
    expect(await databasesLike("pgvault_restore_%")).toEqual([]);
    expect(await getJob(restore.jobId)).toMatchObject({ status: "Succeeded", bytes: envPoint.sizeBytes });
  });

  test("when a policy encrypts with a Key Vault key, then the data key is wrapped by its latest version and restores after a rotation", async () => {
    const instance = await protectEncrypted(`${kv.vaultUrl}/keys/backup-kek`);
    const rotatedFrom = kv.createKey("backup-kek");
    const run = await backUp(instance);
    expect(run.state.error).toBeUndefined();
    vaultPoint = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
    expect(vaultPoint.encryption).toMatchObject({ keyRef: `${kv.vaultUrl}/keys/backup-kek`, keyVersion: rotatedFrom, algorithm: "RSA-OAEP-256", segmentSize });
    expect(Buffer.from(vaultPoint.encryption!.wrappedKey, "base64")).toHaveLength(256);
    expect((await blobOf(vaultPoint).downloadToBuffer()).includes("PGDMP")).toBe(false);

    kv.createKey("backup-kek"); // rotation: new backups use the new version, this point keeps its own
    const restored = uniqueName("kv_restored");
    const restore = await runRestore(vaultPoint, target(restored));
    expect(restore.state.error).toBeUndefined();
    expect(await contentFingerprint(restored)).toEqual(await contentFingerprint(source));
    const unwraps = kv.requests.filter((r) => r.path === `/keys/backup-kek/${rotatedFrom}/unwrapkey` && r.status === 200);
    expect(unwraps.length).toBeGreaterThanOrEqual(2); // the check at backup, and the restore
  });

  test("when ownership is preserved, then the archive's owners are read from the decrypted stream and the restore succeeds", async () => {
    const kept = uniqueName("enc_owned");
    const superuser = envSecret("PGVAULT_SECRET_SUPERUSER_ENC", cluster().user, cluster().password);
    const restore = await runRestore(envPoint, target(kept, { secretRef: superuser, preserveOwnership: true }));
    expect(restore.state.error).toBeUndefined();
    expect(await contentFingerprint(kept)).toEqual(await contentFingerprint(source));
  });

  test("when the app setting holds another key at restore, then UserErrorRecoveryPointCorrupted names the key and nothing is created", async () => {
    const original = process.env[envKeySetting];
    process.env[envKeySetting] = randomBytes(32).toString("base64");
    try {
      await expectRefusedRestore(envPoint, "UserErrorRecoveryPointCorrupted", /cannot be decrypted with the encryption key in app setting 'PGVAULT_TEST_BACKUP_KEK'/);
    } finally {
      process.env[envKeySetting] = original;
    }
  });

  test("when one byte in the middle of the blob is flipped (and the catalog's SHA-256 fixed to match), then the segment fails authentication and nothing is restored", async () => {
    const bytes = await blobOf(envPoint).downloadToBuffer();
    const middle = Math.floor(bytes.length / 2);
    bytes[middle]! ^= 0x01;
    const segment = Math.floor((middle - 20) / (segmentSize + 16));
    const run = await expectRefusedRestore(await alteredCopy(envPoint, bytes), "UserErrorRecoveryPointCorrupted", new RegExp(`failed authentication at segment ${segment}: the stored bytes were altered`));
    // Either the restore's pre-flight, reading the archive's head, met the segment first (nothing was created), or
    // pg_restore had started on the segments before it and the failure path dropped what it made.
    const restoring = run.attempts.some((a) => a.name === "restoreDatabase");
    expect(restoring ? run.attempts.some((a) => a.name === "dropTemporaryDatabase") : run.attempts.some((a) => a.name === "checkRestoreAccess")).toBe(true);
  });

  test("when the final segment is dropped, then the blob 'ends before its final segment' and nothing is restored", async () => {
    const bytes = await blobOf(envPoint).downloadToBuffer();
    const segments = Math.ceil((bytes.length - 20) / (segmentSize + 16));
    const withoutFinal = bytes.subarray(0, 20 + (segments - 1) * (segmentSize + 16));
    await expectRefusedRestore(await alteredCopy(envPoint, withoutFinal), "UserErrorRecoveryPointCorrupted", new RegExp(`ends before its final segment \\(after ${segments - 1} segments\\)`));
  });

  test("when the blob is cut in the middle of a segment, then it fails and nothing is restored", async () => {
    const bytes = await blobOf(vaultPoint).downloadToBuffer();
    const cut = bytes.subarray(0, 20 + 5 * (segmentSize + 16) + 1000);
    await expectRefusedRestore(await alteredCopy(vaultPoint, cut), "UserErrorRecoveryPointCorrupted", /last segment 5: it was cut in the middle of a segment/);
  });

  test("when the blob is altered but the catalog's SHA-256 is not, then the restore still fails with UserErrorRecoveryPointCorrupted", async () => {
    const bytes = await blobOf(vaultPoint).downloadToBuffer();
    bytes[bytes.length - 3]! ^= 0x80;
    await expectRefusedRestore(await alteredCopy(vaultPoint, bytes, { sha256: vaultPoint.sha256 }), "UserErrorRecoveryPointCorrupted", /failed authentication/);
  });

  test("when the Key Vault key version that wrapped the point is deleted, then the restore fails with UserErrorSecretNotFound and creates nothing", async () => {
    const instance = await protectEncrypted(`${kv.vaultUrl}/keys/short-lived-kek`);
    kv.createKey("short-lived-kek");
    await backUp(instance);
    const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
    kv.deleteKey("short-lived-kek");
    await expectRefusedRestore(rp, "UserErrorSecretNotFound", /Key Vault key 'short-lived-kek' \(version \w+\)/);
  });

  test("when the policy's Key Vault key does not exist or may not be used, then the backup fails with its code before pg_dump runs", async () => {
    const missing = await protectEncrypted(`${kv.vaultUrl}/keys/no-such-kek`);
    const run = await backUp(missing);
    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Failed");
    expect(job?.error?.code).toBe("UserErrorSecretNotFound");
    expect(job?.error?.message).toContain("no-such-kek");
    expect(run.attempts.filter((a) => a.name === "resolveEncryptionKey")).toHaveLength(1);
    expect(run.attempts.some((a) => a.name === "dumpDatabase")).toBe(false);
    expect(await listRecoveryPoints(missing.name)).toEqual([]);
    expect(await committedBlobs(missing.name)).toEqual([]);

    kv.createKey("forbidden-kek");
    kv.forbid("forbidden-kek");
    const forbidden = await protectEncrypted(`${kv.vaultUrl}/keys/forbidden-kek`);
    const denied = await getJob((await backUp(forbidden)).jobId);
    expect(denied?.error?.code).toBe("UserErrorMissingPermissionsOnSecretStore");
    expect(denied?.error?.recommendedAction).toContain("Key Vault Crypto");
    expect(await listRecoveryPoints(forbidden.name)).toEqual([]);
  });

  test("when an encrypted point is restored as files, then the export is the ciphertext plus a manifest that says how to decrypt it, and following it restores the database", async () => {
    const service = BlobServiceClient.fromConnectionString(inject("exportConnectionString"));
    const container = service.getContainerClient(uniqueName("encexports").replaceAll("_", "-"));
    await container.create();
    const run = await runRestore(envPoint, { type: "blob", containerUrl: container.url, prefix: "enc/" });
    expect(run.state.error).toBeUndefined();
    const dumpName = `enc/${path.posix.basename(envPoint.blobs[0]!)}`;
    const exported = await container.getBlobClient(dumpName).downloadToBuffer();
    expect(sha256(exported)).toBe(envPoint.sha256);
    const manifestText = (await container.getBlobClient("enc/manifest.json").downloadToBuffer()).toString();
    const manifest = JSON.parse(manifestText) as { encryption: { wrappedKey: string; keyRef: string; segmentSize: number; steps: string[] }; restoreCommand: string };
    expect(manifest.encryption).toMatchObject({ keyRef: `env:${envKeySetting}`, wrappedKey: envPoint.encryption!.wrappedKey, segmentSize });
    expect(manifest.encryption.steps.join(" ")).toContain("AES-256-GCM");
    expect(manifest.encryption.steps.join(" ")).toContain("zstd-compressed: decompress it (zstd -d)");
    expect(manifest.restoreCommand).toMatch(/\| zstd -d \| pg_restore/);

    // An operator with the key and the manifest only: unwrap (RFC 3394), decrypt the segments, zstd -d, pg_restore.
    const kek = Buffer.from(process.env[envKeySetting]!, "base64");
    const dataKey = unwrapA256kw(kek, manifest.encryption.wrappedKey);
    expect(manifestText).not.toContain(dataKey.toString("base64"));
    const file = path.join(scratch, "decrypted.dump");
    writeFileSync(file, decryptStoredDump(exported, dataKey, manifest.encryption.segmentSize));
    const restored = uniqueName("enc_from_files");
    await pgRestoreFile(file, restored);
    expect(await contentFingerprint(restored)).toEqual(await contentFingerprint(source));
  });
});

describe("configuring protection under an encrypting policy", () => {
  async function configure(keyRef: string) {
    const name = uniqueName("enc-cfg").replaceAll("_", "-");
    await putPolicy({ ...dailyPolicy(`${name}-policy`), encryption: { keyRef } });
    const body = { policyName: `${name}-policy`, datasource: databaseSource(source, backupSecret) };
    const response = await handled(putBackupInstance)(request("PUT", "", { body, params: { name } }), invocation("putBackupInstance"));
    return { name, response };
  }

  test("when the policy's key is missing or may not be used, then PUT instance answers 422 with the key's code and stores nothing", async () => {
    const missing = await configure(`${kv.vaultUrl}/keys/no-such-cfg-kek`);
    expect(missing.response.status).toBe(422);
    expect(bodyOf<{ error: { code: string; message: string } }>(missing.response).error).toMatchObject({ code: "UserErrorSecretNotFound", message: expect.stringContaining("no-such-cfg-kek") });
    expect(await getInstance(missing.name)).toBeUndefined();

    kv.createKey("forbidden-cfg-kek");
    kv.forbid("forbidden-cfg-kek");
    const forbidden = await configure(`${kv.vaultUrl}/keys/forbidden-cfg-kek`);
    expect(forbidden.response.status).toBe(422);
    expect(bodyOf<{ error: { code: string } }>(forbidden.response).error.code).toBe("UserErrorMissingPermissionsOnSecretStore");
    expect(await getInstance(forbidden.name)).toBeUndefined();
  });

  test("when the policy's key wraps and unwraps, then PUT instance configures protection", async () => {
    const usable = await configure(`env:${envKeySetting}`);
    expect(usable.response.status).toBe(201);
    expect(await getInstance(usable.name)).toMatchObject({ protectionState: "ProtectionConfigured" });
  });
});
