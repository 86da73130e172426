#!/usr/bin/env bash
# Build a bootable disk image of the tiny nubis guest (what `nubis image upload` takes), from Debian
# packages only and without root or mounts: a raw disk with an MBR partition table (sfdisk on a file),
# one FAT partition (mformat/mcopy with -i FILE@@OFFSET) holding the kernel and initramfs that
# scripts/build-guest.sh made, SYSLINUX as boot loader (syslinux --offset, its mbr.bin in sector 0),
# then converted to qcow2. The kernel command line makes the guest behave as under the QEMU driver's
# direct kernel boot (console=ttyS0 quiet panic=-1), plus nubis.net=1 as a cloud image would (DHCP and
# metadata when the VM has a NIC; "nubis-net-failed no eth0" on the console when it has none).
# Output: OUT (default .nubis/guest/disk.qcow2). Needs scripts/install-host-deps.sh, scripts/build-guest.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
guest=$root/.nubis/guest
out=${1:-$guest/disk.qcow2}
for f in "$guest/vmlinuz" "$guest/initramfs.cpio.gz"; do
  [ -f "$f" ] || { echo "build-guest-disk: $f is missing (run scripts/build-guest.sh)" >&2; exit 1; }
done
for t in sfdisk mformat mcopy syslinux qemu-img; do
  command -v "$t" >/dev/null || { echo "build-guest-disk: $t is missing (run scripts/install-host-deps.sh)" >&2; exit 1; }
done
mbr=/usr/lib/syslinux/mbr/mbr.bin
[ -f "$mbr" ] || { echo "build-guest-disk: $mbr is missing (package syslinux-common)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
raw=$work/disk.raw
# Room for the kernel and initramfs plus 8 MiB, rounded up to whole MiB; the partition starts at 1 MiB.
need=$(($(stat -c %s "$guest/vmlinuz") + $(stat -c %s "$guest/initramfs.cpio.gz")))
mib=$((need / 1048576 + 10))
truncate -s "${mib}M" "$raw"
echo 'label: dos
start=2048, type=6, bootable' | sfdisk -q "$raw"
off=$((2048 * 512))
sectors=$(((mib - 1) * 2048))
mformat -i "$raw@@$off" -T "$sectors" -h 64 -s 32 -H 2048 -v NUBIS ::
mcopy -i "$raw@@$off" "$guest/vmlinuz" ::VMLINUZ
mcopy -i "$raw@@$off" "$guest/initramfs.cpio.gz" ::INITRD.GZ
cat > "$work/syslinux.cfg" <<'EOF'
SERIAL 0 115200
DEFAULT nubis
PROMPT 0
TIMEOUT 0
LABEL nubis
  KERNEL /VMLINUZ
  INITRD /INITRD.GZ
  APPEND console=ttyS0 quiet panic=-1 nubis.net=1
EOF
mcopy -i "$raw@@$off" "$work/syslinux.cfg" ::SYSLINUX.CFG
syslinux --offset "$off" --install "$raw"
dd if="$mbr" of="$raw" bs=440 count=1 conv=notrunc status=none
mkdir -p "$(dirname "$out")"
qemu-img convert -q -f raw -O qcow2 "$raw" "$out.tmp"
mv "$out.tmp" "$out"
echo "build-guest-disk: $out ($(du -h "$out" | cut -f1), virtual ${mib} MiB)"
