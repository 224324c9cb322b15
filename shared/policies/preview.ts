/**
 * What a policy would do, before it is saved (issue 27, the console's policy editor): its next slots in its time
 * zone, and what its retention keeps over ten years of backups. Pure, and computed by the code the service runs:
 * slots by the scheduler's schedule arithmetic (nextSlot, slotsBetween), each simulated backup's tag and expiry by
 * the retention code (decideRetention), the newest point kept past its expiry as expiry.ts keeps it.
 */
import { retentionTags, type BackupPolicy, type RetentionTag } from "../domain";
import { addDuration } from "../time/isoDuration";
import { isoSeconds } from "../time/isoTime";
import { nextSlot, slotsBetween, zonedIsoTime } from "../time/schedule";
import { decideRetention } from "../retention/retentionTagging";

export interface SlotPreview {
  /** The instant, UTC. */
  time: string;
  /** The wall-clock time in the policy's zone with its offset then: `2026-03-29T03:00:00+02:00`. */
  local: string;
  utcOffset: string;
}

export type TagCounts = Record<RetentionTag, number> & { total: number };

export interface RetentionSample extends TagCounts {
  /** The turn of a month (UTC): the points kept at that instant. */
  at: string;
}

export interface RetentionPreview {
  from: string;
  /** Where the simulation ended: ten years on, or earlier when the schedule has more backups than are simulated. */
  to: string;
  /** One successful backup per slot in [from, to). */
  backups: number;
  /** True when `to` is short of ten years because of `maxSimulatedBackups`. */
  truncated: boolean;
  /** The tags the policy keeps: Default and those of its rules. */
  tags: RetentionTag[];
  monthEnds: RetentionSample[];
  /** Each tag's largest count at any instant (each on its own), and the largest total. */
  maximum: TagCounts;
  /** What is kept when the simulation ends. */
  atEnd: TagCounts;
}

export interface PolicyPreview {
  from: string;
  timeZone: string;
  nextSlots: SlotPreview[];
  retention: RetentionPreview;
}

export const previewSlotCount = 10;
export const previewYears = 10;
/** 24 hourly slots a day for ten years is 87,600; beyond twice that (several hourly intervals) fewer years are shown. */
export const maxSimulatedBackups = 175_200;

/** The next `previewSlotCount` slots strictly after `from`, as the scheduler would find them one after another. */
export function nextSlots(policy: BackupPolicy, from: Date, count = previewSlotCount): SlotPreview[] {
  const slots: SlotPreview[] = [];
  for (let after = from; slots.length < count; ) {
    const slot = nextSlot(policy.schedule, after);
    if (!slot) break;
    slots.push({ time: isoSeconds(slot), ...zonedIsoTime(slot, policy.schedule.timeZone) });
    after = slot;
  }
  return slots;
}

const emptyCounts = (): TagCounts => ({ Default: 0, Weekly: 0, Monthly: 0, Yearly: 0, total: 0 });

/** The first instant of each UTC month after `from`, up to `to`. */
function monthTurns(from: Date, to: Date): number[] {
  const turns: number[] = [];
  for (let month = 1; ; month++) {
    const turn = Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + month, 1);
    if (turn > to.getTime()) return turns;
    turns.push(turn);
  }
}

/**
 * Ten years of one successful backup per slot from `from`: each tagged by decideRetention with the backup before
 * it as its earlier backup (the rule only looks at the latest earlier one), kept from its time until its expiry,
 * or, when it expires first, until the next backup (expiry.ts keeps the newest point). Counted by a sweep over the
 * points' starts and ends, so the cost is one decideRetention per backup and a sort.
 */
export function simulateRetention(policy: BackupPolicy, from: Date): RetentionPreview {
  const tenYears = addDuration(from, { years: previewYears, months: 0, weeks: 0, days: 0 });
  let slots = slotsBetween(policy.schedule, from, tenYears);
  const truncated = slots.length > maxSimulatedBackups;
  const to = truncated ? new Date(slots[maxSimulatedBackups]!) : tenYears;
  if (truncated) slots = slots.slice(0, maxSimulatedBackups);

  const tags = slots.map(() => "Default" as RetentionTag);
  const ends: { at: number; tag: RetentionTag }[] = [];
  slots.forEach((time, i) => {
    const decision = decideRetention(policy, new Date(time), i > 0 ? [new Date(slots[i - 1]!)] : []);
    tags[i] = decision.tag;
    ends.push({ at: Math.max(Date.parse(decision.expiresAt), slots[i + 1] ?? Infinity), tag: decision.tag });
  });
  ends.sort((a, b) => a.at - b.at);

  const counts = emptyCounts();
  const maximum = emptyCounts();
  const monthEnds: RetentionSample[] = [];
  let [started, ended] = [0, 0];
  // Everything at or before `at` has happened: a point that ends at `at` is gone, one taken at `at` is kept.
  const advance = (at: number) => {
    for (;;) {
      const nextEnd = ends[ended]?.at ?? Infinity;
      const nextStart = slots[started] ?? Infinity;
      if (Math.min(nextEnd, nextStart) > at) return;
      if (nextEnd <= nextStart) {
        counts[ends[ended++]!.tag] -= 1;
        counts.total -= 1;
      } else {
        counts[tags[started++]!] += 1;
        counts.total += 1;
        for (const key of [...retentionTags, "total"] as const) maximum[key] = Math.max(maximum[key], counts[key]);
      }
    }
  };
  for (const turn of monthTurns(from, to)) {
    advance(turn);
    monthEnds.push({ at: isoSeconds(new Date(turn)), ...counts });
  }
  advance(to.getTime() - 1);
  return {
    from: isoSeconds(from),
    to: isoSeconds(to),
    backups: slots.length,
    truncated,
    tags: ["Default", ...policy.retention.rules.map((rule) => rule.tag)],
    monthEnds,
    maximum,
    atEnd: { ...counts },
  };
}

export function previewPolicy(policy: BackupPolicy, from: Date): PolicyPreview {
  return { from: isoSeconds(from), timeZone: policy.schedule.timeZone, nextSlots: nextSlots(policy, from), retention: simulateRetention(policy, from) };
}
