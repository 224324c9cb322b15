/**
 * Properties of the archive reader on damaged input, from real pg_dump 15 archives of a database with every kind of
 * object (uncompressed and gzip) and of a LATIN1 database (gzip), and the first recompressed with lz4 and zstd as
 * pg_dump 16+ writes them (test/support/archiveFixture.ts): cut anywhere or mutated anywhere (bit flips, random bytes, integers overwritten
 * with huge or negative values), fed in random pieces, `readArchive` either refuses the archive with
 * UserErrorRecoveryPointCorrupted or reads it (a cut only at the archive's very end; a mutation only when the
 * archive's structure comes out the same, as when a byte of row data changed), never anything else, never slowly
 * and never holding unbounded memory: each case runs under a wall-clock budget and the input stream checks the
 * process's buffer memory whenever the reader asks for more.
 *
 * Cases are drawn from a seeded generator (test/support/seededRandom.ts): a failure names its archive, case and
 * seed, and replays exactly.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readArchive } from "../../shared/archive/archiveReader";
import { PgVaultError } from "../../shared/errors";
import { customArchive, firstBlockOffset, readWholeArchive, recompressArchive, seedEveryObjectKind, seedLatin1Database, type ArchiveContents } from "../support/archiveFixture";
import { SeededRandom } from "../support/seededRandom";
import { createDatabase, dropDatabasesAndRoles, uniqueName, withAdmin } from "../support/testDatabase";

/** One case's wall-clock budget: a full read of these archives takes milliseconds. */
const caseBudgetMs = 3_000;
/** Buffer memory a case may add: far above what the reader needs, far below a 2 GiB length taken at its word. */
const memoryBudgetBytes = 256 * 1024 * 1024;

interface Subject {
  name: string;
  bytes: Buffer;
  /** Where the first data block starts: before it, header and table of contents. */
  tocEnd: number;
  /** How the intact archive reads. */
  intact: ArchiveContents;
}

const grantee = uniqueName("props_grantee");
const database = uniqueName("props_every_kind");
const latin1 = uniqueName("props_latin1");
const subjects: Subject[] = [];

