/**
 * scanInOrder (shared/orderedScan.ts) with work that finishes in random order: results are handed over in list
 * order, never more than `concurrency` run at once, a stop starts nothing more, and nothing runs after it returns.
 */
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { expect, test } from "vitest";
import { scanInOrder } from "../shared/orderedScan";

function tracker() {
  const state = { running: 0, most: 0, started: [] as number[] };
  const work = async ([index, delay]: [number, number]) => {
    state.started.push(index);
    state.running += 1;
    state.most = Math.max(state.most, state.running);
    await sleep(delay);
    state.running -= 1;
    return index;
  };
  return { state, work };
}

const delays = fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 0, maxLength: 40 });

test("when work finishes in any order, then results are handed over in list order, at most `concurrency` at once", async () => {
  await fc.assert(
    fc.asyncProperty(delays, fc.integer({ min: 1, max: 9 }), async (times, concurrency) => {
      const { state, work } = tracker();
      const handed: number[] = [];
      await scanInOrder(times.map((delay, i) => [i, delay] as [number, number]), concurrency, work, (result, index) => {
        expect(result).toBe(index);
        handed.push(result);
        return "more";
      });
      expect(handed).toEqual(times.map((_, i) => i));
      expect(state.most).toBeLessThanOrEqual(concurrency);
      expect(state.running).toBe(0);
    }),
    { numRuns: 60 },
  );
});

test("when enough is said, then nothing more than `concurrency` past it was started, and nothing runs after the call", async () => {
  await fc.assert(
    fc.asyncProperty(delays.filter((d) => d.length > 0), fc.integer({ min: 1, max: 9 }), fc.nat(), async (times, concurrency, at) => {
      const stopAt = at % times.length;
      const { state, work } = tracker();
      await scanInOrder(times.map((delay, i) => [i, delay] as [number, number]), concurrency, work, (_result, index) => (index === stopAt ? "enough" : "more"));
      expect(Math.max(...state.started)).toBeLessThan(stopAt + concurrency);
      expect(state.running).toBe(0);
    }),
    { numRuns: 60 },
  );
});

test("when an item fails, then the scan throws that failure once the others in flight are done", async () => {
  const { state, work } = tracker();
  const failing = async (item: [number, number]) => {
    if (item[0] === 3) {
      await sleep(1);
      throw new Error("item 3 failed");
    }
    return work(item);
  };
  const handed: number[] = [];
  const items = Array.from({ length: 20 }, (_, i) => [i, 5] as [number, number]);
  await expect(scanInOrder(items, 4, failing, (result) => (handed.push(result), "more"))).rejects.toThrow("item 3 failed");
  expect(handed).toEqual([0, 1, 2]);
  expect(state.running).toBe(0);
});
