/**
 * Builds a benchmark database of a given size (pg_database_size) out of realistic, moderately compressible rows:
 * customers with names and addresses, orders with jsonb line items, events with jsonb payloads, plus the indexes
 * such tables usually have. Rows are generated server-side (INSERT ... SELECT generate_series) in batches, and the
 * batch size is adapted to the measured growth so the database ends within about 1% of the target.
 */
import pg from "pg";

const words = (
  "the a of and to in is was for on with as by at from that this it be are have not but or an they which you " +
  "order customer delivery package invoice payment account service support request update review product price " +
  "quality shipping address return refund warranty discount offer store online market team project report week " +
  "month year today tomorrow morning evening quick slow late early happy great good better best simple clear " +
  "please thanks again really very still just also always never sometimes arrived missing damaged replaced " +
  "checked confirmed cancelled delayed expected received requested approved pending available limited " +
  "garden kitchen office travel music books sports health beauty toys tools coffee bicycle window table chair"
).split(" ");
const firstNames = (
  "Anna Ben Clara David Emma Felix Greta Hannah Ivan Julia Karl Lena Max Nora Oskar Paula Quentin Rosa Samuel " +
  "Tina Ulrich Vera Walter Xenia Yusuf Zoe Liam Olivia Noah Mia Elias Sofia Jonas Lea Luca Amelie Finn Marie Leon Ella"
).split(" ");
const lastNames = (
  "Miller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch Richter Klein Wolf Neumann " +
  "Schwarz Braun Zimmermann Hartmann Krueger Smith Johnson Brown Garcia Martinez Rossi Russo Dubois Martin Bernard " +
  "Novak Kowalski Jensen Nielsen Larsen Silva Santos Costa Murphy Kelly"
).split(" ");
const streets = (
  "Main Street|High Street|Church Road|Station Road|Park Avenue|Mill Lane|Oak Drive|Elm Street|Lindenallee|" +
  "Hauptstrasse|Bahnhofstrasse|Gartenweg|Schillerstrasse|Goethestrasse|Rue de la Paix|Via Roma|Calle Mayor|" +
  "Kings Road|Queens Road|Victoria Street|Harbour View|River Walk|Meadow Close|Hill Crest|Market Square"
).split("|");
const cities = (
  "Berlin|Hamburg|Munich|Cologne|Frankfurt|Stuttgart|Vienna|Zurich|Paris|Lyon|Madrid|Barcelona|Rome|Milan|" +
  "London|Manchester|Dublin|Amsterdam|Rotterdam|Brussels|Copenhagen|Oslo|Stockholm|Helsinki|Warsaw|Prague|Lisbon"
).split("|");
const countries = "DE AT CH FR ES IT GB IE NL BE DK NO SE FI PL CZ PT".split(" ");
const products = (
  "Espresso Machine|Coffee Grinder|Water Bottle|Running Shoes|Yoga Mat|Desk Lamp|Office Chair|Notebook|" +
  "Fountain Pen|Backpack|Rain Jacket|Wool Sweater|Garden Hose|Cordless Drill|Screwdriver Set|Bicycle Helmet|" +
  "Bluetooth Speaker|Headphones|Phone Case|USB Cable|Board Game|Puzzle|Cookbook|Novel|Tea Kettle|Frying Pan"
).split("|");
const agents = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
  "okhttp/4.12.0",
];
const statuses = ["pending", "paid", "shipped", "delivered", "cancelled", "returned"];
const eventKinds = ["page_view", "search", "add_to_cart", "checkout", "login", "logout", "review", "support_ticket"];

/** The word lists as query parameters $1..$9, exposed to every batch as columns of a one-row subquery `d`. */
const lists = { words, firstNames, lastNames, streets, cities, countries, products, agents, statuses, eventKinds };
const listNames = Object.keys(lists) as (keyof typeof lists)[];
const listParams = listNames.map((name) => lists[name]);
const fromLists = `(SELECT ${listNames.map((name, i) => `$${i + 1}::text[] AS "${name}"`).join(", ")}) d`;
const nextParam = `$${listNames.length + 1}`;

/** A random element of a list. */
const pick = (name: keyof typeof lists): string => `d."${name}"[1 + floor(random() * ${lists[name].length})::int]`;
/**
 * A sentence of `4 + (g % span)` random words: referencing `g` makes PostgreSQL evaluate it per row, and `i` keeps
 * the aggregate at the subquery's level.
 */
const sentence = (span: number): string =>
  `(SELECT string_agg(d.words[1 + (floor(random() * ${words.length})::int + i) % ${words.length}], ' ') || '.'
    FROM generate_series(1, 4 + (g % ${span})) i)`;
const timeWithin = (from: string, years: number): string => `timestamptz '${from}' + random() * interval '${years} years'`;

