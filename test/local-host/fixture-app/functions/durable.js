// A small app that exercises what the local host must provide beyond pgvault's own use: durable timers,
// external events, retries, sub-orchestrations, continue-as-new and a timer trigger. Plain JavaScript, so the
// host loads it without a build step, exactly as it loads pgvault's compiled files.
const { app } = require("@azure/functions");
const df = require("durable-functions");

const attempts = new Map();

df.app.activity("echo", { handler: (input) => ({ echoed: input }) });

// Fails until it has been called `failures` times for the same key, then succeeds.
df.app.activity("flaky", {
  handler: (input) => {
    const count = (attempts.get(input.key) ?? 0) + 1;
    attempts.set(input.key, count);
    if (count <= input.failures) throw new Error(`flaky failure ${count}`);
    return { attempts: count };
  },
});

// Sleeps `input.ms`, then answers with how often it ran for `input.key`: long enough for a test to stop the task
// hub's storage while it runs.
const sleeps = new Map();
df.app.activity("sleepy", {
  handler: async (input) => {
    const runs = (sleeps.get(input.key) ?? 0) + 1;
    sleeps.set(input.key, runs);
    await new Promise((resolve) => setTimeout(resolve, input.ms));
    return { slept: input.ms, runs };
  },
});

df.app.orchestration("sleepThenAnswer", function* (context) {
  return yield context.df.callActivity("sleepy", context.df.getInput());
});

df.app.orchestration("sequence", function* (context) {
  const first = yield context.df.callActivity("echo", context.df.getInput());
  const retry = new df.RetryOptions(50, 4);
  const flaky = yield context.df.callActivityWithRetry("flaky", retry, { key: context.df.instanceId, failures: 2 });
  const deadline = new Date(context.df.currentUtcDateTime.getTime() + 300);
  yield context.df.createTimer(deadline);
  context.df.setCustomStatus({ phase: "waiting for approval" });
  const approval = yield context.df.waitForExternalEvent("approval");
  const child = yield context.df.callSubOrchestrator("child", { from: context.df.instanceId });
  return { first, flaky, approval, child };
});

df.app.orchestration("child", function* (context) {
  const echoed = yield context.df.callActivity("echo", context.df.getInput());
  return { child: echoed };
});

df.app.orchestration("alwaysFails", function* (context) {
  yield context.df.callActivityWithRetry("flaky", new df.RetryOptions(20, 2), { key: context.df.instanceId, failures: 5 });
});

df.app.orchestration("counter", function* (context) {
  const n = context.df.getInput();
  if (n < 3) {
    yield context.df.callActivity("echo", n);
    context.df.continueAsNew(n + 1);
    return;
  }
  return n;
});

df.app.orchestration("waitsForever", function* (context) {
  yield context.df.waitForExternalEvent("never");
});

df.app.orchestration("ticked", function* (context) {
  return yield context.df.callActivity("echo", context.df.getInput());
});

// On the schedule in FIXTURE_SCHEDULE; one orchestration per tick, named after the following tick (unique).
df.app.client.timer("everyTwoSeconds", {
  schedule: "%FIXTURE_SCHEDULE%",
  handler: async (timer, client) => {
    const tick = new Date(timer.scheduleStatus.next).toISOString().replace(/[-:.]/g, "");
    await client.startNew("ticked", { instanceId: `tick-${tick}`, input: { isPastDue: timer.isPastDue } });
  },
});

app.http("hello", {
  route: "greetings/{name}",
  methods: ["GET"],
  handler: async (request) => ({ jsonBody: { hello: request.params.name, q: request.query.get("q") } }),
});
