/**
 * Restoring part of a recovery point (`include`) and restoring it into a live database beside what is there
 * (`intoSchema`), through the restore orchestration with the real activities, a non-superuser restoring user, real
 * pg_dump, pg_restore, PostgreSQL and Azurite.
 */
import pg from "pg";
import { afterAll, describe, expect, test } from "vitest";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import type { DatabaseRestoreTarget, RecoveryPoint } from "../../shared/domain";
import { namesMissingFromPoint, temporaryDatabaseName } from "../../shared/restore/databaseRestore";
import { asDumpPoint } from "../support/backupFixture";
import { databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { backedUpRichDatabase, restoringRole, runRestore } from "../support/restoreFixture";
import { cluster, contentFingerprint, createBackupRole, createDatabase, databasesUnder, dropDatabasesAndRoles, schemaDump, uniqueName, withAdmin } from "../support/testDatabase";

const databases: string[] = [];
const roles: string[] = [];

afterAll(() => dropDatabasesAndRoles(databases, roles));

/**
 * Customers, and orders referencing them with an identity key, an index, a trigger (its function in `public`), two
 * row-security policies, a comment and a grant; order lines reference orders. The reader role is granted SELECT.
 */
async function seedShop(database: string, reader: string): Promise<void> {
  await withAdmin(database, (c) =>
    c.query(`
      CREATE SCHEMA sales;
      CREATE TABLE public.customers (id int PRIMARY KEY, name text NOT NULL);
      CREATE TABLE sales.orders (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer_id int NOT NULL REFERENCES public.customers (id),
                                 total numeric(12,2), region text NOT NULL, touched boolean NOT NULL DEFAULT false);
      CREATE INDEX orders_total ON sales.orders (total);
      CREATE FUNCTION public.mark_touched() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.touched := true; RETURN NEW; END$$;
      CREATE TRIGGER orders_touch BEFORE INSERT ON sales.orders FOR EACH ROW EXECUTE FUNCTION public.mark_touched();
      ALTER TABLE sales.orders ENABLE ROW LEVEL SECURITY;
      CREATE POLICY orders_north ON sales.orders FOR SELECT USING (region = 'north');
      CREATE POLICY orders_insert ON sales.orders FOR INSERT WITH CHECK (total >= 0);
      COMMENT ON TABLE sales.orders IS 'every order';
      GRANT USAGE ON SCHEMA sales TO ${reader};
      GRANT SELECT ON sales.orders TO ${reader};
      CREATE TABLE sales.lines (order_id int REFERENCES sales.orders (id), qty int);
      INSERT INTO public.customers SELECT g, 'customer ' || g FROM generate_series(1, 50) g;
      INSERT INTO sales.orders (customer_id, total, region) SELECT 1 + g % 50, g * 1.5, CASE WHEN g % 2 = 0 THEN 'north' ELSE 'south' END FROM generate_series(1, 300) g;
      INSERT INTO sales.lines SELECT 1 + g % 300, g FROM generate_series(1, 600) g;
    `),
  );
}

/** The shop in a new database, backed up once. */
async function backedUpShop(prefix: string): Promise<{ database: string; reader: string; rp: RecoveryPoint }> {
  const database = uniqueName(prefix);
  const reader = uniqueName(`${prefix}_reader`);
  const backupUser = uniqueName(`${prefix}_backup`);
  databases.push(database);
  roles.push(reader, backupUser);
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${reader}`));
  await createDatabase(database);
  await seedShop(database, reader);
  await createBackupRole(database, backupUser, "pw-backup");
  // pg_dump reads tables with row security only as a role that bypasses it (it runs with row_security = off).
  await withAdmin("postgres", (c) => c.query(`ALTER ROLE ${backupUser} BYPASSRLS`));
  const instance = await protect(uniqueName(prefix).replaceAll("_", "-"), databaseSource(database, envSecret(`PGVAULT_SECRET_${backupUser}`, backupUser, "pw-backup")));
  await runBackup(instance);
  return { database, reader, rp: (await listRecoveryPoints(instance.name))[0]! };
}

async function restorer(prefix: string): Promise<{ role: string; secretRef: string }> {
  const made = await restoringRole(prefix);
  roles.push(made.role);
  return made;
}

/** A new database name (dropped after the file) on the test cluster as a subset restore's target, with a restoring role of its own. */
async function subsetTarget(prefix: string, include: DatabaseRestoreTarget["include"]): Promise<{ database: string; target: DatabaseRestoreTarget }> {
  const { secretRef } = await restorer(`${prefix}_restorer`);
  const database = uniqueName(`${prefix}_restored`);
  databases.push(database);
  return { database, target: { type: "database", host: cluster().host, port: cluster().port, database, secretRef, overwrite: false, preserveOwnership: false, include } };
}

const tableNames = (database: string) =>
  withAdmin(database, async (c) =>
    (await c.query<{ name: string }>(`SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`)).rows.map((r) => r.name),
  );

/** What belongs to `table` in `database`: indexes, triggers, policies, row security, identity, comment, a role's grants. */
async function whatBelongs(database: string, table: string, reader: string) {
  return withAdmin(database, async (c) => {
    const one = async (sql: string, params: unknown[] = []) => (await c.query(sql, params)).rows.map((row) => Object.values(row as Record<string, unknown>)[0]);
    return {
      indexes: await one(`SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = $1::regclass ORDER BY 1`, [table]),
      triggers: await one(`SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY 1`, [table]),
      policies: await one(`SELECT polname FROM pg_policy WHERE polrelid = $1::regclass ORDER BY 1`, [table]),
      rowSecurity: (await one(`SELECT relrowsecurity FROM pg_class WHERE oid = $1::regclass`, [table]))[0],
      identity: await one(`SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attidentity = 'a'`, [table]),
      foreignKeys: await one(`SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f' ORDER BY 1`, [table]),
      comment: (await one(`SELECT obj_description($1::regclass, 'pg_class')`, [table]))[0],
      readerSelects: (await one(`SELECT has_table_privilege($2, $1::regclass, 'SELECT')`, [table, reader]))[0],
      // The schema's own grant comes with the table: its users need USAGE on it.
      readerUsesSchema: (await one(`SELECT has_schema_privilege($2, (SELECT relnamespace FROM pg_class WHERE oid = $1::regclass), 'USAGE')`, [table, reader]))[0],
    };
  });
}

