/**
 * `#/protect` (issue 27, "Protect databases"): a server's databases found by `POST /api/discoverDatabases`, each
 * with its size, whether it is protected and the backup access check (with the grant script when it fails);
 * the selected ones protected under one policy by `POST /api/protectDatabases`, each answered on its own. A
 * Flexible Server is protected by its resource id (`PUT /api/backupInstances/{name}`), with the role assignments
 * pgvault's identity needs spelled out. Backup.Admin only.
 */
import type { BackupPolicy, ServerEndpoint } from "../../shared/domain";
import { resourceNamePattern } from "../../shared/domain";
import { flexServerRoleAssignments, roleAssignmentCommands } from "../../shared/flexServer/roleAssignments";
import { resourceIdProblems } from "../../shared/flexServer/resourceId";
import type { DiscoveredDatabase, Discovery, ProtectAnswer } from "../../shared/protect/answers";
import { api, segment } from "../api";
import { h, replaceChildren } from "../dom";
import { can } from "../roles";
import type { View } from "../router";
import { announce, errorPanel, formatBytes, pageHeading } from "../ui";

interface InstanceSummary {
  name: string;
  protectionState: string;
}

/** A default instance name for a database: the naming rule's characters only (the user can change it). */
function instanceNameFor(database: string): string {
  const base = database
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  const name = base.length >= 3 ? base : `db-${base || "x"}`.replace(/-+$/, "");
  return resourceNamePattern.test(name) ? name : "database";
}

let fieldIds = 0;
/** A labelled form row (`<label for>` and its control) in a `.form-grid`. */
function field(label: string, control: HTMLInputElement | HTMLSelectElement): HTMLElement[] {
  control.id ||= `protect-field-${++fieldIds}`;
  return [h("label", { for: control.id }, label), control];
}

async function databasePolicies(type: BackupPolicy["datasourceType"]): Promise<BackupPolicy[]> {
  const { value } = await api<{ value: BackupPolicy[] }>("GET", "backupPolicies");
  return value.filter((policy) => policy.datasourceType === type);
}

function policySelect(policies: BackupPolicy[]): HTMLSelectElement {
  const select = h("select", { required: true }, policies.map((policy) => h("option", { value: policy.name }, policy.name)));
  if (policies.length === 0) select.append(h("option", { value: "" }, "(no policy of this kind: create one first)"));
  return select;
}

/** The script in a copyable block; the copy button is a convenience, the text is selectable either way. */
function codeBlock(text: string, label: string): HTMLElement {
  const code = h("code", {}, text);
  const refused = () => announce("Copying is not allowed here: select the text instead");
  // The clipboard API exists only in secure contexts (HTTPS, localhost).
  const copyText = () => (navigator.clipboard ? void navigator.clipboard.writeText(text).then(() => announce(`${label} copied`), refused) : refused());
  const copy = h("button", { type: "button", class: "action", onclick: copyText }, `Copy ${label}`);
  return h("div", { class: "code-block" }, h("pre", { tabindex: "0", "aria-label": label }, code), copy);
}

/** Ids by position: database names may hold any character. */
const grantsId = (index: number) => `protect-grants-${index}`;

function accessCell(database: DiscoveredDatabase, index: number): HTMLElement {
  const access = database.access;
  if (access.ok) return h("td", {}, h("span", { class: "status ok" }, "Passes"));
  return h("td", {}, h("span", { class: "status failed" }, "Fails"), " ", h("code", {}, access.code), access.grantScript ? h("div", {}, h("a", { href: `#${grantsId(index)}`, onclick: (event: Event) => jumpTo(event, grantsId(index)) }, `Grant script for ${database.name}`)) : h("div", { class: "muted" }, access.message));
}

/** In-page links by id: the hash is the router's, so the target is focused rather than navigated to. */
function jumpTo(event: Event, id: string): void {
  event.preventDefault();
  const target = document.getElementById(id);
  target?.scrollIntoView();
  target?.focus();
}

