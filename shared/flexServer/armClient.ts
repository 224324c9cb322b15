/** The Flexible Server management client, one per subscription, pointed at the configured ARM endpoint. */
import { PostgreSQLManagementFlexibleServerClient } from "@azure/arm-postgresql-flexible";
import { getAzureCredential } from "../azureCredential";
import { getConfig } from "../config";

const clients = new Map<string, PostgreSQLManagementFlexibleServerClient>();

export function flexServerClient(subscriptionId: string): PostgreSQLManagementFlexibleServerClient {
  let client = clients.get(subscriptionId);
  if (!client) {
    const { armEndpoint } = getConfig();
    // The SDK's own pipeline already retries 429 (honouring Retry-After) and 5xx a few times; what still fails
    // comes back to the orchestrator's retry policy as a transient error.
    client = new PostgreSQLManagementFlexibleServerClient(getAzureCredential(), subscriptionId, {
      endpoint: armEndpoint,
      // Tokens are for the cloud's ARM audience, which is its endpoint (public and sovereign clouds alike).
      credentialScopes: [`${armEndpoint}/.default`],
    });
    clients.set(subscriptionId, client);
  }
  return client;
}
