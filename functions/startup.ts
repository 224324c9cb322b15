/**
 * Loaded with the function files: reading the configuration here makes a missing or malformed app setting stop
 * the worker at start-up, with a message naming the setting, instead of failing the first backup. Telemetry
 * starts here too (when APPLICATIONINSIGHTS_CONNECTION_STRING is set), and exports what is pending when the
 * worker shuts down.
 */
import { app } from "@azure/functions";
import { getConfig } from "../shared/config";
import { startTelemetry, stopTelemetry } from "../shared/telemetry";

if (startTelemetry(getConfig())) app.hook.appTerminate(() => stopTelemetry());
