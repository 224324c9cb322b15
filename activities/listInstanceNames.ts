import * as df from "durable-functions";
import { listInstanceNamesAfter } from "../shared/catalog/catalog";

/** Names per page: an activity result is stored in the history, so it must not grow with the number of instances. */
export const instanceNamesPageSize = 100;

export interface ListInstanceNamesInput {
  /** The last name of the previous page; absent for the first. */
  after?: string;
}

export interface InstanceNamesPage {
  names: string[];
  /** Where the next page starts; absent on the last page. */
  next?: string;
}

/** A page of every backup instance's name, stopped ones included: their recovery points still expire. */
export async function listInstanceNamesActivity(input: ListInstanceNamesInput | null): Promise<InstanceNamesPage> {
  const names = await listInstanceNamesAfter(input?.after, instanceNamesPageSize);
  return names.length === instanceNamesPageSize ? { names, next: names.at(-1)! } : { names };
}

export const listInstanceNamesStep = df.app.activity("listInstanceNames", { handler: listInstanceNamesActivity });
