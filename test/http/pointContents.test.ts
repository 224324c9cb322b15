/**
 * GET /api/backupInstances/{name}/recoveryPoints/{rpId}/contents (issue 24, point 2): what a point holds, read from
 * its archive, for a real backup (pg_dump 15 through the backup orchestration's real activities into Azurite), the
 * same point's row without its contents record (as points taken before records existed), and a Flexible Server
 * point made through the ARM stand-in. Every table's data size is checked against `COPY ... TO STDOUT` on the source.
 */
import { randomBytes } from "node:crypto";
import { HttpRequest } from "@azure/functions";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { getRecoveryPointContents } from "../../functions/recoveryPoints";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { putRecoveryPoint } from "../../shared/catalog/catalog";
import type { PointContents } from "../../shared/contents/pointContents";
import { handled } from "../../shared/http";
import { copyOutAsDumped } from "../support/archiveFixture";
import { useArmStandIn, type ArmTestServer } from "../support/armServer";
import { asDumpPoint, databaseSource, envSecret, protect, runBackup, vaultContainer } from "../support/backupFixture";
import { asLtrPoint, protectFlexServer, runFlexBackup } from "../support/flexFixture";
import { bodyOf, invocation } from "../support/http";
import { cluster, createBackupRole, createDatabase, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";

const database = uniqueName("contents_src");
let arm: ArmTestServer;

beforeAll(async () => {
  ({ arm } = await useArmStandIn(inject("tls")));
  await createDatabase(database);
  await seedRichDatabase(database);
  await withAdmin(database, (c) =>
    c.query(`
      CREATE TABLE sales."Line.Items" (id int, note text);
      INSERT INTO sales."Line.Items" SELECT g, E'tab\\there ' || g FROM generate_series(1, 300) g;
      CREATE TABLE public.nothing (id int);
      CREATE INDEX orders_customer ON sales.orders (customer);
      CREATE FUNCTION sales.total_of(bigint) RETURNS numeric LANGUAGE sql AS 'SELECT total FROM sales.orders WHERE id = $1';
      CREATE MATERIALIZED VIEW sales.order_count AS SELECT count(*) FROM sales.orders;
    `),
  );
});
afterAll(async () => {
  await arm?.close();
});

async function contentsOf(instanceName: string, rpId: string): Promise<{ status: number; body: PointContents & { error?: { code: string } } }> {
  const request = new HttpRequest({
    method: "GET",
    url: `http://localhost/api/backupInstances/${instanceName}/recoveryPoints/${rpId}/contents`,
    params: { name: instanceName, rpId },
  });
  const response = await handled(getRecoveryPointContents)(request, invocation("getRecoveryPointContents"));
  return { status: response.status ?? 200, body: bodyOf(response) };
}

/** The size of a table's COPY text, as pg_dump's session writes it. */
async function copySize(schema: string, name: string): Promise<number> {
  return (await copyOutAsDumped(database, `COPY ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)} TO STDOUT`)).length;
}

describe("the contents of a recovery point", () => {
  let instanceName: string;
  let rpId: string;

  beforeAll(async () => {
    const role = uniqueName("contents_reader");
    await createBackupRole(database, role, "contents-pw-1");
    const instance = await protect(uniqueName("contents").replaceAll("_", "-"), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "contents-pw-1")));
    const run = await runBackup(instance);
    expect(run.state.error).toBeUndefined();
    instanceName = instance.name;
    rpId = (await listRecoveryPoints(instanceName))[0]!.id;
  });

  test("when a point has a contents record, then its schemas, tables with rows and data sizes (from its digests), and objects by kind are listed", async () => {
    const { status, body } = await contentsOf(instanceName, rpId);
    expect(status).toBe(200);
    expect(body).toMatchObject({ recoveryPointId: rpId, instanceName, format: "pg_dump-custom", rows: "contentsRecord", dataSizes: "contentsRecord" });
    const [contents] = body.databases;
    expect(body.databases).toHaveLength(1);
    expect(contents!.database).toBe(database);
    expect(contents!.archive).toMatchObject({ compression: "none", dumpVersion: expect.stringMatching(/^15\./) });
    expect(contents!.schemas).toEqual(["public", "sales", "Ünïcødé Schéma"].sort());
    const tables = Object.fromEntries(contents!.tables.map((t) => [`${t.schema}.${t.name}`, t]));
    expect(Object.keys(tables).sort()).toEqual(["public.documents", "public.nothing", "sales.Line.Items", "sales.orders", 'Ünïcødé Schéma.Größe "quoted" table'].sort());
    expect(tables["sales.orders"]!.rows).toBe(2000);
    expect(tables["sales.Line.Items"]!.rows).toBe(300);
    expect(tables["public.nothing"]).toMatchObject({ rows: 0, dataBytes: 0 });
    for (const table of contents!.tables) expect(table.dataBytes, `${table.schema}.${table.name}`).toBe(await copySize(table.schema, table.name));
    const kinds = Object.fromEntries(contents!.objects.map((kind) => [kind.kind, kind]));
    expect(kinds["VIEW"]).toEqual({ kind: "VIEW", count: 1, names: ["sales.big_orders"] });
    expect(kinds["MATERIALIZED VIEW"]?.names).toEqual(["sales.order_count"]);
    expect(kinds["FUNCTION"]?.names).toEqual(["sales.total_of(bigint)"]);
    expect(kinds["INDEX"]?.names).toEqual(["sales.orders_customer"]);
    expect(kinds["EXTENSION"]?.names).toEqual(["hstore"]);
    expect(kinds["CONSTRAINT"]?.count).toBe(2);
    // Only the archive's head was read: large objects are counted, their bytes not summed.
    expect(contents!.largeObjects).toEqual({ count: 2 });
  });

  test("when a point has no contents record, then the same is read from the archive alone, without rows", async () => {
    const rp = asDumpPoint((await listRecoveryPoints(instanceName))[0]);
    const { contents: _record, ...withoutRecord } = rp;
    const oldId = "rp-20200101T000000Z-00000c01";
    await putRecoveryPoint({ ...withoutRecord, id: oldId });
    const { status, body } = await contentsOf(instanceName, oldId);
    expect(status).toBe(200);
    expect(body).toMatchObject({ rows: "notRecorded", dataSizes: "archive" });
    expect(body.databases[0]!.tables.every((t) => t.rows === undefined && typeof t.dataBytes === "number")).toBe(true);
    for (const table of body.databases[0]!.tables) expect(table.dataBytes, `${table.schema}.${table.name}`).toBe(await copySize(table.schema, table.name));
    const loBytes = await withAdmin(database, async (c) => Number((await c.query<{ n: string }>(`SELECT sum(length(lo_get(oid)))::text AS n FROM pg_largeobject_metadata`)).rows[0]!.n));
    expect(body.databases[0]!.largeObjects).toEqual({ count: 2, dataBytes: loBytes });
  });

  test("when the point's stored bytes were changed, then the answer is UserErrorRecoveryPointCorrupted, not a listing", async () => {
    // Without its record, so the whole archive is read (with one, only its head: the damage is near the end).
    const { contents: _record, ...rp } = asDumpPoint((await listRecoveryPoints(instanceName))[0]);
    const damagedId = "rp-20200101T000000Z-00000c02";
    const blob = vaultContainer().getBlockBlobClient(rp.blobs[0]!.replace(/^backups\//, ""));
    const stored = await blob.downloadToBuffer();
    const copyName = `${instanceName}/${damagedId}/damaged.dump`;
    const damaged = Buffer.from(stored);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 100) ^ 0x01, damaged.length - 100);
    await vaultContainer().getBlockBlobClient(copyName).uploadData(damaged);
    await putRecoveryPoint({ ...rp, id: damagedId, blobs: [`backups/${copyName}`] });
    const { status, body } = await contentsOf(instanceName, damagedId);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(body.error?.code).toBe("UserErrorRecoveryPointCorrupted");
  });

  test("when the point is a Flexible Server's, then each of its database archives is listed", async () => {
    const second = uniqueName("contents_flex");
    await createDatabase(second);
    await withAdmin(second, (c) => c.query(`CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 10);`));
    const resourceId = arm.addServer({
      subscriptionId: "00000000-0000-0000-0000-0000000000c1",
      resourceGroup: "rg-contents",
      name: uniqueName("pg").replaceAll("_", "-"),
      backup: { outcome: "Succeeded", cluster: { server: cluster(), databases: [database, second] } },
    });
    const instance = await protectFlexServer(uniqueName("flexcontents").replaceAll("_", "-"), resourceId);
    const run = await runFlexBackup(instance);
    expect(run.state.error).toBeUndefined();
    const rp = asLtrPoint((await listRecoveryPoints(instance.name))[0]);
    const { status, body } = await contentsOf(instance.name, rp.id);
    expect(status).toBe(200);
    expect(body.format).toBe("flexibleServer-ltr");
    expect(body.rows).toBe("notRecorded");
    expect(body.databases.map((d) => d.database).sort()).toEqual([database, second].sort());
    const small = body.databases.find((d) => d.database === second)!;
    expect(small.tables).toEqual([{ schema: "public", name: "t", dataBytes: "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n".length }]);
  });

  test("when the point is encrypted, then its archive and record are decrypted with its data key, as a restore does", async () => {
    process.env.PGVAULT_TEST_CONTENTS_KEK = randomBytes(32).toString("base64");
    const role = uniqueName("contents_enc");
    await createBackupRole(database, role, "contents-pw-2");
    const instance = await protect(uniqueName("contentsenc").replaceAll("_", "-"), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "contents-pw-2")), {
      encryption: { keyRef: "env:PGVAULT_TEST_CONTENTS_KEK" },
    });
    const run = await runBackup(instance);
    expect(run.state.error).toBeUndefined();
    const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
    expect(rp.encryption).toBeDefined();
    const { status, body } = await contentsOf(instance.name, rp.id);
    expect(status).toBe(200);
    expect(body.rows).toBe("contentsRecord");
    expect(body.databases[0]!.tables.find((t) => t.name === "orders")).toEqual({ schema: "sales", name: "orders", rows: 2000, dataBytes: await copySize("sales", "orders") });
  });

  test("when the point does not exist or is Deleted, then 404", async () => {
    const rp = asDumpPoint((await listRecoveryPoints(instanceName))[0]);
    const deletedId = "rp-20200101T000000Z-00000c03";
    await putRecoveryPoint({ ...rp, id: deletedId, status: "Deleted" });
    expect((await contentsOf(instanceName, deletedId)).status).toBe(404);
    expect((await contentsOf(instanceName, "rp-20200101T000000Z-00000c04")).status).toBe(404);
  });
});
