/**
 * An App Service style managed-identity token endpoint, shared by the protocol-level stand-ins (Key Vault, ARM), so
 * tests hand the real `DefaultAzureCredential` to it through IDENTITY_ENDPOINT / IDENTITY_HEADER.
 *
 * Plain HTTP on loopback, as App Service's is. It issues random opaque tokens and remembers the resource each was
 * issued for; a stand-in accepts only tokens issued for its own resource (`resourceOf`), so a passing test proves
 * the token really went credential -> SDK -> server, for the audience the server expects.
 *
 * The request log records shapes only (method, path, whether the identity header came, status, resource): never a
 * token, so tests can print it freely.
 */
import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface IdentityLoggedRequest {
  method: string;
  /** Path without the query (which holds only api-version and resource). */
  path: string;
  /** The X-IDENTITY-HEADER header was present (right or wrong). */
  bearer: boolean;
  status: number;
  /** The resource a token was asked for. */
  resource?: string;
}

export interface IdentityEndpoint {
  /** Value for IDENTITY_ENDPOINT. */
  endpoint: string;
  /** Value for IDENTITY_HEADER; the endpoint refuses requests without it. */
  header: string;
  /** The identity's application (client) id, as in the token responses and ARM's AuthorizationFailed messages. */
  clientId: string;
  /** The identity's service principal object id. */
  principalId: string;
  /** The resource `token` was issued for, or undefined when this endpoint never issued it. */
  resourceOf(token: string): string | undefined;
  /** Every request the endpoint saw, in order; a live array. */
  requests: readonly IdentityLoggedRequest[];
  /**
   * How the endpoint answers for one resource from now on: `refuse` as App Service does when the app has no such
   * identity (400), or always issue this exact token (a test can then make it a PostgreSQL role's password).
   */
  answerFor(resource: string, answer: { refuse: true } | { token: string }): void;
  /** Calls `listener` after each request is logged (how a stand-in merges these into its own log); returns an unsubscribe. */
  onRequest(listener: (request: IdentityLoggedRequest) => void): () => void;
  /** Idempotent, so a stand-in that shares the endpoint and the test that started it may both close it. */
  close(): Promise<void>;
}

const identityApiVersion = "2019-08-01";

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Listens on an ephemeral loopback port. */
export function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

export function shutDown(server: http.Server): Promise<void> {
  // The SDKs keep connections alive; without this, close() would wait for them to time out.
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Tokens have the shape of Entra's (a JWT with aud, iss, tid, oid and lifetime claims) with a meaningless
 * signature: Azurite's OAuth mode reads those claims without checking signatures, and the other stand-ins look
 * tokens up in what this endpoint issued.
 */
function jwtShapedToken(resource: string, tenantId: string, principalId: string, clientId: string): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const claims = { aud: resource, iss: `https://sts.windows.net/${tenantId}/`, tid: tenantId, oid: principalId, appid: clientId, nbf: now - 60, iat: now - 60, exp: now + 3600 };
  return `${part({ typ: "JWT", alg: "RS256" })}.${part(claims)}.${randomBytes(32).toString("base64url")}`;
}

export async function startIdentityEndpoint(): Promise<IdentityEndpoint> {
  const header = randomBytes(16).toString("hex");
  const clientId = randomUUID();
  const principalId = randomUUID();
  const tenantId = randomUUID();
  /** Tokens issued, with the resource each is for. */
  const issuedTokens = new Map<string, string>();
  const requests: IdentityLoggedRequest[] = [];
  const listeners = new Set<(request: IdentityLoggedRequest) => void>();
  let closing: Promise<void> | undefined;
  const answers = new Map<string, { refuse: true } | { token: string }>();

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const hasHeader = req.headers["x-identity-header"] !== undefined;
    const resource = url.searchParams.get("resource") ?? undefined;
    const answer = (status: number, body: unknown) => {
      const entry: IdentityLoggedRequest = { method: req.method ?? "", path: url.pathname, bearer: hasHeader, status, resource };
      requests.push(entry);
      for (const listener of listeners) listener(entry);
      sendJson(res, status, body);
    };
    req.resume();
    // The header proves the caller runs inside the app (SSRF protection in App Service); refuse without it.
    if (req.headers["x-identity-header"] !== header) {
      answer(401, { statusCode: 401, message: "X-IDENTITY-HEADER is missing or wrong." });
      return;
    }
    if (req.method !== "GET" || url.searchParams.get("api-version") !== identityApiVersion || !resource) {
      answer(400, { statusCode: 400, message: `Expected GET with api-version=${identityApiVersion} and a resource.` });
      return;
    }
    const special = answers.get(resource);
    if (special && "refuse" in special) {
      answer(400, { statusCode: 400, message: "No managed identity found for the specified client id, or it may not get tokens for this resource." });
      return;
    }
    const accessToken = special?.token ?? jwtShapedToken(resource, tenantId, principalId, clientId);
    issuedTokens.set(accessToken, resource);
    answer(200, {
      access_token: accessToken,
      // App Service answers epoch seconds as a string.
      expires_on: String(Math.floor(Date.now() / 1000) + 3600),
      resource,
      token_type: "Bearer",
      client_id: clientId,
    });
  });

  const port = await listen(server);
  return {
    endpoint: `http://127.0.0.1:${port}/msi/token`,
    header,
    clientId,
    principalId,
    resourceOf: (token) => issuedTokens.get(token),
    answerFor: (resource, answer) => void answers.set(resource, answer),
    requests,
    onRequest(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => (closing ??= shutDown(server)),
  };
}
