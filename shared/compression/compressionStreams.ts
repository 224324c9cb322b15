/**
 * Streaming compression of pg_dump's archive on its way into the vault, and decompression on its way into
 * pg_restore (docs/architecture.md, "Compression"). zstd runs as the `zstd` program (Debian's `zstd` package, found
 * on PATH) with one worker thread per core: compression, not reading, is what bounds a backup, and the program
 * spreads it over every core the host gives; no maintained Node binding does multi-threaded streaming without a
 * native build. gzip runs in Node's zlib (on its thread pool). Memory is bounded by pipe buffers either way.
 */
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { pipeline as pipelineCallback, Readable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import type { CompressionAlgorithm } from "../domain";
import { PgVaultError } from "../errors";
import type { Compression } from "./compressionSettings";

/** What a compressor or decompressor stage failing means: the archive's fault on restore, the app's on backup. */
type FailureOf = (detail: string) => PgVaultError;

/**
 * `input` through a child process's stdin, its stdout yielded. The child is killed when the consumer stops early
 * or the input fails; the input's own error (a damaged segment, a failed pg_dump read) wins over the child's.
 */
async function* throughProgram(program: string, args: string[], input: AsyncIterable<Buffer>, failure: FailureOf): AsyncGenerator<Buffer> {
  const child = spawn(program, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (part: string) => (stderr = (stderr + part).slice(-2000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve(code));
  });
  exited.catch(() => undefined);
  let inputError: unknown;
  // Fed concurrently with reading its output; a closed stdin (the child died) ends the feeding, its exit says why.
  const fed = pipeline(Readable.from(input), child.stdin).catch((err: unknown) => {
    if ((err as { code?: string }).code !== "EPIPE" && (err as { code?: string }).code !== "ERR_STREAM_PREMATURE_CLOSE") inputError = err;
    child.kill("SIGKILL");
  });
  let completed = false;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) yield chunk;
    completed = true;
  } finally {
    if (!completed) child.kill("SIGKILL");
    await fed;
  }
  if (inputError) throw inputError;
  let code: number | null;
  try {
    code = await exited;
  } catch (err) {
    const missing = (err as { code?: string }).code === "ENOENT";
    throw new PgVaultError("SystemErrorUnexpected", missing ? `${program} is not installed (it is looked up on PATH).` : `${program} could not start: ${String(err)}`);
  }
  if (code !== 0) throw failure(`${program} exited with code ${code}: ${stderr.trim().split("\n").pop() ?? ""}`);
}

/** `input` through a zlib transform; the input's own error (a damaged segment) reaches the reader as it is. */
async function* throughZlib(transform: Transform, input: AsyncIterable<Buffer>, failure: FailureOf): AsyncGenerator<Buffer> {
  pipelineCallback(Readable.from(input), transform, () => undefined);
  try {
    for await (const chunk of transform as AsyncIterable<Buffer>) yield chunk;
  } catch (err) {
    if (err instanceof PgVaultError) throw err;
    throw failure(`gzip: ${(err as Error).message}`);
  }
}

const backupFailure: FailureOf = (detail) => new PgVaultError("SystemErrorUnexpected", `Compressing the dump failed: ${detail}`);

/** pg_dump's uncompressed archive, compressed as the recovery point says. */
export function compressed(archive: AsyncIterable<Buffer>, compression: Compression): AsyncIterable<Buffer> {
  switch (compression.algorithm) {
    case "zstd":
      return throughProgram("zstd", [`-${compression.level}`, `-T${availableParallelism()}`, "-q", "-c", "--no-progress"], archive, backupFailure);
    case "gzip":
      return throughZlib(createGzip({ level: compression.level }), archive, backupFailure);
    case "none":
      return archive;
  }
}

/** The archive back from the stored (already checked) bytes; a decoder error means the point itself is damaged. */
export function decompressed(stored: AsyncIterable<Buffer>, algorithm: CompressionAlgorithm, label: string): AsyncIterable<Buffer> {
  const damaged: FailureOf = (detail) => new PgVaultError("UserErrorRecoveryPointCorrupted", `${label} cannot be decompressed (${detail}); nothing was restored from it.`);
  switch (algorithm) {
    case "zstd":
      return throughProgram("zstd", ["-d", "-q", "-c"], stored, damaged);
    case "gzip":
      return throughZlib(createGunzip(), stored, damaged);
    case "none":
      return stored;
  }
}
