/**
 * Tests over the compiled infrastructure (issue 22): infra/main.bicep built by the pinned Bicep compiler, then
 * expanded by the compiler's `snapshot` for several parameter sets. What is checked is what ARM would be asked to
 * create: the role assignments (exactly docs/deploy.md's table), the storage accounts' security settings and network
 * rules (docs/deploy.md's vault modes), the fixed outbound address, the plan, and the parameters azd passes.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, test } from "vitest";
import { compile, mutatedInfra, ofType, prop, readTemplate, scope, snapshot, type ArmTemplate, type ParameterValue, type Snapshot } from "./compiledTemplate";
import {
  documentedGrants,
  documentedVaultModes,
  expectedGrants,
  grantKey,
  grantProblems,
  grantsOf,
  storageProblems,
  vaultNetworkProblems,
  type GrantScenario,
} from "./templateChecks";
import { azdParameterProblems, azdDefaults } from "./azdParameters";

const deployDoc = readFileSync("docs/deploy.md", "utf8");
const otherSubscription = "22222222-2222-2222-2222-222222222222";
const protectedGroups = [`/subscriptions/${otherSubscription}/resourceGroups/db-prod`, `/subscriptions/${scope.subscriptionId}/resourceGroups/db-test`];
const servers = [`/subscriptions/${otherSubscription}/resourceGroups/db-prod/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-sales`];
const deployer = "11111111-1111-1111-1111-111111111111";

/** Everything optional switched on: every conditional grant exists. */
const full = {
  environmentName: "prod",
  location: scope.location,
  principalId: deployer,
  protectedResourceGroupIds: protectedGroups.join(", "),
  flexibleServerIds: servers.join(","),
  encryptionKeys: true,
  vaultImmutability: "locked",
  keyVaultAdminIpRanges: "203.0.113.0/24",
} satisfies Record<string, ParameterValue>;
/** Nothing optional: the grants every deployment makes, and no more. */
const minimal = { environmentName: "dev", location: scope.location, vaultImmutability: "off" } satisfies Record<string, ParameterValue>;

function scenarioOf(parameters: Record<string, ParameterValue>): GrantScenario {
  const list = (key: string) => String(parameters[key] ?? "").split(",").map((id) => id.trim()).filter((id) => id !== "");
  return {
    principalId: String(parameters.principalId ?? ""),
    vaultImmutability: String(parameters.vaultImmutability ?? "unlocked"),
    encryptionKeys: parameters.encryptionKeys === true,
    protectedResourceGroupIds: list("protectedResourceGroupIds"),
    flexibleServerIds: list("flexibleServerIds"),
  };
}

let compiled: string;
let template: ArmTemplate;
const snapshots = new Map<string, Snapshot>();
function snap(parameters: Record<string, ParameterValue>): Snapshot {
  const key = JSON.stringify(parameters);
  if (!snapshots.has(key)) snapshots.set(key, snapshot(compiled, parameters));
  return snapshots.get(key)!;
}

beforeAll(() => {
  compiled = compile();
  template = readTemplate(compiled);
});

