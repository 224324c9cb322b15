/**
 * A protocol-level Key Vault stand-in, so tests drive the real `SecretClient` and `DefaultAzureCredential`
 * end to end: the bearer challenge, a managed-identity token, and the secrets REST shapes and error bodies.
 *
 * Two listeners, as in Azure:
 * - the vault, on HTTPS (the SDK never sends a bearer token over plain HTTP) with the harness's test certificate;
 * - an App Service style managed-identity token endpoint on plain HTTP (App Service's is plain HTTP on loopback),
 *   which tests hand to `DefaultAzureCredential` through IDENTITY_ENDPOINT / IDENTITY_HEADER.
 * The vault accepts only tokens this endpoint issued for the Key Vault resource, so a passing test proves the
 * token really went credential -> SDK -> vault.
 *
 * The request log records shapes only (method, path, whether a bearer token came, status): never a value or a
 * token, so tests can print it freely.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";

/** The audience Key Vault tokens are issued for; the challenge names it and the SDK asks for it. */
export const keyVaultResource = "https://vault.azure.net";

export interface LoggedRequest {
  server: "vault" | "identity";
  method: string;
  /** Path without the query (which only holds api-version and, for identity, the resource). */
  path: string;
  /** Vault: an `Authorization: Bearer ...` header was present (valid or not). Identity: the identity header was. */
  bearer: boolean;
  status: number;
  /** Identity only: the resource a token was asked for. */
  resource?: string;
}

export interface KeyVaultTestServer {
  /** `https://127.0.0.1:<port>`, the origin of every secret id the vault returns. */
  vaultUrl: string;
  /** Value for IDENTITY_ENDPOINT. */
  identityEndpoint: string;
  /** Value for IDENTITY_HEADER; the token endpoint refuses requests without it. */
  identityHeader: string;
  /** The tenant the vault's challenge names. */
  tenantId: string;
  /** Stores a new version of `name` (creating the secret if needed) and returns its version id. */
  setSecret(name: string, value: string): string;
  /** From now on, authorized reads of `name` answer 403 Forbidden, as when the identity lacks the role. */
  forbid(name: string): void;
  /** The next `count` authorized secret reads answer 503 with `Retry-After: 0` (so SDK retries are immediate). */
  failNext(count: number): void;
  /** Every request both listeners saw, in order; a live array, so tests mark a length and slice after it. */
  requests: readonly LoggedRequest[];
  close(): Promise<void>;
}

interface StoredVersion {
  version: string;
  value: string;
  created: number;
}

