import { app, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { ensureError } from "../shared/errors";
import { json } from "../shared/http";
import { getBackupContainer } from "../shared/catalog/vaultClients";

/** Liveness plus vault reachability: a load balancer or monitor sees 503 when the vault cannot be read. */
export async function health(_request: unknown, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    await getBackupContainer().exists();
    return json(200, { status: "ok" });
  } catch (err) {
    context.warn(`health: vault unreachable (${ensureError(err).name})`);
    return json(503, { status: "unavailable", error: { code: "SystemErrorStorageUnavailable", message: "The vault storage account is not reachable." } });
  }
}

app.http("health", { route: "health", methods: ["GET"], authLevel: "anonymous", handler: health });
