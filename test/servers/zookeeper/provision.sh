#!/usr/bin/env bash
# Puts a real ZooKeeper server (jar + runtime deps from Maven Central) into .cache/zookeeper/lib.
# Idempotent: a warm cache returns at once.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
dest="$root/.cache/zookeeper/lib"
stamp="$dest/.complete-$(sha1sum "$here/pom.xml" | cut -c1-12)"
if [ -f "$stamp" ]; then exit 0; fi
rm -rf "$dest" && mkdir -p "$dest"
echo "provisioning ZooKeeper from Maven Central into $dest" >&2
mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
  -DoutputDirectory="$dest" -DincludeScope=runtime >&2
ls "$dest"/zookeeper-*.jar >/dev/null
touch "$stamp"