const schema = `
  CREATE TABLE customers (
    id bigint PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL, email text NOT NULL, phone text,
    street text, city text, postal_code text, country char(2), created_at timestamptz NOT NULL,
    loyalty_points integer, balance numeric(12, 2), notes text);
  CREATE TABLE orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer_id bigint NOT NULL, status text NOT NULL,
    ordered_at timestamptz NOT NULL, reference text, total numeric(12, 2), currency char(3), shipping_address text, items jsonb,
    comment text);
  CREATE TABLE events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer_id bigint, kind text NOT NULL,
    occurred_at timestamptz NOT NULL, payload jsonb);
  CREATE INDEX customers_email ON customers (email);
  CREATE INDEX orders_customer ON orders (customer_id);
  CREATE INDEX orders_ordered_at ON orders (ordered_at);
  CREATE INDEX events_occurred_at ON events (occurred_at);`;

/** One "unit" is a customer with three orders and four events; `nextParam` is the first customer id of the batch. */
function batchStatements(units: number): string[] {
  const customerIds = `generate_series(${nextParam}::bigint, ${nextParam}::bigint + ${units - 1}) g`;
  const someCustomer = `${nextParam}::bigint + floor(random() * ${units})::bigint`;
  return [
    `INSERT INTO customers
     SELECT g, f, l, lower(f || '.' || l || (g % 997)) || '@example.' || lower(${pick("countries")}),
            '+49 ' || (1500000000 + floor(random() * 99999999))::bigint, (1 + g % 180) || ' ' || ${pick("streets")},
            ${pick("cities")}, lpad((floor(random() * 99999))::int::text, 5, '0'), ${pick("countries")},
            ${timeWithin("2015-01-01", 10)}, floor(random() * 5000)::int, round((random() * 2000 - 200)::numeric, 2),
            CASE WHEN g % 3 = 0 THEN ${sentence(20)} END
     FROM (SELECT g, ${pick("firstNames")} AS f, ${pick("lastNames")} AS l, d.* FROM ${fromLists}, ${customerIds}) d`,
    `INSERT INTO orders (customer_id, status, ordered_at, reference, total, currency, shipping_address, items, comment)
     SELECT ${someCustomer}, ${pick("statuses")}, ${timeWithin("2018-01-01", 7)},
            'ORD-' || upper(substr(md5(random()::text), 1, 10)), round((random() * 500)::numeric, 2), 'EUR',
            (1 + g % 180) || ' ' || ${pick("streets")} || ', ' || ${pick("cities")},
            (SELECT jsonb_agg(jsonb_build_object(
               'line', i, 'sku', 'SKU-' || lpad((floor(random() * 50000))::int::text, 6, '0'), 'name', ${pick("products")},
               'quantity', 1 + floor(random() * 4)::int, 'unit_price', round((random() * 150)::numeric, 2)))
             FROM generate_series(1, 1 + (g % 4)) i),
            CASE WHEN g % 2 = 0 THEN ${sentence(12)} END
     FROM ${fromLists}, generate_series(1, ${3 * units}) g`,
    `INSERT INTO events (customer_id, kind, occurred_at, payload)
     SELECT ${someCustomer}, ${pick("eventKinds")}, ${timeWithin("2023-01-01", 2)},
            jsonb_build_object(
              'session', substr(md5(random()::text), 1, 16), 'ip', '10.' || (g % 256) || '.' || floor(random() * 256)::int || '.' || floor(random() * 256)::int,
              'user_agent', ${pick("agents")}, 'path', '/' || ${pick("words")} || '/' || ${pick("products")},
              'duration_ms', floor(random() * 2000)::int, 'ok', random() > 0.05,
              'tags', jsonb_build_array(${pick("words")}, ${pick("words")}))
     FROM ${fromLists}, generate_series(1, ${4 * units}) g`,
  ];
}

async function databaseSize(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ size: string }>("SELECT pg_database_size(current_database()) AS size");
  return Number(rows[0]?.size);
}

/**
 * Fills the (empty) database `client` is connected to until pg_database_size reaches `targetBytes`, then
 * vacuums it so the measured dumps do not pay for hint bits. Returns the final size.
 */
export async function generateDataset(client: pg.Client, targetBytes: number, log: (line: string) => void): Promise<number> {
  await client.query(schema);
  let size = await databaseSize(client);
  let nextCustomer = 1;
  let units = 20_000;
  const started = Date.now();
  while (size < targetBytes * 0.995) {
    await client.query("BEGIN");
    for (const sql of batchStatements(units)) await client.query(sql, [...listParams, nextCustomer]);
    await client.query("COMMIT");
    nextCustomer += units;
    const grown = await databaseSize(client);
    const bytesPerUnit = Math.max(1, (grown - size) / units);
    size = grown;
    const seconds = (Date.now() - started) / 1000;
    log(`  generated ${(size / 2 ** 20).toFixed(0)} MiB of ${(targetBytes / 2 ** 20).toFixed(0)} MiB (${seconds.toFixed(0)} s)`);
    units = Math.max(1000, Math.min(100_000, Math.round((targetBytes - size) / bytesPerUnit)));
  }
  log("  vacuuming (freeze, analyze)");
  await client.query("VACUUM (FREEZE, ANALYZE)");
  return databaseSize(client);
}
