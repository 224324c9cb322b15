/**
 * Loaded with the function files: reading the configuration here makes a missing or malformed app setting stop
 * the worker at start-up, with a message naming the setting, instead of failing the first backup. Telemetry
 * starts here too (when APPLICATIONINSIGHTS_CONNECTION_STRING is set), and exports what is pending when the
 * worker shuts down. When VAULT_IMMUTABILITY is on and the vault is Azurite, it says once that recovery points
 * will not be immutable there.
 */
import { app } from "@azure/functions";
import { getConfig } from "../shared/config";
import { immutabilityNotice } from "../shared/recoveryPoints/immutability";
import { startTelemetry, stopTelemetry } from "../shared/telemetry";

if (startTelemetry(getConfig())) app.hook.appTerminate(() => stopTelemetry());

// Once per worker: immutability is asked for (the default) but the vault is Azurite, which cannot hold it.
const notice = immutabilityNotice(getConfig());
if (notice) console.warn(`[pgvault] ${notice}`);
