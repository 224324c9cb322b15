import * as df from "durable-functions";
import { listInstances } from "../shared/catalog";

/** Every backup instance, stopped ones included: their recovery points still expire. */
export async function listInstanceNamesActivity(): Promise<string[]> {
  return (await listInstances()).map((instance) => instance.name);
}

export const listInstanceNamesStep = df.app.activity("listInstanceNames", { handler: listInstanceNamesActivity });
