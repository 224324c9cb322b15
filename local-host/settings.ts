/**
 * App settings as the Functions host gives them to the worker: the process environment, plus the `Values` of
 * `local.settings.json` when present (the environment wins, so `env:` secret references resolve against the
 * environment the host was started with).
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

export function loadSettings(appRoot: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const file = path.join(appRoot, "local.settings.json");
  const values = existsSync(file) ? ((JSON.parse(readFileSync(file, "utf8")) as { Values?: Record<string, string> }).Values ?? {}) : {};
  const settings: Record<string, string> = { ...values };
  for (const [name, value] of Object.entries(env)) if (value !== undefined) settings[name] = value;
  return settings;
}

/** The host and the app read settings from `process.env`, as under the real worker. */
export function applySettings(settings: Record<string, string>): void {
  for (const [name, value] of Object.entries(settings)) process.env[name] = value;
}
