/**
 * Two copies of one `dumpDatabase` activity at once (docs/architecture.md, "Two copies of an activity at once").
 * Durable Functions activities are at-least-once: a worker that lost its queue lease while pg_dump ran keeps
 * running while another worker starts the same activity. Each copy here is the real activity in a module registry
 * of its own (a worker of its own, test/support/workerCopy.ts), with real PostgreSQL, pg_dump and Azurite; its vault
 * requests go through its own endpoint of a gated proxy (test/support/gatedBlobProxy.ts), which forces the
 * interleaving step by step: whose block reaches the service first, whose commit lands first, a commit whose answer
 * is lost. Whatever the order, the vault ends with one complete dump whose facts (SHA-256, size, data key, contents
 * record) all belong to the copy that committed it, every copy reports that dump, and the recovery point recorded
 * from it decodes and its contents record reads back.
 *
 * The database is about 11 MB once dumped and compressed: two 8 MiB blocks per copy, so blocks can interleave.
 */
import { createHash, randomBytes } from "node:crypto";
import type { InvocationContext } from "@azure/functions";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import type { DumpDatabaseInput, DumpDatabaseResult } from "../../activities/dumpDatabase";
import { recordRecoveryPointActivity } from "../../activities/recordRecoveryPoint";
import type { ActivityOutcome } from "../../shared/activityOutcome";
import { getRecoveryPoint } from "../../shared/catalog/recoveryPointReads";
import { updateJob } from "../../shared/catalog/jobRows";
import { readContentsRecord } from "../../shared/contents/contentsRecord";
import type { DatabaseDatasource, DumpRecoveryPoint } from "../../shared/domain";
import { resolveKey } from "../../shared/encryption/dataKeys";
import { recoveryPointId } from "../../shared/recoveryPoints/recoveryPointId";
import { asDumpPoint, committedBlobs, databaseSource, envSecret, protect, vaultContainer } from "../support/backupFixture";
import { createLargeDatabase } from "../support/faultFixture";
import {
  blockIdOf,
  isGetProperties,
  isPutBlob,
  isPutBlock,
  isPutBlockList,
  startGatedBlobProxy,
  type CallMatch,
  type Gate,
  type GatedBlobProxy,
} from "../support/gatedBlobProxy";
import { invocation } from "../support/http";
import { blobEndpointOf } from "../support/recordingBlobProxy";
import { decodeStoredDump, decryptStoredDump, pgRestoreList, unwrapA256kw } from "../support/storedDump";
import { cluster, uniqueName } from "../support/testDatabase";
import { loadWorkerCopy } from "../support/workerCopy";

const copies = ["A", "B"] as const;
type Copy = (typeof copies)[number];
type DumpActivity = (input: DumpDatabaseInput, context: InvocationContext) => Promise<ActivityOutcome<DumpDatabaseResult>>;
/** What a copy ended with: its outcome, or what it threw (a transient error, for the orchestration to retry). */
type CopyResult = ActivityOutcome<DumpDatabaseResult> | { thrown: unknown };

const rows = 200_000;
const keySetting = "PGVAULT_TEST_CONCURRENT_KEK";
const workers = new Map<Copy, DumpActivity>();
let proxy: GatedBlobProxy;
let database: string;
let secretRef: string;

interface Point {
  instanceName: string;
  recoveryPointId: string;
  /** `backups/<instance>/<rp id>/`. */
  folder: string;
  input: DumpDatabaseInput;
}

beforeAll(async () => {
  process.env[keySetting] = randomBytes(32).toString("base64");
  database = uniqueName("twice");
  const role = uniqueName("twice_user");
  await createLargeDatabase(database, role, "pw-twice", cluster(), rows);
  secretRef = envSecret(`PGVAULT_SECRET_${role}`, role, "pw-twice");
  proxy = await startGatedBlobProxy(blobEndpointOf(inject("vaultConnectionString")), copies);
  for (const copy of copies) {
    const activity = await loadWorkerCopy(proxy.endpoint(copy), async () => (await import("../../activities/dumpDatabase")).dumpDatabaseWith({}));
    workers.set(copy, activity);
  }
});
afterAll(() => proxy?.close());

