/** A self-signed certificate for 127.0.0.1, for the HTTPS protocol test servers (Key Vault, ARM). */
import { execFileSync } from "node:child_process";
import path from "node:path";

export interface TestCertificate {
  certFile: string;
  keyFile: string;
}

export function createTestCertificate(dir: string): TestCertificate {
  const certFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", keyFile, "-out", certFile,
  ], { stdio: "ignore" });
  return { certFile, keyFile };
}
