/**
 * The encrypted dump format (shared/encryption/segmentFormat.ts, docs/architecture.md "Encryption"): round trips
 * at every length around segment boundaries, and every kind of damage refused with
 * UserErrorRecoveryPointCorrupted before any plaintext of the damaged segment is handed out: a flipped byte
 * anywhere, reordered segments, a file cut at a segment boundary or inside one, bytes appended, another data key,
 * a damaged header.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { PgVaultError } from "../../shared/errors";
import { checksumLength, headerLength, openSegments, sealSegments, tagLength } from "../../shared/encryption/segmentFormat";

const segmentSize = 1024;
const stored = segmentSize + tagLength;

async function* chunked(data: Buffer, chunkSize: number): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < data.length; offset += chunkSize) yield data.subarray(offset, offset + chunkSize);
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

const seal = (plaintext: Buffer, key: Buffer, chunkSize = 777) => collect(sealSegments(chunked(plaintext, chunkSize), key, segmentSize));

/** Decrypts, returning the plaintext handed out before the failure and the failure itself. */
async function open(file: Buffer, key: Buffer, chunkSize = 500): Promise<{ plaintext: Buffer; error?: PgVaultError }> {
  const parts: Buffer[] = [];
  try {
    for await (const part of openSegments(chunked(file, chunkSize), key, "The dump")) parts.push(part);
    return { plaintext: Buffer.concat(parts) };
  } catch (err) {
    if (!(err instanceof PgVaultError)) throw err;
    return { plaintext: Buffer.concat(parts), error: err };
  }
}

async function expectCorrupted(file: Buffer, key: Buffer, message: RegExp): Promise<Buffer> {
  const { plaintext, error } = await open(file, key);
  expect(error?.code).toBe("UserErrorRecoveryPointCorrupted");
  expect(error?.detail).toMatch(message);
  return plaintext;
}

