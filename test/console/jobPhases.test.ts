/** The job page's timeline and progress estimate (console/views/jobPhases.ts), without a browser. */
import { describe, expect, test } from "vitest";
import { estimateProgress, phaseLabel, phaseTimeline } from "../../console/views/jobPhases";

const states = (steps: ReturnType<typeof phaseTimeline>) => steps.map((step) => `${step.phase}:${step.state}`);

describe("phaseTimeline", () => {
  test("when a backup uploads, then the phases before are done and the rest pending", () => {
    expect(states(phaseTimeline({ operation: "Backup", phase: "Uploading", status: "InProgress" }))).toEqual([
      "Queued:done", "ResolvingSecret:done", "CheckingAccess:done", "Uploading:current", "Recording:pending", "Done:pending",
    ]);
  });

  test("when a backup waits for a dump slot, then that phase is put before Uploading", () => {
    expect(states(phaseTimeline({ operation: "Backup", phase: "WaitingForSlot", status: "InProgress" })).slice(2, 5)).toEqual([
      "CheckingAccess:done", "WaitingForSlot:current", "Uploading:pending",
    ]);
  });

  test("when a restore to files exports, then the timeline exports instead of restoring and swapping", () => {
    expect(states(phaseTimeline({ operation: "Restore", phase: "Exporting", status: "InProgress" }))).toEqual([
      "Queued:done", "Exporting:current", "Done:pending",
    ]);
  });

  test("when a job failed or was cancelled, then the phase it stopped in is marked and later ones stay pending", () => {
    expect(states(phaseTimeline({ operation: "Verify", phase: "Restoring", status: "Failed" })).slice(3, 5)).toEqual(["Restoring:failed", "Verifying:pending"]);
    expect(states(phaseTimeline({ operation: "Backup", phase: "Uploading", status: "Cancelled" }))[3]).toBe("Uploading:failed");
    expect(phaseTimeline({ operation: "Backup", phase: "Done", status: "Succeeded" }).every((step) => step.state === "done")).toBe(true);
  });

  test("phase names read as words", () => {
    expect(phaseLabel("CheckingAccess")).toBe("Checking access");
    expect(phaseLabel("WaitingForSlot")).toBe("Waiting for slot");
  });
});

describe("estimateProgress", () => {
  test("when a job has moved a share of the total, then the percentage and the time left follow its rate so far", () => {
    expect(estimateProgress({ bytes: 40, status: "InProgress", durationSeconds: 8 }, 100)).toEqual({ percent: 40, secondsLeft: 12 });
  });

  test("when the estimate is passed while running, then it stays below 100%; a succeeded job is 100%", () => {
    expect(estimateProgress({ bytes: 150, status: "InProgress", durationSeconds: 3 }, 100)).toEqual({ percent: 99, secondsLeft: 0 });
    expect(estimateProgress({ bytes: 150, status: "Succeeded", durationSeconds: 3 }, 100)).toEqual({ percent: 100 });
  });

  test("when nothing moved yet, or the job is not running, then no time left is guessed", () => {
    expect(estimateProgress({ bytes: 0, status: "InProgress", durationSeconds: 5 }, 100)).toEqual({ percent: 0 });
    expect(estimateProgress({ bytes: 50, status: "Cancelled", durationSeconds: 5 }, 100)).toEqual({ percent: 50 });
  });
});