describe("role assignments", () => {
  test.each([
    ["every option on", full],
    ["no option on", minimal],
  ])("when %s, then the template grants exactly docs/deploy.md's table", (_what, parameters) => {
    const predicted = snap(parameters);
    const actual = grantsOf(predicted).map(grantKey).sort();
    expect(actual).toEqual(expectedGrants(documentedGrants(deployDoc), predicted, scenarioOf(parameters)));
    expect(grantProblems(predicted)).toEqual([]);
  });

  test("when every option is on, then the grants reach other subscriptions' servers but no subscription as a whole", () => {
    const scopes = grantsOf(snap(full)).map((grant) => grant.scope);
    expect(scopes).toEqual(expect.arrayContaining([...protectedGroups, ...servers]));
    expect(scopes.filter((s) => /^\/subscriptions\/[^/]+$/.test(s))).toEqual([]);
  });

  test("when nothing optional is on, then the app identity holds only data roles, AcrPull and EventGrid Data Sender", () => {
    expect(grantsOf(snap(minimal)).length).toBe(8);
  });

  describe("the checks fail when a grant widens", () => {
    const owner = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
    const widen = (edit: (assignment: Record<string, unknown>) => void): Snapshot => {
      const copy = structuredClone(snap(full));
      const assignment = ofType(copy, "Microsoft.Authorization/roleAssignments")[0]!;
      edit(assignment as unknown as Record<string, unknown>);
      return copy;
    };

    test("when a role becomes Owner, then both the table comparison and the forbidden-role check fail", () => {
      const widened = widen((a) => ((a.properties as Record<string, string>).roleDefinitionId = `/subscriptions/${scope.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${owner}`));
      expect(grantProblems(widened).join("\n")).toContain("Owner is never granted");
      expect(grantsOf(widened).map(grantKey).sort()).not.toEqual(expectedGrants(documentedGrants(deployDoc), widened, scenarioOf(full)));
    });

    test("when a grant moves to the subscription, then the scope check fails", () => {
      const widened = widen((a) => (a.id = `/subscriptions/${scope.subscriptionId}/providers/Microsoft.Authorization/roleAssignments/x`));
      expect(grantProblems(widened).join("\n")).toContain("whole subscription");
    });

    test("when the custom role gains an action, then the custom role check fails", () => {
      const copy = structuredClone(snap(full));
      const role = ofType(copy, "Microsoft.Authorization/roleDefinitions")[0]!;
      (prop(role, "permissions") as { actions: string[] }[])[0]!.actions.push("Microsoft.Storage/storageAccounts/write");
      expect(grantProblems(copy).join("\n")).toContain("control-plane actions");
    });

    test("when the Bicep grants Contributor instead of a data role, then the compiled template fails the checks", () => {
      const infra = mutatedInfra("modules/roleIds.bicep", "storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'", "storageBlobDataContributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c'");
      const predicted = snapshot(compile(infra), full);
      expect(grantProblems(predicted).join("\n")).toContain("Contributor is never granted");
      expect(grantsOf(predicted).map(grantKey).sort()).not.toEqual(expectedGrants(documentedGrants(deployDoc), predicted, scenarioOf(full)));
    });
  });
});

describe("storage accounts", () => {
  test.each([
    ["every option on", full],
    ["no option on", minimal],
  ])("when %s, then both accounts deny shared keys and require TLS 1.2 and HTTPS, and the vault is versioned, immutable per version and soft-deleting", (_what, parameters) => {
    expect(storageProblems(snap(parameters))).toEqual([]);
  });

  test("when the Bicep turns shared keys on for the vault, then the compiled template fails the storage check", () => {
    const infra = mutatedInfra("modules/vaultStorage.bicep", "allowSharedKeyAccess: false", "allowSharedKeyAccess: true");
    const problems = storageProblems(snapshot(compile(infra), minimal));
    expect(problems.join("\n")).toMatch(/pgvvault\w+: allowSharedKeyAccess is true/);
  });

  test("when an account drifts, then the storage check names it", () => {
    const copy = structuredClone(snap(minimal));
    const runtime = ofType(copy, "Microsoft.Storage/storageAccounts").find((account) => account.name.startsWith("pgvrt"))!;
    Object.assign(runtime.properties!, { minimumTlsVersion: "TLS1_0", publicNetworkAccess: "Enabled" });
    const blob = ofType(copy, "Microsoft.Storage/storageAccounts/blobServices")[0]!;
    Object.assign(blob.properties!, { isVersioningEnabled: false });
    const problems = storageProblems(copy).join("\n");
    expect(problems).toMatch(/pgvrt\w+: minimumTlsVersion/);
    expect(problems).toMatch(/pgvrt\w+: publicNetworkAccess/);
    expect(problems).toContain("isVersioningEnabled");
  });

  const modes = [...documentedVaultModes(deployDoc).entries()].filter(([mode]) => !mode.startsWith("auto"));
  test("docs/deploy.md documents the four explicit vault modes", () => {
    expect(modes.map(([mode]) => mode).sort()).toEqual(["off", "public", "resourceInstances", "trustedServices"]);
  });

  test.each(modes)("when vaultFlexibleServerAccess is %s, then the vault's network rules are what docs/deploy.md says", (mode, documented) => {
    expect(vaultNetworkProblems(snap({ ...full, vaultFlexibleServerAccess: mode }), documented, servers)).toEqual([]);
  });

  test("when vaultFlexibleServerAccess is auto, then it is off without Flexible Servers and public with them", () => {
    const documented = documentedVaultModes(deployDoc);
    expect(vaultNetworkProblems(snap(minimal), documented.get("off")!, [])).toEqual([]);
    expect(vaultNetworkProblems(snap(full), documented.get("public")!, servers)).toEqual([]);
  });

  test("when a mode opens the vault wider than documented, then the network check fails", () => {
    const documented = documentedVaultModes(deployDoc).get("trustedServices")!;
    const problems = vaultNetworkProblems(snap({ ...full, vaultFlexibleServerAccess: "public" }), documented, servers);
    expect(problems.join("\n")).toContain("networkAcls.defaultAction is \"Allow\"");
  });

  test("when admin ranges are set, then Key Vault opens to exactly them and nothing else; without them it is private", () => {
    const open = ofType(snap(full), "Microsoft.KeyVault/vaults")[0]!;
    expect(prop(open, "publicNetworkAccess")).toBe("Enabled");
    expect(prop(open, "networkAcls")).toEqual({ defaultAction: "Deny", bypass: "None", ipRules: [{ value: "203.0.113.0/24" }] });
    const closed = ofType(snap(minimal), "Microsoft.KeyVault/vaults")[0]!;
    expect(prop(closed, "publicNetworkAccess")).toBe("Disabled");
    expect(prop(closed, "enableRbacAuthorization")).toBe(true);
    expect(prop(closed, "enablePurgeProtection")).toBe(true);
  });
});

