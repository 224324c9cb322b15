/**
 * A recording HTTP proxy in front of Azurite's blob service: every request is forwarded as it came (method, path,
 * query, headers, body; Shared Key signatures do not cover the host, so they stay valid) and recorded with what
 * matters for immutability: method, path, the `comp` query parameter and the `x-ms-immutability-policy-*` headers.
 * That shows what the SDK sends, which Azurite cannot: it answers Set Blob Immutability Policy with 501.
 *
 * With `playAzureImmutability` on, the proxy answers the way a vault with version-level immutability does instead
 * of forwarding those calls (protocol-level stand-in, like the ARM and Key Vault ones): Set Blob Immutability Policy
 * is 200 with the policy echoed, and Delete Blob of a blob whose policy has not expired (by the real clock) is 409
 * `BlobImmutableDueToPolicy`. `expirePolicies()` plays the policies running out.
 */
import type http from "node:http";
import { endpointOf, startForwardingProxy, withEndpoint } from "./forwardingProxy";

export interface RecordedRequest {
  method: string;
  /** Path without the query, e.g. `/devstoreaccount1/backups/<instance>/<rp>/<db>.dump`. */
  path: string;
  comp?: string;
  immutabilityUntil?: string;
  immutabilityMode?: string;
}

export interface RecordingBlobProxy {
  /** `BlobEndpoint` for a connection string: `http://127.0.0.1:<port>/devstoreaccount1`. */
  blobEndpoint: string;
  requests: RecordedRequest[];
  playAzureImmutability: boolean;
  expirePolicies(): void;
  close(): Promise<void>;
}

function header(request: http.IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export async function startRecordingBlobProxy(azuriteBlobEndpoint: string): Promise<RecordingBlobProxy> {
  const policies = new Map<string, { until: string; mode: string }>();
  const proxy: RecordingBlobProxy = {
    blobEndpoint: "",
    requests: [],
    playAzureImmutability: false,
    expirePolicies: () => policies.clear(),
    close: () => forwarding.close(),
  };

  const answer = (response: http.ServerResponse, status: number, headers: Record<string, string>, body = "") => {
    response.writeHead(status, { "x-ms-request-id": "recording-proxy", "x-ms-version": "2025-11-05", date: new Date().toUTCString(), ...headers });
    response.end(body);
  };

  const forwarding = await startForwardingProxy(azuriteBlobEndpoint, (request, response, url) => {
    const recorded: RecordedRequest = { method: request.method ?? "", path: url.pathname };
    const comp = url.searchParams.get("comp");
    if (comp) recorded.comp = comp;
    const until = header(request, "x-ms-immutability-policy-until-date");
    const mode = header(request, "x-ms-immutability-policy-mode");
    if (until) recorded.immutabilityUntil = until;
    if (mode) recorded.immutabilityMode = mode;
    proxy.requests.push(recorded);

    if (proxy.playAzureImmutability && request.method === "PUT" && comp === "immutabilityPolicies" && until) {
      request.resume();
      policies.set(url.pathname, { until, mode: mode ?? "Unlocked" });
      answer(response, 200, { "x-ms-immutability-policy-until-date": until, "x-ms-immutability-policy-mode": (mode ?? "Unlocked").toLowerCase() });
      return true;
    }
    const policy = policies.get(url.pathname);
    if (proxy.playAzureImmutability && request.method === "DELETE" && !comp && policy && Date.parse(policy.until) > Date.now()) {
      request.resume();
      const body =
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobImmutableDueToPolicy</Code>' +
        "<Message>This operation is not permitted as the blob is immutable due to a policy.</Message></Error>";
      answer(response, 409, { "content-type": "application/xml", "x-ms-error-code": "BlobImmutableDueToPolicy" }, body);
      return true;
    }
    return false;
  });
  proxy.blobEndpoint = forwarding.endpoint;
  return proxy;
}

/** The connection string with its `BlobEndpoint` replaced (Table and Queue endpoints stay direct). */
export const withBlobEndpoint = (connectionString: string, blobEndpoint: string): string => withEndpoint(connectionString, "Blob", blobEndpoint);

/** The `BlobEndpoint` of a connection string. */
export const blobEndpointOf = (connectionString: string): string => endpointOf(connectionString, "Blob");
