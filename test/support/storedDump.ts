/**
 * An unencrypted dump as pgvault stores it, decoded from the documented format alone (docs/architecture.md,
 * "Compression"), not with the app's code: the 20-byte header, segments each followed by SHA-256(header | index |
 * final | plaintext), then zstd. Tests use it to show the stored bytes are what the documentation says.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { sealSegments } from "../../shared/encryption/segmentFormat";

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
  return execFileSync("zstd", ["-d", "-q", "-c"], { input: Buffer.concat(parts), maxBuffer: 1024 ** 3 });
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
