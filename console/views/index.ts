/** Every view of the console; each file adds its own. */
import type { View } from "../router";

export const views: View[] = [];
import { protectView } from "./protect"; views.push(protectView);
import { policyViews } from "./policies"; views.push(...policyViews);
import { usageView } from "./usage"; views.push(usageView);
import { restoreView } from "./restore"; views.push(restoreView);
import { instanceView } from "./instance"; import { jobsView } from "./jobs"; import { jobView } from "./jobDetail"; views.push(instanceView, jobsView, jobView);
