/**
 * Reads a pg_dump custom-format archive as it streams (the decoded archive of a recovery point: what pg_restore
 * reads), with memory bounded by the largest table-of-contents field and one batch of data, whatever the archive's
 * size. Written from PostgreSQL's description of the format (src/bin/pg_dump/pg_backup_archiver.c and
 * pg_backup_custom.c, REL_12 to REL_18; see archiveHead.ts and dataBlocks.ts), for archives pg_dump 12 to 18
 * writes: uncompressed, gzip, lz4 (lz4Frame.ts) and zstd.
 *
 * Anything that is not such an archive (cut short, a field out of range, data that does not decompress, a block
 * the table of contents does not announce or one it announces missing) is refused with
 * `UserErrorRecoveryPointCorrupted`. Failures of the input itself (storage, a checksum) pass through unchanged.
 */
import { PgVaultError } from "../errors";
import { readArchiveHead } from "./archiveHead";
import type { ArchiveEvent, TocEntry } from "./archiveTypes";
import { ArchiveDamage, ByteSource } from "./byteSource";
import { blockContent, nextLargeObject, readBlockHeader } from "./dataBlocks";

const entryLabel = (entry: TocEntry) => `${entry.desc} ${entry.namespace ? `${entry.namespace}.` : ""}${entry.tag}`;

async function* archiveEvents(source: ByteSource): AsyncGenerator<ArchiveEvent> {
  const { header, entries, fields, withData } = await readArchiveHead(source);
  yield { type: "header", header };
  yield { type: "toc", entries };
  const byId = new Map(entries.map((entry) => [entry.dumpId, entry]));
  const pending = new Set(withData);
  for (;;) {
    const block = await readBlockHeader(fields);
    if (!block) break;
    const entry = byId.get(block.dumpId);
    if (!entry || !pending.delete(block.dumpId)) {
      throw source.damage(`a data block for dump id ${block.dumpId} is not announced by the table of contents, or comes twice`);
    }
    const start = source.offset;
    let bytes = 0;
    yield { type: "dataStart", entry, kind: block.kind };
    if (block.kind === "table") {
      for await (const piece of blockContent(fields, header.compression, entry, "table")) {
        bytes += piece.length;
        yield { type: "data", entry, bytes: piece };
      }
    } else {
      for (let oid = await nextLargeObject(fields); oid !== undefined; oid = await nextLargeObject(fields)) {
        yield { type: "largeObject", entry, oid };
        for await (const piece of blockContent(fields, header.compression, entry, "largeObject")) {
          bytes += piece.length;
          yield { type: "data", entry, bytes: piece };
        }
      }
    }
    yield { type: "dataEnd", entry, storedBytes: source.offset - start, bytes };
  }
  const missing = [...pending].map((id) => byId.get(id)!);
  if (missing.length > 0) {
    throw source.damage(`the archive ends before the data of ${missing.length} entries (the first: ${entryLabel(missing[0]!)})`);
  }
}

/** The archive's events, in archive order. `label` names the archive in errors (a blob path). */
export async function* readArchive(input: AsyncIterable<Buffer>, label: string): AsyncGenerator<ArchiveEvent> {
  const source = new ByteSource(input);
  try {
    yield* archiveEvents(source);
  } catch (err) {
    if (err instanceof ArchiveDamage) {
      throw new PgVaultError("UserErrorRecoveryPointCorrupted", `${label} is not a readable pg_dump archive: ${err.message}.`);
    }
    throw err;
  } finally {
    await source.close();
  }
}
