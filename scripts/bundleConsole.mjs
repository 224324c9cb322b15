// Bundles the console (console/main.ts and console/console.css) into dist/console/app.js and app.css with esbuild,
// which the Backup Center function inlines into its page under the response's CSP nonce (docs/architecture.md,
// "The console"). Run by `npm run build` and by the tests' global setup, after tsc.
import { build } from "esbuild";

const common = { bundle: true, charset: "utf8", legalComments: "none", logLevel: "warning" };
await build({ ...common, entryPoints: ["console/main.ts"], outfile: "dist/console/app.js", format: "iife", target: "es2022", platform: "browser", tsconfig: "console/tsconfig.json" });
await build({ ...common, entryPoints: ["console/console.css"], outfile: "dist/console/app.css" });
