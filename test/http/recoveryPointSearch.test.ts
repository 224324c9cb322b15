/**
 * GET /api/backupInstances/{name}/recoveryPoints?table= / ?schema= (issue 23, point 6) over 30 real backups of a
 * database whose schema changes between them (real PostgreSQL, pg_dump, Azurite, the backup orchestration replayed
 * with the real activities): a table created, dropped and created again, a quoted mixed-case name with a lower-case
 * twin that exists for a while, a schema that is dropped early, and an encrypting policy for the last four. A few
 * catalog rows stand for what 30 backups of today's pgvault cannot produce: a point from before contents records
 * (a real point's row without `contents`), one whose record is another point's, and a `Deleted` point. A Flexible
 * Server instance gets a real backup through the ARM stand-in. Record reads go through a proxy in front of the
 * vault's blob service that counts them and how many are in flight at once.
 */
import type http from "node:http";
import { randomBytes } from "node:crypto";
import { HttpRequest } from "@azure/functions";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { listInstanceRecoveryPoints } from "../../functions/recoveryPoints";
import { getRecoveryPoint, listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { putPolicy, putRecoveryPoint } from "../../shared/catalog/catalog";
import type { MatchedPoint, PointMatch } from "../../shared/contents/pointSearch";
import type { BackupInstance } from "../../shared/domain";
import { handled } from "../../shared/http";
import { softDeleteRecoveryPoint } from "../../shared/retention/softDelete";
import { asDumpPoint, dailyPolicy, databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { useArmStandIn, type ArmTestServer } from "../support/armServer";
import { asLtrPoint, protectFlexServer, runFlexBackup } from "../support/flexFixture";
import { startForwardingProxy, withEndpoint, type ForwardingProxy } from "../support/forwardingProxy";
import { bodyOf, invocation } from "../support/http";
import { cluster, createDatabase, uniqueName, withAdmin } from "../support/testDatabase";

const backups = 30;
/** Backups (by index, oldest first) taken while each object existed. */
const orderLinesIn = (i: number) => (i >= 4 && i <= 11) || (i >= 19 && i <= 23);
const lowerTwinIn = (i: number) => i === 8 || i === 9;
const archiveIn = (i: number) => i <= 2;
const encryptedFrom = 26;
const orderLinesRows = (i: number) => 100 + i;

const database = uniqueName("search_src");
let instance: BackupInstance;
/** Point ids by backup index. */
const taken: string[] = [];
/** Catalog-only points (see the file's comment). */
const notRecordedId = "rp-20200101T000000Z-0000000a";
const otherRecordId = "rp-20200101T000000Z-0000000b";
const deletedId = "rp-20200101T000000Z-0000000c";

/**
 * Counts contents-record reads through the proxy, and the most in flight at once; `delayMs` plays storage latency,
 * `refuse` a vault that denies the reads (403, as Azure answers an identity without a data role).
 */
const reads = { count: 0, inFlight: 0, maxInFlight: 0, delayMs: 0, refuse: false };
let proxy: ForwardingProxy;
let arm: ArmTestServer;

async function countingProxy(): Promise<ForwardingProxy> {
  const blobEndpoint = /BlobEndpoint=([^;]+)/i.exec(inject("vaultConnectionString"))![1]!;
  return startForwardingProxy(blobEndpoint, async (request: http.IncomingMessage, response: http.ServerResponse, url: URL) => {
    if (request.method !== "GET" || !/\/contents(-[0-9a-f]{16})?\.json$/.test(url.pathname)) return false;
    reads.count += 1;
    reads.inFlight += 1;
    reads.maxInFlight = Math.max(reads.maxInFlight, reads.inFlight);
    response.on("close", () => (reads.inFlight -= 1));
    if (reads.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, reads.delayMs));
    if (!reads.refuse) return false;
    request.resume();
    response.writeHead(403, { "x-ms-error-code": "AuthorizationPermissionMismatch", "x-ms-request-id": "search-proxy", "content-type": "application/xml" });
    response.end('<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>denied</Message></Error>');
    return true;
  });
}

function search(instanceName: string, query: string) {
  const request = new HttpRequest({ method: "GET", url: `http://127.0.0.1:7071/api/backupInstances/${instanceName}/recoveryPoints${query}`, params: { name: instanceName } });
  return handled(listInstanceRecoveryPoints)(request, invocation("listRecoveryPoints"));
}

type Page = { value: MatchedPoint[]; nextLink?: string };

async function allPages(instanceName: string, query: string): Promise<{ points: MatchedPoint[]; pages: number }> {
  const points: MatchedPoint[] = [];
  let next: string | undefined = query;
  let pages = 0;
  while (next !== undefined) {
    const response = await search(instanceName, next);
    expect(response.status).toBe(200);
    const page = bodyOf<Page>(response);
    points.push(...page.value);
    pages += 1;
    next = page.nextLink?.replace(`/api/backupInstances/${instanceName}/recoveryPoints`, "");
  }
  return { points, pages };
}

const ident = pg.escapeIdentifier;

/** Brings the source database to what backup `i` should see. */
async function shapeFor(i: number): Promise<void> {
  await withAdmin(database, async (c) => {
    await c.query(`INSERT INTO sales.orders SELECT g FROM generate_series(1, 10) g`);
    await c.query(`DROP TABLE IF EXISTS sales."Order Lines"`);
    if (orderLinesIn(i)) {
      await c.query(`CREATE TABLE sales."Order Lines" (id int PRIMARY KEY, qty int)`);
      await c.query(`INSERT INTO sales."Order Lines" SELECT g, g FROM generate_series(1, $1::int) g`, [orderLinesRows(i)]);
    }
    await c.query(`DROP TABLE IF EXISTS sales."order lines"`);
    if (lowerTwinIn(i)) await c.query(`CREATE TABLE sales."order lines" AS SELECT 1 AS id`);
    if (archiveIn(i)) {
      await c.query(`CREATE SCHEMA IF NOT EXISTS archive`);
      await c.query(`CREATE TABLE IF NOT EXISTS archive.a (id int)`);
      await c.query(`CREATE TABLE IF NOT EXISTS archive.b (id int)`);
      await c.query(`INSERT INTO archive.b VALUES (1)`);
    } else {
      await c.query(`DROP SCHEMA IF EXISTS archive CASCADE`);
    }
  });
}

let backupSeconds = 0;

beforeAll(async () => {
  proxy = await countingProxy();
  // Before any app module reads its configuration: the vault's blobs are reached through the counting proxy.
  process.env.VaultStorage = withEndpoint(inject("vaultConnectionString"), "Blob", proxy.endpoint);
  // And before the first activity: the app reads ARM_ENDPOINT once per process (the Flexible Server story).
  ({ arm } = await useArmStandIn(inject("tls")));
  process.env.PGVAULT_TEST_SEARCH_KEK = randomBytes(32).toString("base64");
  await createDatabase(database);
  await withAdmin(database, (c) => c.query(`CREATE SCHEMA sales; CREATE TABLE sales.orders (id int)`));
  const secretRef = envSecret("PGVAULT_SECRET_SEARCH_SRC", cluster().user, cluster().password);
  instance = await protect(uniqueName("search").replaceAll("_", "-"), databaseSource(database, secretRef));
  const started = performance.now();
  for (let i = 0; i < backups; i++) {
    if (i === encryptedFrom) await putPolicy({ ...dailyPolicy(instance.policyName), encryption: { keyRef: "env:PGVAULT_TEST_SEARCH_KEK" } });
    await shapeFor(i);
    const run = await runBackup(instance, `backup-${instance.name}-${i}`);
    expect(run.state.error).toBeUndefined();
    taken.push((run.state.output as { recoveryPointId: string }).recoveryPointId);
  }
  backupSeconds = (performance.now() - started) / 1000;

  const withTable = asDumpPoint(await getRecoveryPoint(instance.name, taken[5]!));
  const { contents: _dropped, ...withoutContents } = withTable;
  await putRecoveryPoint({ ...withoutContents, id: notRecordedId, time: "2020-01-01T00:00:00Z" });
  await putRecoveryPoint({ ...asDumpPoint(await getRecoveryPoint(instance.name, taken[6]!)), id: otherRecordId, time: "2020-01-01T00:00:00Z" });
  await putRecoveryPoint({ ...asDumpPoint(await getRecoveryPoint(instance.name, taken[7]!)), id: deletedId, time: "2020-01-01T00:00:00Z", status: "Deleted" });
  await softDeleteRecoveryPoint(instance.name, taken[10]!, new Date(), 14);
}, 600_000);

afterAll(async () => {
  await Promise.all([proxy?.close(), arm?.close()]);
});

const pointsOf = (page: { points: MatchedPoint[] }) => page.points.map((rp) => [rp.id, rp.match]);

/** What the search must list for a table or schema: for each listed point, newest first, its match. */
async function expected(matchFor: (index: number) => PointMatch | undefined): Promise<[string, PointMatch][]> {
  const unknownRows: Record<string, PointMatch> = {
    [notRecordedId]: { known: false, reason: "notRecorded", message: expect.stringContaining("before pgvault recorded") as string },
    [otherRecordId]: { known: false, reason: "unreadable", message: expect.stringContaining("belongs to another recovery point") as string },
  };
  const listed: [string, PointMatch][] = [];
  for (const rp of await listRecoveryPoints(instance.name)) {
    const index = taken.indexOf(rp.id);
    const match =
      index >= encryptedFrom
        ? { known: false as const, reason: "encrypted" as const, message: expect.stringContaining("encrypted") as string }
        : index >= 0
          ? matchFor(index)
          : unknownRows[rp.id];
    if (match) listed.push([rp.id, match]);
  }
  return listed;
}

describe("searching 30 recovery points for a table", () => {
  test("when a quoted mixed-case table is searched for, then exactly the points that have it are listed with its rows, and the unreadable ones as unknown", async () => {
    expect(taken).toHaveLength(backups);
    console.log(`${backups} backups took ${backupSeconds.toFixed(1)} s`);
    reads.count = 0;
    const started = performance.now();
    const found = await allPages(instance.name, `?table=${encodeURIComponent('sales."Order Lines"')}`);
    const elapsed = performance.now() - started;
    console.log(`search over ${taken.length + 3} points: ${elapsed.toFixed(0)} ms, ${reads.count} records read, at most ${reads.maxInFlight} at once`);

    const want = await expected((i) => (orderLinesIn(i) ? { known: true, schema: "sales", name: "Order Lines", rows: orderLinesRows(i) } : undefined));
    expect(pointsOf(found)).toEqual(want);
    expect(found.pages).toBe(1);
    // 13 backups had the table; the four encrypted, the one without a record and the one with another's are unknown.
    expect(want.filter(([, m]) => m.known)).toHaveLength(13);
    expect(want.filter(([, m]) => !m.known)).toHaveLength(6);
    // The soft-deleted point is still listed (restorable); the Deleted one is not; the items are the list's items plus `match`.
    const softDeleted = found.points.find((rp) => rp.id === taken[10]);
    expect(softDeleted).toMatchObject({ status: "SoftDeleted", match: { known: true, rows: orderLinesRows(10) } });
    expect(found.points.map((rp) => rp.id)).not.toContain(deletedId);
    const plain = await listRecoveryPoints(instance.name);
    for (const rp of found.points) {
      const { match: _match, ...item } = rp;
      expect(item).toEqual(plain.find((p) => p.id === rp.id));
    }
    // Records are read only for unencrypted points that have one: 26 real ones (not the Deleted one), plus the copy.
    expect(reads.count).toBe(encryptedFrom + 1);
  });

  test("when the name is written unquoted in other cases, then it folds to lower case as PostgreSQL does and finds the lower-case twin only", async () => {
    const found = await allPages(instance.name, `?table=${encodeURIComponent('SALES."order lines"')}`);
    const want = await expected((i) => (lowerTwinIn(i) ? { known: true, schema: "sales", name: "order lines", rows: 1 } : undefined));
    expect(pointsOf(found)).toEqual(want);
    expect(want.filter(([, m]) => m.known).map(([id]) => id).sort()).toEqual([taken[8]!, taken[9]!].sort());

    const upper = await allPages(instance.name, `?table=Sales.Orders`);
    expect(upper.points.filter((rp) => rp.match.known)).toHaveLength(encryptedFrom);
  });

  test("when a table no point ever had is searched for, then only the unknown points are listed", async () => {
    const found = await allPages(instance.name, `?table=sales.${ident("Refunds")}`);
    expect(found.points.map((rp) => rp.match.known)).toEqual(Array(6).fill(false));
  });

  test("when a schema is searched for, then the points that had tables in it are listed with their count and rows", async () => {
    const found = await allPages(instance.name, `?schema=archive`);
    const want = await expected((i) => (archiveIn(i) ? { known: true, schema: "archive", tables: 2, rows: i + 1 } : undefined));
    expect(pointsOf(found)).toEqual(want);
    expect(want.filter(([, m]) => m.known)).toHaveLength(3);
  });

  test("when the search is paged 4 at a time, then every point comes exactly once, and a page stops reading once it knows more follow", async () => {
    const whole = await allPages(instance.name, `?table=${encodeURIComponent('sales."Order Lines"')}`);
    const paged = await allPages(instance.name, `?table=${encodeURIComponent('sales."Order Lines"')}&top=4`);
    expect(paged.points.map((rp) => rp.id)).toEqual(whole.points.map((rp) => rp.id));
    expect(paged.pages).toBe(Math.ceil(whole.points.length / 4));

    reads.count = 0;
    const first = bodyOf<Page>(await search(instance.name, `?table=${encodeURIComponent('sales."Order Lines"')}&top=4&code=function-key`));
    expect(first.value.map((rp) => rp.id)).toEqual(whole.points.slice(0, 4).map((rp) => rp.id));
    const next = new URL(first.nextLink!, "http://x");
    expect([...next.searchParams.keys()]).toEqual(["table", "top", "skipToken"]);
    expect(next.searchParams.get("table")).toBe('sales."Order Lines"');
    // The page reads records until it finds the fifth point to list (then knows a next page has something), plus
    // what was already in flight: not the whole list.
    const plain = await listRecoveryPoints(instance.name);
    const fifth = plain.findIndex((rp) => rp.id === whole.points[4]!.id);
    const readable = (rp: (typeof plain)[number]) => rp.status !== "Deleted" && rp.format === "pg_dump-custom" && !rp.encryption && rp.contents !== undefined;
    const needed = plain.slice(0, fifth + 1).filter(readable).length;
    expect(reads.count).toBeGreaterThanOrEqual(needed);
    expect(reads.count).toBeLessThanOrEqual(needed + 7);
    expect(reads.count).toBeLessThan(plain.filter(readable).length);
  });

  test("when storage is slow, then records are read 8 at a time, not one by one and not all at once", async () => {
    reads.delayMs = 40;
    reads.maxInFlight = 0;
    reads.count = 0;
    try {
      const started = performance.now();
      const found = await allPages(instance.name, `?schema=sales`);
      const elapsed = performance.now() - started;
      console.log(`search over ${taken.length + 3} points at ${reads.delayMs} ms per record read: ${elapsed.toFixed(0)} ms, ${reads.count} reads`);
      expect(found.points).toHaveLength(backups + 2);
      expect(reads.maxInFlight).toBe(8);
      // One by one would take count * 40 ms at least.
      expect(elapsed).toBeLessThan(reads.count * reads.delayMs);
    } finally {
      reads.delayMs = 0;
    }
  });

  test("when the vault refuses a record read, then the search fails (503) instead of listing the point as unknown", async () => {
    reads.refuse = true;
    try {
      const response = await search(instance.name, "?table=sales.orders");
      expect(response.status).toBe(503);
      expect(bodyOf<{ error: { code: string; message: string } }>(response).error).toMatchObject({ code: "SystemErrorUnexpected", message: expect.stringContaining("HTTP 403") });
    } finally {
      reads.refuse = false;
    }
  });

  test("when no filter is given, then the list is the plain list (no match, no paging), as before", async () => {
    const response = await search(instance.name, "?code=function-key");
    expect(response.status).toBe(200);
    expect(bodyOf(response)).toEqual({ value: await listRecoveryPoints(instance.name) });
  });
});

describe("a Flexible Server instance", () => {
  test("when its points are searched, then each is listed as unknown: the server's files carry no contents record", async () => {
    const resourceId = arm.addServer({ subscriptionId: "3f2b8c1e-7d4a-4e5b-9c6f-0a1b2c3d4e5f", resourceGroup: "rg-data", name: uniqueName("pg").replaceAll("_", "-") });
    const flex = await protectFlexServer(uniqueName("flexsearch").replaceAll("_", "-"), resourceId);
    const run = await runFlexBackup(flex);
    expect(run.state.error).toBeUndefined();
    const ltr = asLtrPoint((await listRecoveryPoints(flex.name))[0]);
    const found = bodyOf<Page>(await search(flex.name, "?table=public.accounts"));
    expect(found.value).toEqual([{ ...ltr, match: { known: false, reason: "flexibleServer", message: expect.stringContaining("Flexible Server") as string } }]);
  });
});

describe("malformed searches", () => {
  test.each([
    ["?table=orders", "table"],
    ["?table=sales.", "table"],
    ["?table=.orders", "table"],
    ["?table=sales.orders.x", "table"],
    [`?table=${encodeURIComponent("sales. orders")}`, "table"],
    [`?table=${encodeURIComponent('sales."orders')}`, "table"],
    [`?table=${encodeURIComponent('sales.""')}`, "table"],
    [`?table=${encodeURIComponent("1sales.orders")}`, "table"],
    [`?table=sales.${"x".repeat(64)}`, "table"],
    ["?table=", "table"],
    ["?schema=a.b", "schema"],
    ["?schema=", "schema"],
    ["?table=a.b&table=c.d", "table"],
    ["?table=a.b&schema=a", "schema"],
    ["?table=a.b&top=0", "top"],
    ["?table=a.b&top=1001", "top"],
    ["?table=a.b&top=1e2", "top"],
    ["?table=a.b&skipToken=page-2", "skipToken"],
    ["?top=5", "top"],
    ["?skipToken=rp-20260104T030012Z-1a2b3c4d", "skipToken"],
  ])("when the query is %s, then 400 names %s", async (query, path) => {
    const response = await search(instance.name, query);
    expect(response.status).toBe(400);
    expect(bodyOf<{ error: { details: { path: string }[] } }>(response).error.details.map((d) => d.path)).toEqual([path]);
  });

  test("when the instance does not exist, then a well-formed search is 404", async () => {
    expect((await search("no-such-instance", "?table=a.b")).status).toBe(404);
  });
});
