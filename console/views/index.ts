/** Every view of the console; each file adds its own. */
import type { View } from "../router";

export const views: View[] = [];
import { instanceView } from "./instance"; import { jobsView } from "./jobs"; import { jobView } from "./jobDetail"; views.push(instanceView, jobsView, jobView);
