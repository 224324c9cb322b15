/**
 * Who may call which route (issue 8, access control): the least role each management route needs, when the app
 * runs behind App Service authentication (`AUTH_MODE=appServiceRoles`). `Backup.Admin` includes
 * `Backup.Operator`, which includes `Backup.Reader`. `/api/health` is anonymous and not listed.
 *
 * Keys are `<METHOD> <route template>`, spelled as in the `app.http` registration, so a route's line names its
 * own entry (`secured("GET jobs/{id}", ...)`) and a typo does not compile. docs/security.md shows this table.
 */

export const roles = ["Backup.Reader", "Backup.Operator", "Backup.Admin"] as const;
export type Role = (typeof roles)[number];

/** Each role with the roles it includes (itself and every lower one). */
const includedRoles: Record<Role, readonly Role[]> = {
  "Backup.Reader": ["Backup.Reader"],
  "Backup.Operator": ["Backup.Operator", "Backup.Reader"],
  "Backup.Admin": ["Backup.Admin", "Backup.Operator", "Backup.Reader"],
};

export const routeRoles = {
  "GET backupPolicies": "Backup.Reader",
  "GET backupPolicies/{name}": "Backup.Reader",
  "PUT backupPolicies/{name}": "Backup.Admin",
  // Computes what a policy body would do and stores nothing: a Reader sees a policy's slots and retention too.
  "POST backupPolicies/preview": "Backup.Reader",
  "DELETE backupPolicies/{name}": "Backup.Admin",
  "GET backupInstances": "Backup.Reader",
  "GET backupInstances/{name}": "Backup.Reader",
  "PUT backupInstances/{name}": "Backup.Admin",
  "DELETE backupInstances/{name}": "Backup.Admin",
  // Sign in with credentials that configure protection, and name every database of a server.
  "POST discoverDatabases": "Backup.Admin",
  "POST protectDatabases": "Backup.Admin",
  "POST backupInstances/{name}/backup": "Backup.Operator",
  "POST backupInstances/{name}/verify": "Backup.Operator",
  "POST backupInstances/{name}/restore": "Backup.Operator",
  "GET backupInstances/{name}/recoveryPoints": "Backup.Reader",
  "GET backupInstances/{name}/recoveryPoints/{rpId}": "Backup.Reader",
  // Reads (and decrypts) the point's archive, as a restore does: the restore's role.
  "GET backupInstances/{name}/recoveryPoints/{rpId}/contents": "Backup.Operator",
  "DELETE backupInstances/{name}/recoveryPoints/{rpId}": "Backup.Admin",
  "POST backupInstances/{name}/recoveryPoints/{rpId}/undelete": "Backup.Admin",
  "GET jobs": "Backup.Reader",
  "GET jobs/{id}": "Backup.Reader",
  "POST jobs/{id}/cancel": "Backup.Operator",
  "GET backup-center": "Backup.Reader",
  "GET reports/compliance": "Backup.Reader",
  "GET reports/usage": "Backup.Reader",
} as const satisfies Record<string, Role>;

export type SecuredRoute = keyof typeof routeRoles;

export function isRole(value: string): value is Role {
  return (roles as readonly string[]).includes(value);
}

/** True when a caller holding `held` may do what needs `needed`. */
export function satisfies(held: Iterable<Role>, needed: Role): boolean {
  for (const role of held) if (includedRoles[role].includes(needed)) return true;
  return false;
}
