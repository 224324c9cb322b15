/**
 * The LZ4 frame decoder (shared/archive/lz4Frame.ts) against frames written by the real `lz4` program (Debian's
 * `lz4` package, v1.9.x): every block maximum size, linked and independent blocks, block and content checksums,
 * content size, fed in chunks of every size; and cut, bit-flipped and overwritten frames, which must throw
 * Lz4FormatError (or, where the frame carries no checksum to notice, decode) and never anything else.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { Lz4FormatError, Lz4FrameDecoder } from "../../shared/archive/lz4Frame";
import { xxh32 } from "../../shared/archive/xxhash32";
import { SeededRandom } from "../support/seededRandom";

const scratch = mkdtempSync(join(tmpdir(), "lz4frame-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let fileCount = 0;
/** `data` compressed by the lz4 program with `options` (from a file, so --content-size can say the size). */
function lz4(data: Buffer, options: string[]): Buffer {
  const path = join(scratch, `in-${fileCount++}`);
  writeFileSync(path, data);
  return execFileSync("lz4", ["-q", "-c", ...options, path], { maxBuffer: 64 * 1024 * 1024 });
}

/** Text-like data with what LZ4 encodes specially: long literal runs, runs of one byte (offset 1), far repeats. */
function compressible(rng: SeededRandom, size: number): Buffer {
  const words = ["invoice", "customer", "2024-12-31", "\\N", "\t", "\n", "Zürich", "NULL", "{1,2,3}", "ok"];
  const out = Buffer.alloc(size);
  let at = 0;
  while (at < size) {
    const kind = rng.int(0, 9);
    if (kind < 5) at += out.write(rng.pick(words), at) || 1;
    else if (kind < 7) {
      const n = Math.min(size - at, rng.int(1, 300));
      out.fill(rng.int(0, 255), at, at + n);
      at += n;
    } else if (kind < 9 && at > 4) {
      const from = at - rng.int(1, Math.min(at, 65_535));
      const n = Math.min(size - at, rng.int(4, 2_000));
      at += out.copy(out, at, from, from + n);
    } else at += rng.bytes(Math.min(size - at, rng.int(1, 200))).copy(out, at);
  }
  return out;
}

/** Pushes `chunks`, then finishes; the output joined, after checking each piece stays within one block. */
function decode(chunks: Buffer[], blockMax = 4 * 1024 * 1024): Buffer {
  const decoder = new Lz4FrameDecoder();
  const out: Buffer[] = [];
  for (const chunk of chunks) {
    for (const piece of decoder.push(chunk)) {
      expect(piece.length).toBeLessThanOrEqual(blockMax);
      out.push(piece);
    }
  }
  decoder.finish();
  return Buffer.concat(out);
}

/** The output when it decodes; the error when it throws Lz4FormatError; any other throw fails the test. */
function outcome(chunks: Buffer[]): Buffer | Lz4FormatError {
  try {
    return decode(chunks);
  } catch (err) {
    if (err instanceof Lz4FormatError) return err;
    throw err;
  }
}

const blockSizes = { "-B4": 64 * 1024, "-B5": 256 * 1024, "-B6": 1024 * 1024, "-B7": 4 * 1024 * 1024 } as const;
const variants: Record<string, string[]> = {
  defaults: [],
  "block checksums": ["-BX"],
  "no content checksum": ["--no-frame-crc"],
  "content size": ["--content-size"],
  "everything on": ["-BX", "--content-size"],
};

describe("xxh32", () => {
  test("when lz4 writes a frame's content checksum, then xxh32 of the content equals it, for lengths around every stripe boundary", () => {
    const rng = new SeededRandom(32);
    for (const length of [0, 1, 3, 4, 5, 15, 16, 17, 31, 32, 33, 63, 64, 100, 1_000, 65_537]) {
      const data = rng.bytes(length);
      const frame = lz4(data, []);
      expect(xxh32(data), `length ${length}`).toBe(frame.readUInt32LE(frame.length - 4));
    }
  });
});

