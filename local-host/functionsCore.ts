/**
 * This host's implementation of the `@azure/functions-core` module, which the Azure Functions Node worker
 * provides at run time (contract: `types-core/index.d.ts` of azure-functions-nodejs-library). `@azure/functions`
 * requires it lazily and hands it the programming model, every `app.*` registration and every hook.
 */
import type { HookContext, LogLevel, ProgrammingModelLike, RegisteredFunction } from "./coreTypes";

export const version = "pgvault-local-host";
export const hostVersion = "4.0.0-local";

export class Disposable {
  static from(...items: { dispose: () => unknown }[]): Disposable {
    return new Disposable(() => items.forEach((item) => item.dispose()));
  }
  #callOnDispose: (() => unknown) | undefined;
  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }
  dispose(): unknown {
    const call = this.#callOnDispose;
    this.#callOnDispose = undefined;
    return call?.();
  }
}

type HookCallback = (context: HookContext) => unknown;

/** What the app registered; the host reads it after loading the app's entry files. */
export const registry = {
  functions: new Map<string, RegisteredFunction>(),
  hooks: new Map<string, HookCallback[]>(),
  programmingModel: undefined as ProgrammingModelLike | undefined,
  logSink: (level: LogLevel, category: string, message: string): void => {
    console.log(`[${level}] ${category}: ${message}`);
  },
};

export function registerFunction(metadata: RegisteredFunction["metadata"], callback: RegisteredFunction["callback"]): Disposable {
  if (registry.functions.has(metadata.name)) throw new Error(`A function named '${metadata.name}' is already registered.`);
  registry.functions.set(metadata.name, { metadata, callback });
  return new Disposable(() => registry.functions.delete(metadata.name));
}

export function setProgrammingModel(model: ProgrammingModelLike): void {
  registry.programmingModel = model;
}

export function getProgrammingModel(): ProgrammingModelLike {
  if (!registry.programmingModel) throw new Error("No programming model has been set; is @azure/functions loaded?");
  return registry.programmingModel;
}

export function registerHook(hookName: string, callback: HookCallback): Disposable {
  const callbacks = registry.hooks.get(hookName) ?? [];
  callbacks.push(callback);
  registry.hooks.set(hookName, callbacks);
  return new Disposable(() => callbacks.splice(callbacks.indexOf(callback), 1));
}

export function log(level: LogLevel, category: string, message: string): void {
  registry.logSink(level, category, message);
}
