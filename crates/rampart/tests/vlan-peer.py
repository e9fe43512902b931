#!/usr/bin/env python3
"""Ping over VLAN 100 on a kernel without 802.1Q support, over raw packet sockets.

    vlan-peer.py respond IFACE IP SECONDS   answer tagged ARP and ICMP echo requests for IP
    vlan-peer.py ping IFACE SRC DST COUNT   resolve DST with a tagged ARP request, then ping it

Both sides send 802.1Q-tagged frames (requests with priority 0, replies with priority 5), so a
capture on the veth between them holds real VLAN traffic both ways. Tagged frames may arrive
with the tag inline or moved into packet metadata by the kernel; both are accepted. Every wait
is bounded. Used by netns-traffic.sh.
"""
import os
import socket
import struct
import sys
import time

VID = 100
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
BROADCAST = b"\xff" * 6


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(dst: bytes, src: bytes, ethertype: int, payload: bytes, pcp: int) -> bytes:
    return dst + src + struct.pack("!HHH", 0x8100, (pcp << 13) | VID, ethertype) + payload


def arp(op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes) -> bytes:
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + spa + tha + tpa


def ipv4_icmp(src: bytes, dst: bytes, icmp_type: int, ident: int, seq: int, data: bytes) -> bytes:
    icmp = struct.pack("!BBHHH", icmp_type, 0, 0, ident, seq) + data
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), os.getpid() & 0xFFFF, 0x4000,
                      64, 1, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + icmp


def open_socket(iface: str):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    return s, s.getsockname()[4]


def receive(sock, deadline: float):
    """Yields (src_mac, ethertype, payload) of incoming frames until the deadline."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        sock.settimeout(left)
        try:
            data, addr = sock.recvfrom(65535)
        except socket.timeout:
            return
        if addr[2] == PACKET_OUTGOING or len(data) < 14:
            continue
        ethertype = struct.unpack("!H", data[12:14])[0]
        payload = data[14:]
        if ethertype == 0x8100 and len(payload) >= 4:
            ethertype = struct.unpack("!H", payload[2:4])[0]
            payload = payload[4:]
        yield data[6:12], ethertype, payload


def respond(iface: str, ip: str, seconds: float) -> int:
    sock, mac = open_socket(iface)
    me = socket.inet_aton(ip)
    print("ready", flush=True)
    for src, ethertype, p in receive(sock, time.monotonic() + seconds):
        if ethertype == 0x0806 and len(p) >= 28 and p[6:8] == b"\0\x01" and p[24:28] == me:
            sock.send(frame(src, mac, 0x0806, arp(2, mac, me, p[8:14], p[14:18]), 5))
        elif ethertype == 0x0800 and len(p) >= 28 and p[9] == 1 and p[16:20] == me:
            ihl = (p[0] & 0x0F) * 4
            total = struct.unpack("!H", p[2:4])[0]
            icmp = p[ihl:total]
            if len(icmp) >= 8 and icmp[0] == 8:
                ident, seq = struct.unpack("!HH", icmp[4:8])
                reply = ipv4_icmp(me, p[12:16], 0, ident, seq, icmp[8:])
                sock.send(frame(src, mac, 0x0800, reply, 5))
    return 0


def ping(iface: str, src_ip: str, dst_ip: str, count: int) -> int:
    sock, mac = open_socket(iface)
    src, dst = socket.inet_aton(src_ip), socket.inet_aton(dst_ip)
    sock.send(frame(BROADCAST, mac, 0x0806, arp(1, mac, src, b"\0" * 6, dst), 0))
    peer = None
    for _, ethertype, p in receive(sock, time.monotonic() + 3):
        if ethertype == 0x0806 and len(p) >= 28 and p[6:8] == b"\0\x02" and p[14:18] == dst:
            peer = p[8:14]
            break
    if peer is None:
        print(f"vlan-peer: no ARP reply from {dst_ip}", file=sys.stderr)
        return 1
    ident = os.getpid() & 0xFFFF
    for seq in range(1, count + 1):
        data = bytes(range(56))
        sock.send(frame(peer, mac, 0x0800, ipv4_icmp(src, dst, 8, ident, seq, data), 0))
        ok = False
        for _, ethertype, p in receive(sock, time.monotonic() + 3):
            if ethertype == 0x0800 and len(p) >= 28 and p[9] == 1 and p[12:16] == dst:
                ihl = (p[0] & 0x0F) * 4
                if p[ihl] == 0 and struct.unpack("!HH", p[ihl + 4:ihl + 8]) == (ident, seq):
                    ok = True
                    break
        if not ok:
            print(f"vlan-peer: no echo reply from {dst_ip} for seq {seq}", file=sys.stderr)
            return 1
        time.sleep(0.1)
    return 0


def main(argv) -> int:
    if len(argv) == 5 and argv[1] == "respond":
        return respond(argv[2], argv[3], float(argv[4]))
    if len(argv) == 6 and argv[1] == "ping":
        return ping(argv[2], argv[3], argv[4], int(argv[5]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
