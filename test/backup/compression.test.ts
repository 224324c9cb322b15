/**
 * Compression (issue 11, docs/architecture.md "Compression"): each policy setting writes its points with that
 * algorithm inside checked segments, the point records it, a policy change applies to new points only, and every
 * point, whatever it was written with (a point from before pgvault compressed too), restores to the source's rows.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { sealSegments } from "../../shared/encryption/segmentFormat";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { changeRecoveryPoint, getPolicy, putInstance, putPolicy } from "../../shared/catalog/catalog";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import type { BackupInstance, DatabaseRestoreTarget, DumpRecoveryPoint, PolicyCompression } from "../../shared/domain";
import { asDumpPoint, databaseSource, envSecret, protect, runBackup, vaultContainer } from "../support/backupFixture";
import { runRestore } from "../support/restoreFixture";
import { cluster, contentFingerprint, createBackupRole, createDatabase, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";

let source: string;
let instance: BackupInstance;
let restorerSecret: string;

beforeAll(async () => {
  source = uniqueName("compress_src");
  await createDatabase(source);
  await seedRichDatabase(source);
  await withAdmin(source, (c) => c.query(`CREATE TABLE bulk AS SELECT g, md5(g::text) AS h FROM generate_series(1, 50000) g`));
  const role = uniqueName("compress_user");
  await createBackupRole(source, role, "pw-compress");
  instance = await protect(uniqueName("compress").replaceAll("_", "-"), databaseSource(source, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-compress")));
  const restorer = uniqueName("compress_restorer");
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${restorer} LOGIN CREATEDB PASSWORD 'pw-restore'`));
  restorerSecret = envSecret(`PGVAULT_SECRET_${restorer}`, restorer, "pw-restore");
});

afterAll(async () => {
  // Stopped, so a local host's scheduler sharing this vault in the same run leaves it alone.
  await putInstance({ ...instance, protectionState: "ProtectionStopped" });
});

const target = (database: string): DatabaseRestoreTarget => ({
  type: "database", host: cluster().host, port: cluster().port, database, secretRef: restorerSecret, overwrite: false, preserveOwnership: false,
});

async function backUpWith(compression: PolicyCompression | undefined): Promise<DumpRecoveryPoint> {
  const policy = (await getPolicy(instance.policyName))!;
  const { compression: _previous, ...rest } = policy;
  await putPolicy(compression ? { ...rest, compression } : rest);
  const before = new Set((await listRecoveryPoints(instance.name)).map((rp) => rp.id));
  const run = await runBackup(instance, `backup-${instance.name}-${compression?.algorithm ?? "default"}-${compression?.level ?? ""}-${Date.now()}`);
  expect((await getJob(run.jobId))?.status).toBe("Succeeded");
  return asDumpPoint((await listRecoveryPoints(instance.name)).find((rp) => !before.has(rp.id)));
}

async function storedBytes(rp: DumpRecoveryPoint): Promise<Buffer> {
  return vaultContainer().getBlobClient(rp.blobs[0]!.replace(/^backups\//, "")).downloadToBuffer();
}

/** The first bytes of the first segment's payload: the compressed stream's magic number. */
const payloadHead = (stored: Buffer) => stored.subarray(20, 24).toString("hex");

async function expectRestoresIdentical(rp: DumpRecoveryPoint): Promise<void> {
  const restored = uniqueName("compress_restored");
  const run = await runRestore(rp, target(restored));
  expect((await getJob(run.jobId))?.error).toBeUndefined();
  expect(await contentFingerprint(restored)).toEqual(await contentFingerprint(source));
}

