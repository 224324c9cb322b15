/**
 * Host names as pgvault checks and compares them, wherever a credential, token or reference is bound to a host:
 * DNS names case-insensitively and without a trailing dot (DNS compares names case-insensitively, RFC 4343
 * section 3; a trailing dot only marks a name as fully qualified, RFC 1034 section 3.1), IPv6 literals in their
 * canonical form, so two spellings of one server are one server and two servers are never one.
 */
import { isIP } from "node:net";

/** RFC 1123 labels; IP literals are checked with `isIP`. */
const hostNamePattern = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * A host name (one trailing dot allowed), an IPv4 literal or a bracket-less IPv6 literal. A name whose last label
 * is all digits is refused: it is not a host name, and resolvers would read forms like `10.1` or `999.1.1.1` as
 * (odd or invalid) IPv4.
 */
export function isHost(host: string): boolean {
  if (isIP(host) !== 0) return true;
  const name = host.replace(/\.$/, "");
  return hostNamePattern.test(name) && !/(?:^|\.)\d+$/.test(name);
}

/** The form hosts are compared in: lower case, no trailing dot, IPv6 without brackets and compressed. */
export function canonicalHost(host: string): string {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (isIP(bare) === 6) {
    try {
      return new URL(`http://[${bare}]`).hostname.slice(1, -1);
    } catch {
      return bare.toLowerCase(); // a zone id (fe80::1%eth0), which URL does not take
    }
  }
  return bare.toLowerCase().replace(/\.$/, "");
}

export function sameHost(a: string, b: string): boolean {
  return canonicalHost(a) === canonicalHost(b);
}

/** An exact host, or `*.suffix`: every name below `suffix` (not `suffix` itself). */
export function isHostPattern(pattern: string): boolean {
  return pattern.startsWith("*.") ? isHost(pattern.slice(2)) && isIP(pattern.slice(2)) === 0 : isHost(pattern);
}

export function matchesHostPattern(host: string, pattern: string): boolean {
  const name = canonicalHost(host);
  if (!pattern.startsWith("*.")) return name === canonicalHost(pattern);
  const suffix = `.${canonicalHost(pattern.slice(2))}`;
  return isIP(name) === 0 && name.endsWith(suffix) && name.length > suffix.length;
}
