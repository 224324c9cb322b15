/**
 * A month calendar of recovery points: the days holding points are buttons (with how many), the others plain
 * numbers. Arrow keys move between the days with points (a roving tab stop: one Tab enters the month, the arrows
 * move), Page Up and Page Down change the month; choosing a day filters the list, choosing it again shows all.
 * Days are UTC days, as every time on the page is UTC.
 */
import { h } from "../dom";

const weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const weekdayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const monthName = (year: number, month: number) => new Date(Date.UTC(year, month, 1)).toLocaleString("en-GB", { month: "long", year: "numeric", timeZone: "UTC" });

/** `2026-12-07` of an ISO time. */
export const dayOf = (iso: string) => iso.slice(0, 10);

export interface CalendarOptions {
  /** Points per day (`2026-12-07` → 2). */
  counts: ReadonlyMap<string, number>;
  selected?: string;
  onPick(day: string | undefined): void;
}

export function pointCalendar(options: CalendarOptions): HTMLElement {
  const newest = [...options.counts.keys()].sort().at(-1) ?? new Date().toISOString().slice(0, 10);
  const start = options.selected ?? newest;
  let year = Number(start.slice(0, 4));
  let month = Number(start.slice(5, 7)) - 1;
  const root = h("div", { class: "calendar" });

  const dayButtons = () => Array.from(root.querySelectorAll<HTMLButtonElement>("button.day"));
  const move = (to: number) => {
    const days = dayButtons();
    const target = days[Math.max(0, Math.min(days.length - 1, to))];
    if (!target) return;
    for (const day of days) day.tabIndex = day === target ? 0 : -1;
    target.focus();
  };
  /** A month earlier or later; from the keyboard, focus stays in the calendar (on a day, or the month buttons). */
  const shift = (months: number, fromKeyboard: boolean) => {
    month += months;
    year += Math.floor(month / 12);
    month = ((month % 12) + 12) % 12;
    draw();
    if (!fromKeyboard) return;
    if (dayButtons().length > 0) move(0);
    else root.querySelector<HTMLButtonElement>(months < 0 ? "button.previous" : "button.next")?.focus();
  };

  const draw = () => {
    const first = new Date(Date.UTC(year, month, 1));
    const length = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
    const lead = (first.getUTCDay() + 6) % 7;
    const cells: HTMLElement[] = [];
    for (let i = 0; i < lead; i++) cells.push(h("td", {}));
    for (let date = 1; date <= length; date++) {
      const day = `${year}-${String(month + 1).padStart(2, "0")}-${String(date).padStart(2, "0")}`;
      const count = options.counts.get(day) ?? 0;
      const name = `${monthName(year, month)} (${weekdayNames[(lead + date - 1) % 7]})`;
      cells.push(
        h(
          "td",
          {},
          count === 0
            ? h("span", { class: "empty-day" }, date)
            : h("button", {
                type: "button",
                class: "day",
                tabindex: -1,
                "aria-pressed": String(day === options.selected),
                onclick: () => options.onPick(day === options.selected ? undefined : day),
              },
              // The name is the content (visible day and count, the rest for screen readers): "7 December 2026 (Monday): 2 recovery points".
              String(date),
              h("span", { class: "vh" }, ` ${name}: `),
              h("span", { class: "count" }, String(count)),
              h("span", { class: "vh" }, ` recovery point${count === 1 ? "" : "s"}`),
            ),
        ),
      );
    }
    const rows: HTMLElement[] = [];
    for (let i = 0; i < cells.length; i += 7) rows.push(h("tr", {}, cells.slice(i, i + 7)));
    root.replaceChildren(
      h(
        "div",
        { class: "calendar-nav" },
        h("button", { type: "button", class: "action previous", onclick: () => shift(-1, false) }, "‹ Previous month"),
        h("button", { type: "button", class: "action next", onclick: () => shift(1, false) }, "Next month ›"),
      ),
      h(
        "table",
        { class: "month" },
        h("caption", { "aria-live": "polite" }, monthName(year, month)),
        h("thead", {}, h("tr", {}, weekdays.map((day, i) => h("th", { scope: "col", abbr: weekdayNames[i] }, day)))),
        h("tbody", {}, rows),
      ),
    );
    const days = dayButtons();
    const entry = days.find((day) => day.getAttribute("aria-pressed") === "true") ?? days.at(-1);
    if (entry) entry.tabIndex = 0;
  };

  root.addEventListener("keydown", (event) => {
    const days = dayButtons();
    const at = days.indexOf(document.activeElement as HTMLButtonElement);
    const months: Record<string, () => void> = { PageUp: () => shift(-1, true), PageDown: () => shift(1, true) };
    const keys: Record<string, () => void> = {
      ArrowLeft: () => move(at - 1),
      ArrowUp: () => move(at - 1),
      ArrowRight: () => move(at + 1),
      ArrowDown: () => move(at + 1),
      Home: () => move(0),
      End: () => move(days.length - 1),
    };
    const action = months[event.key] ?? (at >= 0 ? keys[event.key] : undefined);
    if (!action) return;
    event.preventDefault();
    action();
  });
  draw();
  return root;
}
