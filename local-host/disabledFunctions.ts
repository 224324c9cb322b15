/**
 * Functions disabled by app setting, as the Functions host honours it: `AzureWebJobs.<FUNCTION_NAME>.Disabled` set to
 * `true` makes the runtime ignore the events meant to trigger the function (Learn, "How to disable functions in Azure
 * Functions"; locally, the same setting in local.settings.json `Values`). The host reads it in the form with periods
 * or, since Linux environment variable names cannot hold periods, with underscores (`AzureWebJobs_<name>_Disabled`),
 * and takes `true` or `1` in any case (azure-webjobs-sdk src/Microsoft.Azure.WebJobs.Host/Listeners/
 * HostListenerFactory.cs `IsDisabled`, Extensions/IConfigurationExtensions.cs `IsSettingEnabled`). Here a disabled
 * function's timer never fires and its HTTP routes answer 404 (Learn: a disabled function is run only with the master
 * key, which this host does not have; any other key gets 404). Orchestration, activity and entity triggers are not
 * covered (docs/platform-facts.md, "Local host").
 */
import type { LogLevel, RegisteredFunction } from "./coreTypes";

/** The setting that disables the function, or undefined when it is enabled. */
export function disablingSetting(name: string, settings: Record<string, string | undefined>): string | undefined {
  return [`AzureWebJobs.${name}.Disabled`, `AzureWebJobs_${name}_Disabled`].find((setting) => /^(true|1)$/i.test(settings[setting]?.trim() ?? ""));
}

/** The functions whose HTTP and timer triggers fire: all but the disabled ones, each of which is logged once. */
export function enabledFunctions(
  functions: ReadonlyMap<string, RegisteredFunction>,
  settings: Record<string, string | undefined>,
  log: (level: LogLevel, source: string, message: string) => void,
): Map<string, RegisteredFunction> {
  const enabled = new Map<string, RegisteredFunction>();
  for (const [name, fn] of functions) {
    const setting = disablingSetting(name, settings);
    if (setting === undefined) enabled.set(name, fn);
    else log("information", "host", `Function '${name}' is disabled (app setting ${setting})`);
  }
  return enabled;
}
