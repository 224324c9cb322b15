/**
 * Streams bytes of unknown length into a block blob without a staging file: each block is buffered, staged,
 * and forgotten, so memory is bounded by (blocks in flight + 1) x block size whatever the database size. SHA-256
 * and size are computed over exactly the bytes staged. Nothing is visible until `commit`: a failed stream leaves
 * only uncommitted blocks, which the service discards (Azure after 7 days), never a committed blob.
 *
 * Every block id starts with the attempt's own random id. Two copies of one activity may stage into the same blob
 * at once (activities are at-least-once), and the service keeps the latest block of each id whoever staged it: with
 * ids by position only, one copy's commit could take the other's blocks. With the attempt in the id, the block
 * list an attempt commits names only blocks it staged itself.
 */
import { createHash, randomBytes } from "node:crypto";
import type { BlockBlobClient } from "@azure/storage-blob";

const MiB = 1024 * 1024;
/** Azure's limits for a block blob (service version 2019-12-12 and later). */
export const maxBlocks = 50_000;
export const maxBlockSize = 4000 * MiB;
const minBlockSize = 8 * MiB;
/** Blocks per block-size step; the size doubles after each step, so an underestimate still fits. */
export const blocksPerStep = 10_000;
/** Bytes staged concurrently (at least one block), to keep memory bounded with large blocks. */
const inFlightBudget = 64 * MiB;
const maxInFlight = 4;

/**
 * The size of block `index` for a blob expected to hold about `expectedBytes`. The first step alone holds twice
 * the estimate; later steps double the block size (capped at Azure's maximum), so even a 10x underestimate fits
 * in 50,000 blocks.
 */
export function blockSizeAt(index: number, expectedBytes: number): number {
  const base = Math.max(minBlockSize, Math.ceil((2 * expectedBytes) / blocksPerStep / MiB) * MiB);
  return Math.min(maxBlockSize, base * 2 ** Math.floor(index / blocksPerStep));
}

/** Total bytes 50,000 blocks can hold for this estimate (what `blockSizeAt` guarantees). */
export function capacityFor(expectedBytes: number): number {
  let total = 0;
  for (let step = 0; step < maxBlocks / blocksPerStep; step++) {
    total += blocksPerStep * blockSizeAt(step * blocksPerStep, expectedBytes);
  }
  return total;
}

export interface StagedStream {
  blockIds: string[];
  sizeBytes: number;
  sha256: string;
}

/** A new attempt id: 16 hex digits, random (a fixed length, since every block id of a blob must have the same). */
export function newAttemptId(): string {
  return randomBytes(8).toString("hex");
}

export const attemptIdPattern = /^[0-9a-f]{16}$/;

export interface StageOptions {
  /** This attempt's id (`newAttemptId`), the prefix of every block id it stages. */
  attempt: string;
  expectedBytes: number;
  /** Called after each staged block with the bytes staged so far. */
  onProgress?: (stagedBytes: number) => void;
  abortSignal?: AbortSignal;
}

function blockId(attempt: string, index: number): string {
  // All ids of a blob must have the same length, whichever attempt staged them.
  return Buffer.from(`${attempt}-${index.toString().padStart(6, "0")}`).toString("base64");
}

/** Stages every byte of `source` as blocks of `blob`; the caller commits them once the source is known good. */
export async function stageStream(source: AsyncIterable<Buffer>, blob: BlockBlobClient, options: StageOptions): Promise<StagedStream> {
  const hash = createHash("sha256");
  // Our own signal: on any failure every stage still in flight is cancelled and awaited before we throw, so no
  // write of this attempt is still on its way once it has failed.
  const abort = new AbortController();
  options.abortSignal?.addEventListener("abort", () => abort.abort(), { once: true });
  const blockIds: string[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let sizeBytes = 0;
  let stagedBytes = 0;
  let current = Buffer.allocUnsafe(blockSizeAt(0, options.expectedBytes));
  let filled = 0;

  const stage = async (data: Buffer): Promise<void> => {
    if (blockIds.length === maxBlocks) throw new Error(`The stream needs more than Azure's ${maxBlocks} blocks.`);
    const id = blockId(options.attempt, blockIds.length);
    blockIds.push(id);
    const upload = blob
      .stageBlock(id, data, data.length, { abortSignal: abort.signal })
      .then(() => {
        stagedBytes += data.length;
        options.onProgress?.(stagedBytes);
      })
      .catch((err: unknown) => {
        failure ??= err;
      })
      .finally(() => inFlight.delete(upload));
    inFlight.add(upload);
    const limit = Math.max(1, Math.min(maxInFlight, Math.floor(inFlightBudget / data.length)));
    while (inFlight.size >= limit) await Promise.race(inFlight);
    if (failure) throw failure;
  };

  try {
    for await (const chunk of source) {
      hash.update(chunk);
      sizeBytes += chunk.length;
      let offset = 0;
      while (offset < chunk.length) {
        const copied = chunk.copy(current, filled, offset);
        filled += copied;
        offset += copied;
        if (filled === current.length) {
          await stage(current);
          current = Buffer.allocUnsafe(blockSizeAt(blockIds.length, options.expectedBytes));
          filled = 0;
        }
      }
    }
    if (filled > 0) await stage(current.subarray(0, filled));
    await Promise.all(inFlight);
    if (failure) throw failure;
  } catch (err) {
    abort.abort();
    await Promise.allSettled(inFlight);
    throw err;
  }
  return { blockIds, sizeBytes, sha256: hash.digest("hex") };
}
