/**
 * Invokes a registered function as the Node worker does: through the programming model's invocation model
 * (getArguments, preInvocation hooks, invokeFunction, postInvocation hooks, getResponse), with inputs as RPC
 * typed data. The app's handlers therefore see exactly the objects @azure/functions builds for them.
 */
import { randomUUID } from "node:crypto";
import type { BindingInfo, HookContext, InvocationResponse, LogLevel, RegisteredFunction, TypedData } from "./coreTypes";
import { registry } from "./functionsCore";

export function triggerBinding(fn: RegisteredFunction): [string, BindingInfo] {
  const entry = Object.entries(fn.metadata.bindings).find(([, binding]) => binding.type?.endsWith("Trigger"));
  if (!entry) throw new Error(`Function '${fn.metadata.name}' has no trigger binding.`);
  return entry;
}

export function bindingOfType(fn: RegisteredFunction, type: string): [string, BindingInfo] | undefined {
  return Object.entries(fn.metadata.bindings).find(([, binding]) => binding.type === type);
}

export const jsonData = (value: unknown): TypedData => ({ json: JSON.stringify(value ?? null) });

/** The value an invocation returned, from RPC typed data back to JavaScript. */
export function fromTypedData(data: TypedData | null | undefined): unknown {
  if (!data) return undefined;
  if (data.json !== undefined && data.json !== null) return JSON.parse(data.json) as unknown;
  if (data.string !== undefined && data.string !== null) return data.string;
  if (data.int !== undefined && data.int !== null) return Number(data.int);
  if (data.double !== undefined && data.double !== null) return data.double;
  if (data.bytes) return Buffer.from(data.bytes);
  return undefined;
}

const appHookData: Record<string, unknown> = {};

async function runHooks(name: string, context: Record<string, unknown>): Promise<void> {
  for (const hook of registry.hooks.get(name) ?? []) await hook(context as HookContext);
}

export interface InvokeOptions {
  /** Extra input bindings by type (e.g. `durableClient`), given as the payload the host would send. */
  extraInputs?: Record<string, TypedData>;
  log?: (level: LogLevel, functionName: string, message: string) => void;
}

export async function invoke(fn: RegisteredFunction, trigger: TypedData, options: InvokeOptions = {}): Promise<InvocationResponse> {
  const model = registry.programmingModel;
  if (!model) throw new Error("No programming model: the app is not loaded.");
  const invocationId = randomUUID();
  const [triggerName] = triggerBinding(fn);
  const inputData = [{ name: triggerName, data: trigger }];
  for (const [type, data] of Object.entries(options.extraInputs ?? {})) {
    const binding = bindingOfType(fn, type);
    if (binding) inputData.push({ name: binding[0], data });
  }
  const name = fn.metadata.name;
  const coreContext = {
    invocationId,
    request: { invocationId, functionId: name, inputData, triggerMetadata: {} },
    metadata: fn.metadata,
    state: undefined as "preInvocationHooks" | "postInvocationHooks" | "invocation" | undefined,
    log: (level: LogLevel, _category: string, message: string) => options.log?.(level, name, message),
  };
  const invocationModel = await model.getInvocationModel(coreContext);
  const { context, inputs } = await invocationModel.getArguments();
  const hookData: Record<string, unknown> = {};
  const pre = { hookData, appHookData, invocationContext: context, inputs, functionCallback: fn.callback };
  coreContext.state = "preInvocationHooks";
  await runHooks("preInvocation", pre);
  coreContext.state = "invocation";
  let result: unknown;
  let error: unknown;
  try {
    result = await invocationModel.invokeFunction(context, pre.inputs, pre.functionCallback);
  } catch (err) {
    error = err;
  }
  const post = { hookData, appHookData, invocationContext: context, inputs: pre.inputs, result, error };
  coreContext.state = "postInvocationHooks";
  await runHooks("postInvocation", post);
  coreContext.state = undefined;
  if (post.error) throw post.error;
  return invocationModel.getResponse(context, post.result);
}

export async function runAppStartHooks(functionAppDirectory: string): Promise<void> {
  await runHooks("appStart", { hookData: {}, appHookData, functionAppDirectory });
}

export async function runAppTerminateHooks(): Promise<void> {
  await runHooks("appTerminate", { hookData: {}, appHookData });
}
