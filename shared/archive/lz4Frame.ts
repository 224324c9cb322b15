/**
 * A streaming decoder of the LZ4 frame format, for the data blocks pg_dump 16 and later writes with `--compress=lz4`.
 * pg_dump writes each data block as one LZ4 frame through liblz4's frame API (LZ4F_compressBegin / Update / End in
 * src/bin/pg_dump/compress_lz4.c, PostgreSQL 16, commit 0070b66fef21e909adb283f7faa7b1978836ad75), with default
 * preferences but the level: 64 KiB linked blocks, no checksums but the header's, no content size. Any conforming
 * frame is accepted all the same, as pg_restore's LZ4F_decompress would.
 *
 * Written from the specifications, lz4/lz4 doc/lz4_Frame_format.md (1.6.1) and doc/lz4_Block_format.md (2022-07-31):
 * magic number, descriptor (FLG, BD, optional content size and dictionary id, header checksum), blocks (compressed
 * or stored, optional xxHash32 block checksum), end mark, optional content checksum; concatenated frames and
 * skippable frames as the reference `lz4` program decodes them.
 *
 * Memory is bounded whatever the input says: a block is decoded once all of it has arrived and may not exceed the
 * frame's block maximum size (at most 4 MiB), and linked blocks keep only the 64 KiB window of history. Checksums
 * present in a frame are verified. Anything malformed throws Lz4FormatError.
 */
import { Transform } from "node:stream";
import { Xxh32, xxh32 } from "./xxhash32";

export class Lz4FormatError extends Error {
  constructor(message: string) {
    super(`LZ4: ${message}`);
    this.name = "Lz4FormatError";
  }
}

const FRAME_MAGIC = 0x184d2204;
const LEGACY_MAGIC = 0x184c2102;
/** 0x184D2A50 to 0x184D2A5F: the low nibble is the user's. */
const SKIPPABLE_MAGIC = 0x184d2a50;
const WINDOW = 64 * 1024;
const BLOCK_MAX_SIZES: Readonly<Record<number, number>> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 };
const UNCOMPRESSED_BIT = 0x80000000;
/** Below this many bytes a copy is done in a loop rather than by Buffer.copy (measured: about 1.5x the throughput). */
const SHORT_COPY = 32;

interface FrameSettings {
  blockMax: number;
  linked: boolean;
  blockChecksum: boolean;
  contentChecksum: boolean;
  /** The declared uncompressed size, when the frame carries one. */
  contentSize: bigint | undefined;
}

type Stage =
  | { kind: "magic" }
  | { kind: "descriptor" }
  | { kind: "blockSize" }
  | { kind: "block"; size: number; compressed: boolean }
  | { kind: "contentChecksum" }
  | { kind: "skippableSize" }
  | { kind: "skipping"; left: number };

/** Input bytes that have arrived but not been decoded: a queue of the caller's buffers, read without copying when it can. */
class InputQueue {
  private readonly chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Reads `count` bytes without consuming them; the caller has checked `length`. */
  peek(count: number): Buffer {
    if (count === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length >= count) return first.subarray(0, count);
    const out = Buffer.allocUnsafe(count);
    let filled = 0;
    for (const chunk of this.chunks) {
      const n = Math.min(chunk.length, count - filled);
      chunk.copy(out, filled, 0, n);
      filled += n;
      if (filled === count) break;
    }
    return out;
  }

  take(count: number): Buffer {
    const out = this.peek(count);
    this.drop(count);
    return out;
  }

  drop(count: number): void {
    this.length -= count;
    while (count > 0) {
      const first = this.chunks[0]!;
      if (first.length <= count) {
        this.chunks.shift();
        count -= first.length;
      } else {
        this.chunks[0] = first.subarray(count);
        count = 0;
      }
    }
  }
}

export class Lz4FrameDecoder {
  private readonly input = new InputQueue();
  private stage: Stage = { kind: "magic" };
  private frame: FrameSettings | undefined;
  /** History (the last WINDOW bytes of the frame's output, for linked blocks) followed by room for one block. */
  private work = Buffer.alloc(0);
  private historyLength = 0;
  private contentHash = new Xxh32();
  private decodedInFrame = 0n;
  private framesEnded = 0;
  private failed: Lz4FormatError | undefined;

  /** Feeds compressed bytes; returns the output they completed, in order (each buffer the caller's to keep). */
  push(chunk: Buffer): Buffer[] {
    if (this.failed) throw this.failed;
    this.input.push(chunk);
    const out: Buffer[] = [];
    try {
      while (this.step(out));
    } catch (err) {
      if (err instanceof Lz4FormatError) this.failed = err;
      throw err;
    }
    return out;
  }

  /** The input has ended: throws unless it ended exactly after a complete frame. */
  finish(): void {
    if (this.failed) throw this.failed;
    if (this.stage.kind !== "magic" || this.input.length > 0) {
      this.failed = new Lz4FormatError(`the input ends inside a frame (${this.describeStage()})`);
    } else if (this.framesEnded === 0) {
      this.failed = new Lz4FormatError("the input holds no frame");
    }
    if (this.failed) throw this.failed;
  }

