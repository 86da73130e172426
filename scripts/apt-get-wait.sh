#!/usr/bin/env bash
# apt-get ARGS… for the setup scripts: waits up to 10 minutes for another apt/dpkg (unattended-upgrades,
# cloud-init, a second script) to release its lock instead of failing at once, is quiet when it
# works, and on failure prints apt's own output (the real error) to stderr and exits with its status.
#   bash scripts/apt-get-wait.sh install -y --no-install-recommends qemu-utils
# The dpkg lock is waited for by apt itself (DPkg::Lock::Timeout, apt >= 1.9.11); `apt-get update`
# takes the package lists' lock, which apt does not wait for, so a held lists lock is retried here.
set -uo pipefail
export DEBIAN_FRONTEND=noninteractive
wait_s=${APT_LOCK_TIMEOUT_S:-600}
retry_s=${APT_LOCK_RETRY_S:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$SECONDS
while :; do
  apt-get -o "DPkg::Lock::Timeout=$wait_s" "$@" >"$out" 2>&1
  rc=$?
  [ "$rc" = 0 ] && exit 0
  if grep -q 'Could not get lock' "$out" && [ $((SECONDS - start)) -lt "$wait_s" ]; then
    [ -n "${announced:-}" ] || echo "apt-get-wait: waiting for another apt/dpkg to finish: $(grep -m1 'Could not get lock' "$out")" >&2
    announced=1
    sleep "$retry_s"
    continue
  fi
  echo "apt-get $* failed (exit $rc):" >&2
  cat "$out" >&2
  exit "$rc"
done
