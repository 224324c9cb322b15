/**
 * The caller's roles as App Service authentication ("Easy Auth") hands them to the app: the `x-ms-client-principal`
 * header, base64 of `{ auth_typ, name_typ, role_typ, claims: [{ typ, val }] }`. The platform strips that header
 * from incoming requests and sets it itself, so it is trusted only in `appServiceRoles` mode; in `functionKeys`
 * mode it is ignored (anyone could send it). Pure: no I/O.
 */
import type { AuthMode } from "../config";
import { isRole, roles, satisfies, type Role } from "./roles";

export const clientPrincipalHeader = "x-ms-client-principal";

/**
 * Role claims arrive under `role_typ`, but with Microsoft Entra tokens the claims say `roles` while `role_typ` names
 * the long .NET claim type (azure-functions-host#3898); either is read as a role.
 */
const roleClaimTypes = ["roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"];
/** Far more than a real principal needs; larger is not decoded (the front end caps headers anyway). */
const maxHeaderChars = 32 * 1024;
const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export interface ClientPrincipal {
  /** The pgvault roles among the principal's role claims (other roles are ignored). */
  roles: Set<Role>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The principal in the header, or undefined when there is none or it is not one App Service would send. */
export function parseClientPrincipal(header: string | null | undefined): ClientPrincipal | undefined {
  const text = header?.trim();
  if (!text || text.length > maxHeaderChars || !base64Pattern.test(text)) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(text, "base64").toString("utf8"));
  } catch {
    return undefined;
  }
  if (!isRecord(body)) return undefined;
  const claimTypes = new Set(roleClaimTypes);
  if (typeof body.role_typ === "string" && body.role_typ !== "") claimTypes.add(body.role_typ);
  const roles = new Set<Role>();
  for (const claim of Array.isArray(body.claims) ? body.claims : []) {
    if (isRecord(claim) && typeof claim.typ === "string" && typeof claim.val === "string" && claimTypes.has(claim.typ) && isRole(claim.val)) {
      roles.add(claim.val);
    }
  }
  return { roles };
}

export type AccessDecision =
  | { allowed: true }
  | { allowed: false; status: 401 | 403; code: "Unauthorized" | "Forbidden"; message: string };

/**
 * Whether a request may run a route that needs `needed`. `functionKeys`: always (the host checked the key before
 * the app saw the request). `appServiceRoles`: 401 without a principal, 403 when its roles do not include `needed`.
 */
export function authorize(principalHeader: string | null | undefined, needed: Role, mode: AuthMode, what: string): AccessDecision {
  if (mode === "functionKeys") return { allowed: true };
  const principal = parseClientPrincipal(principalHeader);
  if (!principal) {
    return {
      allowed: false,
      status: 401,
      code: "Unauthorized",
      message: `Sign in through the app's App Service authentication: ${what} needs the role '${needed}' (or a higher one).`,
    };
  }
  if (!satisfies(principal.roles, needed)) {
    return { allowed: false, status: 403, code: "Forbidden", message: `${what} needs the role '${needed}' (or a higher one), which the caller does not have.` };
  }
  return { allowed: true };
}

/** The roles a caller holds for the page to offer actions by: every role with function keys (the key is all there is). */
export function heldRoles(principalHeader: string | null | undefined, mode: AuthMode): Role[] {
  if (mode === "functionKeys") return [...roles];
  return [...(parseClientPrincipal(principalHeader)?.roles ?? [])];
}
