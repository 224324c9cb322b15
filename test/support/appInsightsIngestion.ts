/**
 * A protocol-level stand-in of the Application Insights ingestion endpoint ("Breeze"), so tests drive the real
 * Azure Monitor exporter end to end: `POST <IngestionEndpoint>/v2.1/track` with a JSON array of envelopes (gzip
 * accepted), answered 200 `{ itemsReceived, itemsAccepted, errors: [] }`.
 *
 * HTTPS with the harness's test certificate: the exporter rewrites an `http://` IngestionEndpoint to `https://`
 * (checked with @azure/monitor-opentelemetry-exporter 1.0.0-beta.45), so a plain HTTP stand-in never sees a request.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import https from "node:https";
import { gunzipSync } from "node:zlib";
import { listen, sendJson, shutDown } from "./identityEndpoint";

/** One telemetry item as the exporter sends it (only the fields tests read are typed). */
export interface Envelope {
  name: string;
  iKey: string;
  time: string;
  tags?: Record<string, string>;
  data: { baseType: string; baseData: Record<string, unknown> };
}

/** One metric of a `MetricData` envelope, with the envelope's properties (Application Insights' customDimensions). */
export interface ReceivedMetric {
  name: string;
  /** A counter's sum, or a histogram's sum over `count` values. */
  value: number;
  count: number;
  min?: number;
  max?: number;
  properties: Record<string, string>;
}

export interface TrackRequest {
  method: string;
  path: string;
  contentEncoding?: string;
  items: number;
  status: number;
}

export interface IngestionStandIn {
  instrumentationKey: string;
  /** Value for APPLICATIONINSIGHTS_CONNECTION_STRING, naming this stand-in as the IngestionEndpoint. */
  connectionString: string;
  /** Every request, in order; a live array. */
  requests: readonly TrackRequest[];
  /** Every envelope received, in order; a live array. */
  envelopes: readonly Envelope[];
  /** The next track request is refused with this status (and its items are not kept). */
  refuseNext(status: number): void;
  /** Envelopes received since the last call (or the start). */
  drain(): Envelope[];
  close(): Promise<void>;
}

/** The metrics in a list of envelopes, flattened (one envelope may carry several). */
export function metricsIn(envelopes: readonly Envelope[]): ReceivedMetric[] {
  return envelopes
    .filter((envelope) => envelope.data.baseType === "MetricData")
    .flatMap((envelope) => {
      const baseData = envelope.data.baseData as { metrics: Omit<ReceivedMetric, "properties">[]; properties?: Record<string, string> };
      return baseData.metrics.map((metric) => ({ ...metric, properties: baseData.properties ?? {} }));
    });
}

export async function startIngestionStandIn(tls: { certFile: string; keyFile: string }): Promise<IngestionStandIn> {
  const instrumentationKey = randomUUID();
  const requests: TrackRequest[] = [];
  const envelopes: Envelope[] = [];
  let drained = 0;
  let refusal: number | undefined;
  const server = https.createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = new URL(req.url ?? "/", "https://127.0.0.1").pathname;
      const contentEncoding = req.headers["content-encoding"];
      const answer = (status: number, body: unknown, items = 0) => {
        requests.push({ method: req.method ?? "", path, contentEncoding, items, status });
        sendJson(res, status, body);
      };
      if (req.method !== "POST" || path !== "/v2.1/track") return answer(404, { error: "not found" });
      let items: Envelope[];
      try {
        const raw = Buffer.concat(chunks);
        items = JSON.parse((contentEncoding === "gzip" ? gunzipSync(raw) : raw).toString("utf8")) as Envelope[];
        if (!Array.isArray(items)) throw new Error("not an array");
      } catch {
        return answer(400, { itemsReceived: 0, itemsAccepted: 0, errors: [{ index: 0, statusCode: 400, message: "invalid body" }] });
      }
      if (refusal !== undefined) {
        const status = refusal;
        refusal = undefined;
        return answer(status, { itemsReceived: items.length, itemsAccepted: 0, errors: items.map((_, index) => ({ index, statusCode: status, message: "refused by the test" })) }, items.length);
      }
      envelopes.push(...items);
      answer(200, { itemsReceived: items.length, itemsAccepted: items.length, errors: [] }, items.length);
    });
  });
  const port = await listen(server);
  return {
    instrumentationKey,
    connectionString: `InstrumentationKey=${instrumentationKey};IngestionEndpoint=https://127.0.0.1:${port}/`,
    requests,
    envelopes,
    refuseNext(status) {
      refusal = status;
    },
    drain() {
      const fresh = envelopes.slice(drained);
      drained = envelopes.length;
      return fresh;
    },
    close: () => shutDown(server),
  };
}
