/**
 * A database of 5,000 tables backed up, verified and restored through the local host, as `npm start` runs it, and
 * every durable payload those jobs stored measured: orchestrations pass ids and references, never a list that
 * grows with the database, so no history event, input, output or custom status comes near the local host's
 * 64 KiB per event (or the size at which Azure's backend starts offloading messages to blobs).
 *
 * Measured (2 cores, shared): the largest stored row was 682 bytes (the verify job's status row: its input and
 * output); the file takes 15 to 18 s (5,000 tables created in about 3 s, then backup 2 s, drill 4-6 s, restore
 * 6-7 s) on top of the suite's start.
 */
import { TableClient } from "@azure/data-tables";
import pg from "pg";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import type { DumpRecoveryPoint, Job } from "../../shared/domain";
import { callHost, configureHostedDatabase, startAppHost, waitUntil, type HostProcess } from "../support/localHost";
import { scratchExists } from "../support/verifyFixture";
import { cluster, createDatabase, uniqueName, withAdmin } from "../support/testDatabase";

const tableCount = 5_000;
/** Every 50th table holds rows (its number mod 7, plus one): 100 tables, 397 rows. */
const rowsOf = (i: number) => (i % 50 === 0 ? (i % 7) + 1 : 0);
const expectedRows = Array.from({ length: tableCount }, (_, i) => rowsOf(i + 1)).reduce((a, b) => a + b, 0);
const payloadLimitBytes = 16 * 1024;

const database = uniqueName("wide");
const restored = uniqueName("wide_restored");
const superuserSetting = "PGVAULT_SECRET_WIDE_SUPERUSER";
const names = { policyName: uniqueName("widepol").replaceAll("_", "-"), instanceName: uniqueName("wideinst").replaceAll("_", "-") };
let host: HostProcess;

/** 5,000 tables in batches of 1,000 (one transaction each, well within the server's lock table), rows in some. */
async function createWideDatabase(): Promise<void> {
  await createDatabase(database);
  await withAdmin(database, async (c) => {
    for (let from = 1; from <= tableCount; from += 1_000) {
      await c.query(`
        DO $$ BEGIN
          FOR i IN ${from}..${from + 999} LOOP
            EXECUTE format('CREATE TABLE public.%I (id int, n int)', 'wide_' || lpad(i::text, 5, '0'));
            IF i % 50 = 0 THEN
              EXECUTE format('INSERT INTO public.%I SELECT g, g FROM generate_series(1, %s) g', 'wide_' || lpad(i::text, 5, '0'), i % 7 + 1);
            END IF;
          END LOOP;
        END $$`);
    }
  });
}

beforeAll(async () => {
  await createWideDatabase();
  const { host: pgHost, port, user, password } = cluster();
  host = await startAppHost({ [superuserSetting]: `postgres://${user}:${encodeURIComponent(password)}@${pgHost}:${port}/x?sslmode=disable` });
}, 300_000);
afterAll(async () => {
  // Stopped, so no scheduler of another host on this vault backs it up later; the wide databases go.
  if (host) await callHost(host.origin, "DELETE", `/api/backupInstances/${names.instanceName}`);
  await host?.kill("SIGTERM");
  for (const name of [restored, database]) await withAdmin("postgres", (c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)}`));
}, 120_000);

const call = (method: string, route: string, body?: unknown) => callHost(host.origin, method, route, body);

/** The job finished and its orchestration too (a backup's retention runs after the job row succeeds). */
async function finished(jobId: string): Promise<Job> {
  const job = await waitUntil(async () => {
    const row = (await call("GET", `/api/jobs/${jobId}`)).json as unknown as Job | undefined;
    return row && ["Succeeded", "Failed", "Cancelled"].includes(row.status) ? row : undefined;
  }, 300_000, `job ${jobId} finished`);
  await waitUntil(async () => {
    const status = (await call("GET", `/runtime/webhooks/durabletask/instances/${jobId}`)).json;
    return ["Completed", "Failed", "Terminated"].includes(String(status?.runtimeStatus)) ? true : undefined;
  }, 60_000, `orchestration ${jobId} ended`);
  return job;
}

interface StoredPayload {
  instanceId: string;
  row: string;
  bytes: number;
}

/**
 * Every row the local host's task hub (`pgvaultDurable`, host.json's hub name) keeps for these orchestrations
 * and any sub-orchestration they started: the status row (input, output, custom status) and each history event,
 * measured as stored (the `data` property's JSON, in UTF-8 bytes).
 */
async function storedPayloads(jobIds: string[]): Promise<StoredPayload[]> {
  const hub = TableClient.fromConnectionString(inject("vaultConnectionString"), "pgvaultDurable", { allowInsecureConnection: true });
  const instances = new Set(jobIds);
  for await (const row of hub.listEntities<{ data: string }>({ queryOptions: { filter: "RowKey eq 'status'" } })) {
    const parent = (JSON.parse(row.data) as { parent?: { instanceId: string } }).parent;
    if (parent && jobIds.some((id) => parent.instanceId.startsWith(id))) instances.add(row.partitionKey!);
  }
  const payloads: StoredPayload[] = [];
  for (const instanceId of instances) {
    const filter = `PartitionKey eq '${instanceId.replaceAll("'", "''")}'`;
    for await (const row of hub.listEntities<{ data: string }>({ queryOptions: { filter } })) {
      payloads.push({ instanceId, row: row.rowKey!, bytes: Buffer.byteLength(row.data) });
    }
  }
  return payloads;
}

