/**
 * How events raised outside an orchestration are handed to the eventPublishing orchestration
 * (shared/events/eventPublishing.ts): in orchestrations of at most 50 (the input is stored in the history), each
 * with an id made of its events' ids, so the same events started again name the same orchestration. Runs with a
 * topic (the setting is read once per process); test/events/eventsOff.test.ts shows nothing is started without.
 */
import { expect, test } from "vitest";
import { eventPublishingInstanceId, eventPublishingOrchestrationName, eventsPerOrchestration, startEventPublishing, type EventPublishingInput } from "../../shared/events/eventPublishing";
import { recoveryPointDeletedEvent } from "../../shared/events/eventFactories";
import { useDurableClientStandIn } from "../support/durableClientStandIn";
import { useEventGridTopic } from "../support/eventGridServer";

useEventGridTopic(() => undefined);
const durable = useDurableClientStandIn();

const deletions = (count: number, prefix: string) =>
  Array.from({ length: count }, (_, i) =>
    recoveryPointDeletedEvent({ instanceName: `${prefix}-${i}`, id: `rp-${i}`, softDeletedAt: "2026-12-07T10:00:00Z", purgeAfter: "2026-12-21T10:00:00Z" }),
  );

test("when 120 events are started, then they go in 3 orchestrations of 50, 50 and 20, in order, each named by its events' ids", async () => {
  const events = deletions(120, "chunked");
  const { client } = durable().client("scheduler");
  const before = durable().started.length;

  const ids = await startEventPublishing(client, events, (line) => expect.fail(line));

  const started = durable().started.slice(before);
  expect(eventsPerOrchestration).toBe(50);
  expect(started.map((start) => start.name)).toEqual([eventPublishingOrchestrationName, eventPublishingOrchestrationName, eventPublishingOrchestrationName]);
  expect(started.map((start) => (start.input as EventPublishingInput).events.length)).toEqual([50, 50, 20]);
  expect(started.flatMap((start) => (start.input as EventPublishingInput).events)).toEqual(events);
  expect(started.map((start) => start.instanceId)).toEqual(ids);
  expect(ids).toEqual([eventPublishingInstanceId(events.slice(0, 50)), eventPublishingInstanceId(events.slice(50, 100)), eventPublishingInstanceId(events.slice(100))]);
  expect(new Set(ids).size).toBe(3);
});

test("when the same events are started twice, then both starts name the same orchestration; other events name another", async () => {
  const { client } = durable().client("scheduler");
  const [first] = await startEventPublishing(client, deletions(2, "twice"), (line) => expect.fail(line));
  const [again] = await startEventPublishing(client, deletions(2, "twice"), (line) => expect.fail(line));
  const [other] = await startEventPublishing(client, deletions(2, "other"), (line) => expect.fail(line));
  expect(first).toMatch(/^events-[0-9a-f]{32}$/);
  expect(again).toBe(first);
  expect(other).not.toBe(first);
});

test("when there are no events, then no orchestration is started", async () => {
  const { client } = durable().client("scheduler");
  const before = durable().started.length;
  expect(await startEventPublishing(client, [], (line) => expect.fail(line))).toEqual([]);
  expect(durable().started.length).toBe(before);
});
