/** What a recovery point holds (GET .../recoveryPoints/{rpId}/contents, docs/api.md "What a recovery point holds"). */
import { h } from "../dom";
import { formatBytes } from "../ui";

export interface PointContents {
  recoveryPointId: string;
  rows: "contentsRecord" | "notRecorded";
  databases: {
    database: string;
    schemas: string[];
    tables: { schema: string; name: string; rows?: number; dataBytes: number }[];
    objects: { kind: string; count: number }[];
  }[];
}

export function contentsView(contents: PointContents): HTMLElement {
  return h(
    "div",
    { class: "contents" },
    contents.databases.map((db) =>
      h(
        "section",
        { "aria-label": `Database ${db.database}` },
        h("h3", {}, `Database ${db.database}`),
        h("p", {}, `Schemas: ${db.schemas.join(", ") || "none"}`, db.objects.length > 0 ? `; also ${db.objects.map((o) => `${o.count} ${o.kind}`).join(", ")}` : ""),
        h(
          "table",
          {},
          h("caption", {}, `Tables of ${db.database}`),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Table"), h("th", { scope: "col" }, "Rows"), h("th", { scope: "col" }, "Data"))),
          h(
            "tbody",
            {},
            db.tables.map((table) =>
              h(
                "tr",
                {},
                h("th", { scope: "row" }, `${table.schema}.${table.name}`),
                h("td", { class: "num" }, table.rows === undefined ? "not recorded" : table.rows.toLocaleString("en")),
                h("td", { class: "num" }, formatBytes(table.dataBytes)),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}
