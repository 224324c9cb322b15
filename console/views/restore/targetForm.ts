/**
 * Step 2 of the restore wizard: where the point goes. The kinds offered are those the API takes for the point's
 * format (a dump: new database, overwrite, into a schema of a live database, files, CSV; a Flexible Server point:
 * a server, files, CSV), and each kind shows only the properties shared/validation/restore.ts accepts for it;
 * `preserveOwnership` hides `privileges` and `roles`, which it combines with only at their defaults.
 */
import { h, replaceChildren, type Child } from "../../dom";
import type { TargetChoice, TargetKind } from "./requestBody";

const kindLabels: Record<TargetKind, string> = {
  newDatabase: "A new database",
  overwrite: "Overwrite an existing database",
  intoSchema: "A new schema in a live database (tables restored beside what is there)",
  server: "A PostgreSQL server (the point's databases)",
  files: "Files in a blob container (the point's own files)",
  csv: "Tables as CSV files in a blob container",
};

type TextField = "host" | "port" | "database" | "secretRef" | "entraUser" | "intoSchema" | "containerUrl" | "prefix";
type FlagField = "preserveOwnership" | "replaceDatabases" | "replaceConfirmed" | "replaceFiles";

/**
 * Renders the form for `choice` into `host` (again whenever a choice changes which fields apply) and returns a
 * check for the Next button: true when the form is complete (the browser shows what is missing otherwise).
 */
