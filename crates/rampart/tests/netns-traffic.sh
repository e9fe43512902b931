#!/usr/bin/env bash
# Real, varied traffic between two network namespaces, captured twice on the same veth: by
# tcpdump into OUTDIR/tcpdump.pcap and by dumpcap into OUTDIR/dumpcap.pcapng.
#
#   netns-traffic.sh OUTDIR [TAG]     set up, generate, capture, tear down (needs root)
#   netns-traffic.sh --cleanup TAG    tear down what a killed run with TAG left behind
#
# Two namespaces rpa$TAG and rpb$TAG are joined by a veth pair with IPv4 and IPv6 addresses,
# and by a VXLAN tunnel (VNI 4242) over it (one direction without UDP checksums). B runs an
# HTTP server (python3 -m http.server), a DNS server (dnsmasq answering host.rampart.test) and
# a VLAN 100 peer (vlan-peer.py: kernels without 802.1Q support, like this project's CI VMs,
# cannot terminate a VLAN, so tagged ARP and ICMP echo are answered over a raw socket). A then
# sends: IPv4 and IPv6 ping (with ARP and neighbour discovery, and MLD reports behind a
# hop-by-hop header), tagged ARP and ping on VLAN 100, ping through the VXLAN tunnel, HTTP over
# IPv4 and IPv6, a TCP connection refused (RST), DNS over UDP (IPv4 and IPv6) and TCP, IPv4 and
# IPv6 pings of 3000 bytes (fragments) and a 4000-byte UDP datagram to a closed port
# (fragments, then an ICMP port unreachable quoting it). Checksum offload is turned off on the
# veths so that captured checksums are the ones on the wire.
#
# Every command has a timeout; everything is torn down on exit, whatever happened. All traffic
# stays inside the two namespaces.
set -euo pipefail

die() { echo "netns-traffic: $*" >&2; exit 1; }

cleanup_tag() {
    local tag=$1 ns pid
    for ns in "rpa$tag" "rpb$tag"; do
        ip netns list 2>/dev/null | grep -qw "^$ns" || continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
        sleep 0.2
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
}

if [[ ${1:-} == --cleanup ]]; then
    [[ -n ${2:-} ]] || die "usage: $0 --cleanup TAG"
    cleanup_tag "$2"
    exit 0
fi

OUT=${1:?usage: $0 OUTDIR [TAG]}
TAG=${2:-$$}
# Interface names hold at most 15 characters.
[[ $TAG =~ ^[0-9a-z]{1,8}$ ]] || die "TAG must be 1-8 characters of [0-9a-z]"
[[ $(id -u) == 0 ]] || die "must run as root"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

A=rpa$TAG B=rpb$TAG VA=rva$TAG VB=rvb$TAG XA=rxa$TAG XB=rxb$TAG
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
trap 'cleanup_tag "$TAG"' EXIT

inA() { timeout 15 ip netns exec "$A" "$@"; }
inB() { timeout 15 ip netns exec "$B" "$@"; }

# Wait (up to 10 s) for a file to contain a string.
wait_for_text() {
    local file=$1 text=$2 i
    for i in $(seq 100); do
        grep -q "$text" "$file" 2>/dev/null && return 0
        sleep 0.1
    done
    die "timed out waiting for '$text' in $file: $(cat "$file" 2>/dev/null)"
}

# Wait (up to 10 s) for a listening socket in namespace B (ss filter, e.g. 'sport = :53').
wait_for_listen() {
    local proto=$1 filter=$2 i
    for i in $(seq 100); do
        [[ -n $(inB ss -Hn "-l$proto" "$filter") ]] && return 0
        sleep 0.1
    done
    die "timed out waiting for a $proto listener on $filter in $B"
}

ip netns add "$A"
ip netns add "$B"
for ns in "$A" "$B"; do
    # No duplicate address detection: addresses are usable at once, and the run is shorter.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip -n "$ns" link set lo up
