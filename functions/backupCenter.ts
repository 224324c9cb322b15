import { randomBytes } from "node:crypto";
import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { clientPrincipalHeader, heldRoles } from "../shared/auth/clientPrincipal";
import { consoleBundle } from "../shared/backupCenter/consoleBundle";
import { renderBackupCenterPage } from "../shared/backupCenter/page";
import { backupCenterSummary } from "../shared/backupCenter/summary";
import { getConfig } from "../shared/config";
import { handled, secured } from "../shared/http";

/**
 * Only the page's own inline style and script (by nonce), requests to this origin, and no framing, forms, base or
 * remote images: the page works offline and an escaped-but-injected string could not load anything.
 */
export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** The Backup Center web page (SPEC section 2): a server-rendered summary of the catalog that refreshes itself. */
export async function backupCenter(request: HttpRequest): Promise<HttpResponseInit> {
  const summary = await backupCenterSummary(new Date());
  const roles = heldRoles(request.headers.get(clientPrincipalHeader), getConfig().authMode ?? "functionKeys");
  const nonce = randomBytes(16).toString("base64");
  return {
    status: 200,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "content-security-policy": contentSecurityPolicy(nonce),
      "x-content-type-options": "nosniff",
      // The page's URL may carry the function key (`?code=`); it never travels in a Referer.
      "referrer-policy": "no-referrer",
    },
    body: renderBackupCenterPage(summary, { nonce, roles, console: consoleBundle() }),
  };
}

app.http("backupCenter", { route: "backup-center", methods: ["GET"], authLevel: "function", handler: secured("GET backup-center", handled(backupCenter)) });
