/**
 * The host's HTTP front: `/api/...` goes to the app's HTTP functions (route templates, methods, route
 * parameters), `/runtime/webhooks/durabletask/...` to the Durable management API. Requests reach handlers as
 * RPC HTTP data, so @azure/functions builds the same HttpRequest the worker would.
 */
import http from "node:http";
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
}

interface HttpFunction {
  route: CompiledRoute;
  methods: string[];
  value: RegisteredFunction;
}

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

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
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
      const url = new URL(req.url ?? "/", origin);
      const body = await readBody(req);
      if (url.pathname.startsWith(webhookPrefix)) {
        const answer = await options.management({
          method: req.method ?? "GET",
          path: url.pathname.slice(webhookPrefix.length),
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
