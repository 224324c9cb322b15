/** The app's one Microsoft Entra credential: managed identity in Azure, developer sign-in locally. */
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";

let credential: TokenCredential | undefined;

export function getAzureCredential(): TokenCredential {
  // AZURE_CLIENT_ID, when set, selects a user-assigned managed identity; the SDK reads it itself.
  credential ??= new DefaultAzureCredential();
  return credential;
}
