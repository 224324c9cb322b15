/**
 * Timer triggers from their NCRONTAB schedules (UTC, `%SETTING%` references resolved from app settings).
 * `runOnStartup` fires once when the host starts. The last and next occurrence of every timer are kept in a
 * table, like the host's schedule monitor, so a tick missed while the host was down fires once at start with
 * `isPastDue: true`.
 */
import { TableClient } from "@azure/data-tables";
import type { RegisteredFunction } from "./coreTypes";
import { invoke, jsonData, type InvokeOptions } from "./invoke";
import { nextOccurrence, parseNcrontab, resolveSettingReferences, type NcrontabSchedule } from "./ncrontab";

/** A tick that runs this much later than planned is past due (the host was busy or down). */
const pastDueToleranceMs = 15_000;
const maxTimeoutMs = 2 ** 31 - 1;

export interface TimerOptions {
  functions: Map<string, RegisteredFunction>;
  settings: Record<string, string | undefined>;
  connectionString: string;
  hubName: string;
  /** The `durableClient` binding payload, for timer functions registered with `df.app.client.timer`. */
  durableClientPayload: () => unknown;
  log: NonNullable<InvokeOptions["log"]>;
}

interface ScheduleStatus {
  last: string;
  next: string;
}

export async function startTimers(options: TimerOptions): Promise<{ stop(): void }> {
  const table = TableClient.fromConnectionString(options.connectionString, `${options.hubName}Timers`, {
    allowInsecureConnection: /UseDevelopmentStorage|https?:\/\/(127\.0\.0\.1|localhost)/i.test(options.connectionString),
  });
  await table.createTable();
  const handles = new Set<NodeJS.Timeout>();
  let stopped = false;

  const readStatus = async (name: string): Promise<ScheduleStatus | undefined> => {
    try {
      const row = await table.getEntity<{ data: string }>("timer", name);
      return JSON.parse(row.data) as ScheduleStatus;
    } catch {
      return undefined;
    }
  };

  const fire = async (fn: RegisteredFunction, schedule: NcrontabSchedule, planned: Date, isPastDue: boolean) => {
    const now = new Date();
    const next = nextOccurrence(schedule, now);
    const previous = await readStatus(fn.metadata.name);
    const status: ScheduleStatus = { last: planned.toISOString(), next: next.toISOString() };
    try {
      await table.upsertEntity({ partitionKey: "timer", rowKey: fn.metadata.name, data: JSON.stringify(status) }, "Replace");
    } catch (err) {
      // Storage down: this tick is skipped (the next one runs), rather than the host stopping on the rejection.
      options.log("error", fn.metadata.name, `timer status could not be stored, tick skipped: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const input = {
      Schedule: { AdjustForDST: true },
      ScheduleStatus: { Last: previous?.last ?? planned.toISOString(), Next: status.next, LastUpdated: now.toISOString() },
      IsPastDue: isPastDue,
    };
    try {
      const extraInputs = { durableClient: { string: JSON.stringify(options.durableClientPayload()) } };
      await invoke(fn, jsonData(input), { extraInputs, log: options.log });
    } catch (err) {
      options.log("error", fn.metadata.name, `timer invocation failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  const arm = (fn: RegisteredFunction, schedule: NcrontabSchedule, at: Date) => {
    if (stopped) return;
    const delay = at.getTime() - Date.now();
    const handle = setTimeout(() => {
      handles.delete(handle);
      if (delay > maxTimeoutMs) return arm(fn, schedule, at);
      const late = Date.now() - at.getTime() > pastDueToleranceMs;
      void fire(fn, schedule, at, late).finally(() => arm(fn, schedule, nextOccurrence(schedule, new Date())));
    }, Math.max(0, Math.min(delay, maxTimeoutMs)));
    handles.add(handle);
  };

  for (const fn of options.functions.values()) {
    const trigger = Object.values(fn.metadata.bindings).find((b) => b.type === "timerTrigger");
    if (!trigger) continue;
    const expression = resolveSettingReferences(String(trigger.schedule ?? ""), options.settings);
    const schedule = parseNcrontab(expression);
    const status = await readStatus(fn.metadata.name);
    const now = new Date();
    if (status && Date.parse(status.next) < now.getTime() - pastDueToleranceMs) {
      await fire(fn, schedule, new Date(status.next), true); // missed while the host was down: once, not per tick
    } else if (trigger.runOnStartup === true) {
      await fire(fn, schedule, now, false);
    } else {
      // Remember the next tick now, so a later start can tell that it was missed.
      const next = nextOccurrence(schedule, now).toISOString();
      await table.upsertEntity({ partitionKey: "timer", rowKey: fn.metadata.name, data: JSON.stringify({ last: status?.last ?? "", next }) }, "Replace");
    }
    arm(fn, schedule, nextOccurrence(schedule, new Date()));
  }
  return {
    stop() {
      stopped = true;
      handles.forEach((handle) => clearTimeout(handle));
    },
  };
}
