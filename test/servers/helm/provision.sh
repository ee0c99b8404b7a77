#!/usr/bin/env bash
# Puts helm (built with `go install` from the Go module proxy, pinned) into .cache/helm/bin.
# Idempotent: a warm cache returns at once.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
version="${HELM_VERSION:-v3.22.0}"
bin="$root/.cache/helm/bin"
stamp="$bin/.complete-$version"
if [ -x "$bin/helm" ] && [ -f "$stamp" ]; then exit 0; fi
rm -rf "$bin" && mkdir -p "$bin"
start=$(date +%s)
echo "building helm $version into $bin (a few minutes the first time)" >&2
GOBIN="$bin" GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$version"
touch "$stamp"
echo "helm built in $(( $(date +%s) - start ))s" >&2