describe("Lz4FrameDecoder on frames the lz4 program wrote", () => {
  const rng = new SeededRandom(4);
  const randomData = rng.bytes(300 * 1024);
  const textData = compressible(rng, 700 * 1024);

  for (const [blockOption, blockMax] of Object.entries(blockSizes)) {
    for (const linking of ["-BI", "-BD"]) {
      test(`when blocks are ${blockOption} ${linking === "-BD" ? "linked" : "independent"}, then every option set decodes exactly, random and compressible data, in random chunks`, () => {
        for (const [name, options] of Object.entries(variants)) {
          for (const [kind, data] of [["random", randomData], ["compressible", textData]] as const) {
            const frame = lz4(data, [blockOption, linking, ...options]);
            const chunks = new SeededRandom(frame.length).chunks(frame, 1, 64 * 1024);
            expect(decode(chunks, blockMax).equals(data), `${name}, ${kind}`).toBe(true);
          }
        }
      });
    }
  }

  test("when compressible data spans two 4 MiB linked blocks, then it decodes exactly (matches reach across the block boundary)", () => {
    const data = compressible(new SeededRandom(7), 5 * 1024 * 1024);
    const frame = lz4(data, ["-B7", "-BD", "--content-size"]);
    expect(frame.length).toBeLessThan(data.length);
    expect(decode(new SeededRandom(8).chunks(frame, 1_000, 64 * 1024)).equals(data)).toBe(true);
  });

  test("when a small frame is pushed in chunks of every size from 1 byte to its whole length, then each decodes exactly", () => {
    const data = compressible(new SeededRandom(11), 4_000);
    for (const options of [[], ["-B4", "-BD", "-BX", "--content-size"], ["--no-frame-crc"]]) {
      const frame = lz4(data, options);
      for (let size = 1; size <= frame.length; size++) {
        const chunks: Buffer[] = [];
        for (let at = 0; at < frame.length; at += size) chunks.push(frame.subarray(at, at + size));
        expect(decode(chunks).equals(data), `${options.join(" ")} in chunks of ${size}`).toBe(true);
      }
    }
  });

  test("when the input is empty content, then the frame decodes to nothing", () => {
    expect(decode([lz4(Buffer.alloc(0), [])]).length).toBe(0);
  });

  test("when frames are concatenated with a skippable frame between them, then the output is both contents in order", () => {
    const first = compressible(new SeededRandom(1), 10_000);
    const second = new SeededRandom(2).bytes(5_000);
    const skippable = Buffer.alloc(8 + 100, 0x5a);
    skippable.writeUInt32LE(0x184d2a57, 0);
    skippable.writeUInt32LE(100, 4);
    const stream = Buffer.concat([lz4(first, ["-BD"]), skippable, lz4(second, ["--content-size"])]);
    expect(decode(new SeededRandom(3).chunks(stream, 1, 97)).equals(Buffer.concat([first, second]))).toBe(true);
  });

  test("when the lz4 program writes a legacy-format frame, then it is refused as legacy", () => {
    const result = outcome([lz4(Buffer.from("legacy frames are not what pg_dump writes"), ["-l"])]);
    expect(result).toBeInstanceOf(Lz4FormatError);
    expect((result as Error).message).toMatch(/legacy/);
  });
});

