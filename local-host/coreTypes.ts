/**
 * The subset of `@azure/functions-core` types this host exchanges with the programming model (the names follow
 * `types-core/index.d.ts`; only the fields the host reads or writes are spelled out).
 */

export type LogLevel = "trace" | "debug" | "information" | "warning" | "error" | "critical" | "none";

export interface BindingInfo {
  type?: string | null;
  direction?: "in" | "out" | "inout" | null;
  [property: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  bindings: Record<string, BindingInfo>;
  retryOptions?: unknown;
}

export type FunctionCallback = (...args: unknown[]) => unknown;

export interface RegisteredFunction {
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

export interface TypedData {
  string?: string | null;
  json?: string | null;
  /** Numbers a function returns (@azure/functions toRpcTypedData: `int` for integers, `double` otherwise). */
  int?: number | null;
  double?: number | null;
  bytes?: Uint8Array | null;
  http?: HttpData | null;
}

export interface HttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  query?: Record<string, string> | null;
  params?: Record<string, string> | null;
  body?: TypedData | null;
  statusCode?: string | null;
  cookies?: unknown[] | null;
}

export interface ParameterBinding {
  name: string;
  data: TypedData;
}

export interface InvocationRequest {
  invocationId: string;
  functionId: string;
  inputData: ParameterBinding[];
  triggerMetadata: Record<string, TypedData>;
}

export interface InvocationResponse {
  invocationId?: string | null;
  outputData?: { name?: string | null; data?: TypedData | null }[] | null;
  returnValue?: TypedData | null;
}

export interface CoreInvocationContext {
  invocationId: string;
  request: InvocationRequest;
  metadata: FunctionMetadata;
  state?: "preInvocationHooks" | "postInvocationHooks" | "invocation";
  log(level: LogLevel, category: string, message: string): void;
}

export interface InvocationModelLike {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<InvocationResponse>;
}

export interface ProgrammingModelLike {
  name: string;
  version: string;
  getInvocationModel(context: CoreInvocationContext): InvocationModelLike | Promise<InvocationModelLike>;
  getCapabilities?(capabilities: Record<string, string>): Record<string, string> | Promise<Record<string, string>>;
}

export interface HookContext {
  hookData: Record<string, unknown>;
  appHookData: Record<string, unknown>;
  [field: string]: unknown;
}
