/**
 * Charts as inline SVG, built with `svg()` (dom.ts): an area over time, bars over time, and horizontal bars of a
 * share with reference lines. Three shapes do not earn a charting library (the page would carry and audit one for
 * ~200 lines of axes and rectangles), and SVG built from values keeps the page's no-markup-from-data rule.
 *
 * Each chart is `role="img"` with an `aria-label` saying what it shows, and its `<title>` and `<desc>`; the figure
 * around it carries the same data as a table (`dataTable`), so nothing is only a picture. Kinds are told apart by
 * shape and text (a dashed outline with ✕ for a failure), never by colour alone.
 */
import { h, svg, type Child } from "./dom";

const dayMs = 86_400_000;
const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `7 Dec` (UTC), for axis labels. */
export const shortDate = (ms: number) => `${new Date(ms).getUTCDate()} ${months[new Date(ms).getUTCMonth()]}`;

/** Tick values from 0 up to at least `max`: about `count` steps of 1, 2 or 5 times a power of ten, of `unit`. */
export function niceTicks(max: number, count = 4, unit = 1): number[] {
  if (!(max > 0)) return [0, unit];
  const raw = max / unit / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= raw) ?? 10 * power) * unit;
  return Array.from({ length: Math.ceil(max / step - 1e-9) + 1 }, (_, i) => i * step);
}

/** The binary unit (1, 1024, 1024², ...) a byte axis up to `max` counts in, so its ticks are round in KiB, MiB, .... */
export function byteUnit(max: number): number {
  let unit = 1;
  while (max / unit >= 1024) unit *= 1024;
  return unit;
}

/** The unit a duration axis up to `max` seconds counts in: seconds, minutes or hours. */
export const secondsUnit = (max: number) => (max >= 7200 ? 3600 : max >= 120 ? 60 : 1);

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const frame = (width: number, height: number): Frame => ({ width, height, left: 72, right: 16, top: 12, bottom: 30 });

/** The outer `<svg>`: named for assistive technology, scaled to its container by CSS. */
function chartSvg(f: Frame, label: string, title: string, description: string, ...children: Child[]): SVGElement {
  return svg(
    "svg",
    { class: "chart-svg", viewBox: `0 0 ${f.width} ${f.height}`, role: "img", "aria-label": label, preserveAspectRatio: "xMinYMin meet" },
    svg("title", {}, title),
    svg("desc", {}, description),
    ...children,
  );
}

interface TimeAxes {
  x(at: number): number;
  y(value: number): number;
  nodes: SVGElement[];
}

/** Gridlines and labels: values on the left, dates along the bottom (about six, at UTC midnights). */
function timeAxes(f: Frame, from: number, to: number, ticks: readonly number[], format: (value: number) => string): TimeAxes {
  const top = ticks.at(-1) ?? 1;
  const x = (at: number) => f.left + ((at - from) / Math.max(1, to - from)) * (f.width - f.left - f.right);
  const y = (value: number) => f.height - f.bottom - (value / top) * (f.height - f.top - f.bottom);
  const nodes: SVGElement[] = ticks.map((value) =>
    svg("g", { class: "tick" }, svg("line", { x1: f.left, x2: f.width - f.right, y1: y(value), y2: y(value) }), svg("text", { x: f.left - 6, y: y(value) + 4, "text-anchor": "end" }, format(value))),
  );
  const days = Math.max(1, Math.round((to - from) / dayMs));
  const every = Math.max(1, Math.ceil(days / 6));
  for (let at = Math.ceil(from / dayMs) * dayMs; at <= to; at += every * dayMs) {
    nodes.push(svg("g", { class: "tick" }, svg("line", { x1: x(at), x2: x(at), y1: f.height - f.bottom, y2: f.height - f.bottom + 4 }), svg("text", { x: x(at), y: f.height - 8, "text-anchor": "middle" }, shortDate(at))));
  }
  nodes.push(svg("line", { class: "axis", x1: f.left, x2: f.width - f.right, y1: f.height - f.bottom, y2: f.height - f.bottom }));
  return { x, y, nodes };
}

export interface ChartText {
  /** The chart's name (its `<title>`). */
  title: string;
  /** What it shows, in words: the figures a sighted reader would take from it (its `<desc>` and label). */
  summary: string;
}

/** A value over time (one per day) as an area under a line. */
export function areaChart(text: ChartText, series: readonly { at: number; value: number }[], from: number, to: number, format: (value: number) => string, unit: number): SVGElement {
  const f = frame(720, 240);
  const axes = timeAxes(f, from, to, niceTicks(Math.max(0, ...series.map((p) => p.value)), 4, unit), format);
  const line = series.map((p, i) => `${i === 0 ? "M" : "L"}${axes.x(p.at).toFixed(1)},${axes.y(p.value).toFixed(1)}`).join(" ");
  const base = axes.y(0).toFixed(1);
  const area = series.length ? `${line} L${axes.x(series.at(-1)!.at).toFixed(1)},${base} L${axes.x(series[0]!.at).toFixed(1)},${base} Z` : "";
  return chartSvg(f, `${text.title}. ${text.summary}`, text.title, text.summary, axes.nodes, svg("path", { class: "area", d: area }), svg("path", { class: "line", d: line }));
}

