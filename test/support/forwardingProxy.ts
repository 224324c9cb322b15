/**
 * An HTTP proxy in front of one Azurite service that forwards every request as it came (method, path, query,
 * headers, body; Shared Key signatures do not cover the host, so they stay valid), unless `intercept` answers it
 * first. The recording blob proxy and the failing table proxy are this plus their own `intercept`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Answers `request` itself and returns true, or returns false to let it be forwarded; a promise of false forwards
 * it once settled (the request is held, unread, until then).
 */
export type Intercept = (request: http.IncomingMessage, response: http.ServerResponse, url: URL) => boolean | Promise<boolean>;

export interface ForwardingProxy {
  /** The endpoint for a connection string: `http://127.0.0.1:<port>/devstoreaccount1`. */
  endpoint: string;
  close(): Promise<void>;
}

export async function startForwardingProxy(azuriteEndpoint: string, intercept: Intercept): Promise<ForwardingProxy> {
  const target = new URL(azuriteEndpoint);
  const forward = (request: http.IncomingMessage, response: http.ServerResponse) => {
    const forwarded = http.request(
      { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers },
      (upstream) => {
        response.writeHead(upstream.statusCode ?? 502, upstream.headers);
        upstream.pipe(response);
      },
    );
    forwarded.on("error", () => response.destroy());
    request.pipe(forwarded);
  };
  const server = http.createServer((request, response) => {
    const handled = intercept(request, response, new URL(request.url ?? "/", "http://proxy"));
    if (handled === true) return;
    if (handled === false) return forward(request, response);
    handled.then((answered) => (answered ? undefined : forward(request, response)), () => response.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}${target.pathname.replace(/\/$/, "")}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
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