describe("compression", () => {
  const points: Record<string, DumpRecoveryPoint> = {};

  test("when the policy says nothing, zstd, gzip or none, then each new point is written and recorded that way, in checked segments", async () => {
    points.default = await backUpWith(undefined);
    points.zstd9 = await backUpWith({ algorithm: "zstd", level: 9 });
    points.gzip = await backUpWith({ algorithm: "gzip", level: 6 });
    points.none = await backUpWith({ algorithm: "none" });
    expect(Object.fromEntries(Object.entries(points).map(([name, rp]) => [name, rp.compression]))).toEqual({ default: "zstd", zstd9: "zstd", gzip: "gzip", none: "none" });
    const heads: Record<string, string> = {};
    for (const [name, rp] of Object.entries(points)) {
      const stored = await storedBytes(rp);
      expect(stored.subarray(0, 8).toString("latin1")).toBe("PGVENC\x01\x02"); // checked (SHA-256) segments
      expect(createHash("sha256").update(stored).digest("hex")).toBe(rp.sha256);
      heads[name] = payloadHead(stored);
    }
    // zstd frame, gzip member, pg_dump's own archive.
    expect(heads).toEqual({ default: "28b52ffd", zstd9: "28b52ffd", gzip: expect.stringMatching(/^1f8b/), none: Buffer.from("PGDM").toString("hex") });
    // pg_dump ran without its own compression: the uncompressed point is far larger than the compressed ones.
    expect(points.none!.sizeBytes).toBeGreaterThan(2 * points.default!.sizeBytes);
    expect(points.none!.sizeBytes).toBeGreaterThan(2 * points.gzip!.sizeBytes);
  });

  test("when the policy changed since, then every earlier point still restores with what it was written with", async () => {
    for (const rp of Object.values(points)) await expectRestoresIdentical(rp);
  });

  test("when a point is from before pgvault compressed (pg_dump's own compressed archive, stored as is), then it restores", async () => {
    // Made the way such points were made: pg_dump -Fc's file as the blob, a point row without `compression`.
    const legacyArchive = execFileSync(`${cluster().binDir}/pg_dump`, ["--format=custom", "-h", cluster().host, "-p", String(cluster().port), "-U", cluster().user, source], {
      env: { ...process.env, PGPASSWORD: cluster().password },
      maxBuffer: 256 * 1024 * 1024,
    });
    const rp = points.none!;
    await vaultContainer().getBlockBlobClient(rp.blobs[0]!.replace(/^backups\//, "")).uploadData(legacyArchive);
    const legacy = (await changeRecoveryPoint(instance.name, rp.id, (stored) => {
      const { compression: _dropped, ...rest } = stored as DumpRecoveryPoint;
      return { ...rest, sizeBytes: legacyArchive.length, sha256: createHash("sha256").update(legacyArchive).digest("hex") };
    })) as DumpRecoveryPoint;
    expect(legacy).not.toHaveProperty("compression");
    await expectRestoresIdentical(legacy);
  });

  test("when every segment checks but the stream inside is not zstd, then the restore fails as corrupted (cannot be decompressed) and creates nothing", async () => {
    const rp = points.default!;
    const parts: Buffer[] = [];
    for await (const part of sealSegments((async function* () { yield randomBytes(300_000); })(), undefined)) parts.push(part);
    const stored = Buffer.concat(parts);
    await vaultContainer().getBlockBlobClient(rp.blobs[0]!.replace(/^backups\//, "")).uploadData(stored);
    const restored = uniqueName("compress_undecodable");
    const matching = asDumpPoint(await changeRecoveryPoint(rp.instanceName, rp.id, (point) => ({ ...point, sha256: createHash("sha256").update(stored).digest("hex") })));
    const run = await runRestore(matching, target(restored));
    const job = await getJob(run.jobId);
    expect(job?.error?.code).toBe("UserErrorRecoveryPointCorrupted");
    expect(job?.error?.message).toMatch(/cannot be decompressed \(zstd exited with code/);
    const left = await withAdmin("postgres", async (c) => (await c.query(`SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE 'pgvault_restore_%'`, [restored])).rows);
    expect(left).toEqual([]);
  });

  test("when a compressed point's stored segment is damaged (its catalog SHA-256 fixed to match), then the restore fails as corrupted at that segment and creates nothing", async () => {
    const rp = points.zstd9!;
    const stored = await storedBytes(rp);
    stored[20 + 100]! ^= 0xff; // inside segment 0: nothing may reach zstd or pg_restore
    await vaultContainer().getBlockBlobClient(rp.blobs[0]!.replace(/^backups\//, "")).uploadData(stored);
    const tampered = asDumpPoint(await changeRecoveryPoint(rp.instanceName, rp.id, (point) => ({ ...point, sha256: createHash("sha256").update(stored).digest("hex") })));
    const restored = uniqueName("compress_damaged");
    const run = await runRestore(tampered, target(restored));
    const job = await getJob(run.jobId);
    expect(job?.error?.code).toBe("UserErrorRecoveryPointCorrupted");
    expect(job?.error?.message).toMatch(/failed authentication at segment 0/);
    const left = await withAdmin("postgres", async (c) => (await c.query(`SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE 'pgvault_restore_%'`, [restored])).rows);
    expect(left).toEqual([]);
  });
});
