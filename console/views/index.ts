/** Every view of the console; each file adds its own. */
import type { View } from "../router";

export const views: View[] = [];
import { restoreView } from "./restore"; views.push(restoreView);