const apiVersionParameter = "api-version";
const identityApiVersion = "2019-08-01";

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Key Vault's error body shape: `{ error: { code, message } }`. */
function vaultError(code: string, message: string, innerCode?: string) {
  return { error: { code, message, ...(innerCode ? { innererror: { code: innerCode } } : {}) } };
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

function shutDown(server: http.Server): Promise<void> {
  // The SDK keeps connections alive; without this, close() would wait for them to time out.
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function startKeyVaultServer(tls: { certFile: string; keyFile: string }): Promise<KeyVaultTestServer> {
  const tenantId = randomUUID();
  const identityHeader = randomBytes(16).toString("hex");
  const secrets = new Map<string, StoredVersion[]>();
  const forbidden = new Set<string>();
  /** Tokens the identity endpoint issued, with the resource each is for. */
  const issuedTokens = new Map<string, string>();
  const requests: LoggedRequest[] = [];
  let failuresLeft = 0;
  let vaultHost = "";

  const challenge = `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="${keyVaultResource}"`;

  const vault = https.createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, (req, res) => {
    const url = new URL(req.url ?? "/", `https://${vaultHost}`);
    const authorization = req.headers.authorization ?? "";
    const bearer = /^Bearer\s+\S/i.test(authorization);
    const answer = (status: number, body: unknown, headers?: http.OutgoingHttpHeaders) => {
      requests.push({ server: "vault", method: req.method ?? "", path: url.pathname, bearer, status });
      sendJson(res, status, body, headers);
    };
    // Drain any body so keep-alive connections stay usable.
    req.resume();

    // Key Vault answers every request without a valid token with the challenge, whatever the path.
    const token = bearer ? authorization.replace(/^Bearer\s+/i, "") : undefined;
    if (!token || issuedTokens.get(token) !== keyVaultResource) {
      answer(401, vaultError("Unauthorized", token ? "AKV10032: Invalid issuer or token." : "AKV10000: Request is missing a Bearer or PoP token."), {
        "www-authenticate": challenge,
      });
      return;
    }
    if (!url.searchParams.get(apiVersionParameter)) {
      answer(400, vaultError("BadParameter", "The request URI must contain an api-version query parameter."));
      return;
    }
    const match = /^\/secrets\/([0-9A-Za-z-]+)(?:\/([0-9A-Za-z]*))?\/?$/.exec(url.pathname);
    if (req.method !== "GET" || !match) {
      answer(404, vaultError("NotFound", "This stand-in serves GET /secrets/{name}[/{version}] only."));
      return;
    }
    if (failuresLeft > 0) {
      failuresLeft -= 1;
      answer(503, vaultError("ServiceUnavailable", "The service is temporarily unavailable."), { "retry-after": "0" });
      return;
    }
    const name = match[1]!;
    const requestedVersion = match[2] || undefined;
    if (forbidden.has(name)) {
      answer(
        403,
        vaultError(
          "Forbidden",
          `Caller is not authorized to perform action on resource. Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action' Resource: '${name}'`,
          "ForbiddenByRbac",
        ),
      );
      return;
    }
    const versions = secrets.get(name) ?? [];
    const stored = requestedVersion ? versions.find((v) => v.version === requestedVersion) : versions.at(-1);
    if (!stored) {
      const what = requestedVersion ? `${name}/${requestedVersion}` : name;
      answer(404, vaultError("SecretNotFound", `A secret with (name/id) ${what} was not found in this key vault.`));
      return;
    }
    answer(200, {
      value: stored.value,
      id: `https://${vaultHost}/secrets/${name}/${stored.version}`,
      attributes: {
        enabled: true,
        created: stored.created,
        updated: stored.created,
        recoveryLevel: "Recoverable+Purgeable",
        recoverableDays: 90,
      },
      tags: {},
    });
  });

  const identity = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const hasHeader = req.headers["x-identity-header"] !== undefined;
    const resource = url.searchParams.get("resource") ?? undefined;
    const answer = (status: number, body: unknown) => {
      requests.push({ server: "identity", method: req.method ?? "", path: url.pathname, bearer: hasHeader, status, resource });
      sendJson(res, status, body);
    };
    req.resume();
    // The header proves the caller runs inside the app (SSRF protection in App Service); refuse without it.
    if (req.headers["x-identity-header"] !== identityHeader) {
      answer(401, { statusCode: 401, message: "X-IDENTITY-HEADER is missing or wrong." });
      return;
    }
    if (req.method !== "GET" || url.searchParams.get(apiVersionParameter) !== identityApiVersion || !resource) {
      answer(400, { statusCode: 400, message: `Expected GET with api-version=${identityApiVersion} and a resource.` });
      return;
    }
    const accessToken = randomBytes(24).toString("base64url");
    issuedTokens.set(accessToken, resource);
    answer(200, {
      access_token: accessToken,
      // App Service answers epoch seconds as a string.
      expires_on: String(Math.floor(Date.now() / 1000) + 3600),
      resource,
      token_type: "Bearer",
      client_id: randomUUID(),
    });
  });

  const [vaultPort, identityPort] = await Promise.all([listen(vault), listen(identity)]);
  vaultHost = `127.0.0.1:${vaultPort}`;

  return {
    vaultUrl: `https://${vaultHost}`,
    identityEndpoint: `http://127.0.0.1:${identityPort}/msi/token`,
    identityHeader,
    tenantId,
    setSecret(name, value) {
      // Key Vault version ids are 32 hex digits.
      const version = randomUUID().replaceAll("-", "");
      const versions = secrets.get(name) ?? [];
      versions.push({ version, value, created: Math.floor(Date.now() / 1000) });
      secrets.set(name, versions);
      return version;
    },
    forbid(name) {
      forbidden.add(name);
    },
    failNext(count) {
      failuresLeft = count;
    },
    requests,
    close: async () => {
      await Promise.all([shutDown(vault), shutDown(identity)]);
    },
  };
}

/**
 * Starts the stand-in and points this process's DefaultAzureCredential at its identity endpoint (the credential
 * is created once per process, so call this before the first Key Vault read of a test file).
 */
export async function useKeyVaultStandIn(tls: { certFile: string; keyFile: string }): Promise<KeyVaultTestServer> {
  const server = await startKeyVaultServer(tls);
  process.env.IDENTITY_ENDPOINT = server.identityEndpoint;
  process.env.IDENTITY_HEADER = server.identityHeader;
  return server;
}
