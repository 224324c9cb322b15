/**
 * XXH32, the checksum of the LZ4 frame format (header, block and content checksums), written from its specification:
 * Cyan4973/xxHash doc/xxhash_spec.md ("XXH32 Algorithm Description", version 0.1.1). Streaming, so a frame's content
 * checksum is computed as its blocks are decoded, with at most one 16-byte stripe held back.
 */

const PRIME1 = 0x9e3779b1;
const PRIME2 = 0x85ebca77;
const PRIME3 = 0xc2b2ae3d;
const PRIME4 = 0x27d4eb2f;
const PRIME5 = 0x165667b1;

function rotl(value: number, bits: number): number {
  return ((value << bits) | (value >>> (32 - bits))) >>> 0;
}

/** One lane into its accumulator (the spec's "round"). Math.imul keeps the multiplication modulo 2^32. */
function round(acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, PRIME2)) >>> 0, 13), PRIME1) >>> 0;
}

export class Xxh32 {
  private acc1: number;
  private acc2: number;
  private acc3: number;
  private acc4: number;
  /** Bytes of an unfinished stripe. */
  private readonly tail = Buffer.alloc(16);
  private tailLength = 0;
  /** Total input length modulo 2^32 (the spec adds only its lower 32 bits). */
  private length = 0;
  private sawStripe = false;

  constructor(private readonly seed = 0) {
    this.acc1 = (seed + PRIME1 + PRIME2) >>> 0;
    this.acc2 = (seed + PRIME2) >>> 0;
    this.acc3 = seed >>> 0;
    this.acc4 = (seed - PRIME1) >>> 0;
  }

  update(input: Uint8Array): this {
    this.length = (this.length + input.length) >>> 0;
    let at = 0;
    if (this.tailLength > 0) {
      const take = Math.min(16 - this.tailLength, input.length);
      this.tail.set(input.subarray(0, take), this.tailLength);
      this.tailLength += take;
      at = take;
      if (this.tailLength < 16) return this;
      this.stripe(this.tail, 0);
      this.tailLength = 0;
    }
    const view = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    if (at + 16 <= view.length) {
      this.sawStripe = true;
      // The accumulators in locals for the hot loop (the spec's step 2), written back after.
      let acc1 = this.acc1;
      let acc2 = this.acc2;
      let acc3 = this.acc3;
      let acc4 = this.acc4;
      for (; at + 16 <= view.length; at += 16) {
        acc1 = round(acc1, view.readUInt32LE(at));
        acc2 = round(acc2, view.readUInt32LE(at + 4));
        acc3 = round(acc3, view.readUInt32LE(at + 8));
        acc4 = round(acc4, view.readUInt32LE(at + 12));
      }
      this.acc1 = acc1;
      this.acc2 = acc2;
      this.acc3 = acc3;
      this.acc4 = acc4;
    }
    this.tail.set(view.subarray(at), 0);
    this.tailLength = view.length - at;
    return this;
  }

  digest(): number {
    let acc = this.sawStripe
      ? (rotl(this.acc1, 1) + rotl(this.acc2, 7) + rotl(this.acc3, 12) + rotl(this.acc4, 18)) >>> 0
      : (this.seed + PRIME5) >>> 0;
    acc = (acc + this.length) >>> 0;
    let at = 0;
    for (; at + 4 <= this.tailLength; at += 4) {
      acc = (acc + Math.imul(this.tail.readUInt32LE(at), PRIME3)) >>> 0;
      acc = Math.imul(rotl(acc, 17), PRIME4) >>> 0;
    }
    for (; at < this.tailLength; at++) {
      acc = (acc + Math.imul(this.tail[at]!, PRIME5)) >>> 0;
      acc = Math.imul(rotl(acc, 11), PRIME1) >>> 0;
    }
    acc = Math.imul(acc ^ (acc >>> 15), PRIME2) >>> 0;
    acc = Math.imul(acc ^ (acc >>> 13), PRIME3) >>> 0;
    return (acc ^ (acc >>> 16)) >>> 0;
  }

  private stripe(buffer: Buffer, at: number): void {
    this.sawStripe = true;
    this.acc1 = round(this.acc1, buffer.readUInt32LE(at));
    this.acc2 = round(this.acc2, buffer.readUInt32LE(at + 4));
    this.acc3 = round(this.acc3, buffer.readUInt32LE(at + 8));
    this.acc4 = round(this.acc4, buffer.readUInt32LE(at + 12));
  }
}

/** XXH32 of `input` with seed 0, as every LZ4 frame checksum uses. */
export function xxh32(input: Uint8Array): number {
  return new Xxh32().update(input).digest();
}
