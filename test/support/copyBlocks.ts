/** pg_dump's own COPY text of a database, from its plain format: what the table digests must equal. */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { cluster } from "./testDatabase";

/**
 * The COPY blocks of a plain-format `pg_dump --data-only` of `database`, dumped by the cluster's admin (database
 * and role defaults apply as to any user; the app's environment does not): each `COPY ... FROM stdin;` statement
 * to its rows, without the `\.` line.
 */
export async function plainDumpCopyBlocks(database: string): Promise<Map<string, Buffer>> {
  const server = cluster();
  const { stdout } = await promisify(execFile)(path.join(server.binDir, "pg_dump"), ["--data-only", database], {
    env: { PATH: process.env.PATH ?? "", PGHOST: server.host, PGPORT: String(server.port), PGUSER: server.user, PGPASSWORD: server.password },
    encoding: "buffer",
    maxBuffer: 64 * 1024 * 1024,
  });
  const blocks = new Map<string, Buffer>();
  // latin1 keeps one character per byte, so offsets in the text are offsets in the bytes.
  const text = stdout.toString("latin1");
  for (const match of text.matchAll(/^(COPY .* FROM stdin;)\n/gm)) {
    const start = match.index + match[0].length;
    // An empty table's `\.` follows its statement at once.
    const end = text.startsWith("\\.\n", start) ? start : text.indexOf("\n\\.\n", start) + 1;
    blocks.set(Buffer.from(match[1]!, "latin1").toString("utf8"), stdout.subarray(start, end));
  }
  return blocks;
}
