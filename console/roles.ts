/**
 * What the signed-in caller may do, as the server rendered it into the page (`<body data-roles>`): the roles of
 * shared/auth/roles.ts it holds (all three when the app uses function keys). The page hides the actions a role
 * cannot take; the API still decides, and its refusals are shown, never hidden.
 */

export type Role = "Backup.Reader" | "Backup.Operator" | "Backup.Admin";

const held = new Set<string>(JSON.parse(document.body.dataset.roles ?? "[]") as string[]);

const includes: Record<Role, Role[]> = {
  "Backup.Reader": ["Backup.Reader", "Backup.Operator", "Backup.Admin"],
  "Backup.Operator": ["Backup.Operator", "Backup.Admin"],
  "Backup.Admin": ["Backup.Admin"],
};

/** True when a role the caller holds includes `needed`. */
export function can(needed: Role): boolean {
  return includes[needed].some((role) => held.has(role));
}
