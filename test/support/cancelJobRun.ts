/** The cancelJob orchestration of `input.jobId`'s cleanup, replayed to its end with the real activities it calls. */
import { cleanUpCancelledJobActivity } from "../../activities/cleanUpCancelledJob";
import { publishEventsActivity } from "../../activities/publishEvents";
import { updateJobActivity } from "../../activities/updateJob";
import { cancelJobOrchestrationName, cancelJobOrchestrator, type CancelJobInput } from "../../orchestrators/cancelJob";
import { cancelJobInstanceId } from "../../shared/jobs/jobId";
import { runOrchestration, type OrchestrationRun } from "./replayDriver";

export function runCancelJob(input: CancelJobInput): Promise<OrchestrationRun> {
  return runOrchestration(cancelJobOrchestrator, {
    name: cancelJobOrchestrationName,
    instanceId: cancelJobInstanceId(input.jobId),
    input,
    activities: { cleanUpCancelledJob: cleanUpCancelledJobActivity, updateJob: updateJobActivity, publishEvents: publishEventsActivity },
  });
}
