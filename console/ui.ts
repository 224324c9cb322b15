/** Small pieces every view uses: errors with their recommended action, status text, formatting. */
import { ApiError } from "./api";
import { h } from "./dom";

/** An error as the API gave it: code, message, what to do, and which fields were wrong. */
export function errorPanel(err: unknown, heading = "The request was refused"): HTMLElement {
  const error = err instanceof Error ? err : new Error(String(err));
  const api = error instanceof ApiError ? error : undefined;
  return h(
    "section",
    { class: "error-panel", role: "alert" },
    h("h2", {}, heading),
    h("p", {}, api ? h("code", { class: "code" }, api.code) : null, api ? ": " : null, error.message),
    api?.recommendedAction ? h("p", {}, h("strong", {}, "What to do: "), api.recommendedAction) : null,
    api && api.details.length > 0 ? h("ul", {}, api.details.map((detail) => h("li", {}, h("code", {}, detail.path), ": ", detail.message))) : null,
  );
}

/** A heading that can take focus (the router focuses the new view's h1). */
export const pageHeading = (text: string) => h("h1", { tabindex: "-1" }, text);

/** Announces `text` to screen readers through the page's live region. */
export function announce(text: string): void {
  const live = document.getElementById("announcer");
  if (!live) return;
  live.textContent = "";
  setTimeout(() => (live.textContent = text), 50);
}

export { formatBytes, formatTime } from "../shared/backupCenter/format";