describe("a subset restore (include)", () => {
  test("when one table is restored whose foreign key references a table left out, then it comes with its data, index, trigger, identity, policies, comment and grant, the foreign key is left out and listed on the job, and nothing else is restored", async () => {
    const { reader, rp } = await backedUpShop("subset_src");
    const { database, target } = await subsetTarget("subset", { tables: ["sales.orders"] });

    const run = await runRestore(rp, target);

    expect(run.state.error).toBeUndefined();
    expect(await tableNames(database)).toEqual(["sales.orders"]);
    expect(await whatBelongs(database, "sales.orders", reader)).toEqual({
      indexes: ["sales.orders_pkey", "sales.orders_total"],
      triggers: ["orders_touch"],
      policies: ["orders_insert", "orders_north"],
      rowSecurity: true,
      identity: ["id"],
      foreignKeys: [],
      comment: "every order",
      readerSelects: true,
      readerUsesSchema: true,
    });
    const [counted] = await withAdmin(database, async (c) => (await c.query(`SELECT count(*)::int AS n, max(id) AS top FROM sales.orders`)).rows);
    expect(counted).toEqual({ n: 300, top: 300 });
    // The identity's sequence came with its value, and the trigger with its function.
    const [next] = await withAdmin(database, async (c) => (await c.query(`INSERT INTO sales.orders (customer_id, total, region) VALUES (1, 1, 'north') RETURNING id, touched`)).rows);
    expect(next).toEqual({ id: 301, touched: true });
    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Succeeded");
    expect(job?.restoreReport?.objectsLeftOut).toEqual([
      { database, object: expect.stringMatching(/^FK CONSTRAINT sales\.orders orders_customer_id_fkey$/), needs: expect.arrayContaining(["TABLE public.customers"]) },
    ]);
  });

  test("when a schema is restored, then its tables come with the foreign key between them, and only the one to a table outside it is left out", async () => {
    const { rp } = await backedUpShop("subset_schema");
    const { database, target } = await subsetTarget("subset_schema", { schemas: ["sales"] });

    const run = await runRestore(rp, target);

    expect(run.state.error).toBeUndefined();
    expect(await tableNames(database)).toEqual(["sales.lines", "sales.orders"]);
    const foreignKeys = await withAdmin(database, async (c) => (await c.query(`SELECT conname FROM pg_constraint WHERE contype = 'f' ORDER BY 1`)).rows.map((r) => r.conname));
    expect(foreignKeys).toEqual(["lines_order_id_fkey"]);
    const [counted] = await withAdmin(database, async (c) => (await c.query(`SELECT count(*)::int AS n FROM sales.lines`)).rows);
    expect(counted).toEqual({ n: 600 });
    const job = await getJob(run.jobId);
    expect(job?.restoreReport?.objectsLeftOut?.map((left) => left.object)).toEqual(["FK CONSTRAINT sales.orders orders_customer_id_fkey"]);
  });

  test("when include names a table the point does not hold, then the job fails naming it (UserErrorDBNotFound) and creates no database", async () => {
    const { rp } = await backedUpShop("subset_missing");
    const { database, target } = await subsetTarget("subset_missing", { tables: ["sales.orders", "sales.refunds"], schemas: ["Archive"] });

    const run = await runRestore(rp, target);

    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Failed");
    expect(job?.error?.code).toBe("UserErrorDBNotFound");
    expect(job?.error?.message).toContain("holds no 'Archive', 'sales.refunds'");
    expect(job?.error?.message).not.toContain("'sales.orders'");
    expect(await databasesUnder(database)).toEqual([]);
    expect(await databasesUnder(temporaryDatabaseName(run.jobId))).toEqual([]);
  });
});

