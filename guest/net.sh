#!/bin/sh
# nubis tiny guest networking (kernel command line nubis.net=1): DHCP on eth0, metadata (EC2 or
# OpenStack paths), hostname, root's SSH keys, dropbear on 22, TCP echo on 7, httpd on 80, user data.
# Prints "nubis-net-ready IP" (or "nubis-net-failed REASON") on the console.
MD=http://169.254.169.254
for a in $(cat /proc/cmdline); do
  case "$a" in nubis.metadata=*) MD=${a#nubis.metadata=} ;; esac
done
MD=${MD%/}
mkdir -p /run/nubis /root/.ssh /etc/dropbear /www /var/log
chmod 700 /root /root/.ssh
ip link set lo up
if ! ip link show eth0 >/dev/null 2>&1; then
  echo "nubis-net-failed no eth0"
  exit 1
fi
ip link set eth0 up
# udhcpc keeps running to renew the lease; -b: keep trying in the background if the first tries fail.
udhcpc -i eth0 -s /etc/udhcpc/default.script -b -t 10 -T 2 -A 5 -O mtu -O staticroutes \
  -p /run/nubis/udhcpc.pid >/var/log/udhcpc.log 2>&1
# No lease within about a minute is reported once; udhcpc keeps trying and the rest follows a late lease.
n=0
while [ ! -s /run/nubis/ip ]; do
  n=$((n + 1))
  [ $n = 120 ] && echo "nubis-net-failed dhcp: no lease on eth0 (still trying)"
  sleep 0.5
done
IP=$(cut -d/ -f1 /run/nubis/ip)

# get PATH FILE: fetch a metadata path; fails on any HTTP error (busybox 1.35's wget -T crashes: timeout).
get() { rm -f "$2"; timeout 10 wget -q -O "$2" "$MD$1" 2>/dev/null && [ -s "$2" ]; }
# The metadata service may come up after the guest: retry for about a minute.
md=/run/nubis/md
mkdir -p $md
FLAVOR=
n=0
while [ $n -lt 30 ]; do
  if get /latest/meta-data/instance-id $md/instance-id; then FLAVOR=ec2; break; fi
  if get /openstack/latest/meta_data.json $md/meta_data.json; then FLAVOR=openstack; break; fi
  n=$((n + 1))
  sleep 2
done
# JSON string value of KEY in a one-object file (meta_data.json is flat for the keys read here).
jstr() { tr -d '\n' < "$1" | sed -n "s/.*\"$2\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p"; }
HOST=
: > /root/.ssh/authorized_keys
if [ "$FLAVOR" = ec2 ]; then
  get /latest/meta-data/hostname $md/hostname && HOST=$(head -1 $md/hostname)
  idx=0
  if get /latest/meta-data/public-keys/ $md/keys; then idx=$(cut -d= -f1 $md/keys); fi
  for i in $idx; do
    get "/latest/meta-data/public-keys/$i/openssh-key" $md/key && { cat $md/key; echo; } >> /root/.ssh/authorized_keys
  done
  get /latest/user-data $md/user-data
elif [ "$FLAVOR" = openstack ]; then
  HOST=$(jstr $md/meta_data.json hostname)
  [ -n "$HOST" ] || HOST=$(jstr $md/meta_data.json name)
  # public_keys: {"name": "ssh-... key", ...}: the values are the fields 4, 8, ... split on quotes.
  tr -d '\n' < $md/meta_data.json | sed -n 's/.*"public_keys"[[:space:]]*:[[:space:]]*{\([^}]*\)}.*/\1/p' |
    awk -F'"' '{ for (i = 4; i <= NF; i += 4) print $i }' >> /root/.ssh/authorized_keys
  get /openstack/latest/user_data $md/user-data
else
  echo "nubis-net-warning no metadata from $MD"
fi
# JSON escapes a key may carry: "\/" and a trailing "\n" (Nova adds one).
sed -i -e 's#\\/#/#g' -e 's#\\n$##' -e '/^[[:space:]]*$/d' /root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
HOST=${HOST%%.*}
[ -n "$HOST" ] && hostname "$HOST" && echo "$HOST" > /etc/hostname
hostname > /www/index.html

# Services: SSH (key-only; host keys generated now, others on demand with -R), echo, HTTP.
if [ -x /usr/sbin/dropbear ]; then
  [ -f /etc/dropbear/dropbear_ed25519_host_key ] ||
    dropbearkey -t ed25519 -f /etc/dropbear/dropbear_ed25519_host_key >/dev/null 2>&1
  dropbear -R -s -p 22 2>>/var/log/dropbear.log
fi
nc -ll -p 7 -e cat >/dev/null 2>&1 &
httpd -p 80 -h /www

echo "nubis-net-ready $IP"

# User data that is a script runs once (this guest keeps no state across boots).
if [ -s $md/user-data ] && [ "$(head -c 2 $md/user-data)" = "#!" ]; then
  cp $md/user-data /run/nubis/user-data && chmod 700 /run/nubis/user-data
  /run/nubis/user-data >/var/log/user-data.log 2>&1
  echo "nubis-userdata-done $?"
fi