  /** Advances by one field when its bytes are there; false when it needs more input. */
  private step(out: Buffer[]): boolean {
    const stage = this.stage;
    switch (stage.kind) {
      case "magic": {
        if (this.input.length < 4) return false;
        const magic = this.input.take(4).readUInt32LE(0);
        if (magic === FRAME_MAGIC) this.stage = { kind: "descriptor" };
        else if ((magic & 0xfffffff0) === SKIPPABLE_MAGIC) this.stage = { kind: "skippableSize" };
        else if (magic === LEGACY_MAGIC) throw new Lz4FormatError("a legacy-format frame (magic 0x184C2102), which liblz4's frame API never writes");
        else throw new Lz4FormatError(`not a frame: magic number 0x${magic.toString(16).padStart(8, "0")}`);
        return true;
      }
      case "descriptor":
        return this.readDescriptor();
      case "blockSize": {
        if (this.input.length < 4) return false;
        const field = this.input.take(4).readUInt32LE(0);
        if (field === 0) {
          this.stage = { kind: "contentChecksum" };
          return true;
        }
        const size = (field & ~UNCOMPRESSED_BIT) >>> 0;
        // Refused before waiting for its bytes, so a damaged size never makes the decoder hold more than a block.
        if (size > this.frame!.blockMax) throw new Lz4FormatError(`a block of ${size} bytes, over the frame's block maximum of ${this.frame!.blockMax}`);
        this.stage = { kind: "block", size, compressed: (field & UNCOMPRESSED_BIT) === 0 };
        return true;
      }
      case "block": {
        const frame = this.frame!;
        const needed = stage.size + (frame.blockChecksum ? 4 : 0);
        if (this.input.length < needed) return false;
        const raw = this.input.take(needed);
        const data = raw.subarray(0, stage.size);
        if (frame.blockChecksum && xxh32(data) !== raw.readUInt32LE(stage.size)) throw new Lz4FormatError("a block's checksum does not match its bytes");
        out.push(this.decodeBlock(data, stage.compressed));
        this.stage = { kind: "blockSize" };
        return true;
      }
      case "contentChecksum":
        return this.endFrame();
      case "skippableSize": {
        if (this.input.length < 4) return false;
        this.stage = { kind: "skipping", left: this.input.take(4).readUInt32LE(0) };
        return true;
      }
      case "skipping": {
        // Dropped as it arrives: a skippable frame's size (up to 4 GiB) is never held.
        const n = Math.min(stage.left, this.input.length);
        this.input.drop(n);
        const left = stage.left - n;
        if (left > 0) {
          this.stage = { kind: "skipping", left };
          return false;
        }
        this.framesEnded++;
        this.stage = { kind: "magic" };
        return true;
      }
    }
  }

  private readDescriptor(): boolean {
    if (this.input.length < 2) return false;
    const [flg, bd] = this.input.peek(2);
    const version = flg! >> 6;
    if (version !== 1) throw new Lz4FormatError(`frame version ${version}; only version 1 is defined`);
    if ((flg! & 0x02) !== 0 || (bd! & 0x8f) !== 0) throw new Lz4FormatError("reserved bits of the frame descriptor are set");
    const hasContentSize = (flg! & 0x08) !== 0;
    const hasDictionary = (flg! & 0x01) !== 0;
    const length = 2 + (hasContentSize ? 8 : 0) + (hasDictionary ? 4 : 0);
    if (this.input.length < length + 1) return false;
    const descriptor = this.input.take(length + 1);
    if (((xxh32(descriptor.subarray(0, length)) >>> 8) & 0xff) !== descriptor[length]) throw new Lz4FormatError("the frame descriptor's checksum does not match it");
    if (hasDictionary) {
      // pg_dump never compresses with a dictionary, and none could be supplied: say which one was wanted.
      throw new Lz4FormatError(`the frame needs dictionary ${descriptor.readUInt32LE(length - 4)}, and no dictionary is known`);
    }
    const blockMax = BLOCK_MAX_SIZES[(bd! >> 4) & 0x07];
    if (blockMax === undefined) throw new Lz4FormatError(`block maximum size code ${(bd! >> 4) & 0x07} is not defined`);
    this.frame = {
      blockMax,
      linked: (flg! & 0x20) === 0,
      blockChecksum: (flg! & 0x10) !== 0,
      contentChecksum: (flg! & 0x04) !== 0,
      contentSize: hasContentSize ? descriptor.readBigUInt64LE(2) : undefined,
    };
    const workSize = WINDOW + blockMax;
    if (this.work.length !== workSize) this.work = Buffer.alloc(workSize);
    this.historyLength = 0;
    this.contentHash = new Xxh32();
    this.decodedInFrame = 0n;
    this.stage = { kind: "blockSize" };
    return true;
  }

