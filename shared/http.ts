/**
 * The HTTP side of the contract (SPEC section 2): JSON bodies, the `{ error: { code, message, details } }` shape,
 * and one mapping from typed errors to status codes, so every handler answers failures the same way.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { ConflictError, ensureError, NotFoundError, PgVaultError, ValidationError, type ValidationIssue } from "./errors";
import { resourceNamePattern } from "./domain";

export type HttpHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

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
  if (error instanceof NotFoundError) return json(404, errorBody("NotFound", error.message));
  if (error instanceof ConflictError) return json(409, errorBody(error.code, error.message));
  if (error instanceof PgVaultError) {
    const job = error.toJobError();
    const status = error.code === "UserErrorRecoveryPointNotFound" ? 404 : error.code.startsWith("SystemError") ? 503 : 422;
    return json(status, errorBody(job.code, job.message, { recommendedAction: job.recommendedAction }));
  }
  // Unexpected: log the name only (messages of foreign errors may quote connection details).
  context.error(`unhandled ${error.name} in ${context.functionName}`);
  return json(500, errorBody("SystemErrorUnexpected", "An unexpected error occurred; see the function logs."));
}

/** Wraps a handler so every thrown error becomes the spec's error response. */
export function handled(handler: HttpHandler): HttpHandler {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (err) {
      return errorResponse(err, context);
    }
  };
}

/** The parsed JSON body; an empty body reads as `undefined` (for routes whose body is optional). */
export async function readJson(request: HttpRequest): Promise<unknown> {
  const text = await request.text();
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
