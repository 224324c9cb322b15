/**
 * A protocol-level stand-in of an Event Grid custom topic with the CloudEvents 1.0 input schema and local auth off
 * (`disableLocalAuth: true`, as infra/ creates it), so tests drive the real `EventGridPublisherClient` and
 * `DefaultAzureCredential` end to end. What each behaviour was read from is noted beside it; the sources are
 * gathered in /tmp/research-26.md and, where they are silent, the choice is in docs/platform-facts.md ("Event Grid").
 *
 * Two listeners, as in Azure: the topic on HTTPS with the harness's test certificate (the SDK sends a bearer token
 * over https:// only: @azure/core-rest-pipeline 1.24.0 bearerTokenAuthenticationPolicy.js), and an App Service
 * style managed-identity token endpoint (./identityEndpoint). The topic accepts only tokens that endpoint issued for
 * Event Grid's audience, so a passing test proves the token went credential -> SDK -> topic for that audience.
 *
 * The request log records shapes only (method, path, api-version, content type, whether a bearer token came,
 * status, size, event ids): never a token.
 */
import { readFileSync } from "node:fs";
import type http from "node:http";
import https from "node:https";
import { afterAll, beforeAll, inject } from "vitest";
import { listen, sendJson, shutDown, startIdentityEndpoint, type IdentityEndpoint } from "./identityEndpoint";

/**
 * The token audience Event Grid validates ("https://eventgrid.azure.net": Learn, authenticate-with-microsoft-entra-id);
 * the SDK asks for the scope `https://eventgrid.azure.net/.default` (@azure/eventgrid 5.12.0 dist/esm/constants.js,
 * DEFAULT_EVENTGRID_SCOPE), which the managed-identity endpoint receives as this resource.
 */
export const eventGridResource = "https://eventgrid.azure.net";

/** The publish path of a custom topic (Learn, post-to-custom-topic: `https://<topic-endpoint>/api/events?api-version=2018-01-01`). */
export const publishPath = "/api/events";

/** EventGrid.json 2018-01-01 (azure-rest-api-specs data-plane); the SDK's constant default (dist/esm/constants.js). */
export const publishApiVersion = "2018-01-01";

/** EventGrid.json 2018-01-01 `consumes` for the CloudEvents overload; the SDK's `contentType1` (dist/esm/generated/models/parameters.js). */
export const cloudEventsBatchContentType = "application/cloudevents-batch+json; charset=utf-8";

/** "The event array can total up to 1 MB" (Learn, post-to-custom-topic); over it: 413 Payload Too Large (same page). */
export const batchLimitBytes = 1024 * 1024;

/** One CloudEvent as the topic received it (JSON format: cloudevents/spec formats/json-format.md §3). */
export interface ReceivedCloudEvent {
  specversion: string;
  id: string;
  source: string;
  type: string;
  subject?: string;
  time?: string;
  datacontenttype?: string;
  data?: unknown;
  [attribute: string]: unknown;
}

export interface EventGridLoggedRequest {
  server: "topic" | "identity";
  method: string;
  path: string;
  apiVersion?: string;
  contentType?: string;
  /** Topic: an `Authorization: Bearer ...` header came (valid or not). Identity: the identity header did. */
  bearer: boolean;
  status: number;
  /** Topic: the body's size in bytes. */
  bytes?: number;
  /** Topic: the ids of the events in the body, when it parsed. */
  eventIds?: string[];
  /** Identity: the resource a token was asked for. */
  resource?: string;
}

export interface EventGridTestServer {
  /** Value for EVENT_GRID_TOPIC_ENDPOINT: `https://127.0.0.1:<port>/api/events`. */
  topicEndpoint: string;
  /** Values for IDENTITY_ENDPOINT / IDENTITY_HEADER. */
  identityEndpoint: string;
  identityHeader: string;
  /** Every event accepted (200), in order; a live array. */
  accepted: readonly ReceivedCloudEvent[];
  /** The raw bodies of accepted requests, in order, as the wire carried them (to search for secrets). */
  acceptedBodies: readonly string[];
  /** Every request both listeners saw, in order; a live array. */
  requests: readonly EventGridLoggedRequest[];
  /**
   * The next `count` authorized publish requests answer `status` (default 503) and their events are not kept; with
   * `Retry-After` when `retryAfterSeconds` is given.
   */
  failNext(count: number, status?: number, retryAfterSeconds?: number): void;
  /** Forgets the scripted failures not yet answered. */
  stopFailing(): void;
  close(): Promise<void>;
}

