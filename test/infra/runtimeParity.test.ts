/**
 * Runtime parity (issue 22): the tests, the local host and everything they spawn run on the Node.js major the image
 * runs (Functions' Node 22 base image), which scripts/node22.sh pins and package.json's `engines` states.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, readlinkSync } from "node:fs";
import { afterAll, expect, inject, test } from "vitest";
import { type HostProcess, repoRoot, startHostProcess } from "../support/localHost";
import { cluster } from "../support/testDatabase";

const major = (version: string) => Number(/^v?(\d+)\./.exec(version)?.[1]);

/** Every Node major the repository names: the image's base stages, the pinned test Node, engines, the bootstrap image. */
function namedMajors(): { Dockerfile: number[]; [where: string]: number[] } {
  const imageMajors = (text: string) => [...text.matchAll(/mcr\.microsoft\.com\/azure-functions\/node:4-node(\d+)/g)].map((m) => Number(m[1]));
  return {
    Dockerfile: imageMajors(readFileSync("Dockerfile", "utf8")),
    "infra/main.bicep bootstrapImage": imageMajors(readFileSync("infra/main.bicep", "utf8")),
    "scripts/node22.sh": [major(/^NODE_VERSION=(\S+)$/m.exec(readFileSync("scripts/node22.sh", "utf8"))?.[1] ?? "")],
    "package.json engines": [major((JSON.parse(readFileSync("package.json", "utf8")) as { engines: { node: string } }).engines.node)],
  };
}

/** The image's Node major: the first base stage of the Dockerfile. */
function imageMajor(): number {
  const [first] = namedMajors().Dockerfile;
  if (first === undefined) throw new Error("the Dockerfile names no mcr.microsoft.com/azure-functions/node:4-node<major> image");
  return first;
}

let host: HostProcess | undefined;
afterAll(async () => host?.kill());

test("when the repository names a Node version, then it is the major of the image's base, everywhere", () => {
  const named = namedMajors();
  const image = imageMajor();
  expect(named.Dockerfile.length).toBeGreaterThanOrEqual(2);
  for (const [where, majors] of Object.entries(named)) expect({ where, majors }).toEqual({ where, majors: majors.map(() => image) });
});

test("when the tests run, then this process runs on the image's Node major (run them through npm test or scripts/node22.sh)", () => {
  expect(major(process.version)).toBe(imageMajor());
});

test("when a test starts the app as a separate host process, then that process runs on the image's Node major too", async () => {
  const storage = inject("vaultConnectionString");
  host = await startHostProcess(repoRoot, { AzureWebJobsStorage: storage, VaultStorage: storage, PG_BIN_DIR: cluster().binDir });
  // The running host's own executable, as the kernel sees it.
  const executable = readlinkSync(`/proc/${host.pid}/exe`);
  const version = execFileSync(executable, ["-p", "process.version"], { encoding: "utf8" }).trim();
  expect(major(version)).toBe(imageMajor());
  expect(executable).toBe(process.execPath);
});
