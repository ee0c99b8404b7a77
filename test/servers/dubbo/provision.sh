#!/usr/bin/env bash
# Puts real Dubbo providers into .cache/dubbo: Dubbo 3.3 and its ZooKeeper and Nacos registry dependencies
# from Maven Central (lib/), and our small provider program (classes/). Idempotent: a warm cache
# returns at once.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
dest="$root/.cache/dubbo"
stamp="$dest/.complete-$(cat "$here/pom.xml" "$here/provision.sh" "$here"/src/dia/*.java | sha1sum | cut -c1-12)"
if [ -f "$stamp" ]; then exit 0; fi
rm -rf "$dest" && mkdir -p "$dest/lib" "$dest/classes"
echo "provisioning Dubbo providers from Maven Central into $dest" >&2
mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$dest/lib" -DincludeScope=runtime >&2
javac -d "$dest/classes" -cp "$dest/lib/*" "$here"/src/dia/*.java
touch "$stamp"
