/**
 * Step 1 of the restore wizard: a recovery point, by calendar (a month of days, those with points as buttons; arrow
 * keys move by day and week, Page Up/Down by month, Home/End to the week's ends) or as the latest point before a
 * time. Days and times are UTC, as the rest of the console shows them (shared/backupCenter/format.ts). The restore
 * API takes a point id only (docs/api.md, "Restore body"), so "the latest before" is chosen here from the list.
 */
import type { RecoveryPoint } from "../../../shared/domain";
import { h, replaceChildren } from "../../dom";
import { formatBytes, formatTime } from "../../ui";

const dayMs = 86_400_000;
const monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const weekdays = [["Mon", "Monday"], ["Tue", "Tuesday"], ["Wed", "Wednesday"], ["Thu", "Thursday"], ["Fri", "Friday"], ["Sat", "Saturday"], ["Sun", "Sunday"]] as const;

const dayKey = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const dayOf = (iso: string) => Date.parse(`${iso.slice(0, 10)}T00:00:00Z`);
const longDay = (ms: number) => {
  const d = new Date(ms);
  return `${d.getUTCDate()} ${monthNames[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
};

/** Points a restore can use: not `Deleted` (their data is gone) and recorded complete. Newest first, as listed. */
export const restorablePoints = (points: readonly RecoveryPoint[]) => points.filter((rp) => rp.status !== "Deleted" && rp.recording === undefined);

/** The newest point taken strictly before `beforeMs`; `points` newest first. */
export const latestBefore = (points: readonly RecoveryPoint[], beforeMs: number) => points.find((rp) => Date.parse(rp.time) < beforeMs);

export function pointLabel(rp: RecoveryPoint): string {
  const notes = [rp.tag, formatBytes(rp.sizeBytes), rp.status === "SoftDeleted" ? "soft-deleted" : "", rp.verification ? `drill ${rp.verification.outcome.toLowerCase()}` : ""];
  return `${formatTime(rp.time)} · ${notes.filter(Boolean).join(" · ")}`;
}

/**
 * Renders the picker into `host`; `onPick` gets every choice. `points` newest first; `initial` preselected (the
 * `?point=` of the route).
 */
export function pointPicker(host: HTMLElement, points: readonly RecoveryPoint[], initial: RecoveryPoint | undefined, onPick: (rp: RecoveryPoint) => void): void {
  const byDay = new Map<string, RecoveryPoint[]>();
  for (const rp of points) byDay.set(rp.time.slice(0, 10), [...(byDay.get(rp.time.slice(0, 10)) ?? []), rp]);
  let selected = initial;
  let active = dayOf((initial ?? points[0])?.time ?? new Date().toISOString());

  const calendar = h("div", { class: "rp-calendar" });
  const dayPoints = h("div", { class: "rp-day-points" });
  const summary = h("p", { class: "rp-selected", "aria-live": "polite" });
  const latestStatus = h("p", { class: "muted", role: "status" });

  /** `fromCalendar`: focus stays on the calendar's day; otherwise where it was (the day's list is kept when it is the same day). */
  const choose = (rp: RecoveryPoint, fromCalendar = false) => {
    const sameDay = dayOf(rp.time) === active && dayPoints.hasChildNodes();
    selected = rp;
    active = dayOf(rp.time);
    drawMonth(fromCalendar);
    if (!sameDay) drawDay();
    else dayPoints.querySelectorAll<HTMLInputElement>('input[type="radio"]').forEach((radio) => (radio.checked = radio.value === rp.id));
    replaceChildren(summary, "Selected: ", h("strong", {}, formatTime(rp.time)), ` (${rp.id})`);
    onPick(rp);
  };

  const drawDay = () => {
    const list = byDay.get(dayKey(active)) ?? [];
    if (list.length === 0) return replaceChildren(dayPoints, h("p", { class: "muted" }, `No recovery point on ${longDay(active)}.`));
    replaceChildren(
      dayPoints,
      h("fieldset", {}, h("legend", {}, `Recovery points on ${longDay(active)}`), list.map((rp) => {
        const id = `rp-choice-${rp.id}`;
        return h("div", { class: "rp-choice" },
          h("input", { type: "radio", name: "recovery-point", id, value: rp.id, checked: rp.id === selected?.id, onchange: () => choose(rp) }),
          h("label", { for: id }, pointLabel(rp)));
      })),
    );
  };

  const move = (to: number) => {
    active = to;
    drawMonth(true);
    drawDay();
  };

  const onKey = (event: Event) => {
    const key = (event as KeyboardEvent).key;
    const date = new Date(active);
    const steps: Record<string, () => number> = {
      ArrowLeft: () => active - dayMs,
      ArrowRight: () => active + dayMs,
      ArrowUp: () => active - 7 * dayMs,
      ArrowDown: () => active + 7 * dayMs,
      Home: () => active - ((date.getUTCDay() + 6) % 7) * dayMs,
      End: () => active + (6 - ((date.getUTCDay() + 6) % 7)) * dayMs,
      PageUp: () => Date.UTC(date.getUTCFullYear(), date.getUTCMonth() - 1, Math.min(date.getUTCDate(), 28)),
      PageDown: () => Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, Math.min(date.getUTCDate(), 28)),
    };
    const step = steps[key];
    if (!step) return;
    event.preventDefault();
    move(step());
  };

  const drawMonth = (focus: boolean) => {
    const date = new Date(active);
    const first = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
    const start = first - ((new Date(first).getUTCDay() + 6) % 7) * dayMs;
    const month = date.getUTCMonth();
    const title = `${monthNames[month]} ${date.getUTCFullYear()}`;
    const rows: HTMLElement[] = [];
    for (let week = 0; week < 6; week++) {
      const cells: HTMLElement[] = [];
      for (let day = 0; day < 7; day++) {
        const ms = start + (week * 7 + day) * dayMs;
        const count = byDay.get(dayKey(ms))?.length ?? 0;
        const inMonth = new Date(ms).getUTCMonth() === month;
        const isActive = ms === active;
        const picked = selected !== undefined && dayKey(ms) === selected.time.slice(0, 10);
        const date = new Date(ms);
        // Read as "7 December 2026, 2 recovery points"; seen as the day's number and the count.
        const spoken = ` ${monthNames[date.getUTCMonth()]} ${date.getUTCFullYear()}, ${count === 0 ? "no recovery point" : count === 1 ? "1 recovery point" : `${count} recovery points`}`;
        cells.push(h("td", { role: "gridcell", "aria-selected": picked ? "true" : "false" },
          h("button", {
            type: "button",
            class: `rp-day${count > 0 ? " has-points" : ""}${inMonth ? "" : " other-month"}${picked ? " picked" : ""}`,
            tabindex: isActive ? "0" : "-1",
            "aria-disabled": count === 0 ? "true" : null,
            "data-day": dayKey(ms),
            onclick: () => {
              active = ms;
              const list = byDay.get(dayKey(ms));
              if (list?.length === 1) choose(list[0]!, true);
              else move(ms);
            },
            onkeydown: onKey,
          }, String(date.getUTCDate()), h("span", { class: "restore-sr" }, spoken), count > 0 ? h("span", { class: "rp-count", "aria-hidden": "true" }, String(count)) : null)));
      }
      rows.push(h("tr", {}, cells));
    }
    replaceChildren(
      calendar,
      h("div", { class: "rp-month-bar" },
        h("button", { type: "button", class: "action", onclick: () => move(Date.UTC(date.getUTCFullYear(), month - 1, 1)) }, "Previous month"),
        h("h3", { id: "rp-month-title", "aria-live": "polite" }, title),
        h("button", { type: "button", class: "action", onclick: () => move(Date.UTC(date.getUTCFullYear(), month + 1, 1)) }, "Next month")),
      h("table", { role: "grid", class: "rp-grid", "aria-labelledby": "rp-month-title" },
        h("thead", {}, h("tr", {}, weekdays.map(([short, long]) => h("th", { scope: "col", abbr: long }, short)))),
        h("tbody", {}, rows)),
    );
    if (focus) calendar.querySelector<HTMLButtonElement>('button[tabindex="0"]')?.focus();
  };

  const beforeInput = h("input", { type: "datetime-local", id: "rp-before", step: "1" });
  const pickLatest = (event: Event) => {
    event.preventDefault();
    const before = Date.parse(`${beforeInput.value}Z`);
    if (Number.isNaN(before)) return replaceChildren(latestStatus, "Enter a date and time.");
    const rp = latestBefore(points, before);
    if (!rp) return replaceChildren(latestStatus, `No recovery point before ${formatTime(new Date(before).toISOString())}.`);
    replaceChildren(latestStatus, `The latest point before ${formatTime(new Date(before).toISOString())}.`);
    choose(rp);
  };

  replaceChildren(
    host,
    points.length === 0 ? h("p", {}, "This instance has no recovery point a restore can use.") : null,
    h("form", { class: "rp-latest", onsubmit: pickLatest },
      h("label", { for: "rp-before" }, "The latest point before (UTC)"), " ", beforeInput, " ",
      h("button", { type: "submit", class: "action" }, "Choose the latest before"), latestStatus),
    h("p", { class: "muted" }, "Or pick a day on the calendar (arrow keys move by day and week, Page Up and Page Down by month)."),
    calendar,
    dayPoints,
    summary,
  );
  if (selected) choose(selected);
  else {
    drawMonth(false);
    drawDay();
  }
}
