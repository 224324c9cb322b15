/**
 * The local host with PGVAULT_API_KEY (docs/local-host.md): it checks the key as the Functions host checks function
 * keys. Routes with `authLevel: function` and the Durable webhooks need `x-functions-key` or `?code=`; /api/health
 * stays open; the app's own durable client still reaches the management API; bodies over the cap are refused while
 * they are read. The app runs in its default `functionKeys` mode, where a forged client principal changes nothing.
 */
import http from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { apiKeyOf } from "../../local-host/host";
import { startAzurite, type AzuriteInstance } from "../../local-host/embedded/azurite";
import { updateJob } from "../../shared/catalog/jobRows";
import { repoRoot, startHostProcess, type HostProcess } from "../support/localHost";
import { hostileString } from "../support/hostileInput";
import { principalHeader } from "../support/principal";
import { cluster } from "../support/testDatabase";

const key = "local-key-0123456789abcdef";
let vault: AzuriteInstance;
let host: HostProcess;

beforeAll(async () => {
  vault = await startAzurite();
  // Before any app module reads its configuration: this file's catalog is its own (and the host's).
  process.env.VaultStorage = vault.connectionString;
  host = await startHostProcess(repoRoot, {
    AzureWebJobsStorage: vault.connectionString,
    VaultStorage: vault.connectionString,
    PG_BIN_DIR: cluster().binDir,
    PGVAULT_API_KEY: key,
  });
});
afterAll(async () => {
  await host?.kill("SIGTERM");
  await vault?.stop();
});

async function call(route: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const response = await fetch(`${host.origin}${route}`, { method: init.method ?? "GET", headers: init.headers, body: init.body });
  const text = await response.text();
  const json = response.headers.get("content-type")?.startsWith("application/json") && text ? (JSON.parse(text) as unknown) : undefined;
  return { status: response.status, json, text, headers: response.headers };
}

const unauthorized = { error: { code: "Unauthorized", message: "This route needs the host's API key in the x-functions-key header or the code query parameter." } };

describe("the key", () => {
  test("when a function-level route is called without the key, or with a wrong one, then 401 in the spec's error shape", async () => {
    expect(await call("/api/backupInstances")).toMatchObject({ status: 401, json: unauthorized });
    expect((await call("/api/backupInstances", { headers: { "x-functions-key": "wrong-key-0123456789" } })).status).toBe(401);
    expect((await call(`/api/backupInstances?code=${key}x`)).status).toBe(401);
    expect((await call("/api/backupInstances", { headers: { "x-functions-key": key.slice(0, -1) } })).status).toBe(401);
  });

  test("when the key comes in x-functions-key or ?code=, then the route answers", async () => {
    expect(await call("/api/backupInstances", { headers: { "x-functions-key": key } })).toMatchObject({ status: 200, json: { value: [] } });
    expect(await call(`/api/backupInstances?code=${encodeURIComponent(key)}`)).toMatchObject({ status: 200, json: { value: [] } });
  });

  test("when /api/health is called without a key, then it answers (authLevel anonymous)", async () => {
    expect(await call("/api/health")).toMatchObject({ status: 200, json: { status: "ok" } });
  });

  test("when the Backup Center is opened with ?code=, then the page is served, and its script sends the key on its own calls", async () => {
    const page = await call(`/api/backup-center?code=${encodeURIComponent(key)}`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.text).toContain('new URLSearchParams(location.search).get("code")');
    expect(page.text).toContain('headers["x-functions-key"] = key');
    expect((await call("/api/backup-center")).status).toBe(401);
  });

  test("when the Durable webhooks are called without the key, then 401; with it, they answer", async () => {
    expect((await call("/runtime/webhooks/durabletask/instances/no-such-instance")).status).toBe(401);
    expect((await call("/runtime/webhooks/durabletask/orchestrators/backup/x", { method: "POST", body: "{}" })).status).toBe(401);
    expect((await call("/runtime/webhooks/durabletask/instances/no-such-instance", { headers: { "x-functions-key": key } })).status).toBe(404);
  });

  test("when a route's handler uses the durable client, then the app's own calls still reach the management API", async () => {
    const jobId = "apikey-queued-job";
    await updateJob(jobId, { operation: "Backup", trigger: "OnDemand", instanceName: "apikey-instance", status: "Queued", phase: "Queued", startTime: "2026-01-04T02:30:07Z", bytes: 0 });
    const cancel = await call(`/api/jobs/${jobId}/cancel`, { method: "POST", headers: { "x-functions-key": key } });
    expect(cancel).toMatchObject({ status: 202, json: { jobId } });
  });

  test("when the host prints how to call it, then the key itself is not in its output", () => {
    expect(host.output()).toContain("x-functions-key: <PGVAULT_API_KEY>");
    expect(host.output()).not.toContain(key);
  });

  test.each([
    ["unset", undefined, undefined],
    ["blank", "  ", undefined],
    ["a long key, trimmed", `  ${key} `, key],
  ])("when PGVAULT_API_KEY is %s, then the host reads the key accordingly", (_what, value, expected) => {
    expect(apiKeyOf(value === undefined ? {} : { PGVAULT_API_KEY: value })).toBe(expected);
  });

  test.each(["short", "has a space in it 0123456789"])("when PGVAULT_API_KEY is %j, then the host refuses to start", (value) => {
    expect(() => apiKeyOf({ PGVAULT_API_KEY: value })).toThrow(/PGVAULT_API_KEY must be at least 16 characters/);
  });
});

