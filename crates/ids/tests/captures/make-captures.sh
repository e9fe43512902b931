#!/usr/bin/env bash
# Real HTTP, DNS and TLS traffic between two network namespaces, captured with tcpdump into
# OUTDIR/http.pcap, OUTDIR/dns.pcap and OUTDIR/tls.pcap: the captures the app-layer tests
# compare with Suricata (crates/ids/tests/suricata_eve.rs). Needs root; everything is torn
# down on exit; every command has a timeout; traffic stays inside the namespaces.
#
#   make-captures.sh OUTDIR
#
# HTTP: python3 -m http.server and edge-server.py (gzip, deflate, chunked with extensions and
# trailers, 100-continue, close-delimited bodies, 204/304, redirects) answering curl and
# edge-client.py (pipelining, HTTP/0.9, folded and repeated headers, URIs to normalise,
# absolute URIs, a chunked request body, byte-by-byte segments).
# DNS: dnsmasq answering dig over UDP and TCP: A, AAAA, CNAME, MX, TXT, SRV, PTR, NXDOMAIN;
# and dns-client.py: two queries in one UDP flow, two pipelined queries in one TCP connection.
# TLS: openssl s_server and s_client with SNI, TLS 1.3 and TLS 1.2.
set -euo pipefail

die() { echo "make-captures: $*" >&2; exit 1; }
OUT=${1:?usage: $0 OUTDIR}
[[ $(id -u) == 0 ]] || die "must run as root"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TAG=$$
A=rka$TAG B=rkb$TAG VA=rkva$TAG VB=rkvb$TAG
WORK=$(mktemp -d)

cleanup() {
    local ns pid
    for ns in "$A" "$B"; do
        ip netns list 2>/dev/null | grep -qw "^$ns" || continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
        sleep 0.3
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

inA() { timeout 20 ip netns exec "$A" "$@"; }
inB() { timeout 20 ip netns exec "$B" "$@"; }

wait_for_listen() {
    local proto=$1 filter=$2 i
    for i in $(seq 100); do
        [[ -n $(ip netns exec "$B" ss -Hn "-l$proto" "$filter") ]] && return 0
        sleep 0.1
    done
    die "timed out waiting for a $proto listener on $filter"
}

ip netns add "$A"
ip netns add "$B"
ip link add "$VA" netns "$A" type veth peer name "$VB" netns "$B"
inA ip addr add 10.77.0.1/24 dev "$VA"
inB ip addr add 10.77.0.2/24 dev "$VB"
for side in "$A $VA" "$B $VB"; do
    set -- $side
    ip netns exec "$1" ip link set lo up
    ip netns exec "$1" ip link set "$2" up
    # Segments as the stacks cut them, checksums as on the wire.
    ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
done
sleep 0.5

capture() { # name: start tcpdump in A
    ip netns exec "$A" tcpdump -i "$VA" -U -s 0 -w "$OUT/$1.pcap" 'tcp or udp' 2>"$WORK/$1.tcpdump.log" &
    echo $! >"$WORK/tcpdump.pid"
    local i
    for i in $(seq 50); do grep -q listening "$WORK/$1.tcpdump.log" && break; sleep 0.1; done
    sleep 0.3
}
stop_capture() {
    sleep 0.5
    kill -INT "$(cat "$WORK/tcpdump.pid")"
    wait "$(cat "$WORK/tcpdump.pid")" 2>/dev/null || true
}

# --- HTTP ---
mkdir -p "$WORK/www"
printf '<html><head><title>Rampart</title></head><body>static page</body></html>\n' >"$WORK/www/index.html"
head -c 3000 /dev/zero | tr '\0' 'P' >"$WORK/post.bin"
(cd "$WORK/www" && exec ip netns exec "$B" python3 -m http.server 8080 --bind 10.77.0.2) >"$WORK/pyhttp.log" 2>&1 &
ip netns exec "$B" python3 "$HERE/edge-server.py" 8081 >"$WORK/edge.log" 2>&1 &
wait_for_listen t 'sport = :8080'
wait_for_listen t 'sport = :8081'
capture http
inA curl -s -o /dev/null -A "curl-rampart/1.0" http://10.77.0.2:8080/index.html
inA curl -s -o /dev/null -A "curl-rampart/1.0" \
    http://10.77.0.2:8081/gzip http://10.77.0.2:8081/deflate http://10.77.0.2:8081/rawdeflate \
    http://10.77.0.2:8081/chunked http://10.77.0.2:8081/gzipchunked >/dev/null
inA curl -s -o /dev/null -A "curl-rampart/1.0" -H 'Expect: 100-continue' \
    -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/post.bin" \
    http://10.77.0.2:8081/continue >/dev/null
inA curl -s -o /dev/null -I -A "curl-rampart/1.0" http://10.77.0.2:8081/head
inA python3 "$HERE/edge-client.py" 10.77.0.2 8081
stop_capture

# --- DNS ---
ip netns exec "$B" dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces \
    --listen-address=10.77.0.2 --port=53 --local=/rampart.test/ \
    --host-record=host.rampart.test,10.77.0.2,fd77::2 \
    --cname=www.rampart.test,host.rampart.test \
    --mx-host=rampart.test,mail.rampart.test,10 \
    --txt-record=rampart.test,"v=spf1 -all" \
    --srv-host=_http._tcp.rampart.test,host.rampart.test,80,0,5 \
    --ptr-record=2.0.77.10.in-addr.arpa,host.rampart.test \
    >"$WORK/dnsmasq.log" 2>&1 &
wait_for_listen u 'sport = :53'
wait_for_listen t 'sport = :53'
capture dns
for q in "host.rampart.test A" "host.rampart.test AAAA" "www.rampart.test A" "rampart.test MX" \
         "rampart.test TXT" "_http._tcp.rampart.test SRV" "missing.rampart.test A"; do
    inA dig +short +tries=1 +time=2 @10.77.0.2 $q >/dev/null
done
inA dig +short +tries=1 +time=2 @10.77.0.2 -x 10.77.0.2 >/dev/null
inA dig +short +tcp +tries=1 +time=2 @10.77.0.2 www.rampart.test A >/dev/null
inA dig +short +tcp +tries=1 +time=2 @10.77.0.2 rampart.test MX >/dev/null
inA python3 "$HERE/dns-client.py" 10.77.0.2
stop_capture

# --- TLS ---
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=tls.rampart.test/O=Rampart" -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
ip netns exec "$B" openssl s_server -quiet -www -accept 443 -cert "$WORK/cert.pem" \
    -key "$WORK/key.pem" >"$WORK/s_server.log" 2>&1 &
wait_for_listen t 'sport = :443'
capture tls
for version in -tls1_3 -tls1_2; do
    printf 'GET / HTTP/1.0\r\n\r\n' | inA openssl s_client -quiet "$version" \
        -connect 10.77.0.2:443 -servername tls.rampart.test >/dev/null 2>&1 || true
done
stop_capture

ls -l "$OUT"/*.pcap
