/** Every view of the console; each file adds its own. */
import type { View } from "../router";
import { usageView } from "./usage";

export const views: View[] = [usageView];