describe("a forged client principal in functionKeys mode", () => {
  const admin = principalHeader(["Backup.Admin"]);
  const nobody = principalHeader([]);

  test("when it claims Backup.Admin without the key, then it grants nothing: 401", async () => {
    expect((await call("/api/backupInstances", { headers: { "x-ms-client-principal": admin } })).status).toBe(401);
    expect((await call("/api/backupPolicies/forged", { method: "DELETE", headers: { "x-ms-client-principal": admin } })).status).toBe(401);
  });

  test("when it comes with the key, then the answers are the same as without it, even for a principal without roles", async () => {
    for (const principal of [admin, nobody, "garbage"]) {
      const withHeader = await call("/api/backupInstances/forged", { method: "DELETE", headers: { "x-functions-key": key, "x-ms-client-principal": principal } });
      const without = await call("/api/backupInstances/forged", { method: "DELETE", headers: { "x-functions-key": key } });
      expect(withHeader.status).toBe(404);
      expect(withHeader.json).toEqual(without.json);
    }
  });
});

describe("the body cap on the host", () => {
  test("when a body over 64 KiB is sent to an API route, then 413 in the spec's error shape, and the app never sees it", async () => {
    const body = JSON.stringify({ pad: "x".repeat(100 * 1024) });
    const answer = await call("/api/backupPolicies/too-big", { method: "PUT", headers: { "x-functions-key": key, "content-type": "application/json" }, body });
    expect(answer).toMatchObject({
      status: 413,
      json: { error: { code: "InvalidRequest", message: "The request is not valid.", details: [{ path: "$", message: "the body is larger than 64 KiB" }] } },
    });
    expect((await call("/api/backupPolicies/too-big", { headers: { "x-functions-key": key } })).status).toBe(404);
  });

  test("when a body is sent in chunks without a length, then reading stops at the cap", async () => {
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 64) return controller.close();
        sent++;
        controller.enqueue(chunk);
      },
    });
    const response = await fetch(`${host.origin}/api/backupPolicies/streamed`, {
      method: "PUT",
      headers: { "x-functions-key": key, "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
  });

  test("when a key is missing, then the 401 comes before the body is read", async () => {
    const body = "x".repeat(100 * 1024);
    expect((await call("/api/backupPolicies/too-big", { method: "PUT", body })).status).toBe(401);
  });
});

describe("the host's HTTP front, given hostile requests", () => {
  /** A raw request: the path goes out as given (fetch would normalize it). */
  function raw(method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string; type: string }> {
    return new Promise((resolve, reject) => {
      const url = new URL(host.origin);
      const request = http.request({ host: url.hostname, port: url.port, method, path, headers }, (response) => {
        let body = "";
        response.setEncoding("utf8").on("data", (part: string) => (body += part));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body, type: String(response.headers["content-type"] ?? "") }));
      });
      request.on("error", reject);
      request.end();
    });
  }

  const segment = fc.oneof(
    fc.constantFrom("backupInstances", "backupPolicies", "recoveryPoints", "jobs", "backup", "restore", "cancel", "undelete", "health", "backup-center", "..", ".", "%", "%zz", "%2F", "%00", ""),
    // Bytes of the UTF-8 (lone surrogates become U+FFFD), escaped except unreserved characters.
    hostileString.map((text) => [...Buffer.from(text, "utf8")].map((byte) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).padStart(2, "0")}`)).join("")),
  );
  const path = fc.tuple(fc.constantFrom("/api/", "/runtime/webhooks/durabletask/", "/", "//"), fc.array(segment, { maxLength: 6 }), fc.constantFrom("", "?code=x", "?a=%zz&b", "?deleteBackups=maybe"))
    .map(([prefix, segments, query]) => `${prefix}${segments.join("/")}${query}`);

  /** Host headers a client may send (printable ASCII), or the real one. */
  const hostHeader = fc.option(
    fc.oneof(fc.constantFrom("a b", "[", "x:y:z", "evil.example.com", "127.0.0.1:99999", "@", "%"), hostileString.filter((text) => /^[\x21-\x7e]+$/.test(text))),
    { nil: undefined },
  );

  test("when the path starts with //, then it is a path like any other: 404 (this failed with 500 before)", async () => {
    expect(await raw("GET", "//", {})).toMatchObject({ status: 404 });
    expect(await raw("GET", "//api/health", {})).toMatchObject({ status: 404 });
  });

  test("when the Host header is not a host, then 400 (this failed with 500 before)", async () => {
    expect(await raw("GET", "/api/health", { host: "a b" })).toMatchObject({ status: 400 });
  });

  test("when a Durable webhook path has a malformed %-escape, then 400 (this failed with 500 before)", async () => {
    expect(await raw("GET", "/runtime/webhooks/durabletask/instances/%", { "x-functions-key": key })).toMatchObject({ status: 400 });
  });

  test("when any method and path arrive, with or without the key, then the answer is never a 5xx, and JSON errors have the spec's shape", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"), path, fc.boolean(), hostHeader, async (method, target, withKey, hostValue) => {
        const headers: Record<string, string> = withKey ? { "x-functions-key": key } : {};
        if (hostValue !== undefined) headers.host = hostValue;
        const answer = await raw(method, target, headers);
        expect(answer.status, `${method} ${target}: ${answer.body}`).toBeLessThan(500);
        if (answer.status >= 400 && answer.type.startsWith("application/json") && target.startsWith("/api")) {
          const body = JSON.parse(answer.body) as { error?: { code?: unknown; message?: unknown } };
          expect(typeof body.error?.code, answer.body).toBe("string");
          expect(typeof body.error?.message, answer.body).toBe("string");
        }
      }),
      { numRuns: Number(process.env.PGVAULT_FUZZ_RUNS ?? 150) },
    );
  });
});
