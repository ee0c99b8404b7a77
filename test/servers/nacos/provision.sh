#!/usr/bin/env bash
# Puts a runnable Nacos server into .cache/nacos: its jars from Maven Central (lib/) and our
# small launcher (classes/). Idempotent: a warm cache returns at once.
#
# The rebuild ships Nacos's modules but not its bootstrap module, whose main class starts the
# core and web Spring contexts in order; NacosStandalone.java does the same for deployment
# type "server" (no console).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
dest="$root/.cache/nacos"
stamp="$dest/.complete-$(cat "$here/pom.xml" "$here/provision.sh" "$here/application.properties" "$here/src/dia/NacosStandalone.java" | sha1sum | cut -c1-12)"
if [ -f "$stamp" ]; then exit 0; fi
rm -rf "$dest" && mkdir -p "$dest/lib" "$dest/classes"
echo "provisioning Nacos from Maven Central into $dest" >&2
mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$dest/lib" -DincludeScope=runtime >&2
javac -d "$dest/classes" -cp "$dest/lib/*" "$here/src/dia/NacosStandalone.java"
cp "$here/application.properties" "$dest/classes/"
touch "$stamp"