describe("a subset of a point dumped from a LATIN1 database", () => {
  test("when include names a table whose name is not ASCII, then the point is found to hold it and only it is restored", async () => {
    const database = uniqueName("subset_latin1");
    const backupUser = uniqueName("subset_latin1_backup");
    databases.push(database);
    roles.push(backupUser);
    await withAdmin("postgres", (c) => c.query(`CREATE DATABASE ${database} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`));
    await withAdmin(database, (c) =>
      c.query(`
        CREATE SCHEMA "Übersicht";
        CREATE TABLE "Übersicht"."Größe" (id int, note text);
        CREATE TABLE "Übersicht".other (id int);
        INSERT INTO "Übersicht"."Größe" VALUES (1, 'Zoë'), (2, 'façade');
      `),
    );
    await createBackupRole(database, backupUser, "pw-backup");
    const instance = await protect(uniqueName("subset-latin1").replaceAll("_", "-"), databaseSource(database, envSecret(`PGVAULT_SECRET_${backupUser}`, backupUser, "pw-backup")));
    await runBackup(instance);
    const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);

    // The API's check before any job (pg_restore's listing prints names in the database's encoding, unannounced).
    expect(await namesMissingFromPoint(rp, { tables: ['"Übersicht"."Größe"', '"Übersicht".missing'] })).toEqual(['"Übersicht".missing']);

    const { database: restored, target } = await subsetTarget("subset_latin1", { tables: ['"Übersicht"."Größe"'] });
    const run = await runRestore(rp, target);
    expect(run.state.error).toBeUndefined();
    expect(await tableNames(restored)).toEqual(["Übersicht.Größe"]);
    const rows = await withAdmin(restored, async (c) => (await c.query(`SELECT note FROM "Übersicht"."Größe" ORDER BY id`)).rows.map((r) => r.note));
    expect(rows).toEqual(["Zoë", "façade"]);
  });
});

