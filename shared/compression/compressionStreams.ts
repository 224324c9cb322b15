/**
 * Streaming compression of pg_dump's archive on its way into the vault, and decompression on its way into
 * pg_restore (docs/architecture.md, "Compression"). zstd runs as the `zstd` program (Debian's `zstd` package, found
 * on PATH) with one worker thread per core: compression, not reading, is what bounds a backup, and the program
 * spreads it over every core the host gives; no maintained Node binding does multi-threaded streaming without a
 * native build. gzip runs in Node's zlib (on its thread pool). Memory is bounded by pipe buffers either way.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { availableParallelism } from "node:os";
import { pipeline as pipelineCallback, Readable, type Transform, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import type { CompressionAlgorithm } from "../domain";
import { PgVaultError } from "../errors";
import type { Compression } from "./compressionSettings";

/** What a compressor or decompressor stage failing means: the archive's fault on restore, the app's on backup. */
type FailureOf = (detail: string) => PgVaultError;

interface RunningProgram {
  child: ChildProcessWithoutNullStreams;
  /** Its stdout, then its exit: ends normally only when the program exited with 0. */
  output(fed?: Promise<unknown>): AsyncGenerator<Buffer>;
}

/**
 * Starts `program`; `output` yields its stdout and then checks how it exited. The child is killed when the
 * consumer stops early. `fed` is the feeding of its stdin, settling with the input's own error (a damaged segment)
 * or undefined; it is awaited before the exit is judged, so that error wins over the child's.
 */
function runProgram(program: string, args: string[], failure: FailureOf): RunningProgram {
  const child = spawn(program, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (part: string) => (stderr = (stderr + part).slice(-2000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve(code));
  });
  exited.catch(() => undefined);
  async function* output(fed: Promise<unknown> = Promise.resolve(undefined)): AsyncGenerator<Buffer> {
    let completed = false;
    let inputError: unknown;
    try {
      for await (const chunk of child.stdout as AsyncIterable<Buffer>) yield chunk;
      completed = true;
    } finally {
      if (!completed) child.kill("SIGKILL");
      inputError = await fed;
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
  return { child, output };
}

/** `input` through a child process's stdin, its stdout yielded; started when the first output is asked for. */
async function* throughProgram(program: string, args: string[], input: AsyncIterable<Buffer>, failure: FailureOf): AsyncGenerator<Buffer> {
  const { child, output } = runProgram(program, args, failure);
  // Fed concurrently with reading its output; a closed stdin (the child died) ends the feeding, its exit says why.
  const fed = pipeline(Readable.from(input), child.stdin).then(
    () => undefined,
    (err: unknown) => {
      child.kill("SIGKILL");
      const code = (err as { code?: string }).code;
      return code === "EPIPE" || code === "ERR_STREAM_PREMATURE_CLOSE" ? undefined : err;
    },
  );
  yield* output(fed);
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

const zstdArgs = (level: number | undefined) => [`-${level}`, `-T${availableParallelism()}`, "-q", "-c", "--no-progress"];

/** A compressor a process writes into directly: `input` goes to that process as its stdout. */
export interface Compressor {
  input: Writable;
  /** Call once the writing process is started: the app's own end of the pipe would keep the compressor waiting. */
  releaseInput(): void;
  output: AsyncIterable<Buffer>;
  stop(): void;
}

/**
 * zstd started before pg_dump, so pg_dump writes into it through a pipe of their own: the uncompressed archive,
 * seven times the stored bytes, never passes through Node. Undefined for gzip and none, which run in Node
 * (`compressed`).
 */
export function startCompressor(compression: Compression): Compressor | undefined {
  if (compression.algorithm !== "zstd") return undefined;
  const { child, output } = runProgram("zstd", zstdArgs(compression.level), backupFailure);
  return { input: child.stdin, releaseInput: () => child.stdin.destroy(), output: output(), stop: () => child.kill("SIGKILL") };
}

/** pg_dump's uncompressed archive, compressed as the recovery point says. */
export function compressed(archive: AsyncIterable<Buffer>, compression: Compression): AsyncIterable<Buffer> {
  switch (compression.algorithm) {
    case "zstd":
      return throughProgram("zstd", zstdArgs(compression.level), archive, backupFailure);
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
