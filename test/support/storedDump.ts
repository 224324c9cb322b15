/**
 * An unencrypted dump as pgvault stores it, decoded from the documented format alone (docs/architecture.md,
 * "Compression"), not with the app's code: the 20-byte header, segments each followed by SHA-256(header | index |
 * final | plaintext), then zstd. Tests use it to show the stored bytes are what the documentation says.
 */
import { execFile, execFileSync } from "node:child_process";
import { createDecipheriv, createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { sealSegments } from "../../shared/encryption/segmentFormat";
import { cluster } from "./testDatabase";

export function decodeStoredDump(stored: Buffer): Buffer {
  if (stored.subarray(0, 6).toString("ascii") !== "PGVENC" || stored[6] !== 1 || stored[7] !== 2) throw new Error("not a checked-segment file");
  const header = stored.subarray(0, 20);
  const segmentSize = header.readUInt32BE(8);
  const parts: Buffer[] = [];
  for (let index = 0, offset = 20; offset < stored.length; index++, offset += segmentSize + 32) {
    const segment = stored.subarray(offset, Math.min(offset + segmentSize + 32, stored.length));
    const body = segment.subarray(0, segment.length - 32);
    const tag = Buffer.alloc(5);
    tag.writeUInt32BE(index, 0);
    tag[4] = offset + segment.length === stored.length ? 1 : 0;
    const expected = createHash("sha256").update(header).update(tag).update(body).digest();
    if (!expected.equals(segment.subarray(body.length))) throw new Error(`segment ${index} does not verify`);
    parts.push(body);
  }
  return unzstd(Buffer.concat(parts));
}

function unzstd(compressed: Buffer): Buffer {
  return execFileSync("zstd", ["-d", "-q", "-c"], { input: compressed, maxBuffer: 1024 ** 3 });
}

/** A data key wrapped with `A256KW` (RFC 3394), unwrapped with the key-encryption key as an operator would. */
export function unwrapA256kw(kek: Buffer, wrappedKey: string): Buffer {
  const unwrap = createDecipheriv("id-aes256-wrap", kek, Buffer.from("A6A6A6A6A6A6A6A6", "hex"));
  return Buffer.concat([unwrap.update(Buffer.from(wrappedKey, "base64")), unwrap.final()]);
}

/**
 * An encrypted dump decrypted from the documented format alone (docs/architecture.md, "Encryption": nonce = nonce
 * prefix | index, AAD = header | index | final, each segment followed by its GCM tag), then decompressed: the
 * pg_dump archive. Throws at the first segment that fails authentication. `segmentSize` defaults to the header's.
 */
export function decryptStoredDump(stored: Buffer, dataKey: Buffer, segmentSize = stored.readUInt32BE(8)): Buffer {
  const header = stored.subarray(0, 20);
  const parts: Buffer[] = [];
  const storedSegment = segmentSize + 16;
  for (let index = 0, offset = 20; offset < stored.length; index++, offset += storedSegment) {
    const body = stored.subarray(offset, Math.min(offset + storedSegment, stored.length));
    const nonce = Buffer.alloc(12);
    header.copy(nonce, 0, 12, 20);
    nonce.writeUInt32BE(index, 8);
    const aad = Buffer.alloc(25);
    header.copy(aad);
    aad.writeUInt32BE(index, 20);
    aad[24] = offset + body.length === stored.length ? 1 : 0;
    const decipher = createDecipheriv("aes-256-gcm", dataKey, nonce, { authTagLength: 16 });
    decipher.setAAD(aad);
    decipher.setAuthTag(body.subarray(body.length - 16));
    parts.push(decipher.update(body.subarray(0, body.length - 16)), decipher.final());
  }
  return unzstd(Buffer.concat(parts));
}

/**
 * A pg_dump archive stored as pgvault stores it unencrypted (zstd, then checked segments), made with the app's own
 * segment writer: tests use it to put an archive of their choosing into a recovery point.
 */
export async function encodeStoredDump(archive: Buffer): Promise<Buffer> {
  const compressed = execFileSync("zstd", ["-1", "-q", "-c"], { input: archive, maxBuffer: 1024 ** 3 });
  const parts: Buffer[] = [];
  for await (const part of sealSegments((async function* () { yield compressed; })(), undefined)) parts.push(part);
  return Buffer.concat(parts);
}

/** `pg_restore --list` of an archive (with the test cluster's pg_restore): its table of contents, or a rejection. */
export async function pgRestoreList(archive: Buffer, binDir = cluster().binDir): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), "pgvault-archive-"));
  try {
    const file = path.join(dir, "archive.dump");
    writeFileSync(file, archive);
    return (await promisify(execFile)(path.join(binDir, "pg_restore"), ["--list", file])).stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
