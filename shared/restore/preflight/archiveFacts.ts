/**
 * What the pre-flight knows about an archive, read once from its table of contents (`pg_restore --list`, which
 * reads only the archive's head): the server version it was dumped from, the extensions it creates and the roles
 * that own its objects. The entries are kept for checks that need more (which names the point holds).
 */
import type { ConnectionParams } from "../../postgres/connection";
import { archiveHeadOutput, type RestoreSource } from "../databaseRestore";

/** One line of the table of contents: `<id>; <catalog oid> <oid> <TYPE> <schema> <tag> <owner>`. */
export interface TocEntry {
  /** Everything between the oids and the owner (type, schema and tag; types and tags may hold spaces). */
  description: string;
  /** Empty for entries that have none (extensions, large-object data). */
  owner: string;
}

export interface ArchiveFacts {
  /** The database the archive restores as on the target. */
  database: string;
  /** `15.18` from "Dumped from database version: 15.18 (Debian ...)"; the point's own record when the header lacks it. */
  serverVersion: string;
  extensions: string[];
  owners: string[];
  entries: TocEntry[];
}

const entryLine = /^\d+; \d+ \d+ (.*) (\S*)$/;
const extensionEntry = /^EXTENSION - (.+)$/;
const dumpedFrom = /^;\s+Dumped from database version: (\d+(?:\.\d+)*)/m;

/** The listing as facts; `fallbackVersion` (the point's record) when the header names no version. */
export function parseArchiveList(text: string, database: string, fallbackVersion: string): ArchiveFacts {
  const entries: TocEntry[] = [];
  for (const line of text.split("\n")) {
    const match = entryLine.exec(line.trimStart());
    if (match) entries.push({ description: match[1]!, owner: match[2]! });
  }
  const extensions = entries.flatMap((e) => extensionEntry.exec(e.description)?.[1] ?? []);
  const owners = [...new Set(entries.map((e) => e.owner).filter((owner) => owner !== ""))].sort();
  return { database, serverVersion: dumpedFrom.exec(text)?.[1] ?? fallbackVersion, extensions: [...new Set(extensions)].sort(), owners, entries };
}

/** Reads the archive's head (decrypted with `dataKey` when it is encrypted): bounded by the TOC, not the data. */
export async function readArchiveFacts(
  source: RestoreSource,
  dataKey: Buffer | undefined,
  params: ConnectionParams,
  database: string,
  fallbackVersion: string,
): Promise<ArchiveFacts> {
  return parseArchiveList(await archiveHeadOutput(source, dataKey, params, ["--list"]), database, fallbackVersion);
}

/**
 * A version as a number comparable with `server_version_num`, major part only: `15.18` is 150000, `9.6.24` is
 * 90600. Majors are what decide whether a server can take an archive.
 */
export function majorNumber(version: string | number): number {
  if (typeof version === "number") return version >= 100000 ? Math.floor(version / 10000) * 10000 : Math.floor(version / 100) * 100;
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major >= 10 ? major * 10000 : major * 10000 + minor * 100;
}