export function targetForm(host: HTMLElement, kinds: readonly TargetKind[], choice: TargetChoice): () => boolean {
  const form = h("form", { class: "restore-target", novalidate: true, onsubmit: (event: Event) => event.preventDefault() });

  const text = (field: TextField, label: string, options: { required?: boolean; type?: string; hint?: string; placeholder?: string } = {}): Child => {
    const id = `target-${field}`;
    const hintId = options.hint ? `${id}-hint` : undefined;
    return [
      h("label", { for: id }, label),
      h("div", {},
        h("input", {
          id, name: field, type: options.type ?? "text", value: choice[field], required: options.required, placeholder: options.placeholder,
          ...(options.type === "number" ? { min: "1", max: "65535" } : {}),
          "aria-describedby": hintId, oninput: (event: Event) => (choice[field] = (event.target as HTMLInputElement).value),
        }),
        options.hint ? h("div", { id: hintId, class: "muted hint" }, options.hint) : null),
    ];
  };
  const flag = (field: FlagField, label: string, options: { required?: boolean; redraw?: boolean } = {}): Child => {
    const id = `target-${field}`;
    return h("div", { class: "check" },
      h("input", { id, type: "checkbox", checked: choice[field], required: options.required, onchange: (event: Event) => {
        choice[field] = (event.target as HTMLInputElement).checked;
        if (options.redraw) redraw(id);
      } }),
      " ", h("label", { for: id }, label));
  };
  const select = <K extends "privileges" | "roles">(field: K, label: string, options: [TargetChoice[K], string][]): Child => {
    const id = `target-${field}`;
    return [
      h("label", { for: id }, label),
      h("select", { id, onchange: (event: Event) => (choice[field] = (event.target as HTMLSelectElement).value as TargetChoice[K]) },
        options.map(([value, text]) => h("option", { value, selected: choice[field] === value }, text))),
    ];
  };

  const redraw = (focusId?: string) => {
    replaceChildren(form, ...fields());
    if (focusId) document.getElementById(focusId)?.focus();
  };

  const serverFields = (): Child => [
    text("host", "Host", { required: choice.signIn === "entra", hint: choice.signIn === "entra" ? "Required with Entra sign-in." : "Leave empty to use the secret's server; given, it must be the secret's." }),
    text("port", "Port", { type: "number", hint: "Leave empty for the secret's port (or 5432)." }),
    h("span", { class: "label", id: "target-signin-label" }, "Sign in with"),
    h("div", { role: "radiogroup", "aria-labelledby": "target-signin-label" },
      (["secret", "entra"] as const).map((way) => h("span", { class: "check" },
        h("input", { type: "radio", name: "signIn", id: `target-signin-${way}`, checked: choice.signIn === way, onchange: () => {
          choice.signIn = way;
          redraw(`target-signin-${way}`);
        } }),
        " ", h("label", { for: `target-signin-${way}` }, way === "secret" ? "a secret" : "the app's Microsoft Entra identity"), " "))),
    choice.signIn === "secret"
      ? text("secretRef", "Secret reference", { required: true, placeholder: "env:PGVAULT_SECRET_TARGET_PG", hint: "A reference, never the password itself: env:PGVAULT_SECRET_<NAME> or a Key Vault secret URI." })
      : text("entraUser", "PostgreSQL role of the app's identity", { required: true }),
  ];

  const grantsAndRoles = (): Child => [
    select("privileges", "Grants", [["all", "Restore the grants whose grantees exist on the target"], ["none", "Restore no grants"]]),
    select("roles", "Roles", [["skip", "Use only roles the target has"], ["createMissing", "Create missing roles from the point's role definitions"]]),
  ];

  const ownership = (): Child => [
    h("span", { class: "label" }, "Owners and grants"),
    flag("preserveOwnership", "Preserve ownership: every owner and grant exactly as in the source (the roles must exist on the target)", { redraw: true }),
    choice.preserveOwnership ? null : grantsAndRoles(),
  ];

  const serverDatabases = (): Child => [
    h("span", { class: "label" }, "Databases"),
    h("div", { class: "server-databases" },
      choice.serverDatabases.length === 0 ? h("p", { class: "muted" }, "Every database of the point, under its own name.") : null,
      choice.serverDatabases.map((db, i) => h("div", { class: "check" },
        h("input", { type: "checkbox", id: `target-db-${i}`, checked: db.selected, onchange: (event: Event) => (db.selected = (event.target as HTMLInputElement).checked) }),
        " ", h("label", { for: `target-db-${i}` }, `Restore ${db.name}`), " ",
        h("label", { for: `target-db-${i}-as` }, "as", h("span", { class: "restore-sr" }, ` (the name of ${db.name} on the target)`)), " ",
        h("input", { id: `target-db-${i}-as`, value: db.restoreAs, oninput: (event: Event) => (db.restoreAs = (event.target as HTMLInputElement).value) })))),
  ];

  const fields = (): Child[] => {
    const kind = choice.kind;
    const chooser = h("fieldset", { class: "target-kinds" }, h("legend", {}, "Restore to"), kinds.map((k) => h("div", { class: "check" },
      h("input", { type: "radio", name: "kind", id: `target-kind-${k}`, value: k, checked: k === kind, onchange: () => {
        choice.kind = k;
        choice.replaceConfirmed = false;
        redraw(`target-kind-${k}`);
      } }),
      " ", h("label", { for: `target-kind-${k}` }, kindLabels[k]))));
    const grid = (...children: Child[]) => h("div", { class: "form-grid" }, ...children);
    if (kind === "files" || kind === "csv") {
      return [chooser, grid(
        text("containerUrl", "Container URL", { required: true, type: "url", placeholder: "https://account.blob.core.windows.net/restores", hint: "No SAS token: the app signs in with its own identity." }),
        text("prefix", "Prefix", { hint: kind === "csv" ? "Each table becomes <prefix><schema>.<table>.csv." : "Each file becomes <prefix><file>." }),
        h("span", { class: "label" }, "Existing files"),
        flag("replaceFiles", "Replace files of the same names under the prefix"),
      )];
    }
    if (kind === "server") {
      return [chooser, grid(
        serverFields(),
        serverDatabases(),
        select("roles", "Roles", [["skip", "Use only roles the target has"], ["createMissing", "Create missing roles from the point's roles file"]]),
        h("span", { class: "label" }, "Existing databases"),
        h("div", {},
          flag("replaceDatabases", "Replace databases of the same names", { redraw: true }),
          choice.replaceDatabases ? flag("replaceConfirmed", "I understand that those databases are replaced, their sessions ended", { required: true }) : null),
      )];
    }
    return [chooser, grid(
      serverFields(),
      text("database", kind === "newDatabase" ? "New database name" : kind === "overwrite" ? "Database to overwrite" : "Live database", { required: true }),
      kind === "intoSchema"
        ? [text("intoSchema", "New schema", { required: true, hint: "Must not exist yet. Double-quote a name with capitals or spaces." }), grantsAndRoles()]
        : ownership(),
      kind === "overwrite"
        ? [h("span", { class: "label" }, "Confirm"), flag("replaceConfirmed", "I understand that this database is replaced by the restored one once the restore completed, its sessions ended", { required: true })]
        : null,
    )];
  };

  redraw();
  replaceChildren(host, form);
  return () => {
    const first = form.querySelector<HTMLInputElement>("#target-db-0");
    const noDatabase = choice.kind === "server" && choice.serverDatabases.length > 0 && !choice.serverDatabases.some((d) => d.selected);
    first?.setCustomValidity(noDatabase ? "Pick at least one database to restore." : "");
    return form.reportValidity();
  };
}
