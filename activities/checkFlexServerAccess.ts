import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { verifyFlexServerAccess, type FlexServerFacts } from "../shared/flexServer/serverAccess";

export interface CheckFlexServerAccessInput {
  resourceId: string;
  backupName: string;
}

/** The server is readable and Ready, and its long-term-retention pre-check passes (SPEC section 5). */
export function checkFlexServerAccessActivity(input: CheckFlexServerAccessInput): Promise<ActivityOutcome<FlexServerFacts>> {
  return asOutcome(() => verifyFlexServerAccess(input.resourceId, input.backupName));
}

export const checkFlexServerAccessStep = df.app.activity("checkFlexServerAccess", { handler: checkFlexServerAccessActivity });
