#!/bin/sh
# Start dockerd inside this container, with its API on tcp://0.0.0.0:2375 (publish it on the
# host's 127.0.0.1 only). FORWARD_PORTS (first:last) are ports the host engine publishes for
# this container: a connection to one of them reaches what this engine published on 127.0.0.1.
# AUTHORIZED_KEY (a public key) starts an SSH server on port 22 that lets that key in as root.
set -eu
# /sys and the cgroup mounts come read-only; a plain `remount,rw` fails on the cgroup ones.
mount -o remount,bind,rw /sys
awk '$3 ~ /^cgroup/ { print $2 }' /proc/self/mounts | while read -r m; do mount -o remount,bind,rw "$m"; done
if [ -n "${FORWARD_PORTS:-}" ]; then
	# What comes in on eth0 for these ports goes to loopback, where this engine's proxies listen.
	echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet
	echo 1 > /proc/sys/net/ipv4/conf/eth0/route_localnet
	iptables -t nat -A PREROUTING -i eth0 -p tcp --dport "$FORWARD_PORTS" -j DNAT --to-destination 127.0.0.1
fi
if [ -n "${AUTHORIZED_KEY:-}" ]; then
	mkdir -p -m 700 /root/.ssh /run/sshd
	printf '%s\n' "$AUTHORIZED_KEY" > /root/.ssh/authorized_keys
	ssh-keygen -A >/dev/null
	/usr/sbin/sshd -o PasswordAuthentication=no -o PermitRootLogin=prohibit-password
fi
exec dockerd --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2375 --tls=false "$@"
