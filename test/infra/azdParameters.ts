/**
 * infra/main.parameters.json as azd reads it: each value is either JSON (numbers, booleans) or a string in which
 * azd substitutes `${VAR}` and `${VAR=default}` from the environment. Compared with the compiled template's
 * parameters and with docs/deploy.md's table of `PGVAULT_*` variables.
 */
import type { ArmTemplate, ParameterValue } from "./compiledTemplate";

export interface ParametersFile {
  parameters: Record<string, { value: unknown }>;
}

const substitution = /^\$\{([A-Z0-9_]+)(?:=([^}]*))?\}$/;

export interface DocumentedVariable {
  variable: string;
  parameter: string;
  /** `''` for the table's "empty". */
  defaultValue: string;
}

/** Rows of the table whose header is `| variable | Bicep parameter | default | meaning |`. */
export function documentedVariables(markdown: string): DocumentedVariable[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) => /^\|\s*variable\s*\|\s*Bicep parameter\s*\|\s*default\s*\|/.test(line));
  if (start < 0) throw new Error("docs/deploy.md has no `| variable | Bicep parameter | default |` table");
  const rows: DocumentedVariable[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    const [variable, parameter, defaultValue] = line.split("|").slice(1, 4).map((cell) => cell.trim().replace(/`/g, ""));
    rows.push({ variable: variable!, parameter: parameter!, defaultValue: defaultValue === "empty" ? "" : defaultValue! });
  }
  return rows;
}

/** Every way the parameter file, the template and the doc disagree, one line each. */
export function azdParameterProblems(template: ArmTemplate, file: ParametersFile, markdown: string): string[] {
  const problems: string[] = [];
  const variables = new Map<string, { parameter: string; defaultValue: string | undefined }>();
  for (const [name, { value }] of Object.entries(file.parameters)) {
    const declared = template.parameters[name];
    if (!declared) {
      problems.push(`${name}: not a parameter of the template`);
      continue;
    }
    if (declared.type !== "string") {
      // azd substitutes into text: a `${VAR}` here would reach ARM as a string where a number or boolean is wanted.
      if (typeof value === "string") problems.push(`${name}: an ${declared.type} parameter must be set in the file as JSON, not from a variable (azd passes text)`);
      continue;
    }
    const match = typeof value === "string" ? substitution.exec(value) : null;
    if (!match) {
      problems.push(`${name}: value ${JSON.stringify(value)} is not \${VAR} or \${VAR=default}`);
      continue;
    }
    const defaultValue = match[2];
    variables.set(match[1]!, { parameter: name, defaultValue });
    if (defaultValue !== undefined && declared.allowedValues && !declared.allowedValues.includes(defaultValue)) {
      problems.push(`${name}: default ${defaultValue} is not one of ${declared.allowedValues.join(", ")}`);
    }
  }
  for (const [name, declared] of Object.entries(template.parameters)) {
    if (declared.defaultValue === undefined && !(name in file.parameters)) problems.push(`${name}: required by the template, missing from main.parameters.json`);
  }
  const documented = documentedVariables(markdown);
  for (const row of documented) {
    const actual = variables.get(row.variable);
    if (!actual) problems.push(`${row.variable}: in docs/deploy.md but not read by main.parameters.json`);
    else if (actual.parameter !== row.parameter) problems.push(`${row.variable}: docs say it sets ${row.parameter}, the file sets ${actual.parameter}`);
    else if ((actual.defaultValue ?? "") !== row.defaultValue) problems.push(`${row.variable}: docs say the default is '${row.defaultValue}', the file says '${actual.defaultValue ?? ""}'`);
  }
  for (const variable of variables.keys()) {
    if (variable.startsWith("PGVAULT_") && !documented.some((row) => row.variable === variable)) problems.push(`${variable}: read by main.parameters.json but not in docs/deploy.md's table`);
  }
  return problems;
}

/** The parameters azd would pass with only `known` set in the environment (every other variable at its default). */
export function azdDefaults(file: ParametersFile, known: Record<string, string>): Record<string, ParameterValue> {
  const values: Record<string, ParameterValue> = {};
  for (const [name, { value }] of Object.entries(file.parameters)) {
    if (typeof value !== "string") {
      values[name] = value as ParameterValue;
      continue;
    }
    const match = substitution.exec(value);
    values[name] = match ? (known[match[1]!] ?? match[2] ?? "") : value;
  }
  return values;
}
