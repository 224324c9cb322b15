/**
 * An HTTP proxy in front of one Azurite service that forwards every request as it came (method, path, query,
 * headers, body; Shared Key signatures do not cover the host, so they stay valid), unless `intercept` answers it
 * first. The recording blob proxy and the failing table proxy are this plus their own `intercept`. An intercept may
 * take its time (a promise): the request waits, its body unread, until it is forwarded.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

/** Answers `request` itself and returns true, or returns false to let it be forwarded (now, or once the promise settles). */
export type Intercept = (request: http.IncomingMessage, response: http.ServerResponse, url: URL) => boolean | Promise<boolean>;

export interface ForwardingProxy {
  /** The endpoint for a connection string: `http://127.0.0.1:<port>/devstoreaccount1`. */
  endpoint: string;
  close(): Promise<void>;
}

export async function startForwardingProxy(azuriteEndpoint: string, intercept: Intercept): Promise<ForwardingProxy> {
  const target = new URL(azuriteEndpoint);
  const server = http.createServer((request, response) => {
    void Promise.resolve(intercept(request, response, new URL(request.url ?? "/", "http://proxy"))).then(
      (answered) => {
        if (answered) return;
        sendUpstream(target, request).then(
          (upstream) => relay(upstream, response),
          () => response.destroy(),
        );
      },
      () => response.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}${target.pathname.replace(/\/$/, "")}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * Sends `request` as it came to `target` (with `body` when the caller has already read it) and resolves with the
 * service's answer, not yet read.
 */
export function sendUpstream(target: URL, request: http.IncomingMessage, body?: Buffer): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const forwarded = http.request({ host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers }, resolve);
    forwarded.on("error", reject);
    if (body) forwarded.end(body);
    else request.pipe(forwarded);
  });
}

/** Passes the service's answer on to the client. */
export function relay(upstream: http.IncomingMessage, response: http.ServerResponse): void {
  response.writeHead(upstream.statusCode ?? 502, upstream.headers);
  upstream.pipe(response);
}

type Service = "Blob" | "Table";

/** The connection string with its `<service>Endpoint` replaced (the other endpoints stay direct). */
export function withEndpoint(connectionString: string, service: Service, endpoint: string): string {
  return connectionString.replace(new RegExp(`${service}Endpoint=[^;]*`, "i"), `${service}Endpoint=${endpoint}`);
}

/** The `<service>Endpoint` of a connection string. */
export function endpointOf(connectionString: string, service: Service): string {
  const match = new RegExp(`${service}Endpoint=([^;]+)`, "i").exec(connectionString);
  if (!match?.[1]) throw new Error(`connection string has no ${service}Endpoint`);
  return match[1];
}