/** A protected instance with a backup job under way, and the dump activity's input for its recovery point. */
async function newPoint(encrypted: boolean): Promise<Point> {
  const instanceName = uniqueName("twice").replaceAll("_", "-");
  const keyRef = `env:${keySetting}`;
  const instance = await protect(instanceName, databaseSource(database, secretRef), encrypted ? { encryption: { keyRef } } : {});
  const rpId = recoveryPointId(new Date(), randomBytes(4).toString("hex"));
  const jobId = `backup-${instanceName}`;
  const startTime = new Date().toISOString();
  await updateJob(jobId, { operation: "Backup", trigger: "OnDemand", instanceName, status: "InProgress", phase: "Uploading", startTime, bytes: 0, recoveryPointId: rpId });
  const input: DumpDatabaseInput = {
    jobId,
    instanceName,
    recoveryPointId: rpId,
    datasource: instance.datasource as DatabaseDatasource,
    secretVersion: "env",
    expectedBytes: 1,
    ...(encrypted ? { encryption: await resolveKey(keyRef) } : {}),
  };
  return { instanceName, recoveryPointId: rpId, folder: `backups/${instanceName}/${rpId}/`, input };
}

function start(point: Point, copy: Copy): Promise<CopyResult> {
  return workers.get(copy)!(point.input, invocation("dumpDatabase")).catch((thrown: unknown) => ({ thrown }));
}

/** Calls of `kind` for the point's folder, from `copy` (from either when absent). */
function callsOf(point: Point, kind: CallMatch, copy?: Copy): CallMatch {
  return (call) => (copy === undefined || call.client === copy) && call.path.startsWith(point.folder) && kind(call);
}

const fromCopy = (copy: Copy): CallMatch => (call) => call.client === copy;
const isRecordWrite: CallMatch = (call) => isPutBlob(call) && call.path.endsWith(".json");
/** A block's position in its blob: the number its id ends with. */
const positionOf = (id: string | undefined) => Number(/(\d+)$/.exec(id ?? "")?.[1]);

/**
 * Lets the copies' held blocks reach the service one at a time, in `turns` order (repeated), each answered before
 * the next goes; a copy whose commit is held has staged everything and passes its turns. Ends when both commits are
 * held, with how many blocks each copy staged.
 */
