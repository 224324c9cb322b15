"use strict";
/**
 * Test support only: a virtual clock for a local host process, preloaded with `node --require` (test/support/
 * localHost.ts, `virtualClock: true`). No production code reads it: it replaces the global `Date` before the host and
 * the app load, so `Date.now()` and `new Date()` without arguments say real time plus an offset; `new Date(x)`,
 * `Date(...)` called as a function (the string of the virtual now), `Date.parse` and `Date.UTC` behave as usual, and
 * dates made either way are ordinary Date objects (`instanceof Date`, `util.types.isDate`).
 *
 * The offset starts at PGVAULT_TEST_CLOCK_OFFSET_MS (milliseconds, default 0), for a host that must be ahead from
 * its first instant (when its timers are armed and a missed tick fires), and is set at run time over the IPC channel
 * the test spawns the host with (`stdio` entry 'ipc'): the message `{ type: "setClockOffset", offsetMs }`,
 * acknowledged with `{ type: "clockOffsetSet", offsetMs }` once the next `Date.now()` sees it. Timers are not moved:
 * a `setTimeout` armed before a jump still fires after its real delay, so a timer due every second fires on the next
 * second (and counts itself past due), a daily one does not.
 * Plain JavaScript: Node loads it before any TypeScript the host runs is compiled.
 */
const RealDate = Date;
let offsetMs = Number(process.env.PGVAULT_TEST_CLOCK_OFFSET_MS ?? 0) || 0;
const virtualNow = () => RealDate.now() + offsetMs;

function VirtualDate(...args) {
  if (new.target === undefined) return new RealDate(virtualNow()).toString();
  const date = args.length === 0 ? new RealDate(virtualNow()) : new RealDate(...args);
  // A subclass (`class X extends Date`) gets its own prototype, as with the real constructor.
  return Object.setPrototypeOf(date, new.target.prototype);
}
// Shared prototype: `instanceof Date` holds for every date, and the statics (parse, UTC) are inherited.
VirtualDate.prototype = RealDate.prototype;
Object.setPrototypeOf(VirtualDate, RealDate);
Object.defineProperty(VirtualDate, "name", { value: "Date" });
Object.defineProperty(VirtualDate, "length", { value: RealDate.length });
VirtualDate.now = virtualNow;
globalThis.Date = VirtualDate;

// No channel when loaded without one (a worker thread, a host started by hand): the offset stays 0.
if (typeof process.send === "function") {
  process.on("message", (message) => {
    if (message === null || typeof message !== "object" || message.type !== "setClockOffset") return;
    if (!Number.isFinite(message.offsetMs)) return;
    offsetMs = message.offsetMs;
    process.send({ type: "clockOffsetSet", offsetMs });
  });
  // The channel alone must not keep a host that stopped serving alive.
  process.channel?.unref();
}
