/**
 * The segmented file format of a `database` backup (docs/architecture.md, "Encryption" and "Compression"): a
 * 20-byte header, then the stored stream in segments of `segmentSize` bytes (the last one shorter, possibly empty),
 * each followed by a tag that proves it intact before anything reads it:
 *
 *   header  = "PGVENC" | version (1) | protection (1 byte) | segmentSize (uint32 BE) | noncePrefix (8 random bytes)
 *   AAD     = header | index (uint32 BE) | final (1 byte: 1 for the last segment, else 0)   index counts from 0
 *   protection 1, AES-256-GCM under the recovery point's data key (encrypted points):
 *     segment = ciphertext (same length as its plaintext) | GCM tag (16 bytes), nonce = noncePrefix | index (uint32 BE)
 *   protection 2, SHA-256 (every other point written since compression):
 *     segment = plaintext | SHA-256(AAD | plaintext) (32 bytes)
 *
 * The header is bound into every tag; the index makes reordering, dropping or repeating a segment fail its tag;
 * the final flag makes a file cut at a segment boundary ("ends before its final segment") and one with bytes after
 * its final segment detectable. A segment is handed out only after its tag verified, so no damaged byte ever
 * reaches pg_restore or a decompressor. The SHA-256 tags detect damage, not forgery: an unencrypted point's
 * defence against a deliberate change is its whole-file SHA-256 in the catalog. Memory is one segment each way.
 *
 * Pure Node crypto; no SDK. Failures are `UserErrorRecoveryPointCorrupted` naming the file and what is wrong.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { PgVaultError } from "../errors";

export const encryptionFormat = "pgvault-aes-256-gcm-segments" as const;
export const encryptionFormatVersion = 1 as const;
const magic = Buffer.from("PGVENC", "ascii");
/** How segments are protected (header byte 7); a key means AES-256-GCM, no key SHA-256 tags. */
const protectionAes256Gcm = 1;
const protectionSha256 = 2;
export const headerLength = 20;
/** Tag of an encrypted segment (GCM). */
export const tagLength = 16;
/** Tag of an unencrypted segment (SHA-256). */
export const checksumLength = 32;
const noncePrefixLength = 8;
export const dataKeyLength = 32;
export const defaultSegmentSize = 4 * 1024 * 1024;
export const minSegmentSize = 1024;
export const maxSegmentSize = 64 * 1024 * 1024;
const maxSegments = 2 ** 32;

export interface FileHeader {
  version: number;
  protection: typeof protectionAes256Gcm | typeof protectionSha256;
  segmentSize: number;
  noncePrefix: Buffer;
  /** The 20 header bytes as stored, part of every segment's AAD. */
  bytes: Buffer;
}

export function encodeHeader(segmentSize: number, encrypted: boolean, noncePrefix: Buffer = randomBytes(noncePrefixLength)): FileHeader {
  if (!Number.isInteger(segmentSize) || segmentSize < minSegmentSize || segmentSize > maxSegmentSize) {
    throw new RangeError(`segment size must be an integer from ${minSegmentSize} to ${maxSegmentSize}`);
  }
  const bytes = Buffer.alloc(headerLength);
  magic.copy(bytes, 0);
  bytes.writeUInt8(encryptionFormatVersion, 6);
  const protection = encrypted ? protectionAes256Gcm : protectionSha256;
  bytes.writeUInt8(protection, 7);
  bytes.writeUInt32BE(segmentSize, 8);
  noncePrefix.copy(bytes, 12, 0, noncePrefixLength);
  return { version: encryptionFormatVersion, protection, segmentSize, noncePrefix: bytes.subarray(12, 20), bytes };
}

function corrupted(label: string, problem: string): PgVaultError {
  return new PgVaultError("UserErrorRecoveryPointCorrupted", `${label} ${problem}; nothing was restored from it.`);
}