/** How a bar is drawn: `ok` solid, `failed` a dashed outline with ✕ above, `other` a hollow outline. */
export type BarKind = "ok" | "failed" | "other";

export interface TimeBar {
  at: number;
  value: number;
  kind: BarKind;
  /** Its tooltip: what it is, in words. */
  label: string;
}

/** Values at instants as bars, a day wide at most. */
export function barChart(text: ChartText, bars: readonly TimeBar[], from: number, to: number, format: (value: number) => string, unit: number): SVGElement {
  const f = frame(460, 210);
  const axes = timeAxes(f, from, to, niceTicks(Math.max(0, ...bars.map((b) => b.value)), 4, unit), format);
  const width = Math.max(1.5, ((f.width - f.left - f.right) * dayMs) / Math.max(dayMs, to - from) * 0.7);
  const base = axes.y(0);
  const drawn = bars.map((bar) => {
    const top = Math.min(axes.y(bar.value), base - 1);
    const x = axes.x(bar.at) - width / 2;
    return svg(
      "g",
      { class: `bar ${bar.kind}` },
      svg("title", {}, bar.label),
      svg("rect", { x: x.toFixed(1), y: top.toFixed(1), width: width.toFixed(1), height: (base - top).toFixed(1) }),
      bar.kind === "failed" ? svg("text", { x: (x + width / 2).toFixed(1), y: (top - 3).toFixed(1), "text-anchor": "middle" }, "✕") : null,
    );
  });
  return chartSvg(f, `${text.title}. ${text.summary}`, text.title, text.summary, axes.nodes, drawn);
}

export interface ShareBar {
  name: string;
  /** Of the reference (1 = the reference line). */
  share: number;
  /** Printed at the bar's end: the figures and the state in words. */
  text: string;
  kind: BarKind | "risk";
}

/** One horizontal bar per row, its length a share of a reference, with lines at `marks` (e.g. 80% and 100%). */
/** A reference line of a share chart; its label to the left (`end`) or right (`start`) of the line, so two close lines' labels do not overlap. */
export interface ShareMark {
  share: number;
  label: string;
  side: "start" | "end";
}

export function shareChart(text: ChartText, rows: readonly ShareBar[], marks: readonly ShareMark[], cap = 1.5): SVGElement {
  const [rowHeight, left, right, top] = [28, 150, 250, 22];
  const f: Frame = { width: 720, height: top + rows.length * rowHeight + 8, left, right, top, bottom: 8 };
  const x = (share: number) => left + (Math.min(share, cap) / cap) * (f.width - left - right);
  const lines = marks.map((mark) =>
    svg("g", { class: "mark" }, svg("line", { x1: x(mark.share), x2: x(mark.share), y1: top - 4, y2: f.height - f.bottom }), svg("text", { x: x(mark.share) + (mark.side === "start" ? 3 : -3), y: top - 8, "text-anchor": mark.side }, mark.label)),
  );
  const bars = rows.map((row, i) => {
    const y = top + i * rowHeight;
    const end = Math.max(x(row.share), left + 1);
    return svg(
      "g",
      { class: `bar ${row.kind}` },
      svg("text", { class: "name", x: left - 8, y: y + 17, "text-anchor": "end" }, row.name),
      svg("rect", { x: left, y: y + 5, width: (end - left).toFixed(1), height: rowHeight - 10 }),
      svg("text", { x: end + 6, y: y + 17 }, `${row.share > cap ? "▶ " : ""}${row.text}`),
    );
  });
  return chartSvg(f, `${text.title}. ${text.summary}`, text.title, text.summary, lines, bars);
}

/** A table of the chart's data, folded under the chart: the same figures for anyone who reads rather than looks. */
export function dataTable(caption: string, headings: readonly string[], rows: readonly (readonly Child[])[], numeric: ReadonlySet<number> = new Set()): HTMLElement {
  return h(
    "details",
    { class: "chart-data" },
    h("summary", {}, `${caption}: the data as a table`),
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headings.map((heading, i) => h("th", { scope: "col", class: numeric.has(i) ? "num" : null }, heading)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell, i) => (i === 0 ? h("th", { scope: "row" }, cell) : h("td", { class: numeric.has(i) ? "num" : null }, cell)))))),
    ),
  );
}

/** A figure: caption, the chart, then what goes with it (a legend when the kinds need one, the data table). */
export function chartFigure(caption: string, chart: SVGElement, ...after: HTMLElement[]): HTMLElement {
  return h("figure", { class: "chart" }, h("figcaption", {}, caption), chart, after);
}

/** The bar kinds in words, with a sample of each shape (the samples are decoration: the words carry it). */
export function barLegend(entries: readonly { kind: BarKind; label: string }[]): HTMLElement {
  return h(
    "ul",
    { class: "chart-legend", "aria-label": "Legend" },
    entries.map((entry) =>
      h("li", {}, svg("svg", { class: "swatch", viewBox: "0 0 14 14", "aria-hidden": "true" }, svg("g", { class: `bar ${entry.kind}` }, svg("rect", { x: 2, y: 2, width: 10, height: 10 }))), entry.label),
    ),
  );
}
