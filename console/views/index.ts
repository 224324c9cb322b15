/** Every view of the console; each file adds its own. */
import type { View } from "../router";
import { instanceView } from "./instance";
import { jobView } from "./jobDetail";
import { jobsView } from "./jobs";
import { policyViews } from "./policies";
import { protectView } from "./protect";
import { restoreView } from "./restore";
import { usageView } from "./usage";

export const views: View[] = [protectView, ...policyViews, usageView, restoreView, instanceView, jobsView, jobView];
