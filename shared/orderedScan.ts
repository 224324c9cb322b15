/**
 * Bounded, ordered and stoppable work over a list: at most `concurrency` items are in flight, all within the
 * `concurrency` items after the last result handed over (so a slow item holds back at most that many finished ones,
 * and memory stays bounded), results go to `take` in the list's order whichever finishes first, and once `take`
 * says it has enough no further item is started. Nothing outlives the call: work in flight when it stops (or when
 * an item fails: the first failure in list order is thrown) is waited for and dropped, so a caller that answers a
 * request leaves no reads running behind its answer.
 */
export async function scanInOrder<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
  take: (result: R, index: number) => "more" | "enough",
): Promise<void> {
  const inFlight: Promise<R>[] = [];
  let next = 0;
  try {
    for (let handed = 0; handed < items.length; handed++) {
      while (next < items.length && inFlight.length < Math.max(1, concurrency)) {
        const started = work(items[next++]!);
        // Observed at once: one that fails while an earlier item is awaited is not an unhandled rejection (awaiting
        // it later still throws).
        started.catch(() => undefined);
        inFlight.push(started);
      }
      if (take(await inFlight.shift()!, handed) === "enough") return;
    }
  } finally {
    await Promise.allSettled(inFlight);
  }
}
