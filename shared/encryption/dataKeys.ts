/**
 * Per-recovery-point data keys and the policy key that wraps them (envelope encryption). A data key is 32 random
 * bytes, exists in clear only inside the activity that seals or opens a dump, and is stored only wrapped:
 * - by a Key Vault key (`CryptographyClient.wrapKey("RSA-OAEP-256")` / `unwrapKey`, DefaultAzureCredential; the
 *   private key never leaves Key Vault), pinned to the key version that wrapped it;
 * - or, for local development, by a 256-bit key in an app setting (`env:<NAME>`, base64), with AES key wrap
 *   (RFC 3394, `id-aes256-wrap`), recorded with a fingerprint of that key.
 * Errors name the key, never its material: not found `UserErrorSecretNotFound`, forbidden
 * `UserErrorMissingPermissionsOnSecretStore`, a bad reference or a key that cannot wrap `UserErrorInvalidSecret`, a
 * data key that does not unwrap `UserErrorRecoveryPointCorrupted`, Key Vault throttling/5xx transient.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import type { CryptographyClient, KeyClient, KeyVaultKey } from "@azure/keyvault-keys";
import type { RecoveryPointEncryption } from "../domain";
import { ensureError, PgVaultError } from "../errors";
import { describeKeyRef, parseKeyRef, type KeyReference } from "../secrets/keyRef";
import { keyVaultFailure } from "../secrets/keyVaultErrors";
import { dataKeyLength } from "./segmentFormat";

type KeyVaultKeyRef = Extract<KeyReference, { kind: "keyVault" }>;
type EnvKeyRef = Extract<KeyReference, { kind: "env" }>;

/** A key reference with the version every step of one job uses (Key Vault version, or the app-setting key's fingerprint). */
export interface PinnedKey {
  keyRef: string;
  keyVersion: string;
}

/** What a recovery point records about its data key. */
export type WrappedDataKey = Pick<RecoveryPointEncryption, "keyRef" | "keyVersion" | "algorithm" | "wrappedKey">;

const keyVaultAlgorithm = "RSA-OAEP-256";
/** RFC 3394's default initial value. */
const aesKwIv = Buffer.from("A6A6A6A6A6A6A6A6", "hex");

// ---- app-setting keys -------------------------------------------------------------------------------------------

function envKey(ref: EnvKeyRef): Buffer {
  const what = describeKeyRef(ref);
  const value = process.env[ref.name]?.trim();
  if (!value) throw new PgVaultError("UserErrorSecretNotFound", `The ${what} is not set.`);
  // 32 bytes are 43 base64 characters plus one '=' (base64url without it is accepted too).
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) {
    throw new PgVaultError(
      "UserErrorSecretValueInUnsupportedFormat",
      `The ${what} must hold a 256-bit key, base64-encoded (44 characters, for example from 'openssl rand -base64 32').`,
    );
  }
  return Buffer.from(value.replaceAll("-", "+").replaceAll("_", "/"), "base64");
}

/** Names an app-setting key without revealing it: the first 64 bits of its SHA-256. */
export function keyFingerprint(key: Buffer): string {
  return `sha256:${createHash("sha256").update(key).digest("hex").slice(0, 16)}`;
}

function aesKeyWrap(kek: Buffer, dataKey: Buffer): Buffer {
  const cipher = createCipheriv("id-aes256-wrap", kek, aesKwIv);
  return Buffer.concat([cipher.update(dataKey), cipher.final()]);
}

/** The unwrapped key, or undefined when RFC 3394's integrity check fails (another key, or altered bytes). */
function aesKeyUnwrap(kek: Buffer, wrapped: Buffer): Buffer | undefined {
  try {
    const decipher = createDecipheriv("id-aes256-wrap", kek, aesKwIv);
    return Buffer.concat([decipher.update(wrapped), decipher.final()]);
  } catch {
    return undefined;
  }
}

// ---- Key Vault keys ---------------------------------------------------------------------------------------------

const keyClients = new Map<string, KeyClient>();
const cryptographyClients = new Map<string, CryptographyClient>();

