/** A job status as a badge: colour, symbol and word (never colour alone). */
import type { JobStatus } from "../../shared/domain";
import { h } from "../dom";

const symbols: Record<JobStatus, string> = { Queued: "◌", InProgress: "◐", Succeeded: "✓", Failed: "✗", Cancelled: "⊘" };

export const statusBadge = (status: JobStatus) =>
  h("span", { class: `job-status ${status.toLowerCase()}` }, h("span", { "aria-hidden": "true" }, symbols[status]), " ", status === "InProgress" ? "In progress" : status);
