/**
 * The console's entry (bundled by scripts/bundleConsole.mjs into dist/console/app.js, which the Backup Center
 * function inlines with the response's CSP nonce): header links by role, and the hash routes of every view.
 */
import { h } from "./dom";
import { can } from "./roles";
import { startRouter } from "./router";
import { views } from "./views";

function navigation(): void {
  const nav = document.getElementById("console-nav");
  if (!nav) return;
  const links = views
    .filter((view) => view.nav && can(view.nav.role))
    .sort((a, b) => a.nav!.order - b.nav!.order)
    .map((view) => h("li", {}, h("a", { href: `#${view.path}` }, view.nav!.label)));
  nav.replaceChildren(h("ul", {}, h("li", {}, h("a", { href: "#" }, "Overview")), links));
}

const main = document.getElementById("main");
if (main) {
  navigation();
  startRouter(views, main, document.title);
}
