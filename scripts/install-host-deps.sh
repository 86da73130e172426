#!/usr/bin/env bash
# Install what real-host tests need, from Debian's packages only: QEMU (10.x from bookworm-backports,
# which fixes TCG dirty-page tracking during migration; 7.2 from bookworm as a fallback),
# qemu-utils, busybox-static, iproute2 (network namespaces, tc, VXLAN), nftables and dnsmasq-base (the
# data plane: security groups, NAT, DHCP), curl (data-plane tests) and a C compiler for the guest workload;
# dropbear-bin (the guest's SSH server) and openssh-client (the tests log in to guests); syslinux,
# syslinux-common, mtools and fdisk (scripts/build-guest-disk.sh: a bootable disk image without root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" != 0 ]; then echo "install-host-deps: needs root (apt-get)" >&2; exit 1; fi
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then
  mirror=$(grep -hoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -1 | tr -d ' ' || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" \
    > /etc/apt/sources.list.d/nubis-backports.sources
fi
apt_get() { bash "$(dirname "$0")/apt-get-wait.sh" "$@"; } # waits for a held lock; shows apt's error
apt_get update -qq
pkgs="qemu-utils busybox-static iproute2 gcc libc6-dev cpio kmod nftables dnsmasq-base curl"
if why=$(apt_get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 qemu-utils 2>&1); then
  echo "install-host-deps: QEMU from bookworm-backports"
else
  echo "install-host-deps: QEMU from bookworm-backports failed, using bookworm's QEMU; apt said:" >&2
  echo "$why" | grep -E '^(E|W):' >&2 || echo "$why" | tail -5 >&2
  apt_get install -y -qq --no-install-recommends qemu-system-x86
fi
apt_get install -y -qq --no-install-recommends $pkgs
apt_get install -y -qq --no-install-recommends dropbear-bin openssh-client dnsmasq-base # guest SSH; guest-net test
apt_get install -y -qq --no-install-recommends syslinux syslinux-common mtools fdisk # bootable guest disk
qemu-system-x86_64 --version | head -1