beforeAll(async () => {
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${pg.escapeIdentifier(grantee)} NOLOGIN`));
  await createDatabase(database);
  await seedEveryObjectKind(database, grantee);
  await seedLatin1Database(latin1);
  const plain = await customArchive(database, 0);
  const archives: [string, Buffer][] = [
    ["uncompressed", plain],
    ["gzip -Z6", await customArchive(database, 6)],
    ["lz4", await recompressArchive(plain, "lz4")],
    ["zstd", await recompressArchive(plain, "zstd")],
    ["LATIN1 gzip -Z6", await customArchive(latin1, 6)],
  ];
  for (const [name, bytes] of archives) {
    const intact = await readWholeArchive(whole(bytes));
    const blocks = intact.structure.filter((step) => step.startsWith("dataEnd")).length;
    expect(blocks, name).toBeGreaterThan(name.startsWith("LATIN1") ? 1 : 10);
    subjects.push({ name, bytes, tocEnd: firstBlockOffset(bytes, intact), intact });
  }
});
afterAll(() => dropDatabasesAndRoles([database, latin1], [grantee]));

async function* whole(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}


type Outcome = { kind: "read"; contents: ArchiveContents } | { kind: "corrupted"; message: string };

class BudgetExceeded extends Error {}

/**
 * Reads `input` in pieces drawn from `rng` (1 byte to 64 KiB) under the case budgets. Corrupted is the only error
 * accepted; anything else (another error, the budget exceeded, memory grown past its bound) fails the test.
 */
async function readCase(input: Buffer, rng: SeededRandom, label: string): Promise<Outcome> {
  const started = performance.now();
  const memoryBefore = process.memoryUsage().arrayBuffers;
  async function* pieces(): AsyncGenerator<Buffer> {
    for (let at = 0; at < input.length; ) {
      // Checked whenever the reader wants more: a reader holding a huge allocation, or spinning, shows here.
      if (process.memoryUsage().arrayBuffers - memoryBefore > memoryBudgetBytes) throw new BudgetExceeded(`${label}: buffer memory grew past ${memoryBudgetBytes} bytes`);
      if (performance.now() - started > caseBudgetMs) throw new BudgetExceeded(`${label}: over ${caseBudgetMs} ms`);
      const size = rng.int(0, 3) === 0 ? rng.int(1, 16) : rng.int(1, 64 * 1024);
      yield input.subarray(at, at + size);
      at += size;
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BudgetExceeded(`${label}: no result after ${caseBudgetMs} ms (a hang)`)), caseBudgetMs);
  });
  try {
    const contents = await Promise.race([readWholeArchive(pieces(), "case.dump"), timeout]);
    return { kind: "read", contents };
  } catch (err) {
    if (err instanceof PgVaultError && err.code === "UserErrorRecoveryPointCorrupted") return { kind: "corrupted", message: err.message };
    throw new Error(`${label}: readArchive failed with something other than UserErrorRecoveryPointCorrupted: ${err instanceof Error ? err.stack : String(err)}`);
  } finally {
    clearTimeout(timer);
    const elapsed = performance.now() - started;
    if (elapsed > caseBudgetMs) throw new BudgetExceeded(`${label}: took ${Math.round(elapsed)} ms`);
  }
}

/** A mutation of an archive: which bytes changed and how, for the failure message. */
interface Mutation {
  at: number;
  what: string;
  bytes: Buffer;
}

/** pg_dump's integer encodings (a sign byte, four bytes of magnitude) of values a damaged field might hold. */
const hostileInts = [2 ** 31, 2 ** 32 - 1, 2 ** 31 - 1, -1, -(2 ** 31), 0, 1, 2 ** 24].map((value) => {
  const out = Buffer.alloc(5);
  out[0] = value < 0 ? 1 : 0;
  out.writeUInt32LE(Math.abs(value) >>> 0, 1);
  return { value, out };
});

function mutate(subject: Subject, rng: SeededRandom): Mutation {
  const bytes = Buffer.from(subject.bytes);
  // Half the mutations land in the header and table of contents, where every byte is structure.
  const at = rng.int(0, 1) === 0 ? rng.int(0, subject.tocEnd - 1) : rng.int(0, bytes.length - 1);
  switch (rng.int(0, 3)) {
    case 0: {
      const bit = rng.int(0, 7);
      bytes[at]! ^= 1 << bit;
      return { at, what: `bit ${bit} flipped`, bytes };
    }
    case 1: {
      const value = rng.int(0, 255);
      bytes[at] = value;
      return { at, what: `byte set to ${value}`, bytes };
    }
    case 2: {
      const { value, out } = rng.pick(hostileInts);
      out.copy(bytes, at, 0, Math.min(5, bytes.length - at));
      return { at, what: `int ${value} written`, bytes };
    }
    default: {
      const span = Math.min(rng.int(1, 64), bytes.length - at);
      rng.bytes(span).copy(bytes, at);
      return { at, what: `${span} random bytes written`, bytes };
    }
  }
}

/**
 * Where an archive 1.14 header ends and the entry count starts: magic, version, int size, offset size, format (11
 * bytes), the zlib level and struct tm (8 ints of 5 bytes), then three strings (database, server and pg_dump versions).
 */
function entryCountOffset(bytes: Buffer): number {
  let at = 11 + 8 * 5;
  for (let i = 0; i < 3; i++) at += 5 + bytes.readInt32LE(at + 1);
  return at;
}

describe("readArchive on cut and mutated pg_dump archives", () => {
  test("when an archive is cut at every offset of its header and table of contents, then each cut is refused as corrupted", { timeout: 120_000 }, async () => {
    // The table of contents of every object kind (about 22 KB): some 22,000 cuts, each in random pieces.
    const subject = subjects.find((s) => s.name === "uncompressed")!;
    for (let cut = 0; cut <= subject.tocEnd; cut++) {
      const result = await readCase(subject.bytes.subarray(0, cut), new SeededRandom(cut), `${subject.name} cut at ${cut}`);
      expect(result.kind, `${subject.name} cut at ${cut}`).toBe("corrupted");
    }
  });

  test("when archives are cut at random offsets and fed in random pieces, then each is refused as corrupted, and only the whole archive reads", async () => {
    for (const subject of subjects) {
      const rng = new SeededRandom(subject.bytes.length);
      for (let i = 0; i < 60; i++) {
        const cut = i === 0 ? subject.bytes.length : i === 1 ? subject.bytes.length - 1 : rng.int(0, subject.bytes.length - 1);
        const result = await readCase(subject.bytes.subarray(0, cut), rng, `${subject.name} cut at ${cut} (seed ${subject.bytes.length}, case ${i})`);
        expect(result.kind, `${subject.name} cut at ${cut}`).toBe(cut === subject.bytes.length ? "read" : "corrupted");
      }
    }
  });

  test("when archives are mutated at random (bits, bytes, huge and negative integers), then each is refused as corrupted or reads with the intact structure", async () => {
    let corrupted = 0;
    let read = 0;
    for (const subject of subjects) {
      const seed = 7 + subject.tocEnd;
      const rng = new SeededRandom(seed);
      for (let i = 0; i < 200; i++) {
        const mutation = mutate(subject, rng);
        const label = `${subject.name}: ${mutation.what} at ${mutation.at} (seed ${seed}, case ${i})`;
        const result = await readCase(mutation.bytes, rng, label);
        if (result.kind === "corrupted") corrupted++;
        else {
          read++;
          // Row data may change and still read; the archive's shape may not.
          expect(result.contents.structure, label).toEqual(subject.intact.structure);
        }
      }
    }
    // Half the cases hit the table of contents, where nearly every change breaks a field: most must be refused.
    expect(corrupted).toBeGreaterThan(read / 2);
  });

  test("when a length field says 2^31 (a name, a table's chunk, the entry count, a large object's chunk), then it is refused as corrupted without that memory", async () => {
    const subject = subjects.find((s) => s.name === "uncompressed")!;
    const bytes = subject.bytes;
    /** Overwrites the pg_dump int just before `marker` (a string's or a chunk's length) with 2^31. */
    const lengthBefore = (marker: Buffer, from = 0) => {
      const at = bytes.indexOf(marker, from);
      expect(at, marker.toString("latin1")).toBeGreaterThan(5);
      return at - 5;
    };
    const twoTo31 = hostileInts.find((h) => h.value === 2 ** 31)!.out;
    const targets: [string, number][] = [
      ["the database name's length", lengthBefore(Buffer.from(database))],
      ["a table of contents tag's length", lengthBefore(Buffer.from("kinds_stats"))],
      ["a definition's length", lengthBefore(Buffer.from("CREATE TABLE public.kinds"))],
      ["the number of entries", entryCountOffset(bytes)],
      ["a row chunk's length", lengthBefore(Buffer.from("1000\tcustomer 1000\t"), subject.tocEnd)],
      ["a large object chunk's length", lengthBefore(Buffer.from("large object ✓ large object"), subject.tocEnd)],
    ];
    for (const [name, at] of targets) {
      const damaged = Buffer.from(bytes);
      twoTo31.copy(damaged, at);
      const result = await readCase(damaged, new SeededRandom(at), `${name} (at ${at}) set to 2^31`);
      expect(result.kind, name).toBe("corrupted");
    }
  });

  test("when a row chunk claims 2^31 bytes and 32 MiB follow, then the reader passes them on as rows as they come, holding at most a batch", async () => {
    const subject = subjects.find((s) => s.name === "uncompressed")!;
    const at = subject.bytes.indexOf("1000\tcustomer 1000\t", subject.tocEnd) - 5;
    const prefix = Buffer.concat([subject.bytes.subarray(0, at), hostileInts.find((h) => h.value === 2 ** 31)!.out]);
    let fed = 0;
    let delivered = 0;
    async function* input(): AsyncGenerator<Buffer> {
      yield prefix;
      for (let i = 0; i < 512; i++) {
        // What the reader took and has not passed on is what it holds.
        if (fed - delivered > 4 * 1024 * 1024) throw new BudgetExceeded(`the reader holds ${fed - delivered} bytes of one chunk`);
        fed += 64 * 1024;
        yield Buffer.alloc(64 * 1024, "x");
      }
    }
    let inChunk = false;
    const failure = await (async () => {
      for await (const event of readArchive(input(), "case.dump")) {
        if (event.type === "data" && event.bytes.includes("xxxx")) inChunk = true;
        if (event.type === "data" && inChunk) delivered += event.bytes.length;
      }
    })().then(() => undefined, (err: unknown) => err);
    expect(failure).toBeInstanceOf(PgVaultError);
    expect((failure as PgVaultError).code).toBe("UserErrorRecoveryPointCorrupted");
    expect(delivered).toBeGreaterThan(28 * 1024 * 1024);
  });
});