test("when a database of 5,000 tables is backed up, verified and restored through the local host, then every job succeeds and no durable payload reaches 16 KiB", async () => {
  const started = Date.now();
  const { host: pgHost, port } = cluster();
  await configureHostedDatabase(host.origin, names, { host: pgHost, port, database, secretRef: `env:${superuserSetting}` });

  const backup = await call("POST", `/api/backupInstances/${names.instanceName}/backup`);
  expect(backup.status).toBe(202);
  const backupJob = await finished((backup.json as { jobId: string }).jobId);
  expect(backupJob).toMatchObject({ status: "Succeeded" });
  const backedUp = Date.now();

  const verify = await call("POST", `/api/backupInstances/${names.instanceName}/verify`, { recoveryPointId: backupJob.recoveryPointId });
  expect(verify.status).toBe(202);
  const verifyJob = await finished((verify.json as { jobId: string }).jobId);
  expect(verifyJob).toMatchObject({ status: "Succeeded", recoveryPointId: backupJob.recoveryPointId });
  const rp = (await call("GET", `/api/backupInstances/${names.instanceName}/recoveryPoints/${backupJob.recoveryPointId}`)).json as unknown as DumpRecoveryPoint;
  expect(rp.verification).toMatchObject({ outcome: "Succeeded", jobId: verifyJob.id, tablesChecked: tableCount, rowsChecked: expectedRows, rowCountsRecorded: true });
  expect(await scratchExists(verifyJob.id)).toBe(false);
  const verified = Date.now();

  const restore = await call("POST", `/api/backupInstances/${names.instanceName}/restore`, {
    recoveryPointId: backupJob.recoveryPointId,
    target: { type: "database", host: pgHost, port, database: restored, secretRef: `env:${superuserSetting}` },
  });
  expect(restore.status).toBe(202);
  const restoreJob = await finished((restore.json as { jobId: string }).jobId);
  expect(restoreJob).toMatchObject({ status: "Succeeded" });
  const restoredTables = await withAdmin(restored, async (c: pg.Client) => {
    const { rows } = await c.query<{ tables: number; rows: number }>(`
      SELECT count(*)::int AS tables,
             sum((xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM public.%I', relname), false, true, '')))[1]::text::int)::int AS rows
      FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname LIKE 'wide\\_%'`);
    return rows[0]!;
  });
  expect(restoredTables).toEqual({ tables: tableCount, rows: expectedRows });
  const restoredAt = Date.now();

  const payloads = await storedPayloads([backupJob.id, verifyJob.id, restoreJob.id]);
  const largest = payloads.reduce((max, p) => (p.bytes > max.bytes ? p : max));
  console.log(
    `5,000 tables: backup ${((backedUp - started) / 1000).toFixed(1)} s, verify ${((verified - backedUp) / 1000).toFixed(1)} s, ` +
      `restore ${((restoredAt - verified) / 1000).toFixed(1)} s; ${payloads.length} stored rows, largest ${largest.bytes} bytes (${largest.instanceId} ${largest.row})`,
  );
  // Every orchestration of the three jobs was found, each with its status row and a history.
  for (const id of [backupJob.id, verifyJob.id, restoreJob.id]) expect(payloads.filter((p) => p.instanceId === id).length).toBeGreaterThan(10);
  expect(largest.bytes).toBeLessThan(payloadLimitBytes);
}, 900_000);
