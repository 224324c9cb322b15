/**
 * What the compiled-template tests compare: the role assignments, storage and network settings a snapshot of the
 * compiled template predicts, against what docs/deploy.md documents. Each check returns one line per problem (empty
 * when all holds), so a test can also show that a widened grant or an opened account is caught.
 */
import { ofType, prop, type PredictedResource, type Snapshot } from "./compiledTemplate";

/** Built-in roles no pgvault grant may be: they can change anything, or hand out access. */
export const forbiddenRoles: Record<string, string> = {
  "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
  "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
  "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
  "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
};

/** The one permission of the custom role (vaultStorage.bicep). */
export const immutabilityDataAction = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/immutableStorage/runAsSuperUser/action";

export interface Grant {
  roleId: string;
  /** `identity:<resource id>` for a managed identity (its principal id is known only at deployment), else the id. */
  principal: string;
  principalType: unknown;
  scope: string;
}

const identityPrincipal = /^\[reference\('([^']+)', '[^']+'\)\.principalId\]$/;
const extensionScope = /^\[extensionResourceId\('([^']+)', 'Microsoft\.Authorization\/roleAssignments'/;
const groupScope = /^\[resourceId\('([^']+)', '([^']+)', 'Microsoft\.Authorization\/roleAssignments'/;

/** The resource an assignment is made on, from the id the snapshot gives it (evaluated, or an ARM expression). */
export function assignmentScope(id: string): string {
  const extension = extensionScope.exec(id);
  if (extension) return extension[1]!;
  const group = groupScope.exec(id);
  if (group) return `/subscriptions/${group[1]}/resourceGroups/${group[2]}`;
  const at = id.toLowerCase().indexOf("/providers/microsoft.authorization/roleassignments/");
  if (at <= 0 || id.startsWith("[")) throw new Error(`cannot tell the scope of role assignment ${id}`);
  return id.slice(0, at);
}

export function grantsOf(snap: Snapshot): Grant[] {
  return ofType(snap, "Microsoft.Authorization/roleAssignments").map((assignment) => {
    const principalId = String(prop(assignment, "principalId"));
    const identity = identityPrincipal.exec(principalId);
    return {
      roleId: String(prop(assignment, "roleDefinitionId")).split("/").pop()!.toLowerCase(),
      principal: identity ? `identity:${identity[1]}` : principalId,
      principalType: prop(assignment, "principalType"),
      scope: assignmentScope(assignment.id),
    };
  });
}

export const grantKey = (grant: Pick<Grant, "roleId" | "principal" | "scope">) => `${grant.roleId} to ${grant.principal} on ${grant.scope}`;

/** Grants no deployment of pgvault may make, whatever the documented set says. */
export function grantProblems(snap: Snapshot): string[] {
  const problems: string[] = [];
  for (const grant of grantsOf(snap)) {
    const forbidden = forbiddenRoles[grant.roleId];
    if (forbidden) problems.push(`${grantKey(grant)}: ${forbidden} is never granted`);
    if (/^\/subscriptions\/[^/]+\/?$/i.test(grant.scope) || /managementGroups|^\/$/i.test(grant.scope)) {
      problems.push(`${grantKey(grant)}: scoped to a whole subscription or management group`);
    }
    const expectedType = grant.principal.startsWith("identity:") ? "ServicePrincipal" : "User";
    if (grant.principalType !== expectedType) problems.push(`${grantKey(grant)}: principalType ${String(grant.principalType)}, expected ${expectedType}`);
  }
  for (const role of ofType(snap, "Microsoft.Authorization/roleDefinitions")) {
    const permissions = (prop(role, "permissions") ?? []) as { actions?: string[]; notActions?: string[]; dataActions?: string[]; notDataActions?: string[] }[];
    const actions = permissions.flatMap((p) => p.actions ?? []);
    const dataActions = permissions.flatMap((p) => p.dataActions ?? []);
    if (actions.length > 0) problems.push(`custom role ${role.name}: control-plane actions ${actions.join(", ")}`);
    if (dataActions.length !== 1 || dataActions[0] !== immutabilityDataAction) problems.push(`custom role ${role.name}: data actions ${dataActions.join(", ")}`);
    const scopes = (prop(role, "assignableScopes") ?? []) as string[];
    if (scopes.length !== 1 || !/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+$/i.test(scopes[0]!)) problems.push(`custom role ${role.name}: assignable at ${scopes.join(", ")}`);
  }
  return problems;
}

export interface DocumentedGrant {
  role: string;
  /** A built-in role's GUID, or `custom`. */
  roleId: string;
  to: string;
  on: string;
  when: string;
}

/** The rows of the table in docs/deploy.md whose header starts `| role | role definition id |`. */
export function documentedGrants(markdown: string): DocumentedGrant[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) => /^\|\s*role\s*\|\s*role definition id\s*\|/.test(line));
  if (start < 0) throw new Error("docs/deploy.md has no `| role | role definition id | ...` table");
  const rows: DocumentedGrant[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    const [role, roleId, to, on, when] = line.split("|").slice(1, -1).map((cell) => cell.trim());
    rows.push({ role: role!, roleId: roleId!.replace(/`/g, ""), to: to!, on: on!, when: when! });
  }
  return rows;
}

/** The parameters of one snapshot that decide which documented grants exist. */
export interface GrantScenario {
  principalId: string;
  vaultImmutability: string;
  encryptionKeys: boolean;
  protectedResourceGroupIds: string[];
  flexibleServerIds: string[];
}

function single(snap: Snapshot, type: string, namePrefix: string): PredictedResource {
  const found = ofType(snap, type).filter((resource) => resource.name.startsWith(namePrefix));
  if (found.length !== 1) throw new Error(`expected one ${type} named ${namePrefix}*, found ${found.length}`);
  return found[0]!;
}

/** The grants the documented table says this scenario makes, keyed like `grantKey`. */
export function expectedGrants(rows: readonly DocumentedGrant[], snap: Snapshot, scenario: GrantScenario): string[] {
  const identity = single(snap, "Microsoft.ManagedIdentity/userAssignedIdentities", "pgvault-");
  const scopes: Record<string, () => string[]> = {
    "runtime storage": () => [single(snap, "Microsoft.Storage/storageAccounts", "pgvrt").id],
    "vault storage": () => [single(snap, "Microsoft.Storage/storageAccounts", "pgvvault").id],
    "Key Vault": () => [single(snap, "Microsoft.KeyVault/vaults", "pgv-kv-").id],
    "container registry": () => [single(snap, "Microsoft.ContainerRegistry/registries", "pgvacr").id],
    "Event Grid topic": () => [single(snap, "Microsoft.EventGrid/topics", "pgvault-").id],
    "each protected resource group": () => scenario.protectedResourceGroupIds,
    "each Flexible Server": () => scenario.flexibleServerIds,
  };
  const principals: Record<string, () => string> = {
    "app identity": () => `identity:${identity.id}`,
    deployer: () => scenario.principalId,
  };
  const conditions: Record<string, () => boolean> = {
    always: () => true,
    "`vaultImmutability` is not `off`": () => scenario.vaultImmutability !== "off",
    "`encryptionKeys` is true": () => scenario.encryptionKeys,
    "`principalId` is set": () => scenario.principalId !== "",
  };
  const customRole = () => single(snap, "Microsoft.Authorization/roleDefinitions", "").name.toLowerCase();
  const keys: string[] = [];
  for (const row of rows) {
    const scopesOf = scopes[row.on];
    const principalOf = principals[row.to];
    const condition = conditions[row.when];
    if (!scopesOf || !principalOf || !condition) throw new Error(`docs/deploy.md grant row not understood: ${JSON.stringify(row)}`);
    if (!condition()) continue;
    for (const scope of scopesOf()) keys.push(grantKey({ roleId: row.roleId === "custom" ? customRole() : row.roleId.toLowerCase(), principal: principalOf(), scope }));
  }
  return keys.sort();
}

/** Both accounts keyless and encrypted in transit; the vault versioned, immutable per version, soft-deleting; runtime private. */
export function storageProblems(snap: Snapshot): string[] {
  const problems: string[] = [];
  const accounts = ofType(snap, "Microsoft.Storage/storageAccounts");
  if (accounts.length !== 2) problems.push(`expected 2 storage accounts, found ${accounts.length}`);
  const expect = (resource: PredictedResource | undefined, dotted: string, wanted: unknown) => {
    const actual = prop(resource, dotted);
    if (actual !== wanted) problems.push(`${resource?.name ?? "(missing)"}: ${dotted} is ${JSON.stringify(actual)}, must be ${JSON.stringify(wanted)}`);
  };
  for (const account of accounts) {
    expect(account, "allowSharedKeyAccess", false);
    expect(account, "minimumTlsVersion", "TLS1_2");
    expect(account, "supportsHttpsTrafficOnly", true);
    expect(account, "allowBlobPublicAccess", false);
  }
  const vault = accounts.find((account) => account.name.startsWith("pgvvault"));
  const runtime = accounts.find((account) => account.name.startsWith("pgvrt"));
  expect(vault, "immutableStorageWithVersioning.enabled", true);
  const blobService = ofType(snap, "Microsoft.Storage/storageAccounts/blobServices").find((service) => vault && service.name === `${vault.name}/default`);
  expect(blobService, "isVersioningEnabled", true);
  expect(blobService, "deleteRetentionPolicy.enabled", true);
  expect(blobService, "containerDeleteRetentionPolicy.enabled", true);
  for (const container of ofType(snap, "Microsoft.Storage/storageAccounts/blobServices/containers")) expect(container, "publicAccess", "None");
  expect(runtime, "publicNetworkAccess", "Disabled");
  expect(runtime, "networkAcls.defaultAction", "Deny");
  expect(runtime, "networkAcls.bypass", "None");
  return problems;
}

/** `mode → { setting: value }` from the vault modes table of docs/deploy.md (backticked `setting: value` pairs). */
export function documentedVaultModes(markdown: string): Map<string, Record<string, string>> {
  const modes = new Map<string, Record<string, string>>();
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) => /^\|\s*mode\s*\|\s*vault account settings\s*\|/.test(line));
  if (start < 0) throw new Error("docs/deploy.md has no `| mode | vault account settings | ...` table");
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    const [mode, settings] = line.split("|").slice(1, -1).map((cell) => cell.trim());
    const pairs: Record<string, string> = {};
    for (const match of settings!.matchAll(/`(\w+): ([^`]+)`/g)) pairs[match[1]!] = match[2]!;
    modes.set(mode!.replace(/`/g, ""), pairs);
  }
  return modes;
}

/** Where each documented setting lives on the account. */
const vaultSettingPaths: Record<string, string> = {
  publicNetworkAccess: "publicNetworkAccess",
  defaultAction: "networkAcls.defaultAction",
  bypass: "networkAcls.bypass",
};

/** The vault account's network settings against one documented mode (`resourceAccessRules: one per server`). */
export function vaultNetworkProblems(snap: Snapshot, documented: Record<string, string>, flexibleServerIds: readonly string[]): string[] {
  const problems: string[] = [];
  const vault = ofType(snap, "Microsoft.Storage/storageAccounts").find((account) => account.name.startsWith("pgvvault"));
  for (const [setting, wanted] of Object.entries(documented)) {
    if (setting === "resourceAccessRules") continue;
    const dotted = vaultSettingPaths[setting];
    if (!dotted) {
      problems.push(`docs name a vault setting the test does not know: ${setting}`);
      continue;
    }
    const actual = prop(vault, dotted);
    if (actual !== wanted) problems.push(`vault ${dotted} is ${JSON.stringify(actual)}, docs/deploy.md says ${wanted}`);
  }
  const rules = ((prop(vault, "networkAcls.resourceAccessRules") ?? []) as { resourceId: string }[]).map((rule) => rule.resourceId).sort();
  const wantedRules = documented.resourceAccessRules === "one per server" ? [...flexibleServerIds].sort() : [];
  if (JSON.stringify(rules) !== JSON.stringify(wantedRules)) problems.push(`vault resource instance rules ${JSON.stringify(rules)}, expected ${JSON.stringify(wantedRules)}`);
  for (const list of ["networkAcls.ipRules", "networkAcls.virtualNetworkRules"]) {
    const entries = (prop(vault, list) ?? []) as unknown[];
    if (entries.length > 0) problems.push(`vault ${list} is not empty: ${JSON.stringify(entries)}`);
  }
  if (!documented.publicNetworkAccess) problems.push("the documented mode does not say publicNetworkAccess");
  return problems;
}
