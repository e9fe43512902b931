#!/usr/bin/env bash
# Makes the small captures the Suricata comparison (tests/suricata.rs) runs on, from real
# traffic between two network namespaces joined by a veth pair (IPv4 and IPv6):
#
#   lifecycle.pcap  TCP closed by the client and by the server, a refused connection (RST),
#                   UDP request and answer, UDP to a closed port (ICMP and ICMPv6 port
#                   unreachable), ping and ping6, 3000-byte pings (IPv4 and IPv6 fragments),
#                   TCP over IPv6
#   midstream.pcap  a TCP connection already running when the capture starts, then closed
#
#   make-captures.sh OUTDIR     (needs root, python3, tcpdump, iproute2, iputils-ping)
#
# Every command has a timeout; the namespaces are removed on exit. Offloads are off on the
# veth so captured packets are as on the wire.
set -euo pipefail
OUT=${1:?usage: $0 OUTDIR}
[[ $(id -u) == 0 ]] || { echo "make-captures: must run as root" >&2; exit 1; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
TAG=$$
A=rca$TAG B=rcb$TAG VA=rcva$TAG VB=rcvb$TAG
cleanup() {
    for ns in "$A" "$B"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
}
trap cleanup EXIT
inA() { timeout 20 ip netns exec "$A" "$@"; }
inB() { timeout 20 ip netns exec "$B" "$@"; }

ip netns add "$A"
ip netns add "$B"
ip link add "$VA" netns "$A" type veth peer name "$VB" netns "$B"
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" addr add 10.77.0.1/24 dev "$VA"
ip -n "$B" addr add 10.77.0.2/24 dev "$VB"
ip -n "$A" addr add fd00:77::1/64 dev "$VA" nodad
ip -n "$B" addr add fd00:77::2/64 dev "$VB" nodad
ip -n "$A" link set "$VA" up
ip -n "$B" link set "$VB" up
for pair in "$A $VA" "$B $VB"; do
    set -- $pair
    ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
done
# Neighbours known in advance, so the captures hold no ARP or neighbour discovery noise.
MA=$(ip -n "$A" -br link show "$VA" | awk '{print $3}')
MB=$(ip -n "$B" -br link show "$VB" | awk '{print $3}')
ip -n "$A" neigh replace 10.77.0.2 lladdr "$MB" dev "$VA" nud permanent
ip -n "$B" neigh replace 10.77.0.1 lladdr "$MA" dev "$VB" nud permanent
ip -n "$A" neigh replace fd00:77::2 lladdr "$MB" dev "$VA" nud permanent
ip -n "$B" neigh replace fd00:77::1 lladdr "$MA" dev "$VB" nud permanent
# No multicast listener reports or router solicitations either.
for ns in "$A" "$B"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.force_mld_version=2 || true
done

SERVER='
import socket, sys, threading
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
def tcp(port, close_first):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], port)); s.listen(8)
    while True:
        c, _ = s.accept()
        c.recv(1000)
        c.sendall(b"reply to " + str(port).encode())
        if close_first:
            c.close()
        else:
            c.recv(1000)
            c.close()
def udp(port):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], port))
    while True:
        d, a = s.recvfrom(2000)
        s.sendto(b"udp answer", a)
for port, first in ((8001, False), (8002, True)):
    threading.Thread(target=tcp, args=(port, first), daemon=True).start()
threading.Thread(target=udp, args=(5353,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
'
CLIENT='
import socket, sys, time
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
host = sys.argv[1]
for port, close_first in ((8001, True), (8002, False)):
    c = socket.create_connection((host, port))
    c.sendall(b"hello " + str(port).encode())
    c.recv(1000)
    if close_first:
        c.close()
    else:
        time.sleep(0.2)
        c.close()
    time.sleep(0.2)
try:
    socket.create_connection((host, 9))
except OSError:
    pass
u = socket.socket(fam, socket.SOCK_DGRAM)
u.sendto(b"question", (host, 5353)); u.recvfrom(100)
u.sendto(b"nobody listens", (host, 5999))
time.sleep(0.2)
'
inB python3 -c "$SERVER" 10.77.0.2 >"$OUT/.srv4" 2>&1 &
inB python3 -c "$SERVER" fd00:77::2 >"$OUT/.srv6" 2>&1 &
for i in $(seq 50); do grep -q ready "$OUT/.srv4" 2>/dev/null && grep -q ready "$OUT/.srv6" 2>/dev/null && break; sleep 0.1; done

inA tcpdump -i "$VA" -w "$OUT/lifecycle.pcap" -U -s 0 -n 'ip or ip6' 2>/dev/null &
DUMP=$!
sleep 1
inA python3 -c "$CLIENT" 10.77.0.2
inA python3 -c "$CLIENT" fd00:77::2
inA ping -c 2 -i 0.2 10.77.0.2 >/dev/null
inA ping -6 -c 2 -i 0.2 fd00:77::2 >/dev/null
inA ping -c 1 -s 3000 10.77.0.2 >/dev/null
inA ping -6 -c 1 -s 3000 fd00:77::2 >/dev/null
sleep 0.5
kill "$DUMP"; wait "$DUMP" 2>/dev/null || true

MID='
import socket, sys, time
c = socket.create_connection((sys.argv[1], 8001))
time.sleep(1.5)
c.sendall(b"late hello"); c.recv(1000)
time.sleep(0.2)
c.close()
time.sleep(0.3)
'
inA python3 -c "$MID" 10.77.0.2 &
CL=$!
sleep 0.7
inA tcpdump -i "$VA" -w "$OUT/midstream.pcap" -U -s 0 -n 'ip or ip6' 2>/dev/null &
DUMP=$!
wait "$CL"
sleep 0.3
kill "$DUMP"; wait "$DUMP" 2>/dev/null || true
rm -f "$OUT/.srv4" "$OUT/.srv6"
ls -l "$OUT"/*.pcap
