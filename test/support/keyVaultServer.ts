/**
 * A protocol-level Key Vault stand-in, so tests drive the real `SecretClient`, `KeyClient`, `CryptographyClient`
 * and `DefaultAzureCredential` end to end: the bearer challenge, a managed-identity token, and the REST shapes and
 * error bodies of secrets (GET) and RSA keys (GET, wrapkey, unwrapkey with RSA-OAEP / RSA-OAEP-256).
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
import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt, randomUUID, type KeyObject } from "node:crypto";
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
  /** Vault only: when it was answered (ms since the epoch), to see how long a client waited between attempts. */
  at?: number;
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
  /**
   * Creates a new version of the RSA 2048 key `name` (creating the key if needed) and returns its version id.
   * `keyOps` are the operations the key permits (default: all, as Key Vault's default).
   */
  createKey(name: string, options?: { keyOps?: string[] }): string;
  /** Removes every version of the key `name`, as a deleted (and purged) key. */
  deleteKey(name: string): void;
  /** From now on, authorized reads of the secret `name` and uses of the key `name` answer 403 Forbidden, as when the identity lacks the role. */
  forbid(name: string): void;
  /** The next `count` authorized secret reads or key requests answer 503 with `Retry-After: 0` (so SDK retries are immediate). */
  failNext(count: number): void;
  /**
   * The next authorized secret reads or key requests answer these statuses, one each, in order: 429 as Key Vault
   * throttles (`Throttled`), anything else as a service error; with `Retry-After` when `retryAfterSeconds` is given.
   */
  failNextWith(failures: { status: number; retryAfterSeconds?: number }[]): void;
  /** Every request both listeners saw, in order; a live array, so tests mark a length and slice after it. */
  requests: readonly LoggedRequest[];
  close(): Promise<void>;
}

interface StoredVersion {
  version: string;
  value: string;
  created: number;
}

interface StoredKeyVersion {
  version: string;
  publicKey: KeyObject;
  privateKey: KeyObject;
  keyOps: string[];
  created: number;
}

