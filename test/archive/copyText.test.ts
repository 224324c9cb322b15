/**
 * The COPY text decoder (shared/archive/copyText.ts) and the CSV it becomes (csvWriter.ts), without a server:
 * every escape of the format, chunks cut at every byte, and the COPY statement's column names.
 */
import { describe, expect, test } from "vitest";
import { CopyTextReader, copyTextDecoder, copyTextOf, type CopyField } from "../../shared/archive/copyText";
import { copyColumns, csvRecord, CsvWriter } from "../../shared/archive/csvWriter";
import { PgVaultError } from "../../shared/errors";

/** Rows of `bytes` fed in the given chunks. */
function decode(chunks: Buffer[], encoding = "UTF8"): CopyField[][] {
  const decoder = copyTextDecoder(encoding, "t");
  const rows = chunks.flatMap((chunk) => decoder.rows(chunk));
  decoder.end();
  return rows;
}

// Every escape the docs list, NULL beside the empty string, a multibyte character, and a field of octal bytes that
// only together are UTF-8 (é = \303\251).
const tricky = Buffer.from(
  [
    "1\t\\N\t\t\\\\N\ta\\tb\\nc\\rd",
    "2\t\\b\\f\\v\\\\\t\\101\\x41\\x4a\\xg\\q\t\\303\\251\\0\\7x\tZoë 日本語 🎉",
    "3\t\\\\\t\"q\",\t\\x\t\\1234",
    "",
    "",
  ].join("\n"),
  "utf8",
);
const trickyRows: CopyField[][] = [
  ["1", null, "", "\\N", "a\tb\nc\rd"],
  ["2", "\b\f\v\\", "AAJxgq", "é\u0000\u0007x", "Zoë 日本語 🎉"],
  ["3", "\\", '"q",', "x", "S4"],
  [""],
];

describe("COPY text", () => {
  test("when a row holds every escape, NULL and the empty string, then each field is what COPY wrote it from", () => {
    expect(decode([tricky])).toEqual(trickyRows);
  });

  test("when the data arrives cut at any byte (even inside an escape or a multibyte character), then the rows are the same", () => {
    for (let cut = 0; cut <= tricky.length; cut++) {
      expect(decode([tricky.subarray(0, cut), tricky.subarray(cut)]), `cut at ${cut}`).toEqual(trickyRows);
    }
    expect(decode([...tricky].map((byte) => Buffer.from([byte])))).toEqual(trickyRows);
  });

  test("when a chunk is reused after it was fed (as the reader's buffers are), then the rows already given and the pending one are unaffected", () => {
    const decoder = copyTextDecoder("UTF8", "t");
    const chunk = Buffer.from("ab\tc\nde");
    const first = decoder.rows(chunk);
    chunk.fill(0x7a);
    expect([...first, ...decoder.rows(Buffer.from("f\n"))]).toEqual([["ab", "c"], ["def"]]);
  });

  test("when the database is LATIN1, then its bytes (escaped or not) are read as LATIN1, 0x80-0x9F included", () => {
    expect(decode([Buffer.from([0x5a, 0x6f, 0xeb, 0x09, 0x5c, 0x33, 0x35, 0x31, 0x80, 0x0a])], "LATIN1")).toEqual([["Zoë", "é\u0080"]]);
  });

  test("when the data is cut inside a row, ends in a lone backslash or goes on after its end marker, then UserErrorRecoveryPointCorrupted", () => {
    const failure = (text: string) => {
      try {
        decode([Buffer.from(text)]);
      } catch (err) {
        return err instanceof PgVaultError ? err.code : String(err);
      }
      return "accepted";
    };
    expect(failure("a\tb")).toBe("UserErrorRecoveryPointCorrupted");
    expect(failure("a\\\n")).toBe("UserErrorRecoveryPointCorrupted");
    expect(failure("a\n\\.\nb\n")).toBe("UserErrorRecoveryPointCorrupted");
    expect(failure("a\n\\.\n")).toBe("accepted");
  });

  test("when the archive's encoding hides ASCII bytes in its characters, then it is refused rather than misread", () => {
    expect(() => copyTextDecoder("SJIS", "t")).toThrow(/SJIS/);
    expect(() => copyTextDecoder("MULE_INTERNAL", "t")).toThrow(/MULE_INTERNAL/);
  });
});

