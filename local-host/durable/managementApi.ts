/**
 * The Durable Functions HTTP management API, as the durable-functions client calls it relative to `rpcBaseUrl`
 * (`/runtime/webhooks/durabletask/`): start, status (with history and input), query with filters and
 * continuation, terminate, raise event, purge. Suspend, resume and rewind answer 501.
 */
import type { DurableStore, InstanceStatus, RuntimeStatus } from "./store";
import { DurableEngine, InstanceExistsError, InstanceNotFoundError, InstanceNotRunningError, UnknownOrchestratorError } from "./engine";

export const webhookPrefix = "/runtime/webhooks/durabletask/";

export interface ApiRequest {
  method: string;
  /** Path after the webhook prefix, e.g. `instances/abc`. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | undefined>;
  body: string;
  /** Origin the host answers on, for the status URLs it hands out. */
  origin: string;
}

export interface ApiResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

const terminal: readonly RuntimeStatus[] = ["Completed", "Failed", "Terminated"];
const defaultPageSize = 100;

/**
 * The binding payload the extension hands a `durableClient` input: every URL points at this host. `rpcBaseUrl` (what
 * the client itself calls; the status URLs are for callers) may differ, as in Azure, where it is a local endpoint
 * that needs no key while the public webhook needs the system key.
 */
export function durableClientPayload(origin: string, hubName: string, rpcBaseUrl = `${origin}${webhookPrefix}`) {
  const base = `${origin}${webhookPrefix}`;
  const instance = `${base}instances/INSTANCEID`;
  return {
    taskHubName: hubName,
    creationUrls: {
      createNewInstancePostUri: `${base}orchestrators/{functionName}[/{instanceId}]`,
      createAndWaitOnNewInstancePostUri: `${base}orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}`,
    },
    managementUrls: {
      id: "INSTANCEID",
      statusQueryGetUri: instance,
      sendEventPostUri: `${instance}/raiseEvent/{eventName}`,
      terminatePostUri: `${instance}/terminate?reason={text}`,
      rewindPostUri: `${instance}/rewind?reason={text}`,
      purgeHistoryDeleteUri: instance,
      suspendPostUri: `${instance}/suspend?reason={text}`,
      resumePostUri: `${instance}/resume?reason={text}`,
    },
    baseUrl: base,
    requiredQueryStringParameters: "",
    rpcBaseUrl,
    httpBaseUrl: base,
  };
}

function links(origin: string, instanceId: string) {
  const instance = `${origin}${webhookPrefix}instances/${encodeURIComponent(instanceId)}`;
  return {
    id: instanceId,
    statusQueryGetUri: instance,
    sendEventPostUri: `${instance}/raiseEvent/{eventName}`,
    terminatePostUri: `${instance}/terminate?reason={text}`,
    purgeHistoryDeleteUri: instance,
  };
}

function view(status: InstanceStatus, query: URLSearchParams, history?: unknown[]) {
  const showInput = query.get("showInput") !== "false";
  return {
    name: status.name,
    instanceId: status.instanceId,
    runtimeStatus: status.runtimeStatus,
    input: showInput ? status.input : null,
    customStatus: status.customStatus,
    output: status.output,
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
    ...(history ? { historyEvents: history } : {}),
  };
}

function parseBody(text: string): unknown {
  if (text.trim() === "") return null;
  return JSON.parse(text) as unknown;
}

export function createManagementApi(engine: DurableEngine, store: DurableStore) {
  async function getStatus(instanceId: string, req: ApiRequest): Promise<ApiResponse> {
    const showHistory = req.query.get("showHistory") === "true";
    const partition = showHistory ? await store.load(instanceId) : undefined;
    const status = partition ? partition.status : await store.status(instanceId);
    if (!status) return { status: 404, body: { message: `No instance with ID '${instanceId}'.` } };
    const withOutput = req.query.get("showHistoryOutput") === "true";
    const history = partition?.history.map(({ IsPlayed: _played, Result, Input, ...rest }) => ({
      ...rest,
      ...(withOutput && Result !== undefined ? { Result } : {}),
      ...(withOutput && Input !== undefined ? { Input } : {}),
    }));
    return { status: terminal.includes(status.runtimeStatus) ? 200 : 202, body: view(status, req.query, history) };
  }

  async function query(req: ApiRequest): Promise<ApiResponse> {
    const from = req.query.get("createdTimeFrom");
    const to = req.query.get("createdTimeTo");
    const statuses = req.query.get("runtimeStatus")?.split(",").filter(Boolean);
    const top = Number(req.query.get("top") ?? defaultPageSize) || defaultPageSize;
    const offset = Number(Buffer.from(req.headers["x-ms-continuation-token"] ?? "", "base64").toString() || 0);
    const matching = (await store.statuses())
      .filter((s) => (!from || s.createdTime >= new Date(from).toISOString()) && (!to || s.createdTime <= new Date(to).toISOString()))
      .filter((s) => !statuses || statuses.includes(s.runtimeStatus))
      .sort((a, b) => a.createdTime.localeCompare(b.createdTime) || a.instanceId.localeCompare(b.instanceId));
    const page = matching.slice(offset, offset + top);
    const headers: Record<string, string> = {};
    if (offset + top < matching.length) headers["x-ms-continuation-token"] = Buffer.from(String(offset + top)).toString("base64");
    return { status: 200, headers, body: page.map((s) => view(s, req.query)) };
  }

  return async function handle(req: ApiRequest): Promise<ApiResponse> {
    let parts: string[];
    try {
      parts = req.path.split("/").filter(Boolean).map(decodeURIComponent);
    } catch {
      return { status: 400, body: { message: "The path has a malformed %-escape." } };
    }
    try {
      if (req.method === "POST" && parts[0] === "orchestrators" && parts[1] && parts.length <= 3) {
        const instanceId = parts[2] ?? crypto.randomUUID().replaceAll("-", "");
        const status = await engine.startNew(parts[1], instanceId, parseBody(req.body));
        const payload = links(req.origin, status.instanceId);
        return { status: 202, headers: { Location: payload.statusQueryGetUri }, body: payload };
      }
      if (parts[0] !== "instances") return { status: 404, body: { message: "Unknown management route." } };
      const [, instanceId, operation, argument] = parts;
      if (!instanceId) return req.method === "GET" ? await query(req) : { status: 405 };
      if (!operation && req.method === "GET") return await getStatus(instanceId, req);
      if (!operation && req.method === "DELETE") {
        return (await store.purge(instanceId)) ? { status: 200, body: { instancesDeleted: 1 } } : { status: 404 };
      }
      if (operation === "terminate" && req.method === "POST") {
        await engine.terminate(instanceId, req.query.get("reason") ?? "");
        return { status: 202 };
      }
      if (operation === "raiseEvent" && argument && req.method === "POST") {
        await engine.raiseEvent(instanceId, argument, parseBody(req.body));
        return { status: 202 };
      }
      if (["suspend", "resume", "rewind"].includes(operation ?? "")) {
        return { status: 501, body: { message: `${operation} is not implemented by the local host.` } };
      }
      return { status: 404, body: { message: "Unknown management route." } };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof InstanceExistsError) return { status: 409, body: { message } };
      if (err instanceof UnknownOrchestratorError) return { status: 400, body: { message } };
      if (err instanceof InstanceNotFoundError) return { status: 404, body: { message } };
      if (err instanceof InstanceNotRunningError) return { status: 410, body: { message } };
      if (err instanceof SyntaxError) return { status: 400, body: { message: "The body is not valid JSON." } };
      throw err;
    }
  };
}
