/**
 * The console's browser bundle (console/, bundled by scripts/bundleConsole.mjs), read once: the Backup Center
 * page inlines it under the response's CSP nonce, so the page stays one self-contained document.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

export interface ConsoleBundle {
  script: string;
  style: string;
}

/** dist/console beside the compiled app (dist/shared/backupCenter); from the sources (tests), the build's dist/console. */
const folders = [path.resolve(__dirname, "..", "..", "console"), path.resolve(__dirname, "..", "..", "dist", "console")];

let bundle: ConsoleBundle | undefined;

export function consoleBundle(): ConsoleBundle {
  if (bundle) return bundle;
  const folder = folders.find((candidate) => existsSync(path.join(candidate, "app.js")));
  if (!folder) throw new Error("The console bundle (dist/console/app.js) is missing: run `npm run build`.");
  const script = readFileSync(path.join(folder, "app.js"), "utf8");
  const style = readFileSync(path.join(folder, "app.css"), "utf8");
  // Inlined into <script> and <style>: their closing tags must not occur inside (esbuild escapes them in strings).
  if (/<\/script/i.test(script) || /<\/style/i.test(style)) throw new Error("The console bundle contains a closing script or style tag.");
  bundle = { script, style };
  return bundle;
}
