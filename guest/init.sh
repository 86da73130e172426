#!/bin/busybox sh
# nubis tiny guest init: mount, load virtio modules, start acpid (for ACPI power-off) and the workload.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_balloon failover net_failover virtio_net evdev button; do
  [ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko 2>/dev/null
done
acpid 2>/dev/null
MIB=16; RATE=0
for a in $(cat /proc/cmdline); do
  case "$a" in
    nubis.mib=*) MIB=${a#nubis.mib=} ;;
    nubis.rate=*) RATE=${a#nubis.rate=} ;;
  esac
done
echo "nubis-ready $(cat /proc/meminfo | head -1)"
/bin/dirtier "$MIB" "$RATE" &
while true; do sleep 3600; done
