/**
 * The role assignments pgvault's identity needs to protect a Flexible Server as a `flexibleServer` instance
 * (docs/deploy.md, "Role assignments" and "Servers protected later"; infra/modules/roleIds.bicep holds the same
 * ids): Reader on the server's resource group (the access check reads the server) and the built-in long-term
 * retention backup role on the server (the pre-check and the backup). Pure, so the console spells them out too.
 */
import { parseResourceId } from "./resourceId";

export interface RoleAssignment {
  role: string;
  /** Microsoft's built-in role definition id ("Azure built-in roles"). */
  roleDefinitionId: string;
  scope: string;
  why: string;
}

/** For a resource id that passed `resourceIdProblems`. */
export function flexServerRoleAssignments(resourceId: string): RoleAssignment[] {
  const { subscriptionId, resourceGroup } = parseResourceId(resourceId);
  return [
    {
      role: "Reader",
      roleDefinitionId: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
      scope: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`,
      why: "the access check reads the server",
    },
    {
      role: "PostgreSQL Flexible Server Long Term Retention Backup Role",
      roleDefinitionId: "c088a766-074b-43ba-90d4-1fb21feae531",
      scope: resourceId,
      why: "the long-term-retention pre-check and backup",
    },
  ];
}

/** The Azure CLI commands that make them, for the identity whose client id is in `$PGVAULT_MANAGED_IDENTITY_CLIENT_ID`. */
export function roleAssignmentCommands(resourceId: string): string {
  return flexServerRoleAssignments(resourceId)
    .map((assignment) => `az role assignment create --role ${assignment.roleDefinitionId} --assignee "$PGVAULT_MANAGED_IDENTITY_CLIENT_ID" \\\n  --scope "${assignment.scope}"`)
    .join("\n");
}