async function stageInTurns(blocks: Gate, commits: Gate, turns: readonly Copy[]): Promise<Record<Copy, number>> {
  const staged: Record<Copy, number> = { A: 0, B: 0 };
  const committing = (copy: Copy) => commits.held.some((held) => held.call.client === copy);
  for (let turn = 0; !copies.every(committing); turn++) {
    const copy = turns[turn % turns.length]!;
    if (committing(copy)) continue;
    const nextBlock = blocks.next((call) => call.client === copy && positionOf(blockIdOf(call)) === staged[copy]);
    const next = await Promise.race([nextBlock, commits.next(fromCopy(copy))]);
    if (!isPutBlock(next.call)) continue;
    await next.release();
    staged[copy]++;
  }
  return staged;
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** The pg_dump archive inside a stored dump, read from the documented formats with the point's recorded key. */
function archiveOf(stored: Buffer, rp: DumpRecoveryPoint): Buffer {
  if (!rp.encryption) return decodeStoredDump(stored);
  return decryptStoredDump(stored, unwrapA256kw(Buffer.from(process.env[keySetting]!, "base64"), rp.encryption.wrappedKey));
}

/**
 * The outcome every interleaving must have: every copy reports the one committed dump; the recovery point recorded
 * from it (as the next step of the backup records it) has the stored bytes' SHA-256 and size; they decode with its
 * data key into an archive pg_restore lists; its contents record is in the folder, matches the recorded SHA-256,
 * opens with the same data key and counted the table; and the folder holds nothing else.
 */
async function expectOneGoodDump(point: Point, results: CopyResult[]): Promise<void> {
  const blobPath = `${point.folder}${database}.dump`;
  const recorded = await recordRecoveryPointActivity({
    jobId: point.input.jobId,
    instanceName: point.instanceName,
    recoveryPointId: point.recoveryPointId,
    time: new Date().toISOString(),
    backup: { format: "pg_dump-custom", blobPath, serverVersion: "15" },
  });
  const rp = asDumpPoint(await getRecoveryPoint(point.instanceName, point.recoveryPointId));

  const stored = await vaultContainer().getBlockBlobClient(blobPath.replace(/^backups\//, "")).downloadToBuffer();
  expect({ sha256: sha256(stored), sizeBytes: stored.length }).toEqual({ sha256: rp.sha256, sizeBytes: rp.sizeBytes });
  expect(stored.length).toBeGreaterThan(8 * 1024 * 1024);
  expect(await pgRestoreList(archiveOf(stored, rp))).toMatch(/TABLE DATA public events/);

  expect(rp.contents?.blobPath.startsWith(point.folder)).toBe(true);
  const record = await readContentsRecord({ ...rp, contents: rp.contents! });
  expect(record.tables.map((table) => [table.schema, table.name, table.rows])).toEqual([["public", "events", rows]]);
  const inFolder = (await committedBlobs(point.instanceName)).map((name) => `backups/${name}`);
  expect(inFolder.sort()).toEqual([blobPath, rp.contents!.blobPath].sort());
  for (const result of results) expect(result).toEqual({ ok: true, value: { blobPath, sizeBytes: recorded.sizeBytes } });
}

describe.each([
  ["an unencrypted", false],
  ["an encrypted", true],
])("two copies of %s dump at once", (_label, encrypted) => {
  test.each([
    ["A", "B"],
    ["B", "A"],
  ] as const)("when their blocks reach the service in turns (A0 B0 B1 A1) and %s commits first, then the vault holds its dump and record alone, and %s reports it", async (first, second) => {
    const point = await newPoint(encrypted);
    const blocks = proxy.hold(callsOf(point, isPutBlock));
    const commits = proxy.hold(callsOf(point, isPutBlockList));
    const running = copies.map((copy) => start(point, copy));
    try {
      const staged = await stageInTurns(blocks, commits, ["A", "B", "B", "A"]);
      expect(staged).toEqual({ A: 2, B: 2 });
      await (await commits.next(fromCopy(first))).release();
      await (await commits.next(fromCopy(second))).release();
    } finally {
      await Promise.all([blocks.open(), commits.open()]);
    }
    await expectOneGoodDump(point, await Promise.all(running));
  });

  test("when A's commit is held while B stages every block and commits, then A's commit lands on B's dump and changes nothing, and A reports B's dump", async () => {
    const point = await newPoint(encrypted);
    const commitOfA = proxy.hold(callsOf(point, isPutBlockList, "A"), 1);
    const blocksOfB = proxy.hold(callsOf(point, isPutBlock, "B"));
    const runningA = start(point, "A");
    const runningB = start(point, "B");
    let resultB: CopyResult;
    try {
      const heldCommit = await commitOfA.next();
      // B's blocks reach the service only now, after all of A's.
      await blocksOfB.open();
      resultB = await runningB;
      await heldCommit.release();
    } finally {
      await Promise.all([commitOfA.open(), blocksOfB.open()]);
    }
    await expectOneGoodDump(point, [await runningA, resultB]);
  });
});

describe("a copy that writes its contents record late", () => {
  test("when A writes its record after B has committed, then B's record stays, and A reports B's dump", async () => {
    const point = await newPoint(false);
    const recordOfA = proxy.hold(callsOf(point, isRecordWrite, "A"), 1);
    const runningA = start(point, "A");
    let resultB: CopyResult;
    try {
      // A has staged everything and found nothing committed: its record write is on its way.
      const heldRecord = await recordOfA.next();
      resultB = await start(point, "B");
      await heldRecord.release();
    } finally {
      await recordOfA.open();
    }
    await expectOneGoodDump(point, [await runningA, resultB]);
  });
});

describe("a commit whose outcome the copy cannot know", () => {
  test("when the commit lands but its answer is lost, then the copy finds its own dump committed and reports it", async () => {
    const point = await newPoint(false);
    const lost = proxy.fault(callsOf(point, isPutBlockList, "A"), "loseResponse", 1);
    const result = await start(point, "A");
    expect(lost.hits).toBe(1);
    await expectOneGoodDump(point, [result]);
  });

  test("when the commit's answer is lost and the vault cannot be read right after, then the attempt fails to be retried, removes nothing, and its retry reports the dump", async () => {
    const point = await newPoint(false);
    const commit = proxy.hold(callsOf(point, isPutBlockList, "A"), 1);
    const attempt = start(point, "A");
    const held = await commit.next();
    // Unreadable through all four tries of the storage client (at once, after 4 s, after 12 s more).
    const unreadable = proxy.fault(callsOf(point, isGetProperties, "A"), "reset", 4);
    await held.release("loseResponse");
    const failed = await attempt;
    expect(unreadable.hits).toBe(4);
    await expectOneGoodDump(point, [await start(point, "A")]);
    // Thrown as transient (by the copy's own PgVaultError class), so the orchestration retries the activity.
    expect(failed).toMatchObject({ thrown: { name: "PgVaultError", code: "SystemErrorStorageUnavailable", transient: true } });
  }, 90_000);

  test("when the commit never reaches the service, then the attempt fails keeping its record, and the retry that commits removes it", async () => {
    const point = await newPoint(false);
    const unreachable = proxy.fault(callsOf(point, isPutBlockList, "A"), "reset", 4);
    const failed = await start(point, "A");
    expect(unreachable.hits).toBe(4);
    expect(failed).toMatchObject({ thrown: { name: "PgVaultError", code: "SystemErrorStorageUnavailable", transient: true } });
    // Nothing is committed, but the commit might yet land and name this record: it stays.
    const left = await committedBlobs(point.instanceName);
    expect(left).toEqual([expect.stringMatching(/\/contents-[0-9a-f]{16}\.json$/)]);
    await expectOneGoodDump(point, [await start(point, "A")]);
    expect(await committedBlobs(point.instanceName)).not.toContain(left[0]);
  }, 90_000);
});

describe("a copy that finds the job cancelled after its point was recorded", () => {
  test("when B's commit lands, A reports B's dump, the point is recorded complete and only then the cancel comes, then B's undo keeps the point's data", async () => {
    const point = await newPoint(false);
    const commitsOfB = proxy.hold(callsOf(point, isPutBlockList, "B"), 2);
    const runningB = start(point, "B");
    // B's commit lands but its answer is lost; its client's retry is held before B can look at the cancel flag.
    await (await commitsOfB.next()).release("loseResponse");
    const retryOfB = await commitsOfB.next();
    const blobPath = `${point.folder}${database}.dump`;
    expect(await start(point, "A")).toEqual({ ok: true, value: { blobPath, sizeBytes: expect.any(Number) } });
    await recordRecoveryPointActivity({
      jobId: point.input.jobId,
      instanceName: point.instanceName,
      recoveryPointId: point.recoveryPointId,
      time: new Date().toISOString(),
      backup: { format: "pg_dump-custom", blobPath, serverVersion: "15" },
    });
    await updateJob(point.input.jobId, { cancelRequested: true });

    await retryOfB.release();
    await runningB;
    await commitsOfB.open();
    const rp = asDumpPoint(await getRecoveryPoint(point.instanceName, point.recoveryPointId));
    const stored = await vaultContainer().getBlockBlobClient(blobPath.replace(/^backups\//, "")).downloadToBuffer();
    expect(sha256(stored)).toBe(rp.sha256);
  });
});
