/**
 * Settings parity (issue 10): every app setting the code reads is set by the function app's settings in the compiled
 * template (issue 22: infra/main.bicep built by the Bicep compiler and expanded by its snapshot, not the Bicep text)
 * or documented as optional in docs/configuration.md, and local.settings.sample.json lists the same names. The
 * settings are found on the syntax trees of the sources, so a new `env.X` cannot slip past.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, test } from "vitest";
import { loadConfig } from "../../shared/config";
import { parseSource } from "../support/sourceTree";
import { compile, scope, snapshot, type Snapshot } from "./compiledTemplate";
import {
  compiledAppSettings,
  documentedSettings,
  parityProblems,
  sampleSettingNames,
  settingReadsIn,
  settingReadsUnder,
  type ParityInput,
  type SettingReads,
} from "./settingsParity";

const appRoots = ["functions", "orchestrators", "activities", "shared"];
/** Process environment, not app settings: what child processes inherit. */
const operatingSystemVariables = new Set(["PATH"]);
/** Reads named at run time by user input: `env:<NAME>` secret and key references (development only, documented). */
const dynamicReadFiles = ["shared/encryption/dataKeys.ts", "shared/secrets/resolveSecret.ts"];
/** DefaultAzureCredential (shared/azureCredential.ts) reads it to pick the user-assigned identity. */
const readByLibraries = ["AZURE_CLIENT_ID"];
/** What the Functions host reads (identity-based forms are `AzureWebJobsStorage__*`). */
const readByHost = ["FUNCTIONS_EXTENSION_VERSION", "FUNCTIONS_WORKER_RUNTIME", "WEBSITES_ENABLE_APP_SERVICE_STORAGE", "AzureWebJobsStorage"];

let parsed: SettingReads | undefined;
let compiled: Snapshot;

beforeAll(() => {
  compiled = snapshot(compile(), { environmentName: "parity", location: scope.location });
});

/** Parsed once: every test reads the same tree. */
function appReads(): SettingReads {
  if (!parsed) {
    parsed = settingReadsUnder(appRoots);
    for (const name of operatingSystemVariables) parsed.names.delete(name);
  }
  return parsed;
}

function actualInput(): ParityInput {
  return {
    readByCode: [...appReads().names.keys()],
    readByLibraries,
    readByHost,
    bicep: compiledAppSettings(compiled),
    documented: documentedSettings(readFileSync("docs/configuration.md", "utf8")),
    sample: sampleSettingNames(readFileSync("local.settings.sample.json", "utf8")),
  };
}

describe("settings parity", () => {
  test("finds the settings shared/config.ts reads, in every form it reads them", () => {
    const names = [...appReads().names.keys()];
    // One of each form: env.NAME, env[constant], and names only the identity-based vault connection uses.
    expect(names).toEqual(expect.arrayContaining(["VaultStorage", "VaultStorage__clientId", "APPLICATIONINSIGHTS_CONNECTION_STRING", "MAX_CONCURRENT_DUMPS"]));
    expect(names.length).toBeGreaterThanOrEqual(15);
  });

  test("only the env: reference resolvers read a setting whose name is not a constant", () => {
    const dynamic = appReads().dynamic.map((at) => at.replace(/:\d+$/, ""));
    expect([...new Set(dynamic)].sort()).toEqual(dynamicReadFiles);
  });

  test("every app setting the code reads is set by the Bicep or documented as optional, and the sample lists the same names", () => {
    expect(parityProblems(actualInput())).toEqual([]);
  });

  test("the sample's values are a configuration the app starts with", () => {
    const values = (JSON.parse(readFileSync("local.settings.sample.json", "utf8")) as { Values: Record<string, string> }).Values;
    const config = loadConfig(values);
    expect(config.vault.kind).toBe("connectionString");
    expect(config.authMode).toBeUndefined();
  });

  test("the local host's own settings are documented in docs/local-host.md", () => {
    const hostOnly = [...settingReadsUnder(["local-host"]).names.keys()].filter((name) => !appReads().names.has(name) && !readByHost.includes(name));
    expect(hostOnly).toEqual(expect.arrayContaining(["PGVAULT_API_KEY", "PORT"]));
    const doc = readFileSync("docs/local-host.md", "utf8");
    expect(hostOnly.filter((name) => !doc.includes(`\`${name}\``))).toEqual([]);
  });

  describe("the check fails when the lists drift", () => {
    test.each([
      ["a setting read by code but neither set by the Bicep nor documented", (input: ParityInput) => ({ ...input, readByCode: [...input.readByCode, "NEW_SETTING"] }), "NEW_SETTING: read by the app but not documented"],
      ["a required setting the Bicep stops setting", (input: ParityInput) => ({ ...input, bicep: input.bicep.filter((name) => name !== "VaultStorage__blobServiceUri"), documented: input.documented.map((row) => (row.name === "VaultStorage__blobServiceUri" ? { ...row, required: "yes" } : row)) }), "VaultStorage__blobServiceUri: documented as required but not set by the Bicep"],
      ["a name missing from the sample", (input: ParityInput) => ({ ...input, sample: input.sample.filter((name) => name !== "MAX_CONCURRENT_DUMPS") }), "MAX_CONCURRENT_DUMPS: read by the app but missing from local.settings.sample.json"],
      ["a sample name nothing reads", (input: ParityInput) => ({ ...input, sample: [...input.sample, "STALE"] }), "STALE: listed in local.settings.sample.json but read by nothing"],
      ["a Bicep setting nothing reads", (input: ParityInput) => ({ ...input, bicep: [...input.bicep, "STALE"] }), "STALE: set by the Bicep but read by nothing"],
      ["a platform setting the Bicep sets", (input: ParityInput) => ({ ...input, bicep: [...input.bicep, "WEBSITE_AUTH_ENABLED"] }), "WEBSITE_AUTH_ENABLED: set by the platform"],
    ])("%s", (_what, drift, expected) => {
      expect(parityProblems(drift(actualInput())).join("\n")).toContain(expected);
    });

    test("the reader sees property, element and constant-named reads", () => {
      const source = parseSource("sample.ts", [
        'const name = "BY_CONSTANT";',
        "function read(env: Record<string, string | undefined>) {",
        "  return [env.BY_PROPERTY, env['BY_LITERAL'], env[name], process.env.BY_PROCESS, process.env[String(1)]];",
        "}",
      ].join("\n"));
      const reads = settingReadsIn(source);
      expect([...reads.names.keys()].sort()).toEqual(["BY_CONSTANT", "BY_LITERAL", "BY_PROCESS", "BY_PROPERTY"]);
      expect(reads.dynamic).toEqual(["sample.ts:3"]);
    });

    test("the compiled-template reader takes every app setting name of the one function app, and refuses a template without one", () => {
      const site = { id: "s", type: "Microsoft.Web/sites", name: "s", apiVersion: "x", properties: { siteConfig: { appSettings: [{ name: "A", value: "x" }, { name: "B", value: "[parameters('b')]" }] } } };
      expect(compiledAppSettings({ predictedResources: [site], diagnostics: [], outputs: {} })).toEqual(["A", "B"]);
      expect(() => compiledAppSettings({ predictedResources: [], diagnostics: [], outputs: {} })).toThrow(/Microsoft.Web\/sites/);
    });
  });
});
