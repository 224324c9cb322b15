/** Real `HttpRequest` and `InvocationContext` objects for calling handlers as the Functions worker would. */
import { HttpRequest, InvocationContext, type HttpResponseInit } from "@azure/functions";

export function request(method: string, path: string, options: { body?: string | object; params?: Record<string, string> } = {}): HttpRequest {
  const body = options.body === undefined ? undefined : typeof options.body === "string" ? options.body : JSON.stringify(options.body);
  return new HttpRequest({
    method,
    url: `http://127.0.0.1:7071/api/${path}`,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    params: options.params ?? {},
    body: body === undefined ? undefined : { string: body },
  });
}

export function invocation(functionName: string, logs: string[] = []): InvocationContext {
  return new InvocationContext({
    functionName,
    invocationId: `${functionName}-test`,
    logHandler: (_level, ...args) => logs.push(args.map(String).join(" ")),
  });
}

/** The JSON body a handler answered with (handlers answer `jsonBody`). */
export function bodyOf<T = Record<string, unknown>>(response: HttpResponseInit): T {
  return response.jsonBody as T;
}
