#!/usr/bin/env python3
"""DNS exchanges dig does not make: two queries on one UDP socket (one flow, two
transactions each way) and two pipelined queries on one TCP connection.

    dns-client.py SERVER
"""
import socket
import struct
import sys

SERVER = sys.argv[1]


def query(ident, name, rrtype):
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", rrtype, 1)


udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.settimeout(2)
udp.connect((SERVER, 53))
for ident, name, rrtype in [(0x4001, "host.rampart.test", 1), (0x4002, "host.rampart.test", 28)]:
    udp.send(query(ident, name, rrtype))
    udp.recv(4096)
udp.close()

tcp = socket.create_connection((SERVER, 53), timeout=2)
first, second = query(0x5001, "www.rampart.test", 1), query(0x5002, "rampart.test", 15)
tcp.sendall(struct.pack("!H", len(first)) + first + struct.pack("!H", len(second)) + second)
data = b""
while True:
    if len(data) >= 2:
        n = struct.unpack("!H", data[:2])[0]
        if len(data) >= 2 + n and len(data) >= 2 + n + 2:
            m = struct.unpack("!H", data[2 + n:4 + n])[0]
            if len(data) >= 4 + n + m:
                break
    chunk = tcp.recv(4096)
    if not chunk:
        break
    data += chunk
tcp.close()