describe("CSV", () => {
  test("when fields hold commas, quotes, CR or LF, are empty or NULL, then RFC 4180 quoting keeps them apart", () => {
    expect(csvRecord(["a", null, "", 'say "hi"', "x,y", "l1\nl2", "cr\r", " sp "])).toBe('a,,"","say ""hi""","x,y","l1\nl2","cr\r", sp \r\n');
  });

  test("when a COPY statement names quoted columns, then the header has them as stored", () => {
    expect(copyColumns('COPY "Ünï Schéma"."Größe ""q"" t" ("Spalte Ä", payload, "日本語", "a, b", "order") FROM stdin;\n')).toEqual(["Spalte Ä", "payload", "日本語", "a, b", "order"]);
    expect(copyColumns("COPY public.empty  FROM stdin;\n")).toEqual([]);
    expect(copyColumns("COPY public.t (a FROM stdin;")).toBeUndefined();
    expect(copyColumns("INSERT INTO t VALUES (1);")).toBeUndefined();
  });

  /** The CSV the writer makes of `chunks` of COPY text: bytes as they are (UTF8), or read as text in `encoding`. */
  function csvOf(columns: string[], chunks: Buffer[], encoding = "UTF8", chunkBytes = 16): string {
    const writer = new CsvWriter(columns, encoding === "UTF8" ? undefined : copyTextOf(encoding, "t"), "t", chunkBytes);
    const reader = new CopyTextReader(writer, "t");
    const out: Buffer[] = [];
    for (const chunk of chunks) {
      reader.write(chunk);
      out.push(writer.take());
    }
    reader.end();
    out.push(writer.take());
    return Buffer.concat(out).toString("utf8");
  }

  test("when COPY text goes straight to CSV bytes, cut at any byte, then the CSV is the records of its decoded rows, for UTF8 bytes and for text of another encoding", () => {
    const rows = trickyRows.slice(0, 3);
    const text = Buffer.from(tricky.toString("utf8").split("\n").slice(0, 3).join("\n") + "\n");
    const columns = ["a", "b", "c", "d", "e"];
    const expected = csvRecord(columns) + rows.map(csvRecord).join("");
    for (let cut = 0; cut <= text.length; cut++) {
      expect(csvOf(columns, [text.subarray(0, cut), text.subarray(cut)]), `cut at ${cut}`).toBe(expected);
    }
    // LATIN1: ë is one byte in the archive and two in the CSV; a value of 3 KiB grows the writer's buffer.
    const long = "x".repeat(3000);
    expect(csvOf(["v"], [Buffer.from(`Zo\u00eb,\n${long}\n`, "latin1")], "LATIN1")).toBe(`v\r\n"Zoë,"\r\n${long}\r\n`);
  });

  test("when a row has more or fewer fields than the table has columns, then UserErrorRecoveryPointCorrupted naming the row; a table without columns has empty records", () => {
    expect(csvOf(["a", "b"], [Buffer.from("1\t\\N\n")])).toBe("a,b\r\n1,\r\n");
    expect(() => csvOf(["a", "b"], [Buffer.from("1\t\\N\n1\n")])).toThrow(/Row 2 of t in the archive has 1 fields for 2 columns/);
    expect(csvOf([], [Buffer.from("\n\n")])).toBe("\r\n\r\n\r\n");
    expect(() => csvOf([], [Buffer.from("x\n")])).toThrow(/has 1 fields for 0 columns/);
  });
});
