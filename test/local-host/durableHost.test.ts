/**
 * The local host's Durable Functions support, through the HTTP management API the durable-functions client calls,
 * with a fixture app (test/local-host/fixture-app) that uses timers, external events, retries, sub-orchestrations,
 * continue-as-new and a timer trigger. The host runs in this process, compiled, on Azurite.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import type { RunningHost } from "../../local-host/host";
import { compiledHost, waitUntil } from "../support/localHost";

const fixtureApp = path.join(__dirname, "fixture-app");
const webhooks = "/runtime/webhooks/durabletask";
let host: RunningHost;

beforeAll(async () => {
  const storage = inject("vaultConnectionString");
  host = await compiledHost().startHost({
    appRoot: fixtureApp,
    port: 0,
    settings: { AzureWebJobsStorage: storage, FIXTURE_SCHEDULE: "*/2 * * * * *", FIXTURE_HUB: "fixtureApi" },
    log: () => undefined,
  });
});
afterAll(() => host.stop());

async function call(method: string, route: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${host.origin}${route}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

const status = (id: string, query = "") => call("GET", `${webhooks}/instances/${id}${query}`);
const until = (id: string, runtimeStatus: string) =>
  waitUntil(async () => {
    const answer = await status(id, "?showHistory=true&showHistoryOutput=true");
    return answer.json?.runtimeStatus === runtimeStatus ? answer : undefined;
  }, 30_000, `${id} ${runtimeStatus}`);

describe("orchestrations through the management API", () => {
  test("when an orchestration uses an activity, a retried activity, a timer, an external event and a sub-orchestration, then it completes with each result", async () => {
    const id = `seq-${Date.now()}`;
    const started = await call("POST", `${webhooks}/orchestrators/sequence/${id}`, { hello: "world" });
    expect(started.status).toBe(202);
    expect(started.json).toMatchObject({ id, statusQueryGetUri: `${host.origin}${webhooks}/instances/${id}` });
    expect(started.headers.get("location")).toBe(`${host.origin}${webhooks}/instances/${id}`);

    const waiting = await waitUntil(async () => {
      const answer = await status(id);
      return (answer.json?.customStatus as { phase?: string } | null)?.phase === "waiting for approval" ? answer : undefined;
    }, 30_000, "waiting for approval");
    expect(waiting.status).toBe(202);
    expect(waiting.json).toMatchObject({ runtimeStatus: "Running", input: { hello: "world" } });

    const again = await call("POST", `${webhooks}/orchestrators/sequence/${id}`, {});
    expect(again.status).toBe(409); // a running instance id is refused

    expect((await call("POST", `${webhooks}/instances/${id}/raiseEvent/approval`, { by: "ops" })).status).toBe(202);
    const done = await until(id, "Completed");
    expect(done.status).toBe(200);
    expect(done.json?.output).toEqual({
      first: { echoed: { hello: "world" } },
      flaky: { attempts: 3 },
      approval: { by: "ops" },
      child: { child: { echoed: { from: id } } },
    });
    const history = done.json?.historyEvents as { EventType: number }[];
    expect(history.filter((e) => e.EventType === 6)).toHaveLength(2); // two failed attempts before the retry succeeded
    expect(history.filter((e) => e.EventType === 11).length).toBeGreaterThanOrEqual(3); // retry timers and the durable timer
  });

  test("when every retry fails, then the orchestration fails with the activity's error", async () => {
    const id = `fails-${Date.now()}`;
    await call("POST", `${webhooks}/orchestrators/alwaysFails/${id}`);
    const failed = await until(id, "Failed");
    expect(String(failed.json?.output)).toContain("flaky failure 2");
  });

  test("when an orchestration continues as new, then it restarts with the new input until it returns", async () => {
    const id = `counter-${Date.now()}`;
    await call("POST", `${webhooks}/orchestrators/counter/${id}`, 0);
    const done = await until(id, "Completed");
    expect(done.json).toMatchObject({ output: 3, input: 3 });
  });

  test("when an instance is terminated, then it stays Terminated, events are refused with 410, and purge removes it", async () => {
    const id = `forever-${Date.now()}`;
    await call("POST", `${webhooks}/orchestrators/waitsForever/${id}`);
    await until(id, "Running");
    expect((await call("POST", `${webhooks}/instances/${id}/terminate?reason=enough`)).status).toBe(202);
    const terminated = await until(id, "Terminated");
    expect(terminated.json?.output).toBe("enough");
    expect((await call("POST", `${webhooks}/instances/${id}/raiseEvent/never`, {})).status).toBe(410);
    expect((await call("DELETE", `${webhooks}/instances/${id}`)).json).toEqual({ instancesDeleted: 1 });
    expect((await status(id)).status).toBe(404);
    expect((await call("DELETE", `${webhooks}/instances/${id}`)).status).toBe(404);
  });

  test("when instances are queried, then filters apply and pages follow the continuation token", async () => {
    const stamp = Date.now();
    for (const n of [1, 2, 3]) await call("POST", `${webhooks}/orchestrators/waitsForever/page-${stamp}-${n}`);
    const from = new Date(stamp - 1000).toISOString();
    const seen: string[] = [];
    let token: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof call>> = await call("GET", `${webhooks}/instances/?createdTimeFrom=${from}&runtimeStatus=Pending,Running&top=2`, undefined, token ? { "x-ms-continuation-token": token } : {});
      seen.push(...(page.json as unknown as { instanceId: string }[]).map((s) => s.instanceId));
      token = page.headers.get("x-ms-continuation-token");
    } while (token);
    expect(seen.filter((id) => id.startsWith(`page-${stamp}`)).sort()).toEqual([1, 2, 3].map((n) => `page-${stamp}-${n}`));
    const completedOnly = await call("GET", `${webhooks}/instances/?createdTimeFrom=${from}&runtimeStatus=Completed`);
    expect((completedOnly.json as unknown as { instanceId: string }[]).some((s) => s.instanceId.startsWith(`page-${stamp}`))).toBe(false);
  });

  test("when the request is wrong, then the API answers 404, 400 or 501 as the extension does", async () => {
    expect((await status("no-such-instance")).status).toBe(404);
    expect((await call("POST", `${webhooks}/orchestrators/noSuchOrchestrator`)).status).toBe(400);
    expect((await call("POST", `${webhooks}/orchestrators/sequence/bad-json`, undefined)).status).toBe(202);
    expect((await call("POST", `${webhooks}/instances/x/raiseEvent/e`, undefined)).status).toBe(404);
    expect((await call("POST", `${webhooks}/instances/x/suspend`)).status).toBe(501);
  });
});

describe("timer triggers and HTTP routing", () => {
  test("when a timer's schedule comes due, then its function runs and starts an orchestration", async () => {
    const ticked = await waitUntil(async () => {
      const page = await call("GET", `${webhooks}/instances/?runtimeStatus=Completed&top=1000`);
      return (page.json as unknown as { instanceId: string; output: unknown }[]).find((s) => s.instanceId.startsWith("tick-"));
    }, 20_000, "a timer-started orchestration");
    expect(ticked.output).toEqual({ echoed: { isPastDue: false } });
  });

  test("when a route matches, then parameters and query reach the handler; otherwise 404", async () => {
    expect((await call("GET", "/api/greetings/ada?q=1")).json).toEqual({ hello: "ada", q: "1" });
    expect((await call("GET", "/api/nowhere")).status).toBe(404);
    expect((await call("POST", "/api/greetings/ada")).status).toBe(404); // wrong method: 404, as the Functions host answers
  });
});