describe("the segment format", () => {
  test("when plaintexts of every length around segment boundaries are sealed, then they open to the same bytes, in any chunking", async () => {
    const key = randomBytes(32);
    for (const length of [0, 1, segmentSize - 1, segmentSize, segmentSize + 1, 3 * segmentSize, 3 * segmentSize + 5]) {
      const plaintext = randomBytes(length);
      const file = await seal(plaintext, key, 100);
      // The header, and a tag per segment: a full last segment is the final one; an empty plaintext is one empty final segment.
      const segments = Math.max(1, Math.ceil(length / segmentSize));
      expect(file.length).toBe(headerLength + length + segments * tagLength);
      for (const chunkSize of [1, 17, stored, 10_000]) {
        expect((await open(file, key, chunkSize)).plaintext.equals(plaintext)).toBe(true);
      }
    }
  });

  test("when random plaintexts are sealed in random chunks, then they round trip (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 5 * segmentSize }), fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 3000 }), async (bytes, inChunk, outChunk) => {
        const key = randomBytes(32);
        const plaintext = Buffer.from(bytes);
        const file = await seal(plaintext, key, inChunk);
        const { plaintext: opened, error } = await open(file, key, outChunk);
        expect(error).toBeUndefined();
        expect(opened.equals(plaintext)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  test("when the same plaintext is sealed twice with the same key, then the files differ (random nonce prefix per file)", async () => {
    const key = randomBytes(32);
    const plaintext = Buffer.alloc(2 * segmentSize, 7);
    const [a, b] = [await seal(plaintext, key), await seal(plaintext, key)];
    expect(a.subarray(12, 20).equals(b.subarray(12, 20))).toBe(false);
    expect(a.subarray(headerLength).equals(b.subarray(headerLength))).toBe(false);
  });

  test("when the stored file is inspected, then it holds no plaintext", async () => {
    const plaintext = Buffer.from("PGDMP".padEnd(4000, " CREATE TABLE sales.orders (id integer);"));
    const file = await seal(plaintext, randomBytes(32));
    expect(file.includes("PGDMP")).toBe(false);
    expect(file.includes("orders")).toBe(false);
    expect(file.subarray(0, 6).toString()).toBe("PGVENC");
  });

  test("when any single byte of a file is flipped, then opening it fails with UserErrorRecoveryPointCorrupted (property)", async () => {
    const key = randomBytes(32);
    const plaintext = randomBytes(3 * segmentSize + 100);
    const file = await seal(plaintext, key);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: file.length - 1 }), fc.integer({ min: 1, max: 255 }), async (position, mask) => {
        const damaged = Buffer.from(file);
        damaged[position]! ^= mask;
        const { plaintext: handedOut, error } = await open(damaged, key);
        expect(error?.code).toBe("UserErrorRecoveryPointCorrupted");
        // Only the segments before the damaged one were handed out, and they are the original bytes.
        const damagedSegment = position < headerLength ? 0 : Math.floor((position - headerLength) / stored);
        expect(handedOut.length).toBeLessThanOrEqual(damagedSegment * segmentSize);
        expect(handedOut.equals(plaintext.subarray(0, handedOut.length))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  test("when a byte in the middle is flipped, then the message names the segment", async () => {
    const key = randomBytes(32);
    const file = await seal(randomBytes(5 * segmentSize), key);
    file[headerLength + 2 * stored + 10]! ^= 1;
    const handedOut = await expectCorrupted(file, key, /failed authentication at segment 2: the stored bytes were altered/);
    expect(handedOut.length).toBe(2 * segmentSize);
  });

  test("when two segments are swapped, then the first out of place fails authentication", async () => {
    const key = randomBytes(32);
    const file = await seal(randomBytes(4 * segmentSize + 10), key);
    const segment = (i: number) => file.subarray(headerLength + i * stored, headerLength + (i + 1) * stored);
    const swapped = Buffer.concat([file.subarray(0, headerLength), segment(0), segment(2), segment(1), file.subarray(headerLength + 3 * stored)]);
    await expectCorrupted(swapped, key, /segment 1/);
  });

  test("when a segment is repeated, then it fails authentication at its second place", async () => {
    const key = randomBytes(32);
    const file = await seal(randomBytes(3 * segmentSize + 10), key);
    const first = file.subarray(headerLength, headerLength + stored);
    const repeated = Buffer.concat([file.subarray(0, headerLength + stored), first, file.subarray(headerLength + stored)]);
    await expectCorrupted(repeated, key, /segment 1/);
  });

  test("when the final segment is dropped, then the file 'ends before its final segment'", async () => {
    const key = randomBytes(32);
    const file = await seal(randomBytes(3 * segmentSize + 10), key);
    const handedOut = await expectCorrupted(file.subarray(0, headerLength + 3 * stored), key, /ends before its final segment \(after 3 segments\): it was truncated/);
    expect(handedOut.length).toBe(2 * segmentSize); // the third, now last, segment was never handed out
  });

  test("when a file of full segments loses its last one, then it also 'ends before its final segment'", async () => {
    const key = randomBytes(32);
    const file = await seal(randomBytes(3 * segmentSize), key); // the third full segment is the final one
    await expectCorrupted(file.subarray(0, headerLength + 2 * stored), key, /ends before its final segment \(after 2 segments\)/);
  });

  test("when the file is cut in the middle of a segment, then it fails, naming the cut", async () => {
    const key = randomBytes(32);
    const file = await seal(randomBytes(3 * segmentSize + 10), key);
    await expectCorrupted(file.subarray(0, headerLength + stored + 500), key, /last segment 1: it was cut in the middle of a segment, or altered/);
    await expectCorrupted(file.subarray(0, headerLength + stored + 5), key, /ends in the middle of segment 1/);
    await expectCorrupted(file.subarray(0, 10), key, /ends inside its encryption header/);
    await expectCorrupted(Buffer.alloc(0), key, /is empty/);
  });

  test("when bytes are appended after the final segment, then it fails", async () => {
    const key = randomBytes(32);
    const full = await seal(randomBytes(2 * segmentSize), key);
    await expectCorrupted(Buffer.concat([full, Buffer.from("tail")]), key, /has data after its final segment \(segment 1\)/);
    const short = await seal(randomBytes(2 * segmentSize + 10), key);
    await expectCorrupted(Buffer.concat([short, Buffer.from("tail")]), key, /failed authentication/);
    // Another file's segments appended: the header of the second file is not a segment of the first.
    await expectCorrupted(Buffer.concat([full, await seal(randomBytes(10), key)]), key, /data after its final segment|failed authentication/);
  });

  test("when opened with another data key, then segment 0 fails and nothing is handed out", async () => {
    const file = await seal(randomBytes(3 * segmentSize), randomBytes(32));
    const handedOut = await expectCorrupted(file, randomBytes(32), /segment 0: .*cannot be decrypted with this recovery point's data key/);
    expect(handedOut.length).toBe(0);
  });

  test("when the header is damaged, then the file is refused before any segment", async () => {
    const key = randomBytes(32);
    const file = await seal(randomBytes(segmentSize), key);
    const notOurs = Buffer.from(file);
    notOurs[0] = 0x50 ^ 1;
    await expectCorrupted(notOurs, key, /is not a pgvault segmented file/);
    const version = Buffer.from(file);
    version[6] = 9;
    await expectCorrupted(version, key, /format version 9/);
    const size = Buffer.from(file);
    size.writeUInt32BE(2048, 8); // a plausible size, but the header is authenticated by every segment
    await expectCorrupted(size, key, /failed authentication at segment 0/);
    const prefix = Buffer.from(file);
    prefix[15]! ^= 1;
    await expectCorrupted(prefix, key, /failed authentication at segment 0/);
  });

  test("when a segment is decrypted independently from the documented layout, then it gives the plaintext", async () => {
    // The layout docs/architecture.md describes, implemented from scratch: what someone holding an exported file does.
    const key = randomBytes(32);
    const plaintext = randomBytes(segmentSize + 100);
    const file = await seal(plaintext, key);
    const header = file.subarray(0, 20);
    expect(header.readUInt32BE(8)).toBe(segmentSize);
    const parts: Buffer[] = [];
    for (let index = 0, offset = 20; offset < file.length; index++, offset += segmentSize + 16) {
      const body = file.subarray(offset, Math.min(offset + segmentSize + 16, file.length));
      const final = offset + body.length === file.length;
      const nonce = Buffer.concat([header.subarray(12, 20), Buffer.from([0, 0, 0, index])]);
      const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: 16 });
      decipher.setAAD(Buffer.concat([header, Buffer.from([0, 0, 0, index, final ? 1 : 0])]));
      decipher.setAuthTag(body.subarray(body.length - 16));
      parts.push(decipher.update(body.subarray(0, body.length - 16)), decipher.final());
    }
    expect(Buffer.concat(parts).equals(plaintext)).toBe(true);
    // And the library's own sealing matches a from-scratch seal of segment 0.
    const cipher = createCipheriv("aes-256-gcm", key, Buffer.concat([header.subarray(12, 20), Buffer.alloc(4)]), { authTagLength: 16 });
    cipher.setAAD(Buffer.concat([header, Buffer.from([0, 0, 0, 0, 0])]));
    const sealed = Buffer.concat([cipher.update(plaintext.subarray(0, segmentSize)), cipher.final(), cipher.getAuthTag()]);
    expect(sealed.equals(file.subarray(20, 20 + segmentSize + 16))).toBe(true);
  });
});

describe("checked segments (unencrypted points: SHA-256 tags)", () => {
  const checkedStored = segmentSize + checksumLength;
  const check = (data: Buffer) => collect(sealSegments(chunked(data, 333), undefined, segmentSize));
  async function read(file: Buffer): Promise<{ data: Buffer; error?: PgVaultError }> {
    const parts: Buffer[] = [];
    try {
      for await (const part of openSegments(chunked(file, 250), undefined, "The dump")) parts.push(Buffer.from(part));
      return { data: Buffer.concat(parts) };
    } catch (err) {
      if (!(err instanceof PgVaultError)) throw err;
      return { data: Buffer.concat(parts), error: err };
    }
  }

  test("when data of every length around segment boundaries is framed, then it reads back the same, stored in the clear after the header", async () => {
    for (const length of [0, 1, segmentSize, segmentSize + 1, 3 * segmentSize + 5]) {
      const data = randomBytes(length);
      const file = await check(data);
      expect(file.length).toBe(headerLength + length + Math.max(1, Math.ceil(length / segmentSize)) * checksumLength);
      expect(file.readUInt8(7)).toBe(2);
      expect((await read(file)).data.equals(data)).toBe(true);
    }
  });

  test("when any single byte is flipped, then reading fails with UserErrorRecoveryPointCorrupted and no byte of the damaged segment was handed out (property)", async () => {
    const data = randomBytes(4 * segmentSize + 100);
    const file = await check(data);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: file.length - 1 }), async (position) => {
        const damaged = Buffer.from(file);
        damaged[position]! ^= 0x01;
        const { data: handedOut, error } = await read(damaged);
        expect(error?.code).toBe("UserErrorRecoveryPointCorrupted");
        // Only whole segments before the damaged one were handed out, and they are the original bytes.
        const damagedSegment = position < headerLength ? 0 : Math.floor((position - headerLength) / checkedStored);
        expect(handedOut.length).toBeLessThanOrEqual(damagedSegment * segmentSize);
        expect(handedOut.equals(data.subarray(0, handedOut.length))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  test("when a point says it is encrypted but its file is only checked (or the other way round), then it is refused", async () => {
    const checked = await check(randomBytes(100));
    const encrypted = await seal(randomBytes(100), randomBytes(32));
    await expectCorrupted(checked, randomBytes(32), /is not encrypted, but its recovery point says it is/);
    expect((await read(encrypted)).error?.detail).toMatch(/is encrypted, but its recovery point says it is not/);
  });

  test("when the file is cut at a segment boundary, then it is refused as truncated", async () => {
    const file = await check(randomBytes(3 * segmentSize + 10));
    expect((await read(file.subarray(0, headerLength + 2 * checkedStored))).error?.detail).toMatch(/ends before its final segment \(after 2 segments\)/);
  });
});