describe("a restore into a live database (intoSchema)", () => {
  /** Every relation's data file and every table's rows outside `schema`: what "untouched" is checked against. */
  async function outside(database: string, schema: string) {
    const files = await withAdmin(database, async (c) =>
      (await c.query<{ name: string; file: string }>(
        `SELECT c.oid::regclass::text AS name, c.relfilenode::text AS file FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', $1) ORDER BY 1`,
        [schema],
      )).rows,
    );
    const rows = Object.fromEntries(Object.entries(await contentFingerprint(database)).filter(([table]) => !table.startsWith(`${pg.escapeIdentifier(schema)}.`)));
    // In a pattern, a double-quoted name is taken literally.
    return { files, rows, schema: await schemaDump(database, cluster(), [`--exclude-schema=${pg.escapeIdentifier(schema)}`]) };
  }

  test("when a table with an index, a trigger, an identity column and row-security policies is restored into a new schema of the live database, then it is there with all of them and every other table is byte-for-byte as before", async () => {
    const { database: live, reader, rp } = await backedUpShop("into_live");
    const { role, secretRef } = await restorer("into_restorer");
    await withAdmin("postgres", (c) => c.query(`GRANT CREATE ON DATABASE ${live} TO ${role}`));
    // The accident: orders emptied after the backup, and work went on elsewhere.
    await withAdmin(live, (c) => c.query(`TRUNCATE sales.orders CASCADE; INSERT INTO public.customers VALUES (51, 'new since the backup')`));
    const before = await outside(live, "recovered");
    const target: DatabaseRestoreTarget = {
      type: "database", host: cluster().host, port: cluster().port, database: live, secretRef, overwrite: false, preserveOwnership: false,
      include: { tables: ["sales.orders"] }, intoSchema: "recovered",
    };

    const run = await runRestore(rp, target);

    expect(run.state.error).toBeUndefined();
    expect(await outside(live, "recovered")).toEqual(before);
    expect(await whatBelongs(live, "recovered.orders", reader)).toEqual({
      indexes: ["recovered.orders_pkey", "recovered.orders_total"],
      triggers: ["orders_touch"],
      policies: ["orders_insert", "orders_north"],
      rowSecurity: true,
      identity: ["id"],
      foreignKeys: [],
      comment: "every order",
      readerSelects: true,
      readerUsesSchema: true,
    });
    // The trigger's function came along into the new schema, not bound to the live database's own.
    const [trigger] = await withAdmin(live, async (c) => (await c.query(`SELECT tgfoid::regprocedure::text AS fn FROM pg_trigger WHERE tgrelid = 'recovered.orders'::regclass AND NOT tgisinternal`)).rows);
    expect(trigger).toEqual({ fn: "recovered.mark_touched()" });
    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Succeeded");
    const report = job?.restoreReport?.intoSchema;
    expect(report?.tables).toEqual([{ source: "sales.orders", restoredAs: "recovered.orders" }]);
    // The SQL on the job does what it says: the rows the live table lacks, then copied back.
    const [missing] = await withAdmin(live, async (c) => (await c.query(`SELECT count(*)::int AS n FROM (${report!.compareSql.replace(/;$/, "")}) AS lacking`)).rows);
    expect(missing).toEqual({ n: 300 });
    await withAdmin(live, (c) => c.query(report!.copyBackSql));
    const [copied] = await withAdmin(live, async (c) => (await c.query(`SELECT count(*)::int AS n, max(id) AS top FROM sales.orders`)).rows);
    expect(copied).toEqual({ n: 300, top: 300 });
    expect(await databasesUnder(temporaryDatabaseName(run.jobId))).toEqual([]);
  });

  test("when the table's schema is renamed into one whose name needs quoting, and its column type comes from an extension in public, then it arrives under that name using the live database's extension", async () => {
    const { database: live, rp } = await backedUpRichDatabase("into_rich");
    databases.push(live);
    const { role, secretRef } = await restorer("into_rich_restorer");
    await withAdmin("postgres", (c) => c.query(`GRANT CREATE ON DATABASE ${live} TO ${role}`));
    const schema = 'Recovered "Ü" 1';
    const before = await outside(live, schema);
    const target: DatabaseRestoreTarget = {
      type: "database", host: cluster().host, port: cluster().port, database: live, secretRef, overwrite: false, preserveOwnership: false,
      include: { tables: ["sales.orders"] }, intoSchema: schema,
    };

    const run = await runRestore(rp, target);

    expect(run.state.error).toBeUndefined();
    expect(await outside(live, schema)).toEqual(before);
    const fingerprint = await contentFingerprint(live);
    expect(fingerprint['"Recovered ""Ü"" 1"."orders"']).toEqual(fingerprint['"sales"."orders"']);
    const [column] = await withAdmin(live, async (c) => (await c.query(`SELECT atttypid::regtype::text AS type FROM pg_attribute WHERE attrelid = '"Recovered ""Ü"" 1".orders'::regclass AND attname = 'attrs'`)).rows);
    expect(column).toEqual({ type: "hstore" });
    const job = await getJob(run.jobId);
    expect(job?.restoreReport?.intoSchema?.tables).toEqual([{ source: "sales.orders", restoredAs: '"Recovered ""Ü"" 1".orders' }]);
  });

  test("when the move into the live database fails part way (a column type from an extension the live database lacks), then the job fails and the live database has no trace of the schema", async () => {
    const { rp } = await backedUpRichDatabase("into_half");
    const live = uniqueName("into_half_live");
    databases.push(live);
    await createDatabase(live);
    await withAdmin(live, (c) => c.query(`CREATE TABLE public.kept (v int); INSERT INTO public.kept VALUES (1), (2)`));
    const { role, secretRef } = await restorer("into_half_restorer");
    await withAdmin("postgres", (c) => c.query(`GRANT CREATE ON DATABASE ${live} TO ${role}`));
    const before = await outside(live, "recovered");
    const target: DatabaseRestoreTarget = {
      type: "database", host: cluster().host, port: cluster().port, database: live, secretRef, overwrite: false, preserveOwnership: false,
      include: { tables: ["sales.orders"] }, intoSchema: "recovered",
    };

    const run = await runRestore(rp, target);

    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Failed");
    expect(job?.error?.message).toContain(`Database '${live}' was not changed`);
    expect(await outside(live, "recovered")).toEqual(before);
    const schemas = await withAdmin(live, async (c) => (await c.query(`SELECT nspname FROM pg_namespace WHERE nspname = 'recovered'`)).rows);
    expect(schemas).toEqual([]);
    expect(await databasesUnder(temporaryDatabaseName(run.jobId))).toEqual([]);
  });

  test("when two restored tables of different schemas share a name, then the restore fails (UserErrorDatabaseNameAlreadyInUse) naming both, and the live database is as before", async () => {
    const live = uniqueName("into_clash");
    const backupUser = uniqueName("into_clash_backup");
    databases.push(live);
    roles.push(backupUser);
    await createDatabase(live);
    await withAdmin(live, (c) => c.query(`CREATE SCHEMA a; CREATE SCHEMA b; CREATE TABLE a.t (v int); CREATE TABLE b.t (w text); INSERT INTO a.t VALUES (1); INSERT INTO b.t VALUES ('x')`));
    await createBackupRole(live, backupUser, "pw-backup");
    const instance = await protect(uniqueName("into-clash").replaceAll("_", "-"), databaseSource(live, envSecret(`PGVAULT_SECRET_${backupUser}`, backupUser, "pw-backup")));
    await runBackup(instance);
    const rp = (await listRecoveryPoints(instance.name))[0]!;
    const { role, secretRef } = await restorer("into_clash_restorer");
    await withAdmin("postgres", (c) => c.query(`GRANT CREATE ON DATABASE ${live} TO ${role}`));
    const before = await outside(live, "recovered");
    const target: DatabaseRestoreTarget = {
      type: "database", host: cluster().host, port: cluster().port, database: live, secretRef, overwrite: false, preserveOwnership: false,
      include: { tables: ["a.t", "b.t"] }, intoSchema: "recovered",
    };

    const run = await runRestore(rp, target);

    const job = await getJob(run.jobId);
    expect(job?.error?.code).toBe("UserErrorDatabaseNameAlreadyInUse");
    expect(job?.error?.message).toContain("a.t and b.t");
    expect(await outside(live, "recovered")).toEqual(before);
    const schemas = await withAdmin(live, async (c) => (await c.query(`SELECT nspname FROM pg_namespace WHERE nspname = 'recovered'`)).rows);
    expect(schemas).toEqual([]);
    expect(await databasesUnder(temporaryDatabaseName(run.jobId))).toEqual([]);
  });

  test("when the schema already exists in the live database, then the restore fails (UserErrorDatabaseNameAlreadyInUse) before creating anything", async () => {
    const { database: live, rp } = await backedUpShop("into_taken");
    const { role, secretRef } = await restorer("into_taken_restorer");
    await withAdmin("postgres", (c) => c.query(`GRANT CREATE ON DATABASE ${live} TO ${role}`));
    await withAdmin(live, (c) => c.query(`CREATE SCHEMA recovered; CREATE TABLE recovered.keep (v int); INSERT INTO recovered.keep VALUES (7)`));
    const before = await contentFingerprint(live);
    const target: DatabaseRestoreTarget = {
      type: "database", host: cluster().host, port: cluster().port, database: live, secretRef, overwrite: false, preserveOwnership: false,
      include: { tables: ["sales.orders"] }, intoSchema: "recovered",
    };

    const run = await runRestore(rp, target);

    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Failed");
    expect(job?.error?.code).toBe("UserErrorDatabaseNameAlreadyInUse");
    expect(job?.error?.message).toContain("Schema 'recovered' already exists");
    expect(await contentFingerprint(live)).toEqual(before);
    expect(await databasesUnder(temporaryDatabaseName(run.jobId))).toEqual([]);
  });
});
