/**
 * The host's HTTP front: `/api/...` goes to the app's HTTP functions (route templates, methods, route
 * parameters), `/runtime/webhooks/durabletask/...` to the Durable management API. Requests reach handlers as
 * RPC HTTP data, so @azure/functions builds the same HttpRequest the worker would.
 *
 * With an API key configured, it checks keys as the Functions host does: routes whose `authLevel` is not
 * `anonymous`, and the Durable webhooks, need the key in `x-functions-key` or `?code=` (401 otherwise). Bodies are
 * capped (413) while they are read, so a huge upload never sits in memory.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import http from "node:http";
import { maxRequestBodyBytes } from "../shared/http";
import type { RegisteredFunction } from "./coreTypes";
import { invoke, type InvokeOptions } from "./invoke";
import { compileRoute, selectRoute, type CompiledRoute } from "./routes";
import { webhookPrefix, type ApiRequest, type ApiResponse } from "./durable/managementApi";

export interface HttpFrontOptions {
  functions: Map<string, RegisteredFunction>;
  management: (request: ApiRequest) => Promise<ApiResponse>;
  /** The `durableClient` binding payload for functions that declare one. */
  durableClientPayload: () => unknown;
  log: NonNullable<InvokeOptions["log"]>;
  /** When set, function-level routes and the Durable webhooks need this key (`x-functions-key` or `?code=`). */
  apiKey?: string;
  /** Where the app's own durable client reaches the management API without a key (Azure's local RPC endpoint). */
  rpcPrefix?: string;
}

interface HttpFunction {
  route: CompiledRoute;
  methods: string[];
  value: RegisteredFunction;
}

/** `authLevel: "anonymous"`; any other level (the default is `function`) needs the key when one is set. */
function isAnonymous(fn: RegisteredFunction): boolean {
  const trigger = Object.values(fn.metadata.bindings).find((b) => b.type === "httpTrigger");
  return typeof trigger?.authLevel === "string" && trigger.authLevel.toLowerCase() === "anonymous";
}

/** Durable webhook bodies carry orchestration inputs; generous, but still bounded. */
const maxWebhookBodyBytes = 16 * 1024 * 1024;

function httpFunctions(functions: Map<string, RegisteredFunction>): HttpFunction[] {
  const routes: HttpFunction[] = [];
  for (const fn of functions.values()) {
    const trigger = Object.values(fn.metadata.bindings).find((b) => b.type === "httpTrigger");
    if (!trigger) continue;
    const route = typeof trigger.route === "string" ? trigger.route : fn.metadata.name;
    const methods = Array.isArray(trigger.methods) ? (trigger.methods as string[]).map((m) => m.toUpperCase()) : ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
    routes.push({ route: compileRoute(route), methods, value: fn });
  }
  return routes;
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, { ...(text ? { "content-type": "application/json; charset=utf-8" } : {}), ...headers });
  res.end(text);
}

/**
 * The body, or undefined once it exceeds `limit` (by its declared length, or by what arrived): reading then stops
 * and the rest is discarded as it comes, never buffered.
 */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers["content-length"]) > limit) {
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      req.off("data", onData);
      req.off("end", onEnd);
      req.resume();
      resolve(undefined);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", reject);
  });
}

function sendTooLarge(res: http.ServerResponse, limit: number): void {
  const message = `the body is larger than ${limit >= 1024 * 1024 ? `${limit / 1024 / 1024} MiB` : `${limit / 1024} KiB`}`;
  send(res, 413, { error: { code: "InvalidRequest", message: "The request is not valid.", details: [{ path: "$", message }] } });
}

/** Constant-time comparison (of digests, so the key's length does not show either). */
function sameKey(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** True when no key is configured, or the request carries it in `x-functions-key` or `?code=`. */
function hasKey(req: http.IncomingMessage, url: URL, apiKey: string | undefined): boolean {
  if (apiKey === undefined) return true;
  const header = req.headers["x-functions-key"];
  const given = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get("code");
  return given !== undefined && given !== null && sameKey(given, apiKey);
}

function sendUnauthorized(res: http.ServerResponse): void {
  send(res, 401, { error: { code: "Unauthorized", message: "This route needs the host's API key in the x-functions-key header or the code query parameter." } });
}

function headerRecord(req: http.IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}

export function createHttpFront(options: HttpFrontOptions): http.Server {
  const routes = httpFunctions(options.functions);
  return http.createServer((req, res) => {
    void (async () => {
      const origin = `http://${req.headers.host ?? "127.0.0.1"}`;
      let url: URL;
      try {
        // Origin and path concatenated: `new URL("//x", origin)` would read a path starting with `//` as a host.
        if (!(req.url ?? "/").startsWith("/")) throw new Error("not a path");
        url = new URL(`${origin}${req.url ?? "/"}`);
      } catch {
        send(res, 400, { error: { code: "InvalidRequest", message: "The request's path or Host header is not valid." } });
        return;
      }
      const rpcPrefix = options.rpcPrefix !== undefined && options.rpcPrefix !== webhookPrefix && url.pathname.startsWith(options.rpcPrefix) ? options.rpcPrefix : undefined;
      if (rpcPrefix !== undefined || url.pathname.startsWith(webhookPrefix)) {
        if (rpcPrefix === undefined && !hasKey(req, url, options.apiKey)) return sendUnauthorized(res);
        const body = await readBody(req, maxWebhookBodyBytes);
        if (!body) return sendTooLarge(res, maxWebhookBodyBytes);
        const answer = await options.management({
          method: req.method ?? "GET",
          path: url.pathname.slice((rpcPrefix ?? webhookPrefix).length),
          query: url.searchParams,
          headers: headerRecord(req),
          body: body.toString("utf8"),
          origin,
        });
        send(res, answer.status, answer.body, answer.headers);
        return;
      }
      const path = url.pathname.replace(/^\/api(\/|$)/, "");
      const selected = url.pathname === "/api" || url.pathname.startsWith("/api/") ? selectRoute(routes, req.method ?? "GET", path) : undefined;
      // A route registered for other methods is a 404 too, as the Functions host answers it.
      if (!selected || "methodNotAllowed" in selected) {
        send(res, 404, { error: { code: "NotFound", message: `No function serves ${req.method} ${url.pathname}.` } });
        return;
      }
      if (!isAnonymous(selected.value) && !hasKey(req, url, options.apiKey)) return sendUnauthorized(res);
      const body = await readBody(req, maxRequestBodyBytes);
      if (!body) return sendTooLarge(res, maxRequestBodyBytes);
      const response = await invoke(
        selected.value,
        {
          http: {
            method: req.method ?? "GET",
            url: url.toString(),
            headers: headerRecord(req),
            query: Object.fromEntries(url.searchParams),
            params: selected.params,
            body: { bytes: body },
          },
        },
        { extraInputs: { durableClient: { string: JSON.stringify(options.durableClientPayload()) } }, log: options.log },
      );
      const answer = response.returnValue?.http;
      const status = Number(answer?.statusCode ?? 204) || 200;
      res.writeHead(status, answer?.headers ?? {});
      const payload = answer?.body;
      res.end(payload?.bytes ? Buffer.from(payload.bytes) : (payload?.string ?? ""));
    })().catch((err: unknown) => {
      options.log("error", "http", `request failed: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) send(res, 500, { error: { code: "SystemErrorUnexpected", message: "The function failed; see the host log." } });
      else res.end();
    });
  });
}
