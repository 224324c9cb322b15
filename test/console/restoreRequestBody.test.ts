/**
 * The restore wizard offers nothing the API refuses: every body it can build (each kind of target, each combination
 * of the ownership, grant and role choices it shows, with and without a subset, dry run or not) passes the API's own
 * validation (shared/validation/restore.ts), and carries the choices made.
 */
import { describe, expect, test } from "vitest";
import { dumpTargetKinds, emptyChoice, restoreBody, serverPointTargetKinds, subsetProblem, type SubsetPick, type TargetChoice, type TargetKind } from "../../console/views/restore/requestBody";
import { parseRestoreRequest } from "../../shared/validation/restore";

const rpId = "rp-20260104T023007Z-1a2b3c4d";
const none: SubsetPick = { tables: [], schemas: [] };
const orders: SubsetPick = { tables: [{ database: "sales", schema: "Sales", name: 'Order "Lines"' }], schemas: [] };
const ordersAndSchema: SubsetPick = { tables: [{ database: "sales", schema: "sales", name: "orders" }], schemas: [{ database: "sales", schema: "archive" }] };

function filled(kind: TargetKind, changes: Partial<TargetChoice> = {}): TargetChoice {
  return {
    ...emptyChoice(kind), host: "pg2.example.com", port: "5433", database: "sales_restored", secretRef: "env:PGVAULT_SECRET_TARGET_PG",
    entraUser: "pgvault-id", intoSchema: "recovered", containerUrl: "https://acct.blob.core.windows.net/restores", prefix: "sales/",
    serverDatabases: [{ name: "sales", selected: true, restoreAs: "sales" }, { name: "crm", selected: true, restoreAs: "crm" }], ...changes,
  };
}

/**
 * Every state the form can leave behind: preserveOwnership hides privileges and roles but keeps what was picked in
 * them before, and a choice made for one kind stays when the kind changes (preserveOwnership, then "into a schema").
 */
function databaseChoices(): Partial<TargetChoice>[] {
  const out: Partial<TargetChoice>[] = [];
  for (const preserveOwnership of [false, true]) {
    for (const privileges of ["all", "none"] as const) for (const roles of ["skip", "createMissing"] as const) for (const signIn of ["secret", "entra"] as const) out.push({ preserveOwnership, privileges, roles, signIn });
  }
  return out;
}

describe("every body the wizard builds passes the API's validation", () => {
  for (const kind of dumpTargetKinds) {
    test(`a database point to ${kind}`, () => {
      const subsets = kind === "files" ? [none] : kind === "csv" ? [orders] : kind === "intoSchema" ? [orders, ordersAndSchema] : [none, orders, ordersAndSchema];
      const choices = kind === "files" || kind === "csv" ? [{}, { replaceFiles: true }] : databaseChoices();
      for (const subset of subsets) {
        expect(subsetProblem(kind, subset, false)).toBeUndefined();
        for (const changes of choices) {
          for (const dryRun of [false, true]) {
            const body = restoreBody(rpId, filled(kind, changes), subset, { serverPoint: false, dryRun });
            const parsed = parseRestoreRequest(JSON.parse(JSON.stringify(body)));
            expect(parsed.dryRun).toBe(dryRun && kind !== "files" && kind !== "csv");
          }
        }
      }
    });
  }

  for (const kind of serverPointTargetKinds) {
    test(`a Flexible Server point to ${kind}`, () => {
      for (const changes of [{}, { roles: "createMissing" as const, replaceDatabases: true, replaceConfirmed: true }, { serverDatabases: [{ name: "sales", selected: true, restoreAs: "sales_2026" }, { name: "crm", selected: false, restoreAs: "crm" }] }]) {
        for (const subset of kind === "files" ? [none] : kind === "csv" ? [orders] : [none, ordersAndSchema]) {
          const body = restoreBody(rpId, filled(kind, changes), subset, { serverPoint: true, dryRun: true });
          expect(() => parseRestoreRequest(JSON.parse(JSON.stringify(body)))).not.toThrow();
        }
      }
    });
  }
});

test("the choices arrive as the API reads them: quoted names kept exactly, a subset per database, the defaults left out", () => {
  expect(restoreBody(rpId, filled("intoSchema", { host: "", port: "" }), orders, { serverPoint: false, dryRun: true })).toEqual({
    recoveryPointId: rpId, dryRun: true,
    target: { type: "database", database: "sales_restored", secretRef: "env:PGVAULT_SECRET_TARGET_PG", overwrite: false, preserveOwnership: false, privileges: "all", roles: "skip", include: { tables: ['"Sales"."Order ""Lines"""'] }, intoSchema: "recovered" },
  });
  expect(parseRestoreRequest(restoreBody(rpId, filled("intoSchema"), orders, { serverPoint: false, dryRun: false })).target).toMatchObject({ include: { tables: ['"Sales"."Order ""Lines"""'] } });
  expect(restoreBody(rpId, filled("overwrite", { signIn: "entra", preserveOwnership: true }), none, { serverPoint: false, dryRun: false }).target).toEqual({
    type: "database", host: "pg2.example.com", port: 5433, auth: { type: "entra", user: "pgvault-id" }, database: "sales_restored", overwrite: true, preserveOwnership: true,
  });
  // Every database under its own name, whole: the API's default, so no list.
  expect(restoreBody(rpId, filled("server"), none, { serverPoint: true, dryRun: false }).target).toEqual({
    type: "server", host: "pg2.example.com", port: 5433, secretRef: "env:PGVAULT_SECRET_TARGET_PG", overwrite: false, roles: "skip",
  });
  expect(restoreBody(rpId, filled("server"), ordersAndSchema, { serverPoint: true, dryRun: false }).target).toMatchObject({
    databases: [{ name: "sales", restoreAs: "sales", include: { schemas: ['"archive"'], tables: ['"sales"."orders"'] } }, { name: "crm", restoreAs: "crm" }],
  });
  expect(restoreBody(rpId, filled("csv"), orders, { serverPoint: true, dryRun: true })).toEqual({
    recoveryPointId: rpId,
    target: { type: "blob", containerUrl: "https://acct.blob.core.windows.net/restores", prefix: "sales/", overwrite: false, format: "csv", include: { tables: ['"Sales"."Order ""Lines"""'] }, database: "sales" },
  });
});

test("a subset the target cannot take is named before the pre-flight", () => {
  expect(subsetProblem("csv", none, false)).toBe("Pick at least one table to export as CSV.");
  expect(subsetProblem("csv", { tables: [...orders.tables, { database: "crm", schema: "public", name: "leads" }], schemas: [] }, true)).toMatch(/^A CSV export reads one database's archive/);
  expect(subsetProblem("intoSchema", none, false)).toBe("Pick the tables (or schemas) to restore beside the live ones.");
  expect(subsetProblem("newDatabase", none, false)).toBeUndefined();
});
