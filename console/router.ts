/**
 * Hash routes (`#/jobs/{id}`): the console is one page the function serves, so the routes live after `#` and
 * never reach the server. An empty hash is the server-rendered overview, kept as it was rendered and refreshed by
 * its own script. Each view renders into `<main>` and gets a signal that aborts when the user navigates away
 * (polling stops with it). The new view's heading takes focus, so keyboard and screen reader users land on it.
 */
import { replaceChildren } from "./dom";
import { errorPanel } from "./ui";
import type { Role } from "./roles";

export type Params = Record<string, string>;

export interface View {
  /** `/jobs/{id}`: `{name}` segments match one path segment each (decoded). */
  path: string;
  title(params: Params): string;
  render(main: HTMLElement, params: Params, signal: AbortSignal): Promise<void> | void;
  /** A link in the header, shown to callers with this role. */
  nav?: { label: string; role: Role; order: number };
}

interface Compiled {
  view: View;
  pattern: RegExp;
  names: string[];
}

function compile(view: View): Compiled {
  const names: string[] = [];
  const source = view.path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name);
    return "([^/]+)";
  });
  return { view, pattern: new RegExp(`^${source}$`), names };
}

/** `#/jobs/{id}` for a view path and its params. */
export function href(path: string, params: Params = {}, query: Record<string, string | undefined> = {}): string {
  const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ""));
  const search = new URLSearchParams(Object.entries(query).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== "")).toString();
  return `#${filled}${search ? `?${search}` : ""}`;
}

/** The query part of the current hash (`#/jobs?status=Failed`). */
export function hashQuery(): URLSearchParams {
  const hash = location.hash;
  const at = hash.indexOf("?");
  return new URLSearchParams(at >= 0 ? hash.slice(at + 1) : "");
}

export function startRouter(views: readonly View[], main: HTMLElement, overviewTitle: string): void {
  const compiled = views.map(compile);
  // The overview as the server rendered it: put back when the hash is emptied (its own script refreshes it).
  const overview = document.createDocumentFragment();
  let showingOverview = true;
  let current: AbortController | undefined;

  const show = async () => {
    current?.abort();
    current = new AbortController();
    const hash = location.hash.replace(/^#/, "");
    const path = hash.split("?")[0] ?? "";
    if (!path.startsWith("/")) {
      if (!showingOverview) {
        main.replaceChildren(overview);
        showingOverview = true;
        document.title = overviewTitle;
        document.dispatchEvent(new Event("pgvault:overview"));
      }
      return;
    }
    if (showingOverview) {
      overview.replaceChildren(...Array.from(main.childNodes));
      showingOverview = false;
    }
    const match = compiled.map((entry) => ({ entry, found: entry.pattern.exec(path) })).find((candidate) => candidate.found);
    if (!match?.found) {
      document.title = "Not found · pgvault";
      replaceChildren(main, errorPanel(new Error(`There is no page at #${path}.`), "Not found"));
      return;
    }
    const params: Params = {};
    match.entry.names.forEach((name, i) => (params[name] = decodeURIComponent(match.found![i + 1]!)));
    document.title = `${match.entry.view.title(params)} · pgvault`;
    main.replaceChildren();
    try {
      await match.entry.view.render(main, params, current.signal);
    } catch (err) {
      if (!current.signal.aborted) replaceChildren(main, errorPanel(err));
    }
    if (!current.signal.aborted) (main.querySelector("h1") ?? main).focus({ preventScroll: false });
  };
  window.addEventListener("hashchange", () => void show());
  void show();
}

/** True while the overview (no console route) is shown: its refresh script checks this. */
export function isOverview(): boolean {
  return !location.hash.replace(/^#/, "").startsWith("/");
}
