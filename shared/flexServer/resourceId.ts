/**
 * ARM resource ids of Flexible Servers:
 * `/subscriptions/<uuid>/resourceGroups/<rg>/providers/Microsoft.DBforPostgreSQL/flexibleServers/<name>`.
 * Checked with ARM's own rules, so a typo is a 400 at configure time rather than a 404 at the first backup.
 */

export interface FlexServerAddress {
  subscriptionId: string;
  resourceGroup: string;
  serverName: string;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Resource group names: 1-90 letters, digits, `_-.()`, not ending in a period. */
const resourceGroupPattern = /^[-\w.()]{0,89}[-\w()]$/;
/** Flexible Server names: 3-63 lowercase letters, digits and inner hyphens. */
const serverNamePattern = /^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/;
const providerSegments = ["providers", "microsoft.dbforpostgresql", "flexibleservers"];

/** The problems of a resource id, one line each; empty when it is a valid Flexible Server id. */
export function resourceIdProblems(resourceId: string): string[] {
  const parts = resourceId.split("/");
  const [empty, subscriptions, subscriptionId, resourceGroups, resourceGroup, providers, namespace, type, serverName, ...rest] = parts;
  const shapeOk =
    empty === "" &&
    subscriptions?.toLowerCase() === "subscriptions" &&
    resourceGroups?.toLowerCase() === "resourcegroups" &&
    [providers, namespace, type].every((segment, i) => segment?.toLowerCase() === providerSegments[i]) &&
    serverName !== undefined &&
    rest.length === 0;
  if (!shapeOk) {
    return ["must be /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.DBforPostgreSQL/flexibleServers/<server>"];
  }
  const problems: string[] = [];
  if (!uuidPattern.test(subscriptionId ?? "")) problems.push("the subscription id must be a UUID");
  if (!resourceGroupPattern.test(resourceGroup ?? "")) problems.push("the resource group name must be 1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'");
  if (!serverNamePattern.test(serverName)) problems.push("the server name must be 3-63 lowercase letters, digits or inner hyphens");
  return problems;
}

/** The parts of a resource id that has passed `resourceIdProblems`. */
export function parseResourceId(resourceId: string): FlexServerAddress {
  const parts = resourceId.split("/");
  return { subscriptionId: parts[2]!, resourceGroup: parts[4]!, serverName: parts[8]! };
}
