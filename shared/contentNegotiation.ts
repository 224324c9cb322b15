/**
 * Proactive content negotiation on the Accept header (RFC 9110 section 12.5.1,
 * https://www.rfc-editor.org/rfc/rfc9110#name-accept): each media range may carry a weight `q` (0 to 1, at most
 * three decimals; 0 means "not acceptable"); an offered type takes the weight of the most specific range that
 * matches it (`text/csv` over `text/*` over the any-type range). Parameters other than `q` are not matched (pgvault
 * offers one variant per type). A range that does not parse is left out; a header with none that parses counts as
 * absent, and no header accepts anything.
 */

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

const token = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const weight = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

function parseRange(text: string): MediaRange | undefined {
  const [range = "", ...parameters] = text.split(";").map((part) => part.trim());
  const [type, subtype, extra] = range.toLowerCase().split("/");
  if (type === undefined || subtype === undefined || extra !== undefined || !token.test(type) || !token.test(subtype)) return undefined;
  if (type === "*" && subtype !== "*") return undefined;
  let q = 1;
  for (const parameter of parameters) {
    const [name = "", value = ""] = parameter.split("=").map((part) => part.trim());
    if (name.toLowerCase() !== "q") continue;
    if (!weight.test(value)) return undefined;
    q = Number(value);
  }
  return { type, subtype, q };
}

/** 3: the exact type, 2: `type/*`, 1: any type, 0: no match. */
function specificity(range: MediaRange, offered: string): number {
  const [type, subtype] = offered.toLowerCase().split("/");
  if (range.type === "*") return 1;
  if (range.type !== type) return 0;
  if (range.subtype === "*") return 2;
  return range.subtype === subtype ? 3 : 0;
}

/** The weight the Accept header gives a media type (`text/csv`): that of its most specific matching range, else 0. */
function weightOf(ranges: readonly MediaRange[], offered: string): number {
  let best = 0;
  let q = 0;
  for (const range of ranges) {
    const level = specificity(range, offered);
    if (level > best || (level === best && level > 0 && range.q > q)) [best, q] = [level, range.q];
  }
  return q;
}

/**
 * Which of `offered` (in the server's order of preference) to answer with: the one the header weighs most, the
 * earlier on a tie; the first when there is no header. `undefined`: none is acceptable.
 */
export function negotiate<T extends string>(accept: string | null | undefined, offered: readonly [T, ...T[]]): T | undefined {
  if (accept === null || accept === undefined) return offered[0];
  const ranges = accept.split(",").flatMap((part) => parseRange(part) ?? []);
  if (ranges.length === 0) return offered[0];
  let chosen: T | undefined;
  let chosenQ = 0;
  for (const type of offered) {
    const q = weightOf(ranges, type);
    if (q > chosenQ) [chosen, chosenQ] = [type, q];
  }
  return chosen;
}