  private endFrame(): boolean {
    const frame = this.frame!;
    if (frame.contentChecksum) {
      if (this.input.length < 4) return false;
      if (this.input.take(4).readUInt32LE(0) !== this.contentHash.digest()) throw new Lz4FormatError("the frame's content checksum does not match the decoded data");
    }
    if (frame.contentSize !== undefined && frame.contentSize !== this.decodedInFrame) {
      throw new Lz4FormatError(`the frame declares ${frame.contentSize} bytes of content but decodes to ${this.decodedInFrame}`);
    }
    this.framesEnded++;
    this.stage = { kind: "magic" };
    return true;
  }

  /** Decodes one block into `work` after the history; returns a copy of its output and keeps the window. */
  private decodeBlock(data: Buffer, compressed: boolean): Buffer {
    const frame = this.frame!;
    const start = frame.linked ? this.historyLength : 0;
    const end = compressed ? decodeSequences(data, this.work, start, start + frame.blockMax) : start + data.copy(this.work, start);
    const output = Buffer.from(this.work.subarray(start, end));
    this.decodedInFrame += BigInt(output.length);
    if (frame.contentSize !== undefined && this.decodedInFrame > frame.contentSize) {
      throw new Lz4FormatError(`the frame decodes to more than the ${frame.contentSize} bytes it declares`);
    }
    if (frame.contentChecksum) this.contentHash.update(output);
    if (frame.linked) {
      const keep = Math.min(end, WINDOW);
      this.work.copyWithin(0, end - keep, end);
      this.historyLength = keep;
    }
    return output;
  }

  private describeStage(): string {
    switch (this.stage.kind) {
      case "magic":
        return this.input.length > 0 ? "a partial magic number" : "between frames";
      case "descriptor":
        return "in the frame descriptor";
      case "blockSize":
        return "at a block size";
      case "block":
        return "in a block";
      case "contentChecksum":
        return "at the content checksum";
      case "skippableSize":
      case "skipping":
        return "in a skippable frame";
    }
  }
}

/** The decoder as a stream stage (for a pipeline of compressed data blocks); a malformed frame fails the stream. */
export function createLz4FrameDecompress(): Transform {
  const decoder = new Lz4FrameDecoder();
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      try {
        for (const out of decoder.push(chunk)) this.push(out);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done) {
      try {
        decoder.finish();
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
}

/** Reads an LZ4 length continuation (bytes of 255 add up until one is smaller); returns [length, next input position]. */
function readLength(src: Buffer, at: number, base: number, limit: number): [number, number] {
  let length = base;
  for (;;) {
    if (at >= src.length) throw new Lz4FormatError("a block ends inside a length");
    const byte = src[at++]!;
    length += byte;
    if (length > limit) throw new Lz4FormatError("a block's sequence is longer than the block may decode to");
    if (byte !== 255) return [length, at];
  }
}

/**
 * Decodes the sequences of one compressed block (lz4_Block_format.md, "Compressed block format") into `dst` from
 * `start`, where everything before `start` is history that matches may reach; returns where the output ends. Every
 * read and write is checked against the block and `limit`, the block maximum size.
 */
function decodeSequences(src: Buffer, dst: Buffer, start: number, limit: number): number {
  let ip = 0;
  let op = start;
  for (;;) {
    if (ip >= src.length) throw new Lz4FormatError("a block ends where a sequence should start");
    const token = src[ip++]!;
    let literals = token >> 4;
    if (literals === 15) [literals, ip] = readLength(src, ip, 15, limit - op);
    if (literals > src.length - ip) throw new Lz4FormatError("a block's literals run past its end");
    if (literals > limit - op) throw new Lz4FormatError("a block decodes to more than the frame's block maximum size");
    // Short runs byte by byte: a native copy costs more than it saves below a few dozen bytes.
    if (literals < SHORT_COPY) for (let i = 0; i < literals; i++) dst[op + i] = src[ip + i]!;
    else src.copy(dst, op, ip, ip + literals);
    ip += literals;
    op += literals;
    // The last sequence has literals only: the block ends right after them.
    if (ip === src.length) return op;
    if (src.length - ip < 2) throw new Lz4FormatError("a block ends inside a match offset");
    const offset = src[ip]! | (src[ip + 1]! << 8);
    ip += 2;
    if (offset === 0) throw new Lz4FormatError("a match with offset 0");
    if (offset > op) throw new Lz4FormatError("a match reaches before the start of the data");
    let matchLength = (token & 0x0f) + 4;
    if (matchLength === 19) [matchLength, ip] = readLength(src, ip, 19, limit - op);
    if (matchLength > limit - op) throw new Lz4FormatError("a block decodes to more than the frame's block maximum size");
    const from = op - offset;
    if (matchLength < SHORT_COPY) {
      // Forward, byte by byte, which also repeats an overlapping match's period as the format means it to.
      for (let i = 0; i < matchLength; i++) dst[op + i] = dst[from + i]!;
      op += matchLength;
      continue;
    }
    // An overlapping match repeats the last `offset` bytes: copy in runs that double, each one a whole period.
    let left = matchLength;
    while (left > 0) {
      const n = Math.min(left, op - from);
      dst.copyWithin(op, from, from + n);
      op += n;
      left -= n;
    }
  }
}
