/**
 * A small seeded pseudo-random generator for tests that must replay exactly: the same seed gives the same cases on
 * every run and machine, and a failing case names its seed. Not for anything secret. (xorshift32, Marsaglia 2003,
 * with the seed scrambled by a multiply so nearby seeds diverge at once.)
 */
export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2f) >>> 0 || 0x9e3779b9;
    for (let i = 0; i < 8; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }

  /** An integer in [min, max] (both included). */
  int(min: number, max: number): number {
    const span = max - min + 1;
    if (span <= 0x1_0000_0000) return min + (this.next() % span);
    return min + Math.floor((this.next() / 0x1_0000_0000) * span);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("test bug: pick from nothing");
    return items[this.int(0, items.length - 1)]!;
  }

  bytes(count: number): Buffer {
    const out = Buffer.alloc(count);
    for (let i = 0; i < count; i++) out[i] = this.next() & 0xff;
    return out;
  }

  /** `whole` cut into consecutive pieces of sizes drawn from [min, max]. */
  chunks(whole: Buffer, min: number, max: number): Buffer[] {
    const out: Buffer[] = [];
    for (let at = 0; at < whole.length; ) {
      const n = this.int(min, max);
      out.push(whole.subarray(at, at + n));
      at += n;
    }
    return out;
  }
}
