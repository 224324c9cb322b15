/**
 * A protocol-level Key Vault stand-in, so tests drive the real `SecretClient` and `DefaultAzureCredential`
 * end to end: the bearer challenge, a managed-identity token, and the secrets REST shapes and error bodies.
 *
 * Two listeners, as in Azure:
 * - the vault, on HTTPS (the SDK never sends a bearer token over plain HTTP) with the harness's test certificate;
 * - an App Service style managed-identity token endpoint (./identityEndpoint), its own unless one is passed in so
 *   that Key Vault and the ARM stand-in share one identity, as they do in one Function App.
 * The vault accepts only tokens that endpoint issued for the Key Vault resource, so a passing test proves the
 * token really went credential -> SDK -> vault.
 *
 * The request log records shapes only (method, path, whether a bearer token came, status): never a value or a
 * token, so tests can print it freely.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type http from "node:http";
import https from "node:https";
import { listen, sendJson, shutDown, startIdentityEndpoint, type IdentityEndpoint } from "./identityEndpoint";

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

/** Key Vault's error body shape: `{ error: { code, message } }`. */
function vaultError(code: string, message: string, innerCode?: string) {
  return { error: { code, message, ...(innerCode ? { innererror: { code: innerCode } } : {}) } };
}

/**
 * Starts the vault. Without `identity` it starts (and on close stops) its own token endpoint; with one, it shares
 * that endpoint and leaves closing it to whoever started it. Either way the endpoint's requests appear in `requests`.
 */
export async function startKeyVaultServer(
  tls: { certFile: string; keyFile: string },
  identity?: IdentityEndpoint,
): Promise<KeyVaultTestServer> {
  const ownIdentity = identity === undefined;
  const tokens = identity ?? (await startIdentityEndpoint());
  const tenantId = randomUUID();
  const secrets = new Map<string, StoredVersion[]>();
  const forbidden = new Set<string>();
  const requests: LoggedRequest[] = [];
  const unsubscribe = tokens.onRequest(({ method, path, bearer, status, resource }) => {
    requests.push({ server: "identity", method, path, bearer, status, resource });
  });
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
    if (!token || tokens.resourceOf(token) !== keyVaultResource) {
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

  vaultHost = `127.0.0.1:${await listen(vault)}`;

  return {
    vaultUrl: `https://${vaultHost}`,
    identityEndpoint: tokens.endpoint,
    identityHeader: tokens.header,
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
      unsubscribe();
      await Promise.all([shutDown(vault), ownIdentity ? tokens.close() : undefined]);
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
