/**
 * `AzureWebJobs.<name>.Disabled` as the local host reads it (local-host/disabledFunctions.ts): the form with periods
 * and the Linux one with underscores, `true` or `1` in any case; anything else leaves the function enabled.
 */
import { expect, test } from "vitest";
import type { RegisteredFunction } from "../../local-host/coreTypes";
import { enabledFunctions, disablingSetting } from "../../local-host/disabledFunctions";

test("when a Disabled setting is true or 1, in either form, then the function is disabled; otherwise it is not", () => {
  expect(disablingSetting("scheduler", { "AzureWebJobs.scheduler.Disabled": "true" })).toBe("AzureWebJobs.scheduler.Disabled");
  expect(disablingSetting("scheduler", { "AzureWebJobs.scheduler.Disabled": " TRUE " })).toBe("AzureWebJobs.scheduler.Disabled");
  expect(disablingSetting("scheduler", { AzureWebJobs_scheduler_Disabled: "1" })).toBe("AzureWebJobs_scheduler_Disabled");
  for (const value of ["false", "0", "", "yes", "2"]) expect(disablingSetting("scheduler", { "AzureWebJobs.scheduler.Disabled": value })).toBeUndefined();
  expect(disablingSetting("scheduler", { "AzureWebJobs.retentionTimer.Disabled": "true" })).toBeUndefined();
  expect(disablingSetting("scheduler", {})).toBeUndefined();
});

test("when functions are disabled, then the others are kept and each disabled one is logged once", () => {
  const fn = (name: string): RegisteredFunction => ({ metadata: { name, bindings: {} }, callback: () => undefined });
  const functions = new Map(["scheduler", "health", "retentionTimer"].map((name) => [name, fn(name)]));
  const lines: string[] = [];
  const enabled = enabledFunctions(functions, { "AzureWebJobs.scheduler.Disabled": "true", AzureWebJobs_health_Disabled: "1" }, (_level, _source, message) => lines.push(message));
  expect([...enabled.keys()]).toEqual(["retentionTimer"]);
  expect(lines).toEqual([
    "Function 'scheduler' is disabled (app setting AzureWebJobs.scheduler.Disabled)",
    "Function 'health' is disabled (app setting AzureWebJobs_health_Disabled)",
  ]);
});
