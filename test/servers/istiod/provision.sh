#!/usr/bin/env bash
# Builds a real istiod (pilot-discovery) from the istio.io/istio Go module into
# .cache/istiod/bin, once, and beside it istio-validate (validate/main.go): istiod's own object
# validation as a filter, for the fuzz suite. Idempotent: a warm cache returns at once.
#
# Version: DESIGN.md pins Istio 1.29.6 (commit 7019d6d3608e...), but the Go module proxy this
# project builds from refuses that version (403 "not available"). The newest it serves that
# builds is the istio master of 2026-04-23 below (pre-1.30, API v1.30 alpha). Like 1.30, it
# dereferences the Kubernetes multicluster controller when started without Kubernetes;
# standalone.patch guards that one line (an empty namespace collection instead), and
# changes nothing else. See docs/istio.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
version="${ISTIOD_VERSION:-v0.0.0-20260423205519-b01690e6db7d}"
cache="$root/.cache/istiod"
key="$(cat "$here/provision.sh" "$here/standalone.patch" "$here/validate/main.go" | sha1sum | cut -c1-12)"
bin="$cache/bin/pilot-discovery"
stamp="$cache/bin/.complete-$version-$key"
if [ -x "$bin" ] && [ -f "$stamp" ]; then exit 0; fi

export GOFLAGS=-mod=mod
# The checksum database does not know these pseudo-versions; the module proxy's zip hash
# is still checked against the module's own go.sum for every dependency.
export GOSUMDB=off
start=$(date +%s)
echo "building istiod (pilot-discovery $version) into $cache; the first time takes 5 to 10 minutes" >&2
dir="$(go mod download -json "istio.io/istio@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -d "$dir" ] || { echo "go mod download gave no module directory for istio.io/istio@$version" >&2; exit 1; }
src="$cache/src"
rm -rf "$src" "$cache/bin" && mkdir -p "$cache/bin"
cp -r "$dir" "$src" && chmod -R u+w "$src"
patch -d "$src" -p1 --quiet < "$here/standalone.patch"
(cd "$src" && go build -o "$bin" ./pilot/cmd/pilot-discovery)
mkdir -p "$src/dia-validate" && cp "$here/validate/main.go" "$src/dia-validate/"
(cd "$src" && go build -o "$cache/bin/istio-validate" ./dia-validate)
rm -rf "$src"
touch "$stamp"
echo "istiod built in $(( $(date +%s) - start ))s" >&2