/** Event Grid's error body (Learn, post-to-custom-topic, "Error" format). */
function errorBody(code: string, message: string) {
  return { error: { code, message, details: [{ code, message }] } };
}

const reasons: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  404: "NotFound",
  413: "PayloadTooLarge",
  429: "TooManyRequests",
  500: "InternalServerError",
  503: "ServiceUnavailable",
};

/** Attribute names: lower-case ASCII letters and digits only (cloudevents/spec spec.md, "Naming Conventions"). */
const attributeName = /^[a-z0-9]+$/;

/**
 * RFC 3339 date-time ("time, if present, MUST adhere to the format specified in RFC 3339": spec.md; EventGrid.json
 * `CloudEventEvent.time` format date-time).
 */
const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

const nonEmptyString = (value: unknown): value is string => typeof value === "string" && value.length > 0;

/** Why `value` is not a CloudEvents 1.0 event Event Grid takes, or undefined when it is. */
function problemOf(value: unknown, index: number): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return `event ${index} is not a JSON object`;
  const event = value as Record<string, unknown>;
  // Required: id, source, specversion, type (EventGrid.json 2018-01-01 CloudEventEvent.required; spec.md "REQUIRED Attributes").
  for (const required of ["id", "source", "specversion", "type"]) {
    if (!nonEmptyString(event[required])) return `event ${index}: '${required}' is required and must be a non-empty string`;
  }
  // "producers MUST use 1.0" for this version of the spec (spec.md, specversion); a batch shares one (json-format.md §4).
  if (event.specversion !== "1.0") return `event ${index}: specversion must be '1.0'`;
  if (event.time !== undefined && !(typeof event.time === "string" && rfc3339.test(event.time))) return `event ${index}: 'time' must be an RFC 3339 timestamp`;
  // `data` and `data_base64` are mutually exclusive (json-format.md §3.1.1).
  if (event.data !== undefined && event.data_base64 !== undefined) return `event ${index}: 'data' and 'data_base64' are mutually exclusive`;
  for (const name of Object.keys(event)) {
    if (name !== "data_base64" && !attributeName.test(name)) return `event ${index}: attribute name '${name}' is not lower-case letters and digits`;
  }
  return undefined;
}

