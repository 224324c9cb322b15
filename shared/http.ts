/**
 * The HTTP side of the contract (SPEC section 2): JSON bodies, the `{ error: { code, message, details } }` shape,
 * and one mapping from typed errors to status codes, so every handler answers failures the same way.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import type { DurableClient } from "durable-functions";
import { ConflictError, ensureError, NotFoundError, PgVaultError, ValidationError, type ValidationIssue } from "./errors";
import { resourceNamePattern } from "./domain";
import { authorize, clientPrincipalHeader } from "./auth/clientPrincipal";
import { routeRoles, type SecuredRoute } from "./auth/roles";
import { getConfig, type AuthMode } from "./config";

export type HttpHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/** No request body pgvault takes comes near this; larger ones are refused (413) before they are parsed. */
export const maxRequestBodyBytes = 64 * 1024;

/** A body over `maxRequestBodyBytes`: HTTP 413 with the spec's error shape. */
class RequestTooLargeError extends Error {
  override readonly name = "RequestTooLargeError";
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { "content-type": "application/json; charset=utf-8", ...headers } };
}

function errorBody(code: string, message: string, extra: { details?: ValidationIssue[]; recommendedAction?: string } = {}) {
  return { error: { code, message, ...extra } };
}

export function errorResponse(err: unknown, context: InvocationContext): HttpResponseInit {
  const error = ensureError(err);
  if (error instanceof ValidationError) {
    return json(400, errorBody("InvalidRequest", "The request is not valid.", { details: error.issues }));
  }
  if (error instanceof RequestTooLargeError) {
    return json(413, errorBody("InvalidRequest", "The request is not valid.", { details: [{ path: "$", message: error.message }] }));
  }
  if (error instanceof NotFoundError) return json(404, errorBody("NotFound", error.message));
  if (error instanceof ConflictError) {
    return json(409, errorBody(error.code, error.message, error.recommendedAction ? { recommendedAction: error.recommendedAction } : {}));
  }
  if (error instanceof PgVaultError) {
    const job = error.toJobError();
    const status = error.code === "UserErrorRecoveryPointNotFound" ? 404 : error.code.startsWith("SystemError") ? 503 : 422;
    return json(status, errorBody(job.code, job.message, { recommendedAction: job.recommendedAction }));
  }
  // Unexpected: log the name only (messages of foreign errors may quote connection details).
  context.error(`unhandled ${error.name} in ${context.functionName}`);
  return json(500, errorBody("SystemErrorUnexpected", "An unexpected error occurred; see the function logs."));
}

/** A route handler with a durable client input (`df.app.client.http`). */
export type DurableHttpHandler = (request: HttpRequest, client: DurableClient, context: InvocationContext) => Promise<HttpResponseInit>;

/** Wraps a handler so every thrown error becomes the spec's error response. */
export function handled(handler: HttpHandler): HttpHandler;
export function handled(handler: DurableHttpHandler): DurableHttpHandler;
export function handled(handler: (request: HttpRequest, ...rest: never[]) => Promise<HttpResponseInit>) {
  return async (request: HttpRequest, ...rest: never[]) => {
    try {
      return await handler(request, ...rest);
    } catch (err) {
      // The invocation context is the last argument of both kinds.
      return errorResponse(err, rest[rest.length - 1] as unknown as InvocationContext);
    }
  };
}

/**
 * Wraps a route's handler (plain or durable client) with the role check of `route` (shared/auth/roles.ts). In
 * `functionKeys` mode it passes every request on unchanged; in `appServiceRoles` mode it answers 401/403 in the
 * spec's error shape before the handler sees the request.
 */
export function secured<Rest extends unknown[]>(
  route: SecuredRoute,
  handler: (request: HttpRequest, ...rest: Rest) => Promise<HttpResponseInit>,
): (request: HttpRequest, ...rest: Rest) => Promise<HttpResponseInit> {
  const needed = routeRoles[route];
  return async (request, ...rest) => {
    const context = rest.find(isInvocationContext);
    let mode: AuthMode;
    try {
      mode = getConfig().authMode ?? "functionKeys";
    } catch (err) {
      return context ? errorResponse(err, context) : json(500, errorBody("SystemErrorUnexpected", "The app's configuration could not be read."));
    }
    const decision = authorize(request.headers.get(clientPrincipalHeader), needed, mode, route);
    if (decision.allowed) return handler(request, ...rest);
    context?.warn(`access denied (${decision.status}): ${route} needs ${needed}`);
    return json(decision.status, errorBody(decision.code, decision.message));
  };
}

function isInvocationContext(value: unknown): value is InvocationContext {
  return typeof value === "object" && value !== null && "invocationId" in value && typeof (value as { warn?: unknown }).warn === "function";
}

/**
 * The parsed JSON body; an empty body reads as `undefined` (for routes whose body is optional). Bodies over
 * `maxRequestBodyBytes` are refused (413) by their declared length before reading, and by their actual length
 * before parsing.
 */
export async function readJson(request: HttpRequest): Promise<unknown> {
  const tooLarge = () => new RequestTooLargeError(`the body is larger than ${maxRequestBodyBytes / 1024} KiB`);
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (declared > maxRequestBodyBytes) throw tooLarge();
  const text = await request.text();
  if (text.length > maxRequestBodyBytes || Buffer.byteLength(text) > maxRequestBodyBytes) throw tooLarge();
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ValidationError([{ path: "$", message: "body is not valid JSON" }]);
  }
}

/** A route parameter that must be a policy or instance name. */
export function routeName(request: HttpRequest, parameter: string): string {
  const value = request.params[parameter] ?? "";
  if (!resourceNamePattern.test(value)) {
    throw new ValidationError([
      { path: parameter, message: "must be 3-63 lowercase letters, digits or hyphens, starting with a letter or digit" },
    ]);
  }
  return value;
}
