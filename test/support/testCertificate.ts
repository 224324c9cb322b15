/**
 * Self-signed certificates: by default for 127.0.0.1 (and localhost), for the HTTPS protocol test servers (Key
 * Vault, ARM) and the test PostgreSQL clusters; or for another name, to play a server that is not the one meant.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";

export interface TestCertificate {
  certFile: string;
  keyFile: string;
}

export function createTestCertificate(dir: string, name: { commonName: string; altNames: string } = { commonName: "127.0.0.1", altNames: "IP:127.0.0.1,DNS:localhost" }): TestCertificate {
  const stem = name.commonName === "127.0.0.1" ? "" : `${name.commonName}-`;
  const certFile = path.join(dir, `${stem}cert.pem`);
  const keyFile = path.join(dir, `${stem}key.pem`);
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${name.commonName}`,
    "-addext", `subjectAltName=${name.altNames}`, "-keyout", keyFile, "-out", certFile,
  ], { stdio: "ignore" });
  return { certFile, keyFile };
}