export async function startEventGridServer(tls: { certFile: string; keyFile: string }, tokens?: IdentityEndpoint): Promise<EventGridTestServer> {
  const identity = tokens ?? (await startIdentityEndpoint());
  const requests: EventGridLoggedRequest[] = [];
  const accepted: ReceivedCloudEvent[] = [];
  const acceptedBodies: string[] = [];
  const failures: { status: number; retryAfterSeconds?: number }[] = [];
  const unsubscribe = identity.onRequest((entry) => requests.push({ server: "identity", ...entry }));

  const topic = https.createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => handle(req, res, Buffer.concat(chunks)));
  });

  function handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const authorization = req.headers.authorization ?? "";
    const entry: EventGridLoggedRequest = {
      server: "topic",
      method: req.method ?? "",
      path: url.pathname,
      apiVersion: url.searchParams.get("api-version") ?? undefined,
      contentType: req.headers["content-type"],
      bearer: /^Bearer\s+\S/i.test(authorization),
      status: 0,
      bytes: body.length,
    };
    const answer = (status: number, message?: string, headers: http.OutgoingHttpHeaders = {}) => {
      entry.status = status;
      requests.push(entry);
      if (message === undefined) {
        // Success is "200 OK" with no response schema (EventGrid.json 2018-01-01); the SDK reads nothing from it.
        res.writeHead(status, { "content-length": 0, ...headers });
        res.end();
        return;
      }
      sendJson(res, status, errorBody(reasons[status] ?? String(status), message), headers);
    };

    // "Incorrect endpoint: 404 Not Found" (Learn, post-to-custom-topic). The SDK POSTs to the endpoint URL as given
    // (generatedClient.js publishCloudEventEventsOperationSpec: POST, path ""), so the URL must name /api/events.
    if (req.method !== "POST" || url.pathname !== publishPath) return answer(404, `No topic at ${req.method} ${url.pathname}.`);
    // Local auth is off on the topic (disableLocalAuth, Learn authenticate-with-microsoft-entra-id): a key or SAS is
    // refused like a missing token. 401 rather than 403 is our choice (sources silent; docs/platform-facts.md).
    const token = entry.bearer ? authorization.replace(/^Bearer\s+/i, "") : undefined;
    if (req.headers["aeg-sas-key"] !== undefined || req.headers["aeg-sas-token"] !== undefined || !token || identity.resourceOf(token) !== eventGridResource) {
      return answer(401, "The request is not authorized: a Microsoft Entra token for https://eventgrid.azure.net is required (local auth is disabled).");
    }
    // The only api-version of the publish API (EventGrid.json 2018-01-01); another is refused (our choice, sources silent).
    if (entry.apiVersion !== publishApiVersion) return answer(400, `api-version must be ${publishApiVersion}.`);
    // A CloudEvents topic takes the batch media type (EventGrid.json `consumes`; cloudevents json-format.md §4).
    if (entry.contentType?.replace(/\s+/g, "").toLowerCase() !== cloudEventsBatchContentType.replace(/\s+/g, "")) {
      return answer(400, `Content-Type must be '${cloudEventsBatchContentType}' for a topic with the CloudEvents 1.0 input schema.`);
    }
    // Size before content: "array or event over the size limits: 413 Payload Too Large" (Learn, post-to-custom-topic).
    if (body.length > batchLimitBytes) return answer(413, `The batch is ${body.length} bytes; at most ${batchLimitBytes} bytes are allowed.`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      return answer(400, "The body is not JSON.");
    }
    // The body is a JSON array of CloudEvents (EventGrid.json: body schema an array of CloudEventEvent; json-format.md §4).
    if (!Array.isArray(parsed)) return answer(400, "The body must be a JSON array of CloudEvents.");
    entry.eventIds = parsed.map((event) => String((event as { id?: unknown } | null)?.id ?? ""));
    // "Incorrect event format: 400 Bad Request" (Learn, post-to-custom-topic).
    const problem = parsed.map(problemOf).find((found) => found !== undefined);
    if (problem) return answer(400, problem);
    // Scripted failures come after the request was judged sound, as a busy service answers a good request.
    const failure = failures.shift();
    if (failure) {
      // Any 5xx: the spec documents 500 and the SDK retries 5xx (ts-http-runtime exponentialRetryStrategy.js); 503
      // with Retry-After is also the throttling strategy's case (throttlingRetryStrategy.js).
      const headers = failure.retryAfterSeconds !== undefined ? { "retry-after": String(failure.retryAfterSeconds) } : {};
      return answer(failure.status, "The service is unavailable; try again.", headers);
    }
    accepted.push(...(parsed as ReceivedCloudEvent[]));
    acceptedBodies.push(body.toString("utf8"));
    answer(200);
  }

  const port = await listen(topic);
  return {
    topicEndpoint: `https://127.0.0.1:${port}${publishPath}`,
    identityEndpoint: identity.endpoint,
    identityHeader: identity.header,
    accepted,
    acceptedBodies,
    requests,
    failNext(count, status = 503, retryAfterSeconds) {
      for (let i = 0; i < count; i++) failures.push({ status, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) });
    },
    stopFailing: () => void failures.splice(0),
    async close() {
      unsubscribe();
      await shutDown(topic);
      if (!tokens) await identity.close();
    },
  };
}

/**
 * For a test file that runs with a topic: starts the stand-in before its tests and points the app at it (identity
 * endpoint and EVENT_GRID_TOPIC_ENDPOINT; the settings are read once per process, so the file keeps them), and
 * stops it after. `onStart` receives the running stand-in.
 */
export function useEventGridTopic(onStart: (topic: EventGridTestServer) => void): void {
  let topic: EventGridTestServer | undefined;
  beforeAll(async () => {
    topic = await startEventGridServer(inject("tls"));
    process.env.IDENTITY_ENDPOINT = topic.identityEndpoint;
    process.env.IDENTITY_HEADER = topic.identityHeader;
    process.env.EVENT_GRID_TOPIC_ENDPOINT = topic.topicEndpoint;
    onStart(topic);
  });
  afterAll(async () => {
    delete process.env.IDENTITY_ENDPOINT;
    delete process.env.IDENTITY_HEADER;
    await topic?.close();
  });
}
