#!/usr/bin/env bash
# Build the tiny nubis guest from Debian packages only: the cloud kernel (apt-get download + dpkg -x),
# an initramfs with busybox-static, the virtio modules (virtio_blk for volumes; PCIe hot-plug, pciehp, is
# built into the cloud kernel), the static workloads (guest/dirtier.c, guest/diskcheck.c, guest/filler.c), the
# networking scripts (guest/net.sh, guest/udhcpc.script) and dropbear (dropbear-bin, with its shared
# libraries and the ELF interpreter, if installed). Output: OUT/vmlinuz, OUT/initramfs.cpio.gz (default OUT: .nubis/guest). Needs scripts/install-host-deps.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.nubis/guest}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
[ -n "$kpkg" ] || { echo "build-guest: cannot resolve linux-image-cloud-amd64 (run apt-get update)" >&2; exit 1; }
if [ ! -f "$out/vmlinuz" ] || [ "$(cat "$out/kernel-package" 2>/dev/null)" != "$kpkg" ] || [ ! -f "$out/modules/virtio_blk.ko" ]; then
  (cd "$work" && apt-get download "$kpkg" >/dev/null 2>&1)
  dpkg -x "$work"/*.deb "$work/k"
  cp "$work"/k/boot/vmlinuz-* "$out/vmlinuz"
  rm -rf "$out/modules" && mkdir -p "$out/modules"
  for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_balloon virtio_blk failover net_failover virtio_net evdev button; do
    f=$(find "$work/k/lib/modules" -name "$m.ko" | head -1)
    [ -n "$f" ] && cp "$f" "$out/modules/"
  done
  echo "$kpkg" > "$out/kernel-package"
fi
bb=$(command -v busybox || true)
[ -x /bin/busybox ] && bb=/bin/busybox
file "$bb" 2>/dev/null | grep -q static || bb=$(dpkg -L busybox-static 2>/dev/null | grep -E '/bin/busybox$' | head -1)
[ -n "$bb" ] || { echo "build-guest: busybox-static is not installed" >&2; exit 1; }
ir="$work/initramfs"
mkdir -p "$ir"/{bin,sbin,etc/udhcpc,etc/nubis,etc/dropbear,proc,sys,dev,tmp,run,root,www,var/log,lib/modules}
cp "$bb" "$ir/bin/busybox"
cp "$out"/modules/*.ko "$ir/lib/modules/"
gcc -static -O2 -o "$ir/bin/dirtier" "$root/guest/dirtier.c"
gcc -static -O2 -o "$ir/bin/diskcheck" "$root/guest/diskcheck.c"
gcc -static -O2 -o "$ir/bin/filler" "$root/guest/filler.c"
cp "$root/guest/init.sh" "$ir/init"
cp "$root/guest/net.sh" "$ir/etc/nubis/net.sh"
cp "$root/guest/udhcpc.script" "$ir/etc/udhcpc/default.script"
chmod +x "$ir/init" "$ir/bin/dirtier" "$ir/bin/diskcheck" "$ir/bin/filler" "$ir/etc/nubis/net.sh" "$ir/etc/udhcpc/default.script"
chmod 700 "$ir/root"
# Accounts for dropbear and the console: root, key-only ('*' is no password, not a locked account).
echo 'root:x:0:0:root:/root:/bin/sh' > "$ir/etc/passwd"
echo 'root:*:19000:0:99999:7:::' > "$ir/etc/shadow"
chmod 600 "$ir/etc/shadow"
printf 'root:x:0:\ntty:x:5:\n' > "$ir/etc/group"
echo /bin/sh > "$ir/etc/shells"
# dropbear from dropbear-bin is dynamically linked: copy it with its libraries (ldd) and interpreter.
db=$(command -v dropbear || true)
[ -n "$db" ] || db=/usr/sbin/dropbear
if [ -x "$db" ] && command -v dropbearkey >/dev/null; then
  mkdir -p "$ir/usr/sbin" "$ir/usr/bin"
  cp "$db" "$ir/usr/sbin/dropbear"
  cp "$(command -v dropbearkey)" "$ir/usr/bin/dropbearkey"
  for lib in $(ldd "$db" "$(command -v dropbearkey)" | grep -oE '/[^ ]+\.so[^ ]*' | sort -u); do
    mkdir -p "$ir$(dirname "$lib")"
    cp -L "$lib" "$ir$lib"
  done
else
  echo "build-guest: dropbear-bin is not installed; the guest will have no SSH server" >&2
fi
(cd "$ir" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/initramfs.cpio.gz"
echo "build-guest: $out/vmlinuz ($(du -h "$out/vmlinuz" | cut -f1)), $out/initramfs.cpio.gz ($(du -h "$out/initramfs.cpio.gz" | cut -f1))"