describe("the function app", () => {
  const site = (s: Snapshot) => ofType(s, "Microsoft.Web/sites")[0]!;
  const settings = (s: Snapshot) => prop(site(s), "siteConfig.appSettings") as { name: string; value: string }[];

  test("when deployed, then no app setting holds a key, and there is no Azure Files content share", () => {
    const all = settings(snap(full));
    expect(all.map((s) => s.name)).not.toContain("WEBSITE_CONTENTAZUREFILECONNECTIONSTRING");
    expect(all.map((s) => s.name)).not.toContain("WEBSITE_CONTENTSHARE");
    expect(all.filter((s) => /AccountKey=|SharedAccessSignature=|sig=/i.test(s.value))).toEqual([]);
    expect(all.find((s) => s.name === "WEBSITES_ENABLE_APP_SERVICE_STORAGE")?.value).toBe("false");
  });

  test("when the plan is Elastic Premium, then it scales on events up to maximumInstances with the runtime's own scale monitoring", () => {
    const predicted = snap({ ...minimal, maximumInstances: 7 });
    const plan = ofType(predicted, "Microsoft.Web/serverfarms")[0]!;
    expect(plan.sku).toEqual({ tier: "ElasticPremium", name: "EP1" });
    expect(prop(plan, "maximumElasticWorkerCount")).toBe(7);
    expect(prop(site(predicted), "siteConfig")).toMatchObject({ functionsRuntimeScaleMonitoringEnabled: true, minimumElasticInstanceCount: 1, functionAppScaleLimit: 7 });
  });

  test("when the plan is Dedicated, then it has a fixed instance count and Always On, and no event-driven scaling", () => {
    const predicted = snap({ ...minimal, planSku: "P1v3", maximumInstances: 3 });
    const plan = ofType(predicted, "Microsoft.Web/serverfarms")[0]!;
    expect(plan.sku).toEqual({ tier: "PremiumV3", name: "P1v3", capacity: 3 });
    expect(plan.kind).toBe("linux");
    const config = prop(site(predicted), "siteConfig") as Record<string, unknown>;
    expect(config.alwaysOn).toBe(true);
    expect(config).not.toHaveProperty("functionAppScaleLimit");
    expect(config).not.toHaveProperty("minimumElasticInstanceCount");
  });

  test("when the host first starts, then the deployments granting its storage, Key Vault and registry roles have finished", () => {
    const resources = template.resources as { name?: string; dependsOn?: string[] }[];
    const functionApp = resources.find((resource) => resource.name === "functionApp")!;
    const waitsFor = (functionApp.dependsOn ?? []).map((dependency) => /'([^']+)'\)\]$/.exec(dependency)?.[1]);
    expect(waitsFor).toEqual(expect.arrayContaining(["runtimeStorage", "vaultStorage", "keyVault", "registry", "identity"]));
  });
});

describe("outbound address", () => {
  test("when deployed, then the app subnet leaves through one NAT gateway with one static Standard public IP, output as PGVAULT_OUTBOUND_IP", () => {
    const predicted = snap(minimal);
    const vnet = ofType(predicted, "Microsoft.Network/virtualNetworks")[0]!;
    const subnets = prop(vnet, "subnets") as { name: string; properties: Record<string, { id: string } | undefined> }[];
    const nat = ofType(predicted, "Microsoft.Network/natGateways");
    const ips = ofType(predicted, "Microsoft.Network/publicIPAddresses");
    expect(nat).toHaveLength(1);
    expect(ips).toHaveLength(1);
    expect(subnets.find((subnet) => subnet.name === "app")?.properties.natGateway?.id).toBe(nat[0]!.id);
    expect(prop(nat[0], "publicIpAddresses")).toEqual([{ id: ips[0]!.id }]);
    expect(ips[0]!.sku).toMatchObject({ name: "Standard" });
    expect(prop(ips[0], "publicIPAllocationMethod")).toBe("Static");
    expect(template.outputs).toHaveProperty("PGVAULT_OUTBOUND_IP");
  });
});

