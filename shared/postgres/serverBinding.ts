/**
 * A secret names its server (SPEC section 5, issue 20): a request may repeat the secret's host and port, or leave
 * them out, but never change them, so a password only ever goes to the server it was issued for, whoever asks. A
 * secret that names no host is refused: it could be sent anywhere. Every step that resolves a secret binds it
 * here, before any connection is opened.
 */
import { PgVaultError } from "../errors";
import { sameHost } from "../network/hostNames";
import type { ResolvedSecret } from "../secrets/resolveSecret";

export interface DatabaseServer {
  host: string;
  port: number;
}

/** Where a request says the database is; both may be absent when a secret names the server. */
export interface RequestedServer {
  host?: string;
  port?: number;
}

const at = (server: DatabaseServer) => `${server.host}:${server.port}`;

/** The server to connect to: the request's spelling of the secret's server. */
export function boundServer(requested: RequestedServer, secret: Pick<ResolvedSecret, "server" | "description">): DatabaseServer {
  const named = secret.server;
  if (!named) {
    throw new PgVaultError("UserErrorSecretServerMismatch", `${secret.description} names no server: its connection string has no host.`, {
      recommendedAction:
        "Put the server's host (and port, if not 5432) in the connection string the secret holds (postgres://user:pass@host:port/db, or Server=...;Port=...;), " +
        "so the credentials can only be used for that server.",
    });
  }
  const hostMatches = requested.host === undefined || sameHost(requested.host, named.host);
  const portMatches = requested.port === undefined || requested.port === named.port;
  if (hostMatches && portMatches) return { host: requested.host ?? named.host, port: named.port };
  const asked = requested.host === undefined ? `port ${requested.port}` : `${requested.host}:${requested.port ?? named.port}`;
  throw new PgVaultError("UserErrorSecretServerMismatch", `${secret.description} holds credentials for ${at(named)}, not for ${asked}; nothing was sent.`, {
    recommendedAction:
      `The secret is for ${at(named)}: give host '${named.host}' and port ${named.port}, or leave both out, to use it there; ` +
      `to reach ${asked}, name a secret that holds credentials for that server.`,
  });
}
