/**
 * Access control (issue 8) on the compiled app, served by the local host with AUTH_MODE=appServiceRoles, as App
 * Service authentication would hand requests to it: the caller's roles arrive in `x-ms-client-principal`. Every
 * registered route is covered by the role table and answers 401 without a principal; each role gets what it
 * needs and nothing more; /api/health stays anonymous. A private Azurite keeps the catalog this file's own.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { routeRoles } from "../../shared/auth/roles";
import { startAzurite, type AzuriteInstance } from "../../local-host/embedded/azurite";
import type { RegisteredFunction } from "../../local-host/coreTypes";
import { repoRoot, startHostProcess, type HostProcess } from "../support/localHost";
import { principalHeader } from "../support/principal";
import { specExamplePolicy } from "../support/specExamples";
import { cluster } from "../support/testDatabase";

let vault: AzuriteInstance;
let host: HostProcess;

beforeAll(async () => {
  vault = await startAzurite();
  host = await startHostProcess(repoRoot, {
    AzureWebJobsStorage: vault.connectionString,
    VaultStorage: vault.connectionString,
    PG_BIN_DIR: cluster().binDir,
    AUTH_MODE: "appServiceRoles",
  });
});
afterAll(async () => {
  await host?.kill("SIGTERM");
  await vault?.stop();
});

interface Answer {
  status: number;
  json: unknown;
  text: string;
}

/** A request as App Service authentication forwards it: `roles` undefined means no principal at all. */
async function callAs(roles: readonly string[] | undefined, method: string, route: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (roles) headers["x-ms-client-principal"] = principalHeader(roles);
  const response = await fetch(`${host.origin}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const isJson = response.headers.get("content-type")?.startsWith("application/json") ?? false;
  return { status: response.status, json: isJson && text ? (JSON.parse(text) as unknown) : undefined, text };
}

/** The HTTP functions the compiled app registers, with their route, methods and auth level. */
function registeredRoutes(): { name: string; method: string; route: string; authLevel: string }[] {
  const { loadApp } = createRequire(__filename)(path.join(repoRoot, "dist", "local-host", "loadApp.js")) as {
    loadApp: (appRoot: string) => { functions: Map<string, RegisteredFunction> };
  };
  return [...loadApp(repoRoot).functions.values()].flatMap((fn) => {
    const trigger = Object.values(fn.metadata.bindings).find((binding) => binding.type === "httpTrigger");
    if (!trigger) return [];
    const methods = (trigger.methods as string[]).map((method) => method.toUpperCase());
    return methods.map((method) => ({ name: fn.metadata.name, method, route: String(trigger.route), authLevel: String(trigger.authLevel ?? "function") }));
  });
}

/** A concrete path for a route template. */
const pathOf = (route: string) =>
  `/api/${route.replace("{name}", "acl-missing").replace("{rpId}", "rp-20260104T023007Z-1a2b3c4d").replace("{id}", "acl-missing-job").replace(/\{[^}]+\}/g, "x")}`;

function expectRefusal(answer: Answer, status: 401 | 403, role: string): void {
  expect(answer.status).toBe(status);
  const error = (answer.json as { error: { code: string; message: string } }).error;
  expect(Object.keys(answer.json as object)).toEqual(["error"]);
  expect(error.code).toBe(status === 401 ? "Unauthorized" : "Forbidden");
  expect(error.message).toContain(`'${role}'`);
}

describe("every route is guarded", () => {
  const routes = registeredRoutes();

  test("when the app registers its HTTP routes, then each non-anonymous one has a role in the table, and only /health is anonymous", () => {
    expect(routes.length).toBeGreaterThanOrEqual(15);
    const anonymous = routes.filter((route) => route.authLevel === "anonymous").map((route) => `${route.method} ${route.route}`);
    expect(anonymous).toEqual(["GET health"]);
    const missing = routes.filter((route) => route.authLevel !== "anonymous" && !(`${route.method} ${route.route}` in routeRoles));
    expect(missing).toEqual([]);
  });

  test("when a route is called without a principal, then it answers 401 naming its role; with a principal without pgvault roles, 403", async () => {
    for (const route of routes.filter((r) => r.authLevel !== "anonymous")) {
      const role = routeRoles[`${route.method} ${route.route}` as keyof typeof routeRoles];
      const body = route.method === "GET" || route.method === "DELETE" ? undefined : {};
      expectRefusal(await callAs(undefined, route.method, pathOf(route.route), body), 401, role);
      expectRefusal(await callAs(["Contributor", "backup.admin"], route.method, pathOf(route.route), body), 403, role);
    }
  });

  test("when /api/health is called without a principal, then it answers as always", async () => {
    const answer = await callAs(undefined, "GET", "/api/health");
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ status: "ok" });
  });
});

describe("each role gets what it needs and nothing more", () => {
  const policyName = "acl-policy";
  /** Representative routes with the answer an allowed caller gets (the catalog has no instance or job by these names). */
  const cases = [
    { what: "GET list", method: "GET", route: "/api/backupInstances", needs: "Backup.Reader", allowed: 200 },
    { what: "POST backup", method: "POST", route: "/api/backupInstances/acl-missing/backup", needs: "Backup.Operator", allowed: 404 },
    { what: "POST cancel", method: "POST", route: "/api/jobs/acl-missing-job/cancel", needs: "Backup.Operator", allowed: 404 },
    { what: "PUT policy", method: "PUT", route: `/api/backupPolicies/${policyName}`, needs: "Backup.Admin", allowed: [200, 201], body: specExamplePolicy() },
    { what: "DELETE instance", method: "DELETE", route: "/api/backupInstances/acl-missing", needs: "Backup.Admin", allowed: 404 },
  ] as const;
  const callers = [
    { who: "no principal", roles: undefined, holds: 0 },
    { who: "a principal without pgvault roles", roles: [], holds: 0 },
    { who: "Backup.Reader", roles: ["Backup.Reader"], holds: 1 },
    { who: "Backup.Operator", roles: ["Backup.Operator"], holds: 2 },
    { who: "Backup.Admin", roles: ["Backup.Admin"], holds: 3 },
  ] as const;
  const rank = { "Backup.Reader": 1, "Backup.Operator": 2, "Backup.Admin": 3 } as const;

  test.each(callers.flatMap((caller) => cases.map((route) => [caller.who, route.what, caller, route] as const)))(
    "when %s calls %s, then it is allowed exactly when its role covers the route's",
    async (_who, _what, caller, route) => {
      const answer = await callAs(caller.roles, route.method, route.route, "body" in route ? route.body : undefined);
      if (caller.holds >= rank[route.needs]) {
        const allowed: readonly number[] = typeof route.allowed === "number" ? [route.allowed] : route.allowed;
        expect(allowed).toContain(answer.status);
      } else {
        expectRefusal(answer, caller.roles === undefined ? 401 : 403, route.needs);
      }
    },
  );

  test("when a Reader opens the Backup Center, then the page is served; without a principal it is not", async () => {
    const page = await callAs(["Backup.Reader"], "GET", "/api/backup-center");
    expect(page.status).toBe(200);
    expect(page.text).toContain("<main");
    expectRefusal(await callAs(undefined, "GET", "/api/backup-center"), 401, "Backup.Reader");
  });

  test("when a Reader asks for the compliance report, then it is served, as CSV too; without a principal or a pgvault role it is not", async () => {
    const route = "/api/reports/compliance?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z";
    const report = await callAs(["Backup.Reader"], "GET", route);
    expect(report.status).toBe(200);
    expect(report.json).toMatchObject({ period: { from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z" }, value: expect.any(Array) });
    const csv = await fetch(`${host.origin}${route}`, { headers: { accept: "text/csv", "x-ms-client-principal": principalHeader(["Backup.Reader"]) } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toBe("text/csv; charset=utf-8; header=present");
    expect((await csv.text()).startsWith("periodFrom,periodTo,instanceName,")).toBe(true);
    expectRefusal(await callAs(undefined, "GET", route), 401, "Backup.Reader");
    expectRefusal(await callAs(["Contributor"], "GET", route), 403, "Backup.Reader");
  });

  test("when a caller holds several roles, then the highest counts", async () => {
    expect((await callAs(["Backup.Reader", "Backup.Admin"], "DELETE", "/api/backupInstances/acl-missing")).status).toBe(404);
  });
});