done
ip link add "$VA" netns "$A" type veth peer name "$VB" netns "$B"
for pair in "$A:$VA" "$B:$VB"; do
    ns=${pair%%:*} dev=${pair#*:}
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$dev.accept_dad=0"
    # Offloaded checksums would be captured unfinished; segmentation offload would capture
    # super-frames. Turn both off so the capture holds what a wire would carry.
    ip netns exec "$ns" ethtool -K "$dev" tx off rx off tso off gso off gro off >/dev/null
    ip -n "$ns" link set "$dev" up
done

# Capture on A's veth, before any address exists, so ARP, NDP and MLD are seen.
ip netns exec "$A" timeout 90 tcpdump -i "$VA" --immediate-mode -nn -U -Z root -s 0 \
    -w "$OUT/tcpdump.pcap" >"$OUT/tcpdump.log" 2>&1 &
TCPDUMP=$!
ip netns exec "$A" timeout 90 dumpcap -i "$VA" -q -w "$OUT/dumpcap.pcapng" \
    >"$OUT/dumpcap.log" 2>&1 &
DUMPCAP=$!
wait_for_text "$OUT/tcpdump.log" "listening on"
wait_for_text "$OUT/dumpcap.log" "Capturing on"

ip -n "$A" addr add 10.200.0.1/24 dev "$VA"
ip -n "$B" addr add 10.200.0.2/24 dev "$VB"
ip -n "$A" addr add fd00:200::1/64 dev "$VA" nodad
ip -n "$B" addr add fd00:200::2/64 dev "$VB" nodad
# A's end sends without UDP checksums (zero, legal over IPv4), B's end with them.
ip -n "$A" link add "$XA" type vxlan id 4242 local 10.200.0.1 remote 10.200.0.2 dstport 4789 \
    dev "$VA" noudpcsum
ip -n "$B" link add "$XB" type vxlan id 4242 local 10.200.0.2 remote 10.200.0.1 dstport 4789 \
    dev "$VB" udpcsum
ip -n "$A" addr add 10.201.0.1/24 dev "$XA"
ip -n "$B" addr add 10.201.0.2/24 dev "$XB"
ip -n "$A" link set "$XA" up
ip -n "$B" link set "$XB" up

mkdir -p "$OUT/www"
echo "<html><body>rampart netns test</body></html>" >"$OUT/www/index.html"
# Both servers run until the namespace is torn down (cleanup_tag kills them by pid).
ip netns exec "$B" timeout 90 python3 -m http.server 8080 --bind :: --directory "$OUT/www" \
    >"$OUT/http.log" 2>&1 &
ip netns exec "$B" timeout 90 dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv \
    --no-hosts --bind-interfaces --listen-address=10.200.0.2 --listen-address=fd00:200::2 \
    --except-interface=lo --address=/host.rampart.test/10.200.0.42 --user=root --group=root \
    --pid-file= --log-facility=- >"$OUT/dnsmasq.log" 2>&1 &
ip netns exec "$B" timeout 90 python3 "$HERE/vlan-peer.py" respond "$VB" 10.200.100.2 60 \
    >"$OUT/vlan-peer.log" 2>&1 &
wait_for_listen t "sport = :8080"
wait_for_listen u "sport = :53"
wait_for_text "$OUT/vlan-peer.log" ready

inA ping -nq -c 2 -i 0.2 -W 2 10.200.0.2 >/dev/null
inA ping -nq -6 -c 2 -i 0.2 -W 2 fd00:200::2 >/dev/null
inA python3 "$HERE/vlan-peer.py" ping "$VA" 10.200.100.1 10.200.100.2 2
inA ping -nq -c 2 -i 0.2 -W 2 10.201.0.2 >/dev/null
inA curl -sS --max-time 5 -o /dev/null http://10.200.0.2:8080/
inA curl -sS --max-time 5 -o /dev/null 'http://[fd00:200::2]:8080/index.html'
inA curl -sS --max-time 3 -o /dev/null http://10.200.0.2:9/ 2>/dev/null && die "port 9 answered"
inA dig +time=2 +tries=1 +short @10.200.0.2 host.rampart.test A | grep -qx 10.200.0.42 \
    || die "DNS over UDP/IPv4 did not answer"
inA dig +time=2 +tries=1 +short @fd00:200::2 host.rampart.test A | grep -qx 10.200.0.42 \
    || die "DNS over UDP/IPv6 did not answer"
inA dig +tcp +time=2 +tries=1 +short @10.200.0.2 host.rampart.test A | grep -qx 10.200.0.42 \
    || die "DNS over TCP did not answer"
inA ping -nq -c 1 -s 3000 -W 2 10.200.0.2 >/dev/null
inA ping -nq -6 -c 1 -s 3000 -W 2 fd00:200::2 >/dev/null
inA python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(bytes(range(256)) * 15 + bytes(160), ("10.200.0.2", 9999))
'
# Let the capture rings drain before stopping.
sleep 1

kill -INT "$TCPDUMP" "$DUMPCAP" 2>/dev/null || true
wait "$TCPDUMP" || true
wait "$DUMPCAP" || true
for f in tcpdump.pcap dumpcap.pcapng; do
    [[ -s $OUT/$f ]] || die "$f is empty; log: $(cat "$OUT/${f%%.*}.log")"
done
echo "netns-traffic: wrote $OUT/tcpdump.pcap and $OUT/dumpcap.pcapng"