function serverSection(): HTMLElement {
  const host = h("input", { type: "text", name: "host", autocomplete: "off", spellcheck: "false" });
  const port = h("input", { type: "number", name: "port", min: 1, max: 65535, placeholder: "5432 (or the secret's)" });
  const secretRef = h("input", { type: "text", name: "secretRef", autocomplete: "off", spellcheck: "false", placeholder: "https://<vault>.vault.azure.net/secrets/<name> or env:PGVAULT_SECRET_<NAME>" });
  const entraUser = h("input", { type: "text", name: "entraUser", autocomplete: "off", spellcheck: "false" });
  const useSecret = h("input", { type: "radio", name: "signIn", value: "secret", id: "protect-signin-secret", checked: true });
  const useEntra = h("input", { type: "radio", name: "signIn", value: "entra", id: "protect-signin-entra" });
  const secretRow = h("div", { class: "form-grid" }, field("Secret reference", secretRef));
  const entraRow = h("div", { class: "form-grid", hidden: true }, field("Microsoft Entra user (PostgreSQL role)", entraUser));
  const showSignIn = () => {
    secretRow.hidden = !useSecret.checked;
    entraRow.hidden = useSecret.checked;
  };
  useSecret.addEventListener("change", showSignIn);
  useEntra.addEventListener("change", showSignIn);
  const results = h("div", { "aria-live": "polite" });

  const endpoint = (): ServerEndpoint => {
    const address = { ...(host.value.trim() ? { host: host.value.trim() } : {}), ...(port.value ? { port: Number(port.value) } : {}) };
    return useSecret.checked ? { ...address, secretRef: secretRef.value.trim() } : { ...address, auth: { type: "entra", user: entraUser.value.trim() } };
  };

  const discover = async (event: Event) => {
    event.preventDefault();
    replaceChildren(results, h("p", { class: "muted" }, "Connecting and checking each database…"));
    const server = endpoint();
    try {
      const [discovery, policies] = await Promise.all([api<Discovery>("POST", "discoverDatabases", { body: server }), databasePolicies("database")]);
      replaceChildren(results, discoveryResults(discovery, server, policies));
      announce(`${discovery.value.length} databases found on ${discovery.server.host}:${discovery.server.port}`);
    } catch (err) {
      replaceChildren(results, errorPanel(err, "Discovery failed"));
    }
  };

  return h(
    "section",
    { class: "protect-section", "aria-labelledby": "protect-server-heading" },
    h("h2", { id: "protect-server-heading" }, "Databases on a server"),
    h(
      "form",
      { onsubmit: discover, "aria-labelledby": "protect-server-heading" },
      h("div", { class: "form-grid" }, field("Host", host), field("Port", port)),
      h(
        "fieldset",
        {},
        h("legend", {}, "Sign in with"),
        h("label", { for: useSecret.id, class: "choice" }, useSecret, " a secret (its credentials name the server)"),
        h("label", { for: useEntra.id, class: "choice" }, useEntra, " the app's Microsoft Entra identity"),
      ),
      secretRow,
      entraRow,
      h("p", {}, h("button", { type: "submit", class: "action primary" }, "Discover")),
    ),
    results,
  );
}

function discoveryResults(discovery: Discovery, server: ServerEndpoint, policies: BackupPolicy[]): HTMLElement {
  const rows = discovery.value.map((database, index) => {
    const select = h("input", { type: "checkbox", "aria-label": `Protect ${database.name}` });
    const name = h("input", { type: "text", value: database.instanceNames[0] ?? instanceNameFor(database.name), "aria-label": `Instance name for ${database.name}`, pattern: resourceNamePattern.source, size: 24 });
    return { database, index, select, name };
  });
  const policy = policySelect(policies);
  const outcome = h("div", { "aria-live": "polite" });
  const protect = async () => {
    const chosen = rows.filter((row) => row.select.checked);
    if (chosen.length === 0) {
      replaceChildren(outcome, h("p", { role: "alert" }, "Select at least one database to protect."));
      return;
    }
    replaceChildren(outcome, h("p", { class: "muted" }, `Protecting ${chosen.length} database(s)…`));
    try {
      const answer = await api<ProtectAnswer<InstanceSummary>>("POST", "protectDatabases", {
        body: { policyName: policy.value, server, databases: chosen.map((row) => ({ database: row.database.name, instanceName: row.name.value.trim() })) },
      });
      replaceChildren(outcome, protectResults(answer));
      announce(`${answer.protected} protected, ${answer.failed} failed`);
    } catch (err) {
      replaceChildren(outcome, errorPanel(err, "Protecting failed"));
    }
  };
  const failing = rows.filter(({ database }) => !database.access.ok && database.access.grantScript);
  return h(
    "div",
    {},
    h(
      "table",
      { class: "protect-table" },
      h("caption", {}, `Databases on ${discovery.server.host}:${discovery.server.port}, checked as user ${discovery.user}`),
      h("thead", {}, h("tr", {}, ["Protect", "Database", "Size", "Protected", "Backup access", "Instance name"].map((title) => h("th", { scope: "col" }, title)))),
      h(
        "tbody",
        {},
        rows.map(({ database, index, select, name }) =>
          h(
            "tr",
            {},
            h("td", {}, select),
            h("th", { scope: "row" }, database.name),
            h("td", { class: "number" }, database.sizeBytes === null ? h("span", { class: "muted" }, "not readable") : formatBytes(database.sizeBytes)),
            h("td", {}, database.protected ? `Yes: ${database.instanceNames.join(", ")}` : "No"),
            accessCell(database, index),
            h("td", {}, name),
          ),
        ),
      ),
    ),
    discovery.notListed > 0 ? h("p", { class: "muted" }, `${discovery.notListed} more databases are not listed.`) : null,
    failing.map(({ database, index }) =>
      h(
        "section",
        { id: grantsId(index), tabindex: "-1", class: "grant-script", "aria-labelledby": `${grantsId(index)}-heading` },
        h("h3", { id: `${grantsId(index)}-heading` }, `Grant script for ${database.name}`),
        !database.access.ok ? h("p", {}, database.access.message) : null,
        codeBlock(!database.access.ok ? (database.access.grantScript ?? "") : "", `grant script for ${database.name}`),
      ),
    ),
    h("div", { class: "form-grid" }, field("Policy", policy)),
    h("p", {}, h("button", { type: "button", class: "action primary", onclick: () => void protect() }, "Protect selected")),
    outcome,
  );
}

