#!/usr/bin/env bash
# Runs a command with no way off this machine, and fails if it tried to leave.
#
# The command runs in a network namespace of its own that has only loopback (127.0.0.0/8, ::1).
# A connection or datagram to any other address finds no route: it fails at once inside the
# namespace and no packet is ever sent, so the attempt is blocked, not merely seen. The kernel
# counts each such attempt per namespace (Ip OutNoRoutes in /proc/net/snmp, Ip6OutNoRoutes in
# /proc/net/snmp6); after the command the guard reads both and fails the run if either moved.
# Before the command it makes one attempt of its own (to 192.0.2.1, a documentation address) and
# checks that it was blocked and counted, so a guard that could not see would not pass silently.
#
# The namespace also has test hosts: 198.18.0.2 to 198.18.0.17 (RFC 2544's benchmarking range,
# never routed), each a /32 on loopback, so no route to the rest of that range exists. Real Dubbo
# providers need them: Dubbo refuses to bind or register a 127.x address. The suites find them in
# DIA_TEST_HOSTS.
#
#   test/netguard/run.sh CMD [ARG...]
# Needs unshare (util-linux) and ip (iproute2); as root, or with unprivileged user namespaces.
set -euo pipefail

if [ "${1:-}" != --inside ]; then
  command -v unshare >/dev/null && command -v ip >/dev/null || { echo "netguard: needs unshare and ip" >&2; exit 2; }
  if [ "$(id -u)" -eq 0 ]; then exec unshare --net -- "$0" --inside "$@"; fi
  exec unshare --map-root-user --net -- "$0" --inside "$@"
fi
shift

ip link set lo up
hosts=""
for i in $(seq 2 17); do
  ip addr add "198.18.0.$i/32" dev lo
  hosts="$hosts${hosts:+,}198.18.0.$i"
done
export DIA_TEST_HOSTS="$hosts"

# The value of one named counter of /proc/net/snmp (a header line, then a value line per group).
snmp() { awk -v name="$1" '$1 == "Ip:" { if (!n) { for (i = 2; i <= NF; i++) col[$i] = i; n = 1 } else print $(col[name]) }' /proc/net/snmp; }
attempts() { echo $(( $(snmp OutNoRoutes) + $(awk '$1 == "Ip6OutNoRoutes" { print $2 }' /proc/net/snmp6) )); }

before=$(attempts)
if (exec 3<>/dev/tcp/192.0.2.1/9) 2>/dev/null; then echo "netguard: a connection off this machine went through; refusing to run" >&2; exit 2; fi
if [ "$(attempts)" -le "$before" ]; then echo "netguard: a blocked attempt was not counted; refusing to run" >&2; exit 2; fi

before=$(attempts)
status=0
"$@" || status=$?
made=$(( $(attempts) - before ))
if [ "$made" -gt 0 ]; then
  echo "netguard: FAILED: $made attempt(s) to reach an address outside loopback were blocked during: $*" >&2
  echo "netguard: something dialled a non-loopback address (a registered instance, a metadata fetch, a DNS name not in /etc/hosts); see docs/testing.md" >&2
  [ "$status" -ne 0 ] || status=3
else
  echo "netguard: no attempt to leave this machine during: $*" >&2
fi
exit "$status"
