#!/usr/bin/env bash
# Compiles and lints the Bicep with the real compiler (docs/deploy.md, "Compile and test the template").
# The Bicep CLI comes only from NuGet, as the pinned package below, restored once into .tools/ (git-ignored).
# Output: dist-infra/main.json, the ARM template test/infra/*.test.ts read. Fails on any compiler or linter
# diagnostic: a warning is fixed, or suppressed in the Bicep with `#disable-next-line <rule> // <reason>`.
# `infra/build.sh path` prints the compiler's path (after obtaining it) and does nothing else.
set -euo pipefail

BICEP_PACKAGE=Azure.Bicep.CommandLine.linux-x64
BICEP_VERSION=0.49.2
# SHA-512 of the .nupkg (base64), as NuGet records it: a different file under the same version is refused.
BICEP_NUPKG_SHA512='kBnX0iG9wd/PWdCTwFfUvm6Jemn+5L7sY7b7HQi5k+LLwdFmrbw4y5RTLFxewCFMdBqUThiOILMa7sgzklPEAQ=='
# Nothing here may wait on a network that is not there (the compiler gets no registry modules: --no-restore).
STEP_TIMEOUT=${PGVAULT_BICEP_TIMEOUT:-300}

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools/bicep-$BICEP_VERSION"
package_dir="$tools/packages/$(echo "$BICEP_PACKAGE" | tr '[:upper:]' '[:lower:]')/$BICEP_VERSION"
bicep="$package_dir/tools/bicep"
out="$root/dist-infra"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 DOTNET_GENERATE_ASPNET_CERTIFICATE=false

obtain_bicep() {
  [ -x "$bicep" ] && return 0
  command -v dotnet >/dev/null || { echo "infra/build.sh: the .NET SDK (dotnet) is needed to restore $BICEP_PACKAGE" >&2; exit 1; }
  rm -rf "$tools"
  mkdir -p "$tools/restore"
  # A project that only references the package: `dotnet restore` fetches it from the configured NuGet source.
  # The target framework is whatever the installed SDK bundles (the package has no library, only tools/).
  cat >"$tools/restore/restore.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net\$(BundledNETCoreAppTargetFrameworkVersion)</TargetFramework></PropertyGroup>
  <ItemGroup><PackageReference Include="$BICEP_PACKAGE" Version="[$BICEP_VERSION]" /></ItemGroup>
</Project>
EOF
  timeout "$STEP_TIMEOUT" dotnet restore "$tools/restore/restore.csproj" --packages "$tools/packages" --verbosity quiet
  local nupkg="$package_dir/$(echo "$BICEP_PACKAGE" | tr '[:upper:]' '[:lower:]').$BICEP_VERSION.nupkg"
  local actual
  actual=$(openssl dgst -sha512 -binary "$nupkg" | base64 -w0)
  if [ "$actual" != "$BICEP_NUPKG_SHA512" ]; then
    echo "infra/build.sh: $BICEP_PACKAGE $BICEP_VERSION has SHA-512 $actual, expected $BICEP_NUPKG_SHA512" >&2
    rm -rf "$tools"
    exit 1
  fi
  chmod +x "$bicep"
}

# Runs one compiler command; its diagnostics go to the log, and any diagnostic at all fails the build.
run_bicep() {
  local log
  log=$(mktemp)
  if ! timeout "$STEP_TIMEOUT" "$bicep" "$@" --no-restore 2>"$log"; then
    cat "$log" >&2; rm -f "$log"
    echo "infra/build.sh: bicep $1 failed" >&2
    exit 1
  fi
  if grep -Eq ' : (Error|Warning|Info) ' "$log"; then
    cat "$log" >&2; rm -f "$log"
    echo "infra/build.sh: bicep $1 reported the diagnostics above; fix them or suppress one with a reason" >&2
    exit 1
  fi
  cat "$log" >&2; rm -f "$log"
}

obtain_bicep
if [ "${1:-}" = path ]; then echo "$bicep"; exit 0; fi

cd "$root"
rm -rf "$out"
mkdir -p "$out"
run_bicep build infra/main.bicep --outfile "$out/main.json"
# Every file (one compiler process), so a module no longer used by main.bicep is still checked.
run_bicep lint --pattern 'infra/**/*.bicep'
echo "infra/build.sh: $out/main.json compiled by Bicep $BICEP_VERSION; build and lint clean"