function protectResults(answer: ProtectAnswer<InstanceSummary>): HTMLElement {
  return h(
    "table",
    { class: "protect-table" },
    h("caption", {}, `Protection: ${answer.protected} protected, ${answer.failed} failed`),
    h("thead", {}, h("tr", {}, ["Database", "Instance", "Result", "Details"].map((title) => h("th", { scope: "col" }, title)))),
    h(
      "tbody",
      {},
      answer.value.map((outcome) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, outcome.database),
          h("td", {}, outcome.instanceName),
          h("td", {}, h("span", { class: `status ${outcome.result === "failed" ? "failed" : "ok"}` }, outcome.result === "failed" ? "Failed" : outcome.result === "created" ? "Created" : "Updated")),
          h(
            "td",
            {},
            outcome.result === "failed"
              ? [h("code", {}, outcome.error.code), ": ", outcome.error.message, outcome.error.recommendedAction ? h("div", {}, h("strong", {}, "What to do: "), outcome.error.recommendedAction) : null]
              : outcome.instance.protectionState,
          ),
        ),
      ),
    ),
  );
}

function flexServerSection(policies: BackupPolicy[]): HTMLElement {
  const resourceId = h("input", { type: "text", name: "resourceId", autocomplete: "off", spellcheck: "false", size: 60, placeholder: "/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.DBforPostgreSQL/flexibleServers/<server>" });
  const instanceName = h("input", { type: "text", name: "instanceName", pattern: resourceNamePattern.source });
  const policy = policySelect(policies);
  const roles = h("div", { "aria-live": "polite" });
  const outcome = h("div", { "aria-live": "polite" });
  const showRoles = () => {
    const id = resourceId.value.trim();
    if (!id || resourceIdProblems(id).length > 0) {
      replaceChildren(roles, h("p", { class: "muted" }, "Enter the server's resource id to see the role assignments pgvault's identity needs."));
      return;
    }
    if (!instanceName.value) instanceName.value = instanceNameFor(id.split("/").pop() ?? "");
    replaceChildren(
      roles,
      h("h3", {}, "Role assignments pgvault's identity needs"),
      h("ul", {}, flexServerRoleAssignments(id).map((assignment) => h("li", {}, h("strong", {}, assignment.role), ` (${assignment.roleDefinitionId}) on `, h("code", {}, assignment.scope), `: ${assignment.why}`))),
      codeBlock(roleAssignmentCommands(id), "role assignment commands"),
      h("p", { class: "muted" }, "Role assignments can take some minutes to apply; until then protecting answers UserErrorMSIMissingPermissions."),
    );
  };
  resourceId.addEventListener("input", showRoles);
  const submit = async (event: Event) => {
    event.preventDefault();
    replaceChildren(outcome, h("p", { class: "muted" }, "Checking the server…"));
    try {
      const instance = await api<InstanceSummary>("PUT", `backupInstances/${segment(instanceName.value.trim())}`, {
        body: { policyName: policy.value, datasource: { type: "flexibleServer", resourceId: resourceId.value.trim() } },
      });
      replaceChildren(outcome, h("p", { role: "status" }, `Protected as ${instance.name} (${instance.protectionState}).`));
    } catch (err) {
      replaceChildren(outcome, errorPanel(err, "Protecting the server failed"));
    }
  };
  showRoles();
  return h(
    "section",
    { class: "protect-section", "aria-labelledby": "protect-flex-heading" },
    h("h2", { id: "protect-flex-heading" }, "A Flexible Server"),
    h("p", {}, "Azure's long-term-retention backup of the whole server, stored in the vault."),
    h(
      "form",
      { onsubmit: submit, "aria-labelledby": "protect-flex-heading" },
      h("div", { class: "form-grid" }, field("Resource id", resourceId), field("Instance name", instanceName), field("Flexible Server policy", policy)),
      roles,
      h("p", {}, h("button", { type: "submit", class: "action primary" }, "Protect server")),
    ),
    outcome,
  );
}

export const protectView: View = {
  path: "/protect",
  title: () => "Protect",
  nav: { label: "Protect", role: "Backup.Admin", order: 20 },
  async render(main) {
    main.append(pageHeading("Protect databases"));
    if (!can("Backup.Admin")) {
      main.append(h("p", {}, "Protecting databases needs the Backup.Admin role."));
      return;
    }
    main.append(serverSection());
    let flexPolicies: BackupPolicy[] = [];
    try {
      flexPolicies = await databasePolicies("flexibleServer");
    } catch (err) {
      main.append(errorPanel(err, "The policies could not be read"));
    }
    main.append(flexServerSection(flexPolicies));
  },
};