describe("events and the dead man's switch", () => {
  test("when deployed, then the Event Grid topic takes CloudEvents only, signed in (no keys), from the app's address only, and the app publishes to it", () => {
    const predicted = snap(minimal);
    const topics = ofType(predicted, "Microsoft.EventGrid/topics");
    expect(topics).toHaveLength(1);
    expect(topics[0]!.apiVersion).toBe("2025-02-15");
    expect(prop(topics[0], "inputSchema")).toBe("CloudEventSchemaV1_0");
    expect(prop(topics[0], "disableLocalAuth")).toBe(true);
    const ip = ofType(predicted, "Microsoft.Network/publicIPAddresses")[0]!;
    expect(prop(topics[0], "inboundIpRules")).toEqual([{ ipMask: expect.stringContaining(ip.name), action: "Allow" }]);
    const setting = (prop(ofType(predicted, "Microsoft.Web/sites")[0], "siteConfig.appSettings") as { name: string; value: string }[]).find((s) => s.name === "EVENT_GRID_TOPIC_ENDPOINT");
    expect(setting?.value).toMatch(/Microsoft\.EventGrid\/topics.*\.endpoint/i);
  });

  test.each([
    ["pgvault-dev-scheduler-heartbeat", /customMetrics \| where name == "pgvault\.scheduler\.heartbeat" \| summarize beats = count\(\)$/, { operator: "LessThan", threshold: 1 }, "PT15M"],
    ["pgvault-dev-rpo-breached", /customMetrics \| where name == "pgvault\.rpo\.breached" .* by instance_name$/, { operator: "GreaterThan", threshold: 0 }, "PT1H"],
  ])("when deployed, then the log alert %s watches its metric", (name, query, condition, windowSize) => {
    const rule = ofType(snap({ ...minimal, alertEmail: "dba@example.com" }), "Microsoft.Insights/scheduledQueryRules").find((r) => r.name === name);
    expect(rule?.apiVersion).toBe("2023-12-01");
    expect(prop(rule, "windowSize")).toBe(windowSize);
    const [criterion, ...more] = prop(rule, "criteria.allOf") as { query: string }[];
    expect(more).toEqual([]);
    expect(criterion?.query).toMatch(query);
    expect(criterion).toMatchObject(condition);
    expect(prop(rule, "actions.actionGroups")).toEqual([expect.stringMatching(/Microsoft\.Insights\/actionGroups/i)]);
  });
});

describe("parameters azd passes", () => {
  const parametersFile = JSON.parse(readFileSync("infra/main.parameters.json", "utf8")) as { parameters: Record<string, { value: unknown }> };

  test("main.parameters.json, the template's parameters and docs/deploy.md's variable table agree", () => {
    expect(azdParameterProblems(template, parametersFile, deployDoc)).toEqual([]);
  });

  test("when azd passes main.parameters.json with every variable at its default, then the compiled template expands without diagnostics", () => {
    const predicted = snap(azdDefaults(parametersFile, { AZURE_ENV_NAME: "prod", AZURE_LOCATION: scope.location }));
    expect(predicted.diagnostics).toEqual([]);
    expect(ofType(predicted, "Microsoft.Web/sites")).toHaveLength(1);
  });

  test("when the file and the template drift, then the check names the difference", () => {
    const drifted = structuredClone(parametersFile);
    drifted.parameters.planSku = { value: "${PGVAULT_PLAN_SKU=Y1}" };
    drifted.parameters.maximumInstances = { value: "${PGVAULT_MAXIMUM_INSTANCES=10}" };
    drifted.parameters.retired = { value: "${PGVAULT_RETIRED=}" };
    delete drifted.parameters.environmentName;
    const problems = azdParameterProblems(template, drifted, deployDoc).join("\n");
    expect(problems).toContain("planSku: default Y1 is not one of");
    expect(problems).toContain("maximumInstances: an int parameter");
    expect(problems).toContain("retired: not a parameter of the template");
    expect(problems).toContain("environmentName: required by the template");
  });
});
