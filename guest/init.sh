#!/bin/busybox sh
# nubis tiny guest init: mount, load virtio modules, start acpid (for ACPI power-off) and the workload;
# with nubis.net=1 on the kernel command line also the network (/etc/nubis/net.sh); always a root
# shell on the serial console (press Enter to get it). With nubis.diskcheck=/dev/vda also the disk
# checker (writes and verifies a pattern; nubis.diskmib=, nubis.diskrate= in blocks/s). With
# nubis.fill=SEED:MIB also a known data set of MIB MiB derived from SEED (guest/filler.c).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /run /var/log
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts 2>/dev/null
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_balloon virtio_blk failover net_failover virtio_net evdev button; do
  [ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko 2>/dev/null
done
acpid 2>/dev/null
MIB=16; RATE=0; NET=0; DISK=; DISKMIB=32; DISKRATE=256; FILL=
for a in $(cat /proc/cmdline); do
  case "$a" in
    nubis.mib=*) MIB=${a#nubis.mib=} ;;
    nubis.rate=*) RATE=${a#nubis.rate=} ;;
    nubis.net=1) NET=1 ;;
    nubis.diskcheck=/dev/*) DISK=${a#nubis.diskcheck=} ;;
    nubis.diskmib=*) DISKMIB=${a#nubis.diskmib=} ;;
    nubis.diskrate=*) DISKRATE=${a#nubis.diskrate=} ;;
    nubis.fill=*) FILL=${a#nubis.fill=} ;;
  esac
done
echo "nubis-ready $(cat /proc/meminfo | head -1)"
/bin/dirtier "$MIB" "$RATE" &
# Disks (volumes) appearing and disappearing, hot-plugged or not: one line each on the console.
(
  seen=" "
  while true; do
    now=" "
    for b in /sys/block/vd*; do
      [ -e "$b" ] || continue
      n=${b##*/}
      now="$now$n "
      case "$seen" in *" $n "*) ;; *) echo "nubis-disk-add $n $(cat $b/serial 2>/dev/null) $(cat $b/size)" ;; esac
    done
    for n in $seen; do
      case "$now" in *" $n "*) ;; *) echo "nubis-disk-del $n" ;; esac
    done
    seen=$now
    sleep 1
  done
) &
# nubis.diskcheck=/dev/vda: write a known pattern to that disk and keep verifying it (guest/diskcheck.c).
[ -n "$DISK" ] && /bin/diskcheck "$DISK" "$DISKMIB" "$DISKRATE" &
# nubis.fill=SEED:MIB: a known data set (guest/filler.c), the same in every guest with that seed.
[ -n "$FILL" ] && /bin/filler "${FILL%%:*}" "${FILL#*:}" &
[ "$NET" = 1 ] && /bin/sh /etc/nubis/net.sh &
# The serial console shell: silent until Enter is pressed (so the log stays clean), respawned on exit.
if [ -e /dev/ttyS0 ]; then
  (
    while true; do
      setsid sh -c 'cd /root; export HOME=/root; exec sh -c "read -r _ && exec sh -l" <>/dev/ttyS0 >&0 2>&1'
      sleep 1
    done
  ) &
fi
while true; do sleep 3600; done