describe("Lz4FrameDecoder on damaged frames", () => {
  const small = compressible(new SeededRandom(21), 3_000);

  test("when a frame is cut anywhere before its end, then finish throws Lz4FormatError", () => {
    for (const options of [[], ["--no-frame-crc"], ["-BX", "--content-size"]]) {
      const frame = lz4(small, options);
      for (let cut = 0; cut < frame.length; cut++) {
        expect(outcome([frame.subarray(0, cut)]), `${options.join(" ")} cut at ${cut}`).toBeInstanceOf(Lz4FormatError);
      }
      expect(outcome([frame])).toEqual(small);
    }
  });

  test("when any single bit of a checksummed frame is flipped, then it throws Lz4FormatError or still decodes to exactly the content", () => {
    for (const options of [[], ["-BD", "-BX"], ["--content-size"]]) {
      const frame = lz4(small, options);
      let refused = 0;
      for (let bit = 0; bit < frame.length * 8; bit++) {
        const damaged = Buffer.from(frame);
        damaged[bit >> 3]! ^= 1 << (bit & 7);
        const result = outcome([damaged]);
        // A match offset inside a run of one byte can change without changing the output: the checksum agrees then.
        if (result instanceof Lz4FormatError) refused++;
        else expect(result.equals(small), `${options.join(" ")}, bit ${bit} decoded to something else`).toBe(true);
      }
      expect(refused, options.join(" ")).toBeGreaterThan(frame.length * 8 * 0.95);
    }
  });

  test("when bits of a frame without content checksum are flipped, then it either throws Lz4FormatError or decodes", () => {
    const frame = lz4(small, ["--no-frame-crc", "-BD"]);
    let refused = 0;
    for (let bit = 0; bit < frame.length * 8; bit++) {
      const damaged = Buffer.from(frame);
      damaged[bit >> 3]! ^= 1 << (bit & 7);
      if (outcome([damaged]) instanceof Lz4FormatError) refused++;
    }
    // Flips in the header, a block size or an offset are structural: many are caught even without checksums.
    expect(refused).toBeGreaterThan(8 * 11);
  });

  test("when random positions of larger frames are overwritten with huge, negative and random values, then only Lz4FormatError or a decode results, each quickly", () => {
    const rng = new SeededRandom(99);
    const frames = [
      lz4(compressible(rng, 200_000), ["-B4", "-BD"]),
      lz4(compressible(rng, 200_000), ["-B5", "--no-frame-crc"]),
      lz4(rng.bytes(100_000), ["-B4", "-BX", "--content-size"]),
    ];
    const values = [0xffffffff, 0x7fffffff, 0x80000000, 0x80000001, 0, 0x0000ffff];
    for (let i = 0; i < 300; i++) {
      const frame = Buffer.from(rng.pick(frames));
      const at = rng.int(0, frame.length - 4);
      if (rng.int(0, 1) === 0) frame.writeUInt32LE(rng.pick(values), at);
      else frame[at] = rng.int(0, 255);
      const started = performance.now();
      outcome(rng.chunks(frame, 1, 64 * 1024));
      expect(performance.now() - started, `case ${i}`).toBeLessThan(2_000);
    }
  });

  test("when a block size field says 2 GiB, then push refuses it at once, before any of its bytes arrive", () => {
    const frame = lz4(small, ["-B4"]);
    const header = frame.subarray(0, 7);
    const size = Buffer.alloc(4);
    size.writeUInt32LE(0x7fffffff, 0);
    const decoder = new Lz4FrameDecoder();
    expect(() => decoder.push(Buffer.concat([header, size]))).toThrow(/over the frame's block maximum/);
    // Once failed, it stays failed.
    expect(() => decoder.push(Buffer.alloc(1))).toThrow(Lz4FormatError);
  });

  test("when a skippable frame declares 4 GiB, then nothing of that size is held and finish says the input ended inside it", () => {
    const frame = Buffer.alloc(8 + 1_000);
    frame.writeUInt32LE(0x184d2a50, 0);
    frame.writeUInt32LE(0xffffffff, 4);
    const decoder = new Lz4FrameDecoder();
    expect(decoder.push(frame)).toEqual([]);
    expect(() => decoder.finish()).toThrow(/inside a frame \(in a skippable frame\)/);
  });

  /** `frame` with its descriptor bytes changed by `change` and its header checksum made right again. */
  function withDescriptor(frame: Buffer, descriptorLength: number, change: (descriptor: Buffer) => void): Buffer {
    const copy = Buffer.from(frame);
    const descriptor = copy.subarray(4, 4 + descriptorLength);
    change(descriptor);
    copy[4 + descriptorLength] = (xxh32(descriptor) >>> 8) & 0xff;
    return copy;
  }

  test("when a frame's declared content size is one byte off (header checksum fixed to match), then it throws naming both sizes", () => {
    const frame = lz4(small, ["--content-size", "--no-frame-crc"]);
    const damaged = withDescriptor(frame, 10, (d) => d.writeBigUInt64LE(BigInt(small.length + 1), 2));
    expect(() => decode([damaged])).toThrow(`declares ${small.length + 1} bytes of content but decodes to ${small.length}`);
    const smaller = withDescriptor(frame, 10, (d) => d.writeBigUInt64LE(BigInt(small.length - 1), 2));
    expect(() => decode([smaller])).toThrow(/decodes to more than the \d+ bytes it declares/);
  });

  test("when the descriptor asks for a dictionary, a reserved bit or an undefined block size (checksum fixed), then each is refused by name", () => {
    const frame = lz4(small, []);
    expect(() => decode([withDescriptor(frame, 2, (d) => (d[0]! |= 0x02))])).toThrow(/reserved bits/);
    expect(() => decode([withDescriptor(frame, 2, (d) => (d[1] = 0x30))])).toThrow(/block maximum size code 3/);
    expect(() => decode([withDescriptor(frame, 2, (d) => (d[0] = (d[0]! & 0x3f) | 0x80))])).toThrow(/frame version 2/);
    const withDictionary = Buffer.concat([frame.subarray(0, 6), Buffer.from([7, 0, 0, 0]), frame.subarray(6)]);
    expect(() => decode([withDescriptor(withDictionary, 6, (d) => (d[0]! |= 0x01))])).toThrow(/needs dictionary 7/);
  });
});
