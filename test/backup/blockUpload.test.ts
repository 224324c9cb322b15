/**
 * Block sizing for streaming a dump of unknown length into one block blob (SPEC sections 6-7): every block fits
 * Azure's limits, 50,000 blocks hold at least twice the estimate, and small and medium databases use small
 * blocks so memory stays bounded.
 */
import { describe, expect, test } from "vitest";
import { blockSizeAt, blocksPerStep, capacityFor, maxBlocks, maxBlockSize } from "../../shared/backup/blockUpload";

const MiB = 1024 * 1024;
const GB = 1e9;
const TiB = 1024 ** 4;
/** The largest block blob Azure allows: 50,000 blocks of 4000 MiB (about 190.7 TiB). */
const azureMaxBlobBytes = 50_000 * 4000 * MiB;

const estimates: [string, number][] = [
  ["0 bytes", 0],
  ["1 GB", 1 * GB],
  ["5 GB", 5 * GB],
  ["1 TiB", 1 * TiB],
  ["5 TiB", 5 * TiB],
  ["50 TiB", 50 * TiB],
];

/** Block sizes of every possible block index, in order. */
function allBlockSizes(expectedBytes: number): number[] {
  return Array.from({ length: maxBlocks }, (_unused, index) => blockSizeAt(index, expectedBytes));
}

describe("Azure's limits", () => {
  test("when the limits are read, then they are 50,000 blocks of at most 4000 MiB", () => {
    expect(maxBlocks).toBe(50_000);
    expect(maxBlockSize).toBe(4000 * MiB);
  });

  test.each(estimates)("when the estimate is %s, then every block size is positive, at most 4000 MiB and whole MiB", (_label, expected) => {
    const offending = allBlockSizes(expected).filter((size) => !(size > 0 && size <= maxBlockSize && size % MiB === 0));
    expect(offending).toEqual([]);
  });

  test.each(estimates)("when the estimate is %s, then block sizes never shrink as the blob grows", (_label, expected) => {
    const sizes = allBlockSizes(expected);
    const shrinking = sizes.filter((size, index) => index > 0 && size < (sizes[index - 1] ?? 0));
    expect(shrinking).toEqual([]);
  });
});

describe("capacity", () => {
  test.each(estimates.filter(([, expected]) => expected <= 5 * TiB))(
    "when the estimate is %s (up to 5 TiB), then 50,000 blocks hold at least twice it",
    (_label, expected) => {
      expect(capacityFor(expected)).toBeGreaterThanOrEqual(2 * expected);
    },
  );

  test("when the estimate is 50 TiB, then capacity is Azure's maximum blob (190.7 TiB), still twice the estimate", () => {
    expect(capacityFor(50 * TiB)).toBe(azureMaxBlobBytes);
    expect(capacityFor(50 * TiB)).toBeGreaterThanOrEqual(2 * 50 * TiB);
  });

  test("when the estimate is above half of Azure's maximum blob size, then capacity stops at that maximum (the documented limit)", () => {
    // 2x headroom ends at ~95.4 TiB: no block blob can be larger than 50,000 x 4000 MiB.
    expect(capacityFor(100 * TiB)).toBe(azureMaxBlobBytes);
    expect(capacityFor(100 * TiB)).toBeLessThan(2 * 100 * TiB);
    expect(capacityFor(100 * TiB)).toBeGreaterThanOrEqual(100 * TiB);
  });

  test.each(estimates)("when the estimate is %s, then capacityFor is the sum of all 50,000 block sizes", (_label, expected) => {
    expect(capacityFor(expected)).toBe(allBlockSizes(expected).reduce((sum, size) => sum + size, 0));
  });

  test("when the estimate is 0 (unknown), then 8 MiB blocks doubling every 10,000 blocks hold 310,000 x 8 MiB", () => {
    expect(capacityFor(0)).toBe(310_000 * 8 * MiB);
  });

  test("when the estimate is 10x too low (1 TiB estimate, 10 TiB dump), then it still fits", () => {
    expect(capacityFor(1 * TiB)).toBeGreaterThanOrEqual(10 * TiB);
  });
});

describe("block sizes", () => {
  test.each([
    ["0 bytes", 0],
    ["1 GB", 1 * GB],
    ["5 GB", 5 * GB],
    ["5 GiB", 5 * 1024 ** 3],
  ])("when the estimate is %s, then the first blocks are 8 MiB (bounded memory)", (_label, expected) => {
    expect(blockSizeAt(0, expected)).toBe(8 * MiB);
    expect(blockSizeAt(blocksPerStep - 1, expected)).toBe(8 * MiB);
  });

  test("when the estimate is 0, then the size doubles after each 10,000 blocks", () => {
    expect([0, 10_000, 20_000, 30_000, 40_000, 49_999].map((index) => blockSizeAt(index, 0) / MiB)).toEqual([8, 16, 32, 64, 128, 128]);
  });

  test("when the estimate is 1 TiB, then the first step alone holds twice it, in whole MiB", () => {
    expect(blockSizeAt(0, 1 * TiB)).toBe(210 * MiB);
    expect(blocksPerStep * blockSizeAt(0, 1 * TiB)).toBeGreaterThanOrEqual(2 * TiB);
  });

  test("when the estimate is 5 TiB, then doubling is capped at 4000 MiB", () => {
    expect([0, 10_000, 20_000, 30_000, 40_000].map((index) => blockSizeAt(index, 5 * TiB) / MiB)).toEqual([1049, 2098, 4000, 4000, 4000]);
  });

  test("when the estimate is 50 TiB, then every block is 4000 MiB", () => {
    expect(new Set(allBlockSizes(50 * TiB))).toEqual(new Set([maxBlockSize]));
  });
});
