/**
 * A strict RFC 4180 reader for tests: every record ends in `eol` (CRLF for pgvault's files, LF for PostgreSQL's COPY
 * on this platform), a quote only opens a quoted field and a CR or LF only appears inside one. An empty unquoted
 * field reads as null, a quoted one as its text, so NULL and the empty string stay apart as PostgreSQL writes them.
 */
export type CsvValue = string | null;

export function parseCsvStrict(text: string, eol: "\r\n" | "\n"): CsvValue[][] {
  const records: CsvValue[][] = [];
  let record: CsvValue[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`not strict CSV at ${i} (${why}): ${JSON.stringify(text.slice(Math.max(0, i - 20), i + 20))}`);
  };
  while (i < text.length) {
    let value: CsvValue;
    if (text[i] === '"') {
      let j = i + 1;
      let out = "";
      for (;;) {
        const quote = text.indexOf('"', j);
        if (quote === -1) fail("unclosed quote");
        out += text.slice(j, quote);
        if (text[quote + 1] === '"') {
          out += '"';
          j = quote + 2;
        } else {
          i = quote + 1;
          break;
        }
      }
      value = out;
    } else {
      let j = i;
      while (j < text.length && text[j] !== "," && !text.startsWith(eol, j)) {
        if (text[j] === '"' || text[j] === "\r" || text[j] === "\n") {
          i = j;
          fail("quote, CR or LF in an unquoted field");
        }
        j++;
      }
      value = j === i ? null : text.slice(i, j);
      i = j;
    }
    record.push(value);
    if (text[i] === ",") {
      i++;
      if (i === text.length) fail("ends after a comma");
    } else if (text.startsWith(eol, i)) {
      records.push(record);
      record = [];
      i += eol.length;
    } else {
      fail(i === text.length ? "last record without its end" : "text after a quoted field");
    }
  }
  return records;
}
