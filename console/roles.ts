/**
 * What the signed-in caller may do, as the server rendered it into the page (`<body data-roles>`): the roles of
 * shared/auth/roles.ts it holds (all three when the app uses function keys), judged by that module's own rule. The
 * page hides the actions a role cannot take; the API still decides, and its refusals are shown, never hidden.
 */
import { isRole, satisfies, type Role } from "../shared/auth/roles";

export type { Role };

const held = (JSON.parse(document.body.dataset.roles ?? "[]") as string[]).filter(isRole);

/** True when a role the caller holds includes `needed`. */
export function can(needed: Role): boolean {
  return satisfies(held, needed);
}
