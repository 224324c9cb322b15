/**
 * How the app's modules may depend on each other: functions start orchestrations, orchestrations call activities,
 * activities do the work in shared/, so imports point that way only, and no module reaches itself through others
 * (a circle means neither can be read, tested or moved without the other). Type-only imports count too: they tie
 * the files together just the same.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, test } from "vitest";
import { sourceFiles } from "../support/sourceTree";

const layers = ["functions", "orchestrators", "activities", "shared"] as const;
type Layer = (typeof layers)[number];

function layerOf(file: string): Layer {
  return file.split("/")[0] as Layer;
}

/** Every app file's relative imports, resolved to app files (`shared/x.ts`). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of layers.flatMap((layer) => sourceFiles(layer))) {
    const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
    const targets: string[] = [];
    const visit = (node: ts.Node) => {
      const specifier =
        (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)
          ? node.moduleSpecifier.text
          : ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])
            ? node.arguments[0].text
            : undefined;
      if (specifier?.startsWith(".")) targets.push(path.normalize(path.join(path.dirname(file), specifier)) + ".ts");
      ts.forEachChild(node, visit);
    };
    visit(source);
    graph.set(file, targets);
  }
  return graph;
}

/** The circles of the graph (strongly connected components of more than one file, or a file importing itself). */
function circles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (file: string) => {
    index.set(file, counter);
    low.set(file, counter++);
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        connect(next);
        low.set(file, Math.min(low.get(file)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(file, Math.min(low.get(file)!, index.get(next)!));
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    for (let member = stack.pop()!; ; member = stack.pop()!) {
      onStack.delete(member);
      component.push(member);
      if (member === file) break;
    }
    if (component.length > 1 || graph.get(file)!.includes(file)) found.push(component.sort());
  };
  for (const file of graph.keys()) if (!index.has(file)) connect(file);
  return found;
}

describe("module layers", () => {
  const graph = importGraph();

  test("the graph is read: every layer has files, and orchestrators import activities", () => {
    for (const layer of layers) expect([...graph.keys()].some((file) => layerOf(file) === layer)).toBe(true);
    expect(graph.get("orchestrators/backup.ts")).toContain("activities/recordRecoveryPoint.ts");
  });

  test("imports point down only: functions > orchestrators > activities > shared", () => {
    const upward = [...graph].flatMap(([file, targets]) =>
      targets.filter((target) => layers.indexOf(layerOf(target)) < layers.indexOf(layerOf(file))).map((target) => `${file} imports ${target}`),
    );
    expect(upward).toEqual([]);
  });

  test("no module imports itself through others", () => {
    expect(circles(graph)).toEqual([]);
  });

  test("the circle finder finds a circle (a graph made to have one)", () => {
    const made = new Map([
      ["shared/a.ts", ["shared/b.ts"]],
      ["shared/b.ts", ["shared/c.ts"]],
      ["shared/c.ts", ["shared/a.ts"]],
      ["shared/d.ts", ["shared/a.ts"]],
    ]);
    expect(circles(made)).toEqual([["shared/a.ts", "shared/b.ts", "shared/c.ts"]]);
  });
});
