/**
 * Pull-based reading of a byte stream in the archive's primitive types: bytes, pg_dump's integers and strings
 * (src/bin/pg_dump/pg_backup_archiver.c `ReadInt`, `ReadStr`, `ReadOffset`). Only what a field needs is buffered,
 * so memory stays bounded by the largest field, whatever the archive's size; the caller checks fields before
 * asking for their bytes (a damaged length must not become an allocation).
 */

/** The archive is not what pg_dump writes: cut short, or a field out of any range pg_dump produces. */
export class ArchiveDamage extends Error {
  override readonly name = "ArchiveDamage";
  constructor(
    readonly detail: string,
    readonly offset: number,
  ) {
    super(`${detail} (at byte ${offset})`);
  }
}

export class ByteSource {
  private chunks: Buffer[] = [];
  /** Offset into chunks[0] of the next unread byte. */
  private head = 0;
  /** Bytes buffered and not yet read. */
  buffered = 0;
  /** Bytes read so far: the archive offset of the next byte. */
  offset = 0;
  private ended = false;
  private readonly input: AsyncIterator<Buffer>;

  constructor(input: AsyncIterable<Buffer>) {
    this.input = input[Symbol.asyncIterator]();
  }

  /** Lets the input go (a blob download, a decoder) when the reader stops before its end. */
  async close(): Promise<void> {
    if (!this.ended) await this.input.return?.();
  }

  damage(detail: string): ArchiveDamage {
    return new ArchiveDamage(detail, this.offset);
  }

  /** Buffers at least `n` bytes; false when the stream ends first. */
  async fill(n: number): Promise<boolean> {
    while (this.buffered < n) {
      if (this.ended) return false;
      const next = await this.input.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      if (next.value.length === 0) continue;
      this.chunks.push(next.value);
      this.buffered += next.value.length;
    }
    return true;
  }

  /** As `fill`, but a stream that ends first is a truncated archive. */
  async need(n: number, what: string): Promise<void> {
    if (!(await this.fill(n))) throw this.damage(`the archive ends inside ${what}`);
  }

  /** Whether the stream has ended with nothing left to read. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  /** One byte; `buffered` must be at least 1. */
  byte(): number {
    const chunk = this.chunks[0]!;
    const value = chunk[this.head]!;
    this.advance(1);
    return value;
  }

  /** Up to `max` bytes from the first buffered chunk, without copying; `buffered` must be at least 1. */
  takeUpTo(max: number): Buffer {
    const chunk = this.chunks[0]!;
    const n = Math.min(max, chunk.length - this.head);
    const piece = chunk.subarray(this.head, this.head + n);
    this.advance(n);
    return piece;
  }

  /** Exactly `n` buffered bytes (copied only when they span chunks). */
  take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length - this.head >= n) return this.takeUpTo(n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const piece = this.takeUpTo(n - filled);
      piece.copy(out, filled);
      filled += piece.length;
    }
    return out;
  }

  /**
   * The first buffered chunk and the offset of its next byte, for a tight loop that parses in place; it reports
   * what it consumed with `advance`.
   */
  current(): { chunk: Buffer; at: number } {
    return { chunk: this.chunks[0]!, at: this.head };
  }

  advance(n: number): void {
    this.head += n;
    this.buffered -= n;
    this.offset += n;
    while (this.chunks.length > 0 && this.head >= this.chunks[0]!.length) {
      this.head -= this.chunks[0]!.length;
      this.chunks.shift();
    }
  }
}

/** Reads pg_dump's integers and strings, whose width the archive header sets. */
export class ArchiveFields {
  constructor(
    readonly source: ByteSource,
    /** sizeof(int) on the machine that wrote the archive (ReadHead's `intSize`). */
    readonly intSize: number,
    readonly offSize: number,
  ) {}

  /** `ReadInt`: a sign byte, then `intSize` bytes of magnitude, least significant first. */
  async int(what: string): Promise<number> {
    const width = 1 + this.intSize;
    if (this.source.buffered < width) await this.source.need(width, what);
    return this.intFromBuffer(what);
  }

  /** `int` for a caller that made sure 1 + intSize bytes are buffered. */
  intFromBuffer(what: string): number {
    const negative = this.source.byte() !== 0;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < this.intSize; i++) {
      value += this.source.byte() * scale;
      scale *= 256;
    }
    if (!Number.isSafeInteger(value)) throw this.source.damage(`${what} is out of range`);
    return negative ? -value : value;
  }

  /**
   * How strings' bytes are read as text: UTF-8 until the table of contents says otherwise (its ENCODING entry, which
   * pg_dump writes first: names and SQL after it are in the dumped database's encoding).
   */
  textOf: (bytes: Buffer) => string = (bytes) => bytes.toString("utf8");

  /** `ReadStr`: a length (-1 for NULL, read as the empty string), then that many bytes, read by `textOf`. */
  async str(what: string, maxBytes: number): Promise<string> {
    const bytes = await this.strBytes(what, maxBytes);
    return bytes ? this.textOf(bytes) : "";
  }

  async strBytes(what: string, maxBytes: number): Promise<Buffer | undefined> {
    const length = await this.int(`the length of ${what}`);
    if (length === -1) return undefined;
    if (length < 0 || length > maxBytes) throw this.source.damage(`${what} claims ${length} bytes`);
    if (this.source.buffered < length) await this.source.need(length, what);
    return length === 0 ? Buffer.alloc(0) : this.source.take(length);
  }

  /** `ReadOffset` (custom format, 1.7+): a flag byte, then `offSize` bytes of file offset, least significant first. */
  async offset(what: string): Promise<{ flag: number }> {
    const width = 1 + this.offSize;
    if (this.source.buffered < width) await this.source.need(width, what);
    const flag = this.source.byte();
    this.source.advance(this.offSize);
    return { flag };
  }
}
