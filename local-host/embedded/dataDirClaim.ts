/**
 * One local host per data folder. A start stops the Azurite and PostgreSQL it finds running on the folder, as
 * leftovers of a killed host; that is only right when the host that started them is gone. So the host using the
 * folder records itself in `<folder>/host.pid`, and a second start refuses while that host still runs. The record
 * is the host's pid and command line: after a kill the pid may go to another process, which is then no holder.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { commandLine } from "./processes";

interface Holder {
  pid: number;
  argv: string[];
}

export interface DataDirClaim {
  /** Gives the folder up (when this process still holds it). */
  release(): void;
}

function readHolder(file: string): Holder | undefined {
  try {
    const { pid, argv } = JSON.parse(readFileSync(file, "utf8")) as Partial<Holder>;
    return typeof pid === "number" && Array.isArray(argv) ? { pid, argv } : undefined;
  } catch {
    return undefined;
  }
}

function isRunning(holder: Holder): boolean {
  return commandLine(holder.pid)?.join("\0") === holder.argv.join("\0");
}

/** Claims `dataDir` for this process; throws while another running host holds it. */
export function claimDataDir(dataDir: string): DataDirClaim {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, "host.pid");
  const me: Holder = { pid: process.pid, argv: commandLine(process.pid) ?? process.argv };
  for (;;) {
    try {
      // Exclusive create: of two starts racing for a free folder, one gets it.
      writeFileSync(file, JSON.stringify(me), { flag: "wx" });
      return {
        release() {
          if (readHolder(file)?.pid === me.pid) rmSync(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = readHolder(file);
    if (holder && isRunning(holder)) throw new Error(`another local host (pid ${holder.pid}) is using ${dataDir}; stop it first`);
    // Its host was killed: the record is stale.
    rmSync(file, { force: true });
  }
}
