/**
 * The editor's preview, as POST /api/backupPolicies/preview computed it with the scheduler's and retention's
 * code: the next ten slots in the policy's zone, and what retention keeps over ten years, as a stacked chart (inline
 * SVG) with the same numbers in tables for those who do not see it.
 */
import type { RetentionTag } from "../../shared/domain";
import type { PolicyPreview, RetentionPreview, SlotPreview } from "../../shared/policies/preview";
import { h, svg } from "../dom";
import { formatTime } from "../ui";

const weekday = (local: string) => new Date(`${local.slice(0, 10)}T00:00:00Z`).toLocaleDateString("en-GB", { weekday: "short", timeZone: "UTC" });

function slotsTable(slots: readonly SlotPreview[], timeZone: string): HTMLElement {
  return h(
    "table",
    { class: "slots" },
    h("caption", {}, `Wall-clock times in ${timeZone}, daylight saving time included`),
    h("thead", {}, h("tr", {}, ["#", `Local time (${timeZone})`, "UTC offset", "UTC"].map((text) => h("th", { scope: "col" }, text)))),
    h(
      "tbody",
      {},
      slots.map((slot, i) =>
        h("tr", {}, h("td", {}, i + 1), h("td", {}, `${weekday(slot.local)} ${slot.local.slice(0, 16).replace("T", " ")}`), h("td", {}, slot.utcOffset), h("td", {}, formatTime(slot.time))),
      ),
    ),
  );
}

const tagColours: Record<RetentionTag, string> = { Default: "#0969da", Weekly: "#8250df", Monthly: "#1a7f37", Yearly: "#9a6700" };

/** Stacked columns, one per month's turn: Default at the bottom, then Weekly, Monthly, Yearly. */
function chart(retention: RetentionPreview): SVGElement {
  const [width, height, left, bottom, top] = [760, 240, 48, 28, 10];
  const samples = retention.monthEnds;
  const highest = Math.max(1, ...samples.map((sample) => sample.total));
  const plotHeight = height - bottom - top;
  const column = (width - left - 10) / Math.max(1, samples.length);
  const y = (count: number) => top + plotHeight - (count / highest) * plotHeight;
  const bars = samples.flatMap((sample, i) => {
    let base = 0;
    return retention.tags.map((tag) => {
      const count = sample[tag];
      const rect = svg("rect", { x: (left + i * column).toFixed(1), y: y(base + count).toFixed(1), width: Math.max(1, column - 1).toFixed(1), height: ((count / highest) * plotHeight).toFixed(1), fill: tagColours[tag] });
      base += count;
      return rect;
    });
  });
  const yTicks = [0, Math.round(highest / 2), highest].map((value) =>
    svg("g", {}, svg("line", { x1: left - 4, x2: width - 10, y1: y(value), y2: y(value), stroke: "#d1d9e0" }), svg("text", { x: left - 8, y: y(value) + 4, "text-anchor": "end", "font-size": 11 }, value)),
  );
  const xTicks = samples.flatMap((sample, i) =>
    i % 12 === 11 ? [svg("text", { x: left + (i + 0.5) * column, y: height - 8, "text-anchor": "middle", "font-size": 11 }, sample.at.slice(0, 4))] : [],
  );
  const last = samples[samples.length - 1];
  return svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-labelledby": "retention-chart-title", class: "retention-chart" },
    svg("title", { id: "retention-chart-title" }, `Recovery points kept at each month's turn over ${samples.length} months; at the end ${last ? last.total : 0} in all. The table below has the numbers.`),
    yTicks,
    bars,
    xTicks,
  );
}

function legend(tags: readonly RetentionTag[]): HTMLElement {
  return h("ul", { class: "legend" }, tags.map((tag) => h("li", {}, swatch(tag), tag)));
}

function swatch(tag: RetentionTag): HTMLElement {
  const element = h("span", { class: "swatch", "aria-hidden": "true" });
  element.style.background = tagColours[tag]; // from script: allowed under the page's CSP, unlike a style attribute
  return element;
}

function totalsTable(retention: RetentionPreview): HTMLElement {
  const keys = [...retention.tags, "total"] as const;
  return h(
    "table",
    { class: "retention-totals" },
    h("caption", {}, "Recovery points kept"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Tag"), h("th", { scope: "col" }, "Most at any moment"), h("th", { scope: "col" }, "At the end"))),
    h(
      "tbody",
      {},
      keys.map((key) => h("tr", {}, h("th", { scope: "row" }, key === "total" ? "Total" : key), h("td", { class: "number" }, retention.maximum[key]), h("td", { class: "number" }, retention.atEnd[key]))),
    ),
  );
}

function samplesTable(retention: RetentionPreview): HTMLElement {
  return h(
    "details",
    {},
    h("summary", {}, "Points kept at each month's turn"),
    h(
      "table",
      { class: "retention-samples" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "At"), retention.tags.map((tag) => h("th", { scope: "col" }, tag)), h("th", { scope: "col" }, "Total"))),
      h(
        "tbody",
        {},
        retention.monthEnds.map((sample) => h("tr", {}, h("th", { scope: "row" }, sample.at.slice(0, 10)), retention.tags.map((tag) => h("td", { class: "number" }, sample[tag])), h("td", { class: "number" }, sample.total))),
      ),
    ),
  );
}

/** The preview's content for the region the editor keeps for it. */
export function previewContent(preview: PolicyPreview): HTMLElement[] {
  const { retention } = preview;
  return [
    h("h3", {}, "Next ten backups"),
    slotsTable(preview.nextSlots, preview.timeZone),
    h("h3", {}, "What retention keeps over ten years"),
    h(
      "p",
      {},
      `One successful backup per slot from ${formatTime(retention.from)} to ${formatTime(retention.to)}: ${retention.backups.toLocaleString("en-US")} backups, each tagged and expired as the retention run would.`,
      retention.truncated ? ` The schedule has more backups than the ${retention.backups.toLocaleString("en-US")} simulated, so the picture ends early.` : "",
    ),
    h("figure", {}, chart(retention), h("figcaption", {}, legend(retention.tags))),
    totalsTable(retention),
    samplesTable(retention),
  ];
}
