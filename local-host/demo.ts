/**
 * The `npm start` demo: a PostgreSQL cluster kept in `<data dir>/postgres` with a sample sales database, a
 * backup user whose credentials reach the app through an `env:` secret (a `PGVAULT_SECRET_` setting, the only kind
 * `env:` may name) that also names the server, and a policy and instance configured through the app's own API,
 * followed by a first on-demand backup.
 */
import path from "node:path";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import pg from "pg";
import { startPostgresCluster, systemPgBinDir, type PostgresCluster } from "./embedded/postgres";

export const demoInstance = "demo-sales";
const demoPolicy = "demo-daily";
const demoDatabase = "demo_sales";
const demoUser = "demo_backup";
export const demoSecretSetting = "PGVAULT_SECRET_DEMO_PG";

const seedSql = `
  CREATE SCHEMA sales;
  CREATE SCHEMA inventory;
  CREATE TABLE sales.customers (id serial PRIMARY KEY, name text NOT NULL, email text, city text, created_at timestamptz DEFAULT now());
  CREATE TABLE sales.orders (id bigserial PRIMARY KEY, customer_id int REFERENCES sales.customers, placed_at timestamptz,
                             total numeric(12,2), items jsonb);
  CREATE TABLE inventory.products (sku text PRIMARY KEY, title text, price numeric(10,2), stock int);
  INSERT INTO sales.customers (name, email, city)
    SELECT 'Customer ' || g, 'customer' || g || '@example.com', (ARRAY['Berlin','Lisbon','Oslo','Dublin','Madrid'])[1 + g % 5]
    FROM generate_series(1, 2000) g;
  INSERT INTO inventory.products SELECT 'SKU-' || g, 'Product ' || g, (g % 97) + 0.99, g % 500 FROM generate_series(1, 500) g;
  INSERT INTO sales.orders (customer_id, placed_at, total, items)
    SELECT 1 + g % 2000, now() - (g || ' minutes')::interval, (g % 400) + 9.5,
           jsonb_build_array(jsonb_build_object('sku', 'SKU-' || (1 + g % 500), 'qty', 1 + g % 4))
    FROM generate_series(1, 5000) g;
`;

async function ensureDatabase(cluster: PostgresCluster, password: string): Promise<void> {
  const admin = new pg.Client({ host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password, database: "postgres" });
  await admin.connect();
  try {
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [demoDatabase]);
    if (exists.rowCount) return;
    await admin.query(`CREATE DATABASE ${demoDatabase}`);
    // CREATEDB too, so the same credentials can try restores on the demo server.
    await admin.query(`CREATE ROLE ${demoUser} LOGIN CREATEDB PASSWORD ${pg.escapeLiteral(password)}`);
  } finally {
    await admin.end();
  }
  const db = new pg.Client({ host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password, database: demoDatabase });
  await db.connect();
  try {
    await db.query(seedSql);
    await db.query(`GRANT pg_read_all_data TO ${demoUser}`);
  } finally {
    await db.end();
  }
}

async function api(origin: string, method: string, route: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const key = process.env.PGVAULT_API_KEY?.trim();
  const response = await fetch(`${origin}/api/${route}`, {
    method,
    headers: { "content-type": "application/json", ...(key ? { "x-functions-key": key } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as unknown) : undefined };
}

/** Tells whether the catalog holds instances other than the demo's (then the demo stays off). */
export async function hasOwnInstances(origin: string): Promise<boolean> {
  const { json } = await api(origin, "GET", "backupInstances");
  return ((json as { value?: { name: string }[] }).value ?? []).some((instance) => instance.name !== demoInstance);
}

export async function startDemo(dataDir: string, origin: string): Promise<{ cluster: PostgresCluster; jobId?: string }> {
  const root = path.join(dataDir, "postgres");
  const cluster = await startPostgresCluster(process.env.PG_BIN_DIR || systemPgBinDir, {}, root);
  // Until this returns, the caller cannot stop the cluster: a failed demo stops it here.
  try {
    return await configureDemo(cluster, root, origin);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

async function configureDemo(cluster: PostgresCluster, root: string, origin: string): Promise<{ cluster: PostgresCluster; jobId?: string }> {
  const passwordFile = path.join(root, "demo-password");
  const password = existsSync(passwordFile) ? readFileSync(passwordFile, "utf8") : randomBytes(12).toString("hex");
  writeFileSync(passwordFile, password, { mode: 0o600 });
  await ensureDatabase(cluster, password);
  // No sslmode: libpq's `prefer`, which MIN_SSL_MODE (default `require`) raises; the cluster serves TLS.
  process.env[demoSecretSetting] = `postgres://${demoUser}:${password}@${cluster.host}:${cluster.port}/${demoDatabase}`;

  const existed = (await api(origin, "GET", `backupInstances/${demoInstance}`)).status === 200;
  await api(origin, "PUT", `backupPolicies/${demoPolicy}`, {
    datasourceType: "database",
    schedule: { repeatingIntervals: ["R/2026-01-01T02:30:00+00:00/P1D"], timeZone: "UTC" },
    retention: { default: { duration: "P7D" }, rules: [{ tag: "Weekly", criteria: "FirstOfWeek", duration: "P4W" }] },
  });
  // The cluster's port changes between runs, so the instance is configured again every time: without host and
  // port, which the secret names (the instance stores the ones its access check used).
  const configured = await api(origin, "PUT", `backupInstances/${demoInstance}`, {
    policyName: demoPolicy,
    datasource: { type: "database", database: demoDatabase, secretRef: `env:${demoSecretSetting}` },
  });
  if (configured.status >= 300) throw new Error(`configuring the demo instance failed: ${JSON.stringify(configured.json)}`);
  if (existed) return { cluster };
  const backup = await api(origin, "POST", `backupInstances/${demoInstance}/backup`);
  return { cluster, jobId: (backup.json as { jobId?: string }).jobId };
}