// A loopback stand-in cannot match a Key Vault resource name; real vault hosts keep the check on.
const clientOptions = (ref: KeyVaultKeyRef) => ({ disableChallengeResourceVerification: ref.isLocalStandIn });

/** The Key Vault SDK and the credential, loaded on first use: app-setting keys never need them. */
async function keyVaultSdk() {
  const [{ CryptographyClient, KeyClient }, { getAzureCredential }] = await Promise.all([import("@azure/keyvault-keys"), import("../azureCredential")]);
  return { CryptographyClient, KeyClient, credential: getAzureCredential() };
}

async function keyClientFor(ref: KeyVaultKeyRef): Promise<KeyClient> {
  let client = keyClients.get(ref.vaultUrl);
  if (!client) {
    const sdk = await keyVaultSdk();
    client = new sdk.KeyClient(ref.vaultUrl, sdk.credential, clientOptions(ref));
    keyClients.set(ref.vaultUrl, client);
  }
  return client;
}

async function cryptographyClientFor(ref: KeyVaultKeyRef, version: string): Promise<CryptographyClient> {
  const id = `${ref.vaultUrl}/keys/${ref.name}/${version}`;
  let client = cryptographyClients.get(id);
  if (!client) {
    const sdk = await keyVaultSdk();
    client = new sdk.CryptographyClient(id, sdk.credential, clientOptions(ref));
    cryptographyClients.set(id, client);
  }
  return client;
}

/** The version segment of a key id `https://<vault>/keys/<name>/<version>`. */
function versionOf(keyId: string | undefined): string | undefined {
  return keyId ? /\/keys\/[^/]+\/([^/?]+)/.exec(keyId)?.[1] : undefined;
}

/** A key that exists but cannot do this job: the wrong type, wrapKey/unwrapKey not allowed, disabled or expired. */
function unusableKey(what: string, reason: string): PgVaultError {
  return new PgVaultError("UserErrorInvalidSecret", `The ${what} cannot wrap recovery point keys: ${reason}.`);
}

/** Failures of the SDK in spec terms. The client's own checks (operations, expiry) throw plain errors. */
function keyFailure(err: unknown, what: string): PgVaultError {
  if (err instanceof PgVaultError) return err;
  const error = ensureError(err);
  const local = /is not supported on key|expired at|can't be used before/.exec(error.message);
  if (local && (error as { statusCode?: number }).statusCode === undefined) {
    return unusableKey(what, error.message.replace(/https:\/\/\S+/g, "it"));
  }
  return keyVaultFailure(err, `the ${what}`, "use");
}

function checkUsable(key: KeyVaultKey, what: string): void {
  const type = key.keyType ?? key.key?.kty;
  if (type !== "RSA" && type !== "RSA-HSM") throw unusableKey(what, `it is a${type ? `n ${type}` : "n unknown type of"} key; pgvault needs an RSA key`);
  const operations = key.keyOperations;
  const missing = ["wrapKey", "unwrapKey"].filter((op) => operations && !operations.includes(op as (typeof operations)[number]));
  if (missing.length > 0) throw unusableKey(what, `the key does not permit ${missing.join(" and ")}`);
  if (key.properties.enabled === false) throw unusableKey(what, "the key is disabled");
}

// ---- the operations activities use ----------------------------------------------------------------------------

/**
 * Checks that `keyRef` names a usable key and returns the version this job pins: the reference's own version, or
 * the latest one (read at each backup, so rotating the key needs no policy change).
 */
export async function resolveKey(keyRef: string): Promise<PinnedKey> {
  const ref = parseKeyRef(keyRef);
  if (ref.kind === "env") return { keyRef, keyVersion: keyFingerprint(envKey(ref)) };
  const what = describeKeyRef(ref);
  try {
    const key = await (await keyClientFor(ref)).getKey(ref.name, { version: ref.version });
    checkUsable(key, what);
    const version = key.properties.version ?? versionOf(key.id);
    if (!version) throw new PgVaultError("SystemErrorUnexpected", `Key Vault answered for the ${what} without a key version.`);
    return { keyRef, keyVersion: version };
  } catch (err) {
    throw keyFailure(err, what);
  }
}

