/**
 * Streaming compression of pg_dump's archive on its way into the vault, and decompression on its way into
 * pg_restore (docs/architecture.md, "Compression"). zstd runs as the `zstd` program (Debian's `zstd` package, found
 * on PATH) with one worker thread per core: compression, not reading, is what bounds a backup, and the program
 * spreads it over every core the host gives; no maintained Node binding does multi-threaded streaming without a
 * native build. gzip runs in Node's zlib (on its thread pool). Memory is bounded by pipe buffers either way.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import { pipeline as pipelineCallback, Readable, type Transform, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import type { CompressionAlgorithm } from "../domain";
import { PgVaultError } from "../errors";
import { compressionLevels, type Compression } from "./compressionSettings";

/** What a compressor or decompressor stage failing means: the archive's fault on restore, the app's on backup. */
type FailureOf = (detail: string) => PgVaultError;

interface RunningProgram {
  child: ChildProcess;
  /** Settles when the program is gone: rejected with `failure` unless it exited with 0. */
  exited: Promise<void>;
  /** Its stdout, then its exit (only with `stdout: "pipe"`). */
  output(fed?: Promise<unknown>): AsyncGenerator<Buffer>;
}

/**
 * Starts `program`, its stdout piped to the app or written straight into another process's stdin. `output` yields
 * its stdout and then waits for `exited`; the child is killed when the consumer stops early. `fed` is the feeding
 * of its stdin, settling with the input's own error (a damaged segment) or undefined; it is awaited before the exit
 * is judged, so that error wins over the child's.
 */
function runProgram(program: string, args: string[], failure: FailureOf, stdout: "pipe" | Writable = "pipe"): RunningProgram {
  const child = spawn(program, args, { stdio: ["pipe", stdout, "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (part: string) => (stderr = (stderr + part).slice(-2000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal }));
  }).then(
    ({ code, signal }) => {
      // Its reader went away first (pg_restore failed, the upload stopped: SIGPIPE, or zstd's own "Write error"
      // on the closed pipe): that reader's own error says why; this program did nothing wrong.
      const readerGone = signal === "SIGPIPE" || /write error|broken pipe|connection reset/i.test(stderr);
      if (code !== 0 && !readerGone) throw failure(`${program} exited with code ${code}: ${stderr.trim().split("\n").pop() ?? ""}`);
    },
    (err: unknown) => {
      const missing = (err as { code?: string }).code === "ENOENT";
      throw new PgVaultError("SystemErrorUnexpected", missing ? `${program} is not installed (it is looked up on PATH).` : `${program} could not start: ${String(err)}`);
    },
  );
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
    await exited;
  }
  return { child, exited, output };
}

/** `input` through a child process's stdin, its stdout yielded; started when the first output is asked for. */
async function* throughProgram(program: string, args: string[], input: AsyncIterable<Buffer>, failure: FailureOf): AsyncGenerator<Buffer> {
  const { child, output } = runProgram(program, args, failure);
  // Fed concurrently with reading its output; a closed stdin (the child died) ends the feeding, its exit says why.
  const fed = pipeline(Readable.from(input), child.stdin!).then(
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

/** How pg_dump's archive is compressed on its way into the vault. */
export interface Compressor {
  /** Where pg_dump writes its archive: zstd's stdin (a pipe between the two), or undefined for a pipe to the app. */
  input?: Writable;
  /** Call once pg_dump is started: the app's own end of zstd's stdin would keep zstd waiting for more. */
  releaseInput(): void;
  /** The compressed stream, given pg_dump's stdout (null when pg_dump writes into `input`). */
  outputOf(dumpStdout: Readable | null): AsyncIterable<Buffer>;
  stop(): void;
}

/**
 * zstd is started before pg_dump, so pg_dump writes into it directly: the uncompressed archive, seven times the
 * stored bytes, never passes through Node. gzip (zlib) and none work on pg_dump's stdout in Node.
 */
/** zstd with one worker thread per core, writing to stdout. */
const zstdArgs = (level: number | undefined) => [`-${level ?? compressionLevels.zstd.default}`, `-T${availableParallelism()}`, "-q", "-c", "--no-progress"];

export function startCompressor(compression: Compression): Compressor {
  if (compression.algorithm === "zstd") {
    const { child, output } = runProgram("zstd", zstdArgs(compression.level), backupFailure);
    const compressedStream = output();
    return { input: child.stdin!, releaseInput: () => child.stdin!.destroy(), outputOf: () => compressedStream, stop: () => child.kill("SIGKILL") };
  }
  const inNode = (stdout: Readable | null): AsyncIterable<Buffer> => {
    if (!stdout) throw new Error("pg_dump's stdout is needed for in-process compression");
    return compression.algorithm === "gzip" ? throughZlib(createGzip({ level: compression.level }), stdout, backupFailure) : stdout;
  };
  return { releaseInput: () => undefined, outputOf: inNode, stop: () => undefined };
}

/**
 * The archive compressed, when it passes through the app anyway (for its table digests): zstd is fed from Node,
 * with backpressure; it is killed when the consumer stops early. The input's own error reaches the consumer.
 */
export function compressedArchive(compression: Compression, archive: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  switch (compression.algorithm) {
    case "zstd":
      return throughProgram("zstd", zstdArgs(compression.level), archive, backupFailure);
    case "gzip":
      return throughZlib(createGzip({ level: compression.level }), archive, backupFailure);
    case "none":
      return archive;
  }
}

const damagedArchive =
  (label: string): FailureOf =>
  (detail) =>
    new PgVaultError("UserErrorRecoveryPointCorrupted", `${label} cannot be decompressed (${detail}); nothing was restored from it.`);

/** A decompressor writing straight into another process's stdin (pg_restore's): the archive bypasses Node. */
export interface Decompressor {
  /** Where the checked stored bytes go. */
  input: Writable;
  /** Rejected with UserErrorRecoveryPointCorrupted when the stored stream does not decode. */
  exited: Promise<void>;
  kill(): void;
}

/** zstd -d with its output going `into` a process's stdin; the caller then closes its own end of that stdin. */
export function startZstdDecompressorInto(into: Writable, label: string): Decompressor {
  const { child, exited } = runProgram("zstd", ["-d", "-q", "-c"], damagedArchive(label), into);
  return { input: child.stdin!, exited, kill: () => child.kill("SIGKILL") };
}

/** The archive back from the stored (already checked) bytes; a decoder error means the point itself is damaged. */
export function decompressed(stored: AsyncIterable<Buffer>, algorithm: CompressionAlgorithm, label: string): AsyncIterable<Buffer> {
  const damaged = damagedArchive(label);
  switch (algorithm) {
    case "zstd":
      return throughProgram("zstd", ["-d", "-q", "-c"], stored, damaged);
    case "gzip":
      return throughZlib(createGunzip(), stored, damaged);
    case "none":
      return stored;
  }
}