export function decodeHeader(bytes: Buffer, label: string): FileHeader {
  if (bytes.length < headerLength || !bytes.subarray(0, magic.length).equals(magic)) {
    throw corrupted(label, "is not a pgvault segmented file (its header is missing or damaged)");
  }
  const version = bytes.readUInt8(6);
  if (version !== encryptionFormatVersion) throw corrupted(label, `has encryption format version ${version}, which this version of pgvault cannot read`);
  const protection = bytes.readUInt8(7);
  if (protection !== protectionAes256Gcm && protection !== protectionSha256) throw corrupted(label, `names cipher ${protection}, which pgvault does not know`);
  const segmentSize = bytes.readUInt32BE(8);
  if (segmentSize < minSegmentSize || segmentSize > maxSegmentSize) throw corrupted(label, `has an impossible segment size (${segmentSize})`);
  const header = Buffer.from(bytes.subarray(0, headerLength));
  return { version, protection, segmentSize, noncePrefix: header.subarray(12, 20), bytes: header };
}

function nonceOf(header: FileHeader, index: number): Buffer {
  const nonce = Buffer.alloc(12);
  header.noncePrefix.copy(nonce, 0);
  nonce.writeUInt32BE(index, 8);
  return nonce;
}

function aadOf(header: FileHeader, index: number, final: boolean): Buffer {
  const aad = Buffer.alloc(headerLength + 5);
  header.bytes.copy(aad, 0);
  aad.writeUInt32BE(index, headerLength);
  aad.writeUInt8(final ? 1 : 0, headerLength + 4);
  return aad;
}

function tagLengthOf(header: FileHeader): number {
  return header.protection === protectionAes256Gcm ? tagLength : checksumLength;
}

function checksumOf(header: FileHeader, index: number, final: boolean, plaintext: Buffer): Buffer {
  return createHash("sha256").update(aadOf(header, index, final)).update(plaintext).digest();
}

