/**
 * Processes of this machine, told apart by their command line as Linux shows it in /proc/<pid>/cmdline (the
 * arguments, each ended by a NUL; empty for a zombie; proc(5), https://man7.org/linux/man-pages/man5/proc.5.html).
 * A pid alone names no particular process once its owner has died: the kernel hands it out again. Where there is no
 * /proc, no process is found.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";

/** The arguments the process runs with; undefined once it has ended (or is a zombie waiting to be reaped). */
export function commandLine(pid: number): string[] | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return undefined;
  }
  return raw ? raw.replace(/\0$/, "").split("\0") : undefined;
}

/** Pids of the running processes whose arguments match. */
export function findProcesses(matches: (argv: string[]) => boolean): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  return entries
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      const argv = commandLine(pid);
      return argv !== undefined && matches(argv);
    });
}

/** True when `argv` holds `flag` immediately followed by `value` (as in `-D <dir>`, `--location <dir>`). */
export function hasOption(argv: string[], flag: string, value: string): boolean {
  return argv.some((arg, i) => arg === flag && argv[i + 1] === value);
}

/** Sends `signal`, waits up to `timeoutMs` for the process to end, then kills it. */
export async function endProcess(pid: number, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  const signalled = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // Already gone.
    }
  };
  signalled(signal);
  if (await ended(pid, timeoutMs)) return;
  signalled("SIGKILL");
  await ended(pid, 5_000);
}

async function ended(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (commandLine(pid) !== undefined) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** Whether this system shows its processes in /proc (Linux); without it none can be told apart. */
export function procAvailable(): boolean {
  return existsSync("/proc/self/cmdline");
}
