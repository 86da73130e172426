#!/usr/bin/env bash
# Two test "hosts" on one machine: network namespaces PREFIX-a (10.77.0.1) and PREFIX-b (10.77.0.2)
# on a bridge PREFIX-br (10.77.0.254, reachable from this namespace), each link limited with tc tbf.
#   scripts/netns-hosts.sh up [RATE=1gbit] [PREFIX=nubis]   |   scripts/netns-hosts.sh down [PREFIX]
set -euo pipefail
cmd=${1:-up}
if [ "$cmd" = up ]; then rate=${2:-1gbit}; p=${3:-nubis}; else p=${2:-nubis}; fi
br="${p}-br"
down() {
  for h in a b; do ip netns del "${p}-${h}" 2>/dev/null || true; ip link del "${p}v${h}" 2>/dev/null || true; done
  ip link del "$br" 2>/dev/null || true
}
if [ "$cmd" = down ]; then down; exit 0; fi
down
# One set of test hosts at a time on a machine (they share 10.77.0.0/24 and the data plane's
# namespace names): wait, under a lock, until no other set holds 10.77.0.254 (test files run in parallel).
lockdir=/run/lock; [ -d "$lockdir" ] || lockdir=/tmp
exec 9>"$lockdir/nubis-netns-hosts.lock"
for i in $(seq 1 900); do
  flock 9
  other=$(ip -o addr show to 10.77.0.254/32 | awk '{print $2}')
  [ -z "$other" ] && break
  flock -u 9
  [ "$i" = 900 ] && { echo "netns-hosts: $other still holds 10.77.0.254 after 15 minutes" >&2; exit 1; }
  sleep 1
done
ip link add "$br" type bridge
ip addr add 10.77.0.254/24 dev "$br"
ip link set "$br" up
n=1
for h in a b; do
  ns="${p}-${h}"
  ip netns add "$ns"
  ip link add "${p}v${h}" type veth peer name eth0 netns "$ns"
  ip link set "${p}v${h}" master "$br" up
  ip -n "$ns" addr add "10.77.0.${n}/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  # Limit both directions of each host's link.
  tc qdisc add dev "${p}v${h}" root tbf rate "$rate" burst 512kb latency 50ms
  ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$rate" burst 512kb latency 50ms
  n=$((n + 1))
done
flock -u 9
echo "hosts: ${p}-a 10.77.0.1, ${p}-b 10.77.0.2 (links $rate)"
