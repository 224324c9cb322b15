/**
 * Step 3 of the restore wizard: part of the point, picked from what its archive holds (GET
 * .../recoveryPoints/{rpId}/contents, docs/api.md "What a recovery point holds"): tables as checkboxes grouped by
 * schema (and by database for a Flexible Server point), and whole schemas where the target takes `include.schemas`
 * (not a CSV export, which names each table).
 */
import { h, replaceChildren } from "../../dom";
import { formatBytes } from "../../ui";
import type { SubsetPick } from "./requestBody";

/** The part of the contents answer the picker reads. */
export interface PointContents {
  databases: { database: string; tables: { schema: string; name: string; rows?: number; dataBytes?: number }[] }[];
}

const key = (...parts: string[]) => JSON.stringify(parts);

/** Renders the picker for `databases` of `contents` into `host`; `subset` is kept up to date as boxes change. */
export function tablePicker(host: HTMLElement, contents: PointContents, databases: readonly string[] | undefined, subset: SubsetPick, options: { schemas: boolean }): void {
  const shown = contents.databases.filter((db) => databases === undefined || databases.includes(db.database));
  const pickedTables = new Set(subset.tables.map((t) => key(t.database, t.schema, t.name)));
  const pickedSchemas = new Set(options.schemas ? subset.schemas.map((s) => key(s.database, s.schema)) : []);
  let counter = 0;

  const sync = () => {
    subset.tables = shown.flatMap((db) => db.tables.filter((t) => pickedTables.has(key(db.database, t.schema, t.name))).map((t) => ({ database: db.database, schema: t.schema, name: t.name })));
    subset.schemas = shown.flatMap((db) => [...new Set(db.tables.map((t) => t.schema))].filter((s) => pickedSchemas.has(key(db.database, s))).map((schema) => ({ database: db.database, schema })));
  };

  const schemaGroup = (database: string, schema: string, tables: PointContents["databases"][number]["tables"]) => {
    const boxes: HTMLInputElement[] = [];
    const whole = key(database, schema);
    const rows = tables.map((t) => {
      const id = `subset-${counter++}`;
      const box = h("input", { type: "checkbox", id, checked: pickedTables.has(key(database, t.schema, t.name)) || pickedSchemas.has(whole), disabled: pickedSchemas.has(whole), onchange: (event: Event) => {
        const k = key(database, t.schema, t.name);
        if ((event.target as HTMLInputElement).checked) pickedTables.add(k);
        else pickedTables.delete(k);
        sync();
      } });
      boxes.push(box);
      const facts = [t.rows !== undefined ? `${t.rows.toLocaleString("en")} rows` : "", t.dataBytes !== undefined ? formatBytes(t.dataBytes) : ""].filter(Boolean).join(", ");
      return h("div", { class: "check" }, box, " ", h("label", { for: id }, t.name, facts ? h("span", { class: "muted" }, ` (${facts})`) : null));
    });
    const wholeId = `subset-${counter++}`;
    return h("fieldset", { class: "subset-schema" },
      h("legend", {}, `Schema ${schema}`),
      options.schemas
        ? h("div", { class: "check whole-schema" },
            h("input", { type: "checkbox", id: wholeId, checked: pickedSchemas.has(whole), onchange: (event: Event) => {
              const on = (event.target as HTMLInputElement).checked;
              if (on) pickedSchemas.add(whole);
              else pickedSchemas.delete(whole);
              // A whole schema brings every table (and view, function...) in it: its tables are then not picked one by one.
              boxes.forEach((box) => {
                box.disabled = on;
                box.checked = on || pickedTables.has(key(database, schema, tables[boxes.indexOf(box)]!.name));
              });
              sync();
            } }),
            " ", h("label", { for: wholeId }, `The whole schema ${schema} (everything in it, views and functions too)`))
        : null,
      rows);
  };

  replaceChildren(host, shown.map((db) => {
    const schemas = [...new Set(db.tables.map((t) => t.schema))].sort();
    const groups = schemas.map((schema) => schemaGroup(db.database, schema, db.tables.filter((t) => t.schema === schema)));
    return contents.databases.length > 1 ? h("section", { class: "subset-database" }, h("h3", {}, `Database ${db.database}`), groups) : groups;
  }));
  if (shown.every((db) => db.tables.length === 0)) replaceChildren(host, h("p", {}, "The point holds no table."));
  sync();
}