/**
 * A fresh data key and its wrapped form, for one dump. The wrapped key is unwrapped again before it is used, so a
 * backup that this identity could not decrypt (no unwrap permission, a mismatched key) fails now, not at restore.
 */
export async function createDataKey(pinned: PinnedKey): Promise<{ dataKey: Buffer; wrapped: WrappedDataKey }> {
  const ref = parseKeyRef(pinned.keyRef);
  const dataKey = randomBytes(dataKeyLength);
  let wrapped: WrappedDataKey;
  if (ref.kind === "env") {
    // An app setting has no versions: the key it holds now wraps, and its fingerprint is recorded.
    const kek = envKey(ref);
    wrapped = { keyRef: pinned.keyRef, keyVersion: keyFingerprint(kek), algorithm: "A256KW", wrappedKey: aesKeyWrap(kek, dataKey).toString("base64") };
  } else {
    const what = describeKeyRef(ref, pinned.keyVersion);
    try {
      const result = await (await cryptographyClientFor(ref, pinned.keyVersion)).wrapKey(keyVaultAlgorithm, dataKey);
      // The version that really wrapped it, as Key Vault names it (the pinned one, unless the SDK says otherwise).
      const keyVersion = versionOf(result.keyID) ?? pinned.keyVersion;
      wrapped = { keyRef: pinned.keyRef, keyVersion, algorithm: keyVaultAlgorithm, wrappedKey: Buffer.from(result.result).toString("base64") };
    } catch (err) {
      throw keyFailure(err, what);
    }
  }
  const roundTrip = await unwrapDataKey(wrapped);
  if (!roundTrip.equals(dataKey)) {
    throw new PgVaultError("SystemErrorUnexpected", `The ${describeKeyRef(ref, pinned.keyVersion)} did not give back the data key it wrapped.`);
  }
  return { dataKey, wrapped };
}

/** The data key of a recovery point, unwrapped with the key version it records. */
export async function unwrapDataKey(encryption: WrappedDataKey): Promise<Buffer> {
  const ref = parseKeyRef(encryption.keyRef);
  const what = describeKeyRef(ref, ref.kind === "env" ? undefined : encryption.keyVersion);
  const wrapped = Buffer.from(encryption.wrappedKey, "base64");
  const refused = (reason: string) =>
    new PgVaultError("UserErrorRecoveryPointCorrupted", `The recovery point cannot be decrypted with the ${what}: ${reason}; nothing was restored.`);
  let dataKey: Buffer | undefined;
  if (ref.kind === "env") {
    if (encryption.algorithm !== "A256KW") throw refused(`its data key was wrapped with ${encryption.algorithm}, not with an app-setting key`);
    const kek = envKey(ref);
    const fingerprint = keyFingerprint(kek);
    if (fingerprint !== encryption.keyVersion) {
      throw refused(`the setting holds key ${fingerprint}, but the data key was wrapped by key ${encryption.keyVersion}`);
    }
    dataKey = aesKeyUnwrap(kek, wrapped);
    if (!dataKey) throw refused("its wrapped data key fails the key-wrap integrity check (it was altered)");
  } else {
    if (encryption.algorithm !== keyVaultAlgorithm) throw refused(`its data key was wrapped with ${encryption.algorithm}, not with a Key Vault key`);
    try {
      const result = await (await cryptographyClientFor(ref, encryption.keyVersion)).unwrapKey(keyVaultAlgorithm, wrapped);
      dataKey = Buffer.from(result.result);
    } catch (err) {
      const status = (ensureError(err) as { statusCode?: number }).statusCode;
      // Key Vault refuses ciphertext that does not decrypt under the key with 400 (BadParameter).
      if (status === 400) throw refused("Key Vault could not unwrap its data key (HTTP 400): it was wrapped by another key, or altered");
      throw keyFailure(err, what);
    }
  }
  if (dataKey.length !== dataKeyLength) throw refused(`its unwrapped data key has ${dataKey.length} bytes instead of ${dataKeyLength}`);
  return dataKey;
}