/** One stored segment: encrypted and tagged with a key, else the plaintext and its SHA-256 tag. */
export function sealSegment(key: Buffer | undefined, header: FileHeader, index: number, final: boolean, plaintext: Buffer): Buffer {
  if (!key) return Buffer.concat([plaintext, checksumOf(header, index, final, plaintext)]);
  const cipher = createCipheriv("aes-256-gcm", key, nonceOf(header, index), { authTagLength: tagLength });
  cipher.setAAD(aadOf(header, index, final));
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** The plaintext of one stored segment, or undefined when its tag does not verify with this index and flag. */
export function openSegment(key: Buffer | undefined, header: FileHeader, index: number, final: boolean, stored: Buffer): Buffer | undefined {
  if (!key) {
    const body = stored.subarray(0, stored.length - checksumLength);
    // A copy: `stored` is the reader's segment buffer, refilled while the consumer may still hold this one.
    return timingSafeEqual(checksumOf(header, index, final, body), stored.subarray(body.length)) ? Buffer.from(body) : undefined;
  }
  const bodyLength = stored.length - tagLength;
  const decipher = createDecipheriv("aes-256-gcm", key, nonceOf(header, index), { authTagLength: tagLength });
  decipher.setAAD(aadOf(header, index, final));
  decipher.setAuthTag(stored.subarray(bodyLength));
  const body = decipher.update(stored.subarray(0, bodyLength));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return body;
}

/**
 * Writes a stream in the format, encrypted under `key` or, without one, with SHA-256 tags: the header first, then
 * one sealed segment at a time. A full segment is held until more arrives (or the stream ends), because only then
 * is it known whether it is the final one.
 */
export async function* sealSegments(plaintext: AsyncIterable<Buffer>, key: Buffer | undefined, segmentSize = defaultSegmentSize): AsyncGenerator<Buffer> {
  if (key && key.length !== dataKeyLength) throw new RangeError("the data key must be 32 bytes");
  const header = encodeHeader(segmentSize, key !== undefined);
  yield header.bytes;
  const segment = Buffer.allocUnsafe(segmentSize);
  let filled = 0;
  let index = 0;
  for await (const chunk of plaintext) {
    let offset = 0;
    while (offset < chunk.length) {
      if (filled === segmentSize) {
        if (index === maxSegments - 1) throw new RangeError(`more than ${maxSegments} segments`);
        yield sealSegment(key, header, index++, false, segment);
        filled = 0;
      }
      const copied = chunk.copy(segment, filled, offset);
      filled += copied;
      offset += copied;
    }
  }
  yield sealSegment(key, header, index, true, segment.subarray(0, filled));
}

/**
 * Reads the format (decrypting with `key`, or checking SHA-256 tags without one), yielding each segment's plaintext
 * only after its tag verified. Throws `UserErrorRecoveryPointCorrupted` for a damaged header, a segment that fails
 * its tag (a flipped byte, a wrong data key, segments reordered), a file that ends before its final segment or in
 * the middle of one, bytes after the final segment, and a file protected otherwise than the recovery point says.
 * `label` names the file in those messages.
 */
export async function* openSegments(stored: AsyncIterable<Buffer>, key: Buffer | undefined, label: string): AsyncGenerator<Buffer> {
  let header: FileHeader | undefined;
  let headerBytes = Buffer.alloc(0);
  let segment = Buffer.alloc(0);
  let filled = 0;
  let index = 0;

  const segmentFailed = (at: number): PgVaultError =>
    corrupted(
      label,
      at === 0
        ? "failed authentication at segment 0: it was altered or truncated, or it cannot be decrypted with this recovery point's data key"
        : `failed authentication at segment ${at}: the stored bytes were altered`,
    );
  /** A full stored segment followed by more bytes: it must be a non-final one. */
  const openMiddle = (h: FileHeader): Buffer => {
    const plain = openSegment(key, h, index, false, segment);
    if (plain) return plain;
    if (openSegment(key, h, index, true, segment)) throw corrupted(label, `has data after its final segment (segment ${index})`);
    throw segmentFailed(index);
  };

  for await (const chunk of stored) {
    let offset = 0;
    if (!header) {
      const needed = headerLength - headerBytes.length;
      headerBytes = Buffer.concat([headerBytes, chunk.subarray(0, needed)]);
      offset = Math.min(needed, chunk.length);
      if (headerBytes.length < headerLength) continue;
      header = decodeHeader(headerBytes, label);
      if ((header.protection === protectionAes256Gcm) !== (key !== undefined)) {
        throw corrupted(label, key ? "is not encrypted, but its recovery point says it is" : "is encrypted, but its recovery point says it is not");
      }
      segment = Buffer.allocUnsafe(header.segmentSize + tagLengthOf(header));
    }
    while (offset < chunk.length) {
      if (filled === segment.length) {
        yield openMiddle(header);
        index += 1;
        filled = 0;
      }
      const copied = chunk.copy(segment, filled, offset);
      filled += copied;
      offset += copied;
    }
  }

  if (!header) throw corrupted(label, headerBytes.length === 0 ? "is empty" : "ends inside its encryption header");
  if (filled === 0) throw corrupted(label, `ends before its final segment (after ${index} segments): it was truncated`);
  if (filled < tagLengthOf(header)) throw corrupted(label, `ends in the middle of segment ${index}: it was truncated`);
  const last = segment.subarray(0, filled);
  const plain = openSegment(key, header, index, true, last);
  if (plain) {
    yield plain;
    return;
  }
  if (filled === segment.length && openSegment(key, header, index, false, last)) {
    throw corrupted(label, `ends before its final segment (after ${index + 1} segments): it was truncated`);
  }
  if (filled < segment.length && index > 0) {
    throw corrupted(label, `failed authentication at its last segment ${index}: it was cut in the middle of a segment, or altered`);
  }
  throw segmentFailed(index);
}
