/** Facts about one thing (an instance, a job) as a definition list: term, then its value. */
import { h, type Child } from "../dom";

export type Fact = readonly [term: string, ...value: Child[]];

/** `null` entries (facts that do not apply) are left out. */
export const factList = (...facts: (Fact | null)[]) =>
  h("dl", { class: "facts" }, facts.map((fact) => (fact ? [h("dt", {}, fact[0]), h("dd", {}, ...fact.slice(1))] : null)));
