/**
 * The contents of a recovery point (GET .../recoveryPoints/{id}/contents), read from its archives: a dump point's
 * one archive, or each database archive of a Flexible Server point. Rows per table come from the point's contents
 * record when it has one (counted at backup time); an encrypted point's archive and record are decrypted with its
 * data key, as a restore does, so the route asks for the restore's role. A record with table digests also holds
 * each table's data size, so only the archive's head is read; otherwise the whole archive is, for the sizes.
 */
import type { RecoveryPoint } from "../domain";
import { ltrDatabaseFiles } from "../flexServer/ltrFiles";
import { pointArchive, restoreSourceOf } from "../restore/pointArchive";
import { archiveContents, type DatabaseArchiveContents } from "./archiveContents";
import { readContentsRecord } from "./contentsRecord";

export interface PointContents {
  recoveryPointId: string;
  instanceName: string;
  format: RecoveryPoint["format"];
  /** Where each table's `rows` come from: the point's contents record, or nowhere (no record). */
  rows: "contentsRecord" | "notRecorded";
  /**
   * Where each table's `dataBytes` come from: the point's contents record (its table digests: only the archive's
   * head was read, and large objects' bytes are not given), or the whole archive, read for them.
   */
  dataSizes: "contentsRecord" | "archive";
  databases: DatabaseArchiveContents[];
}

const rowKey = (schema: string, name: string) => `${schema}\u0000${name}`;

export async function pointContents(rp: RecoveryPoint): Promise<PointContents> {
  const base = { recoveryPointId: rp.id, instanceName: rp.instanceName, format: rp.format };
  if (rp.format === "flexibleServer-ltr") {
    const databases: DatabaseArchiveContents[] = [];
    // The server's files carry no checksum and no record: every archive is read whole, for its data sizes.
    for (const file of ltrDatabaseFiles(rp)) databases.push(await archiveContents(pointArchive({ blobPath: file.blobPath }), file.blobPath, { dataSizes: true }));
    return { ...base, rows: "notRecorded", dataSizes: "archive", databases };
  }
  const record = rp.contents ? await readContentsRecord({ ...rp, contents: rp.contents }) : undefined;
  const rows = new Map(record?.tables.map((table) => [rowKey(table.schema, table.name), table.rows]));
  const source = restoreSourceOf(rp);
  const recordedBytes = record?.digests && new Map(record.digests.map((digest) => [rowKey(digest.schema, digest.name), digest.bytes]));
  // Without recorded sizes the whole archive is read for them (and so its SHA-256 checked to the last byte).
  const contents = await archiveContents(pointArchive(source), source.blobPath, { dataSizes: !recordedBytes, rowsOf: (schema, name) => rows.get(rowKey(schema, name)) });
  if (!recordedBytes) return { ...base, rows: record ? "contentsRecord" : "notRecorded", dataSizes: "archive", databases: [contents] };
  // A table the digests skip (an extension's configuration table) has no recorded size.
  const tables = contents.tables.map((table) => {
    const dataBytes = recordedBytes.get(rowKey(table.schema, table.name));
    return dataBytes === undefined ? table : { ...table, dataBytes };
  });
  return { ...base, rows: "contentsRecord", dataSizes: "contentsRecord", databases: [{ ...contents, tables }] };
}
