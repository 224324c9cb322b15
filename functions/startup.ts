/**
 * Loaded with the function files: reading the configuration here makes a missing or malformed app setting stop
 * the worker at start-up, with a message naming the setting, instead of failing the first backup.
 */
import { getConfig } from "../shared/config";

getConfig();
