/**
 * The restore wizard with a Flexible Server point (real pg_dump archives written by the ARM stand-in's long-term
 * retention backup of two databases of the test cluster): the wizard offers the targets such a point takes (a
 * server, files, CSV; no single database), lists the point's databases, restores one of them under a new name with
 * one of its tables, after a pre-flight that passes, and follows the job; PostgreSQL then has that database with
 * that table's rows and not the other table, and the point's other database was not restored.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import type { LtrRecoveryPoint } from "../../shared/domain";
import { useArmStandIn, type ArmTestServer } from "../support/armServer";
import { envSecret } from "../support/backupFixture";
import { openConsole, seriousAccessibilityViolations, useChromium } from "../support/consoleBrowser";
import { asLtrPoint, protectFlexServer, runFlexBackup } from "../support/flexFixture";
import { startAppHost, type HostProcess } from "../support/localHost";
import { cluster, createDatabase, databasesUnder, dropDatabasesAndRoles, uniqueName, withAdmin } from "../support/testDatabase";

const browser = useChromium();
const subscriptionId = "6e2f3a4b-5c6d-4e7f-8091-a2b3c4d5e6f7";
const databases = { sales: uniqueName("ui_flex_sales"), crm: uniqueName("ui_flex_crm") };
const restoredAs = uniqueName("ui_flex_sales_copy");
let arm: ArmTestServer;
let host: HostProcess;
let rp: LtrRecoveryPoint;
let instanceName: string;
let restorerRef: string;

beforeAll(async () => {
  ({ arm } = await useArmStandIn(inject("tls")));
  await createDatabase(databases.sales);
  await withAdmin(databases.sales, (c) => c.query(`
    CREATE TABLE public.orders (id int PRIMARY KEY, total numeric);
    INSERT INTO public.orders SELECT g, g FROM generate_series(1, 42) g;
    CREATE TABLE public.notes (id int PRIMARY KEY, body text);
    INSERT INTO public.notes VALUES (1, 'left out');`));
  await createDatabase(databases.crm);
  await withAdmin(databases.crm, (c) => c.query(`CREATE TABLE public.leads (id int PRIMARY KEY)`));
  const resourceId = arm.addServer({
    subscriptionId,
    resourceGroup: "rg-ui",
    name: uniqueName("pg-ui").replaceAll("_", "-"),
    backup: { outcome: "Succeeded", cluster: { server: cluster(), databases: Object.values(databases) } },
  });
  const instance = await protectFlexServer(uniqueName("ui-flex").replaceAll("_", "-"), resourceId);
  instanceName = instance.name;
  const backup = await runFlexBackup(instance);
  expect(backup.state.error).toBeUndefined();
  rp = asLtrPoint((await listRecoveryPoints(instance.name))[0]);
  restorerRef = envSecret(`PGVAULT_SECRET_UI_FLEX_${uniqueName("r").toUpperCase()}`, cluster().user, cluster().password);
  host = await startAppHost({});
}, 180_000);
afterAll(async () => {
  await host?.kill("SIGTERM");
  await arm?.close();
  await dropDatabasesAndRoles([...Object.values(databases), restoredAs], []);
});

test("when one database of a Flexible Server point is restored under a new name with one table, then the wizard offers a server target, the pre-flight passes, and PostgreSQL has that table only", async () => {
  const { page, problems } = await openConsole(browser(), host.origin, `#/instances/${instanceName}/restore?point=${rp.id}`);
  await page.getByText(`(${rp.id})`).waitFor();
  await page.getByRole("button", { name: "Next: target" }).click();

  const server = page.getByLabel("A PostgreSQL server (the point's databases)");
  await server.waitFor();
  expect(await server.isChecked()).toBe(true);
  expect(await page.getByRole("radio", { name: /^A new database|^Overwrite|^A new schema/ }).count()).toBe(0);
  await page.getByRole("textbox", { name: "Secret reference" }).fill(restorerRef);
  await page.getByRole("checkbox", { name: `Restore ${databases.crm}` }).uncheck();
  await page.getByRole("textbox", { name: `as (the name of ${databases.sales} on the target)` }).fill(restoredAs);
  expect(await seriousAccessibilityViolations(page)).toEqual([]);
  await page.getByRole("button", { name: "Next: tables" }).click();

  await page.getByRole("heading", { level: 2, name: "Step 3 of 4: Tables" }).waitFor();
  await page.getByRole("checkbox", { name: /^orders \(/ }).check();
  // Only the databases chosen are offered.
  expect(await page.getByRole("checkbox", { name: /^leads/ }).count()).toBe(0);
  await page.getByRole("button", { name: "Next: pre-flight" }).click();

  await page.getByRole("heading", { level: 3, name: /^Pre-flight passed/ }).waitFor({ timeout: 60_000 });
  const request = JSON.parse(await page.locator("details pre").textContent() ?? "{}") as { target: Record<string, unknown> };
  expect(request.target).toEqual({
    type: "server", secretRef: restorerRef, overwrite: false, roles: "skip",
    databases: [{ name: databases.sales, restoreAs: restoredAs, include: { tables: ['"public"."orders"'] } }],
  });
  expect(await seriousAccessibilityViolations(page)).toEqual([]);
  await page.getByRole("button", { name: "Start the restore" }).click();
  await page.getByText("The restore succeeded.").waitFor({ timeout: 120_000 });

  const tables = await withAdmin(restoredAs, async (c) => (await c.query<{ name: string; n: number }>(`SELECT 'orders' AS name, count(*)::int AS n FROM public.orders`)).rows);
  expect(tables).toEqual([{ name: "orders", n: 42 }]);
  const [notes] = await withAdmin(restoredAs, async (c) => (await c.query<{ found: string | null }>(`SELECT to_regclass('public.notes')::text AS found`)).rows);
  expect(notes).toEqual({ found: null });
  // The point's other database stays where it was, and nothing else was created under its name.
  expect(await databasesUnder(databases.crm)).toEqual([databases.crm]);
  expect(problems).toEqual([]);
}, 240_000);
