/**
 * pg_dump's archive through the app to two readers at once: the compressor (on its way into the vault) and the
 * table digests (shared/contents/tableDigests.ts). Each reader gets the same chunks through a queue of a few
 * chunks; pg_dump's stdout is read only when both have room, so the slower reader sets the pace and memory stays
 * bounded (pipe buffers plus twice `queuedChunks` chunks of at most 64 KiB).
 */
import type { Readable } from "node:stream";

/** pg_dump did not end cleanly (it failed, or was stopped): what the digests reader saw is cut, through no fault of the archive. */
export class DumpEndedEarly extends Error {
  override readonly name = "DumpEndedEarly";
}

const queuedChunks = 8;

/** A bounded queue of chunks for one reader: `push` waits while it is full; a reader that stops releases the writer. */
class ChunkQueue implements AsyncIterable<Buffer> {
  private readonly chunks: Buffer[] = [];
  private ended = false;
  private failure: Error | undefined;
  /** The reader stopped (or never will read): pushes are dropped. */
  private abandoned = false;
  private wake: (() => void) | undefined;

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private waitForChange(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  async push(chunk: Buffer): Promise<void> {
    while (this.chunks.length >= queuedChunks && !this.abandoned) await this.waitForChange();
    if (this.abandoned) return;
    this.chunks.push(chunk);
    this.notify();
  }

  end(failure?: Error): void {
    this.ended = true;
    this.failure = failure;
    this.notify();
  }

  /** Drops what is queued and releases the writer; the reader, if still reading, ends (with `failure`, when given). */
  abandon(failure?: Error): void {
    this.failure ??= failure;
    this.abandoned = true;
    this.chunks.length = 0;
    this.notify();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const chunk = this.chunks.shift();
        if (chunk) {
          // The writer may be waiting for room.
          this.notify();
          yield chunk;
          continue;
        }
        if (this.abandoned || this.ended) {
          if (this.failure) throw this.failure;
          return;
        }
        await this.waitForChange();
      }
    } finally {
      this.abandon();
    }
  }
}

export interface ArchiveFanOut {
  /** For the compressor: ends when pg_dump's stdout ends (pg_dump's exit says whether it ended well). */
  toStore: AsyncIterable<Buffer>;
  /** For the digests: ends once pg_dump exited cleanly, or throws DumpEndedEarly. */
  toDigest: AsyncIterable<Buffer>;
  /** Releases both readers' writer and ends what the digests read with DumpEndedEarly (on any failure). */
  stop(): void;
}

/** Fans `stdout` out to the two readers; `exited` is pg_dump's exit (resolved on exit code 0). */
export function fanOutArchive(stdout: Readable, exited: Promise<void>): ArchiveFanOut {
  const toStore = new ChunkQueue();
  const toDigest = new ChunkQueue();
  let stopped = false;
  const stop = () => {
    stopped = true;
    // The stored archive is cut too: whatever reads it must fail, never take the cut for the end.
    toStore.abandon(new DumpEndedEarly("pg_dump's archive was not read to its end"));
    toDigest.end(new DumpEndedEarly("pg_dump's archive was not read to its end"));
  };
  void (async () => {
    try {
      for await (const chunk of stdout as AsyncIterable<Buffer>) {
        if (stopped) break;
        await toStore.push(chunk);
        await toDigest.push(chunk);
      }
      toStore.end();
      // An archive that ended because pg_dump failed is cut short: its exit, not the digests, says why.
      const clean = await exited.then(
        () => true,
        () => false,
      );
      toDigest.end(clean && !stopped ? undefined : new DumpEndedEarly("pg_dump did not exit cleanly"));
    } catch (err) {
      toStore.end(err instanceof Error ? err : new Error(String(err)));
      toDigest.end(new DumpEndedEarly("pg_dump's output could not be read"));
    }
  })();
  return { toStore, toDigest, stop };
}