const allKeyOps = ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"];
/** OAEP digests of the wrapping algorithms the stand-in serves. */
const oaepHashes: Record<string, string> = { "RSA-OAEP": "sha1", "RSA-OAEP-256": "sha256" };

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
  const keys = new Map<string, StoredKeyVersion[]>();
  const forbidden = new Set<string>();
  const requests: LoggedRequest[] = [];
  const unsubscribe = tokens.onRequest(({ method, path, bearer, status, resource }) => {
    requests.push({ server: "identity", method, path, bearer, status, resource });
  });
  let failuresLeft = 0;
  const scriptedFailures: { status: number; retryAfterSeconds?: number }[] = [];
  let vaultHost = "";

  const challenge = `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="${keyVaultResource}"`;

  const vault = https.createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, (req, res) => {
    // The body (key operations carry one) is read whole before answering; that also keeps keep-alive usable.
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => handle(req, res, Buffer.concat(chunks)));
  });

  const keyBundle = (name: string, stored: StoredKeyVersion) => {
    const jwk = stored.publicKey.export({ format: "jwk" });
    return {
      key: { kid: `https://${vaultHost}/keys/${name}/${stored.version}`, kty: "RSA", key_ops: stored.keyOps, n: jwk.n, e: jwk.e },
      attributes: { enabled: true, created: stored.created, updated: stored.created, recoveryLevel: "Recoverable+Purgeable", recoverableDays: 90 },
      tags: {},
    };
  };

  /** GET /keys/{name}[/{version}], POST /keys/{name}/{version}/wrapkey|unwrapkey; `answer` logs and sends. */
  const serveKey = (
    method: string,
    name: string,
    requestedVersion: string | undefined,
    operation: string | undefined,
    body: Buffer,
    answer: (status: number, body: unknown) => void,
  ): void => {
    const versions = keys.get(name) ?? [];
    const stored = requestedVersion ? versions.find((v) => v.version === requestedVersion) : versions.at(-1);
    if (!stored) {
      const what = requestedVersion ? `${name}/${requestedVersion}` : name;
      answer(404, vaultError("KeyNotFound", `A key with (name/id) ${what} was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command.`));
      return;
    }
    if (method === "GET" && !operation) {
      answer(200, keyBundle(name, stored));
      return;
    }
    if (method !== "POST" || !operation) {
      answer(405, vaultError("BadParameter", "This stand-in serves GET of keys and POST of wrapkey/unwrapkey only."));
      return;
    }
    let request: { alg?: string; value?: string };
    try {
      request = JSON.parse(body.toString("utf8")) as { alg?: string; value?: string };
    } catch {
      answer(400, vaultError("BadParameter", "The request body is not valid JSON."));
      return;
    }
    const oaepHash = request.alg ? oaepHashes[request.alg] : undefined;
    if (!oaepHash || typeof request.value !== "string") {
      answer(400, vaultError("BadParameter", `Invalid algorithm or value: the stand-in serves ${Object.keys(oaepHashes).join(", ")}.`));
      return;
    }
    const kid = `https://${vaultHost}/keys/${name}/${stored.version}`;
    if (!stored.keyOps.includes(operation === "wrapkey" ? "wrapKey" : "unwrapKey")) {
      answer(403, vaultError("Forbidden", `Operation ${operation} is not allowed on this key.`, "KeyOperationForbidden"));
      return;
    }
    const value = Buffer.from(request.value, "base64url");
    const padding = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash };
    try {
      const result =
        operation === "wrapkey" ? publicEncrypt({ key: stored.publicKey, ...padding }, value) : privateDecrypt({ key: stored.privateKey, ...padding }, value);
      answer(200, { kid, value: result.toString("base64url") });
    } catch {
      // What Key Vault answers for ciphertext that does not decrypt under the key.
      answer(400, vaultError("BadParameter", "The parameter is incorrect."));
    }
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void => {
    const url = new URL(req.url ?? "/", `https://${vaultHost}`);
    const authorization = req.headers.authorization ?? "";
    const bearer = /^Bearer\s+\S/i.test(authorization);
    const answer = (status: number, body: unknown, headers?: http.OutgoingHttpHeaders) => {
      requests.push({ server: "vault", method: req.method ?? "", path: url.pathname, bearer, status, at: Date.now() });
      sendJson(res, status, body, headers);
    };
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
    const keyMatch = /^\/keys\/([0-9A-Za-z-]+)(?:\/([0-9A-Za-z]*))?(?:\/(wrapkey|unwrapkey))?\/?$/.exec(url.pathname);
    const match = /^\/secrets\/([0-9A-Za-z-]+)(?:\/([0-9A-Za-z]*))?\/?$/.exec(url.pathname);
    if (!keyMatch && (req.method !== "GET" || !match)) {
      answer(404, vaultError("NotFound", "This stand-in serves GET /secrets/{name}[/{version}] and /keys/{name}[/{version}][/wrapkey|/unwrapkey] only."));
      return;
    }
    const scripted = scriptedFailures.shift();
    if (scripted) {
      const throttled = scripted.status === 429;
      const body = throttled
        ? vaultError("Throttled", "Rate limit is exceeded. Try again in a moment.")
        : vaultError("ServiceUnavailable", "The service encountered an internal error.");
      answer(scripted.status, body, scripted.retryAfterSeconds === undefined ? undefined : { "retry-after": String(scripted.retryAfterSeconds) });
      return;
    }
    if (failuresLeft > 0) {
      failuresLeft -= 1;
      answer(503, vaultError("ServiceUnavailable", "The service is temporarily unavailable."), { "retry-after": "0" });
      return;
    }
    if (keyMatch) {
      const keyName = keyMatch[1]!;
      if (forbidden.has(keyName)) {
        const action = keyMatch[3] ? `${keyMatch[3] === "wrapkey" ? "wrap" : "unwrap"}/action` : "read";
        answer(403, vaultError("Forbidden", `Caller is not authorized to perform action on resource. Action: 'Microsoft.KeyVault/vaults/keys/${action}' Resource: '${keyName}'`, "ForbiddenByRbac"));
        return;
      }
      serveKey(req.method ?? "", keyName, keyMatch[2] || undefined, keyMatch[3], body, answer);
      return;
    }
    const name = match![1]!;
    const requestedVersion = match![2] || undefined;
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
  };

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
    createKey(name, options = {}) {
      const version = randomUUID().replaceAll("-", "");
      const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const versions = keys.get(name) ?? [];
      versions.push({ version, publicKey, privateKey, keyOps: options.keyOps ?? allKeyOps, created: Math.floor(Date.now() / 1000) });
      keys.set(name, versions);
      return version;
    },
    deleteKey(name) {
      keys.delete(name);
    },
    forbid(name) {
      forbidden.add(name);
    },
    failNext(count) {
      failuresLeft = count;
    },
    failNextWith(failures) {
      scriptedFailures.push(...failures);
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
