// The orchestrations of the conformance suite (test/local-host/conformance.test.ts), registered for the local host
// and exported for the replay driver, so both run the very same code. Plain JavaScript: the host loads it as is.
// One activity at a time (host.json), so results reach the engine in the order their tasks were scheduled, as the
// driver delivers them.
const df = require("durable-functions");

/** Attempts per key, for `flaky`; the test clears it between runs. */
const attempts = new Map();

// Inputs are objects, as pgvault's always are: string inputs travel differently through the extension (see
// docs/local-host.md), which neither the host nor the driver models.
const activities = {
  echo: (input) => input.value,
  fail: (input) => {
    throw new Error(`boom ${input.value}`);
  },
  // Fails until it has been called `failures` times for the same key, then answers the attempt count.
  flaky: (input) => {
    const count = (attempts.get(input.key) ?? 0) + 1;
    attempts.set(input.key, count);
    if (count <= input.failures) throw new Error(`flaky failure ${count}`);
    return count;
  },
};

/** The first line of a failure, as it reaches the orchestrator. */
const reasonOf = (err) => String(err.message).split("\n")[0].trim();

const orchestrations = {
  plainActivities: function* (context) {
    const a = yield context.df.callActivity("echo", { value: 1 });
    const b = yield context.df.callActivity("echo", { value: 2 });
    return [a, b];
  },

  exhaustedRetryThenMore: function* (context) {
    let caught;
    try {
      yield context.df.callActivityWithRetry("fail", new df.RetryOptions(20, 3), { value: "always" });
    } catch (err) {
      caught = reasonOf(err);
    }
    const after = yield context.df.callActivity("echo", { value: "after" });
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 50));
    return { caught, after };
  },

  retrySucceedsOnLast: function* (context) {
    const count = yield context.df.callActivityWithRetry("flaky", new df.RetryOptions(20, 3), { key: context.df.instanceId, failures: 2 });
    const after = yield context.df.callActivity("echo", { value: "after" });
    return { count, after };
  },

  fanOutOneFails: function* (context) {
    let caught;
    try {
      yield context.df.Task.all([context.df.callActivity("echo", { value: "a" }), context.df.callActivity("fail", { value: "b" }), context.df.callActivity("echo", { value: "c" })]);
    } catch (err) {
      caught = reasonOf(err);
    }
    const after = yield context.df.callActivity("echo", { value: "after" });
    return { caught, after };
  },

  fanOutWithRetry: function* (context) {
    // The retried branch's timer is due after the other branch has long finished, in both runs.
    const retry = new df.RetryOptions(1000, 2);
    const results = yield context.df.Task.all([
      context.df.callActivityWithRetry("flaky", retry, { key: context.df.instanceId, failures: 1 }),
      context.df.callActivity("echo", { value: "b" }),
    ]);
    return results;
  },

  anyFirstWins: function* (context) {
    const winner = yield context.df.Task.any([context.df.callActivity("echo", { value: "first" }), context.df.waitForExternalEvent("never")]);
    const after = yield context.df.callActivity("echo", { value: "after" });
    return { winner: winner.result, after };
  },

  timerThenEvent: function* (context) {
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 50));
    context.df.setCustomStatus("waiting");
    const approval = yield context.df.waitForExternalEvent("approval");
    const after = yield context.df.callActivity("echo", { value: approval });
    return { approval, after };
  },

  parentOfChild: function* (context) {
    const before = yield context.df.callActivity("echo", { value: "before" });
    const child = yield context.df.callSubOrchestrator("child", { tag: "x" }, `${context.df.instanceId}-child`);
    return { before, child };
  },

  child: function* (context) {
    return yield context.df.callActivity("echo", { value: { child: context.df.getInput() } });
  },

  counter: function* (context) {
    const n = context.df.getInput();
    if (n < 2) {
      yield context.df.callActivity("echo", { value: n });
      context.df.continueAsNew(n + 1);
      return;
    }
    return yield context.df.callActivity("echo", { value: `done at ${n}` });
  },
};

for (const [name, handler] of Object.entries(activities)) df.app.activity(name, { handler });
for (const [name, handler] of Object.entries(orchestrations)) df.app.orchestration(name, handler);

module.exports = { activities, orchestrations, clearAttempts: () => attempts.clear() };
