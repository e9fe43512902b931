#!/usr/bin/env python3
"""Writes the hand-made seed inputs of every fuzz target to fuzz/seeds/<target>/<name>.

Each seed is a small, well-formed example of what its parser reads (real-looking frames with
correct lengths and checksums, pcap and pcapng files in each byte order and timestamp
resolution), so that fuzzing starts from deep inside each format rather than from nothing.
`cargo test -p rampart-fuzz-replay` replays them; `fuzz/run-all.sh` fuzzes from them.

Standard library only; the output is deterministic. Run from anywhere:
    python3 fuzz/gen_seeds.py
"""

import os
import random
import shutil
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")

MAC_A = bytes.fromhex("525400123456")
MAC_B = bytes.fromhex("02000a0b0c0d")
BCAST = b"\xff" * 6
IP4_A = bytes([192, 168, 1, 23])
IP4_B = bytes([192, 168, 1, 1])
IP6_A = bytes.fromhex("20010db8000000000000000000000001")
IP6_B = bytes.fromhex("20010db8000000000000000000000002")
LL6_A = bytes.fromhex("fe80000000000000505400fffe123456")
LL6_R = bytes.fromhex("fe8000000000000002000afffe0b0c0d")
ALL_NODES = bytes.fromhex("ff020000000000000000000000000001")
ALL_ROUTERS = bytes.fromhex("ff020000000000000000000000000002")
SOLICITED = bytes.fromhex("ff0200000000000000000001ff000002")

ET_IPV4, ET_ARP, ET_VLAN, ET_QINQ, ET_IPV6, ET_TEB = 0x0800, 0x0806, 0x8100, 0x88A8, 0x86DD, 0x6558
P_HOPOPT, P_ICMP, P_TCP, P_UDP, P_ROUTE, P_FRAG, P_ICMPV6, P_NONXT, P_OPTS = 0, 1, 6, 17, 43, 44, 58, 59, 60


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def pseudo(src, dst, proto, length):
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


# ---- link layers ------------------------------------------------------------------------------


def eth(dst, src, ethertype, payload, pad=True):
    frame = dst + src + struct.pack("!H", ethertype) + payload
    if pad and len(frame) < 60:
        frame += b"\0" * (60 - len(frame))
    return frame


def tag(pcp, dei, vid, ethertype):
    return struct.pack("!HH", (pcp << 13) | (dei << 12) | vid, ethertype)


def sll(packet_type, arphrd, addr, protocol, payload):
    field = (addr + b"\0" * 8)[:8]
    return struct.pack("!HHH", packet_type, arphrd, len(addr)) + field + struct.pack("!H", protocol) + payload


def sll2(protocol, ifindex, arphrd, packet_type, addr, payload):
    field = (addr + b"\0" * 8)[:8]
    return struct.pack("!HHIHBB", protocol, 0, ifindex, arphrd, packet_type, len(addr)) + field + payload


def null(family, payload, big_endian=False):
    """A BSD loopback header (LINKTYPE_NULL in the capturing host's order, LOOP big-endian)."""
    return struct.pack(">I" if big_endian else "<I", family) + payload


def chdlc(address, protocol, payload):
    return struct.pack("!BBH", address, 0, protocol) + payload


def slarp(code, a, b, reliability=0xFFFF, uptime_ms=None):
    tail = b"" if uptime_ms is None else struct.pack("!I", uptime_ms)
    return struct.pack("!IIIH", code, a, b, reliability) + tail


def arp(op, sha, spa, tha, tpa, htype=1, ptype=ET_IPV4):
    return struct.pack("!HHBBH", htype, ptype, len(sha), len(spa), op) + sha + spa + tha + tpa


# ---- IP ---------------------------------------------------------------------------------------


def ipv4(src, dst, proto, payload, ttl=64, ident=0x1C46, df=True, mf=False, frag=0, options=b"", tos=0):
    ihl = 5 + len(options) // 4
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | frag
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, ihl * 4 + len(payload), ident, flags, ttl, proto, 0, src, dst)
    h += options
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ipv6(src, dst, next_header, payload, hop_limit=64, tc=0, flow=0x12345):
    return struct.pack("!IHBB", (6 << 28) | (tc << 20) | flow, len(payload), next_header, hop_limit) + src + dst + payload


def ext_opts(next_header, options):
    """A hop-by-hop or destination options header; `options` must make 2 + len a multiple of 8."""
    assert (2 + len(options)) % 8 == 0
    return struct.pack("!BB", next_header, (2 + len(options)) // 8 - 1) + options


def ext_routing(next_header, rtype, segments_left, data):
    assert (4 + len(data)) % 8 == 0
    return struct.pack("!BBBB", next_header, (4 + len(data)) // 8 - 1, rtype, segments_left) + data


def ext_frag(next_header, offset, more, ident):
    return struct.pack("!BBHI", next_header, 0, (offset << 3) | more, ident)


# ---- transport --------------------------------------------------------------------------------


def tcp(src_ip, dst_ip, sport, dport, seq, ack, flags, options=b"", payload=b"", window=64240, urgent=0):
    while len(options) % 4:
        options += b"\0"
    off = (20 + len(options)) // 4
    h = struct.pack("!HHIIHHHH", sport, dport, seq, ack, (off << 12) | flags, window, 0, urgent) + options
    seg = h + payload
    c = csum(pseudo(src_ip, dst_ip, P_TCP, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src_ip, dst_ip, sport, dport, payload, length=None, checksum=True):
    length = 8 + len(payload) if length is None else length
    seg = struct.pack("!HHHH", sport, dport, length, 0) + payload
    if checksum:
        c = csum(pseudo(src_ip, dst_ip, P_UDP, len(seg)) + seg) or 0xFFFF
        seg = seg[:6] + struct.pack("!H", c) + seg[8:]
    return seg


def icmp4(msg_type, code, rest, data=b""):
    m = struct.pack("!BBHI", msg_type, code, 0, rest) + data
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


def icmp6(src, dst, msg_type, code, body):
    m = struct.pack("!BBH", msg_type, code, 0) + body
    c = csum(pseudo(src, dst, P_ICMPV6, len(m)) + m)
    return m[:2] + struct.pack("!H", c) + m[4:]


def ndp_opt(kind, data):
    total = (2 + len(data) + 7) // 8 * 8
    return struct.pack("!BB", kind, total // 8) + data + b"\0" * (total - 2 - len(data))


def prefix_info(prefix, plen=64, flags=0xC0, valid=2592000, preferred=604800):
    return struct.pack("!BBBBII4x", 3, 4, plen, flags, valid, preferred) + prefix


OPT_MSS = b"\x02\x04\x05\xb4"
OPT_SACKOK = b"\x04\x02"
OPT_TS = b"\x08\x0a" + struct.pack("!II", 0x0A1B2C3D, 0)
OPT_WS7 = b"\x03\x03\x07"
NOP = b"\x01"
FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 1, 2, 4, 8, 16, 32, 64, 128


# ---- tunnels ----------------------------------------------------------------------------------


def vxlan(vni, inner, flags=0x08):
    return struct.pack("!B3xI", flags, vni << 8) + inner


def geneve(vni, protocol, options=b"", oam=False, critical=False, version=0):
    assert len(options) % 4 == 0
    flags = (0x80 if oam else 0) | (0x40 if critical else 0)
    return struct.pack("!BBHI", (version << 6) | len(options) // 4, flags, protocol, vni << 8) + options


def geneve_opt(cls, typ, data):
    assert len(data) % 4 == 0
    return struct.pack("!HBB", cls, typ, len(data) // 4) + data


# ---- capture files ----------------------------------------------------------------------------


def pcap(records, linktype=1, nanos=False, big_endian=False, snaplen=65535, version=(2, 4)):
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = struct.pack(e + "IHHiIII", magic, version[0], version[1], 0, 0, snaplen, linktype)
    for secs, frac, data, orig in records:
        out += struct.pack(e + "IIII", secs, frac, len(data), orig) + data
    return out


def pad4(b):
    return b + b"\0" * (-len(b) % 4)


def block(e, btype, body):
    assert len(body) % 4 == 0, "pcapng block bodies are padded to 32 bits"
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def opt(e, code, value):
    return struct.pack(e + "HH", code, len(value)) + pad4(value)


def end_opts(e, opts):
    return b"".join(opts) + struct.pack(e + "HH", 0, 0) if opts else b""


def shb(e, options=()):
    body = struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1) + end_opts(e, list(options))
    return block(e, 0x0A0D0D0A, body)


def idb(e, linktype, snaplen=0, options=()):
    return block(e, 1, struct.pack(e + "HHI", linktype, 0, snaplen) + end_opts(e, list(options)))


def epb(e, ifid, ticks, data, orig=None, options=()):
    orig = len(data) if orig is None else orig
    body = struct.pack(e + "IIIII", ifid, ticks >> 32, ticks & 0xFFFFFFFF, len(data), orig) + pad4(data)
    return block(e, 6, body + end_opts(e, list(options)))


def spb(e, data, orig=None, snaplen=0):
    """A Simple Packet Block holds min(original length, snaplen) bytes."""
    orig = len(data) if orig is None else orig
    data = data[:snaplen] if snaplen else data
    return block(e, 3, struct.pack(e + "I", orig) + pad4(data))


def opb(e, ifid, ticks, data, orig=None):
    orig = len(data) if orig is None else orig
    body = struct.pack(e + "HHIIII", ifid, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), orig) + pad4(data)
    return block(e, 2, body)


# ---- the seeds --------------------------------------------------------------------------------


def frames():
    """Named example packets, each with the link type it starts with."""
    f = {}
    syn = tcp(IP4_A, IP4_B, 40000, 443, 1, 0, SYN, OPT_MSS + OPT_SACKOK + OPT_TS + NOP + OPT_WS7)
    dns_q = bytes.fromhex("abcd01000001000000000000076578616d706c6503636f6d0000010001")
    f["eth-ipv4-tcp-syn"] = ("eth", eth(MAC_B, MAC_A, ET_IPV4, ipv4(IP4_A, IP4_B, P_TCP, syn)))
    f["eth-ipv4-udp-dns"] = ("eth", eth(MAC_B, MAC_A, ET_IPV4, ipv4(IP4_A, IP4_B, P_UDP, udp(IP4_A, IP4_B, 53000, 53, dns_q))))
    f["eth-qinq-ipv4-icmp-echo"] = (
        "eth",
        eth(MAC_B, MAC_A, ET_QINQ, tag(0, 0, 100, ET_VLAN) + tag(5, 0, 200, ET_IPV4)
            + ipv4(IP4_A, IP4_B, P_ICMP, icmp4(8, 0, 0x00070001, b"abcdefgh"), df=False)),
    )
    f["eth-vlan-arp-request"] = ("eth", eth(BCAST, MAC_A, ET_VLAN, tag(0, 0, 10, ET_ARP) + arp(1, MAC_A, IP4_A, b"\0" * 6, IP4_B)))
    f["eth-ipv4-later-fragment"] = ("eth", eth(MAC_B, MAC_A, ET_IPV4, ipv4(IP4_A, IP4_B, P_UDP, b"x" * 24, df=False, frag=185)))
    f["eth-ipv4-first-fragment"] = (
        "eth",
        eth(MAC_B, MAC_A, ET_IPV4, ipv4(IP4_A, IP4_B, P_UDP, udp(IP4_A, IP4_B, 5000, 5001, b"y" * 32, length=1480)[:40], df=False, mf=True)),
    )
    f["eth-ipv4-options-tcp-ack"] = (
        "eth",
        eth(MAC_B, MAC_A, ET_IPV4, ipv4(IP4_A, IP4_B, P_TCP, tcp(IP4_A, IP4_B, 22, 51000, 1000, 2000, ACK | PSH, NOP + NOP + OPT_TS, b"SSH-2.0-x\r\n"),
                                       options=b"\x94\x04\x00\x00")),
    )
    hbh = ext_opts(P_FRAG, b"\x05\x02\x00\x00\x01\x00")  # router alert, PadN
    frag = ext_frag(P_UDP, 0, 1, 0xDEADBEEF)
    f["eth-ipv6-hbh-frag-udp"] = ("eth", eth(MAC_B, MAC_A, ET_IPV6, ipv6(IP6_A, IP6_B, P_HOPOPT, hbh + frag + udp(IP6_A, IP6_B, 546, 547, b"\x01\x00\x00\x01"))))
    srh = ext_routing(P_TCP, 4, 1, struct.pack("!BBH", 0, 0, 0) + IP6_B)
    f["eth-ipv6-srh-tcp"] = ("eth", eth(MAC_B, MAC_A, ET_IPV6, ipv6(IP6_A, IP6_B, P_ROUTE, srh + tcp(IP6_A, IP6_B, 443, 40001, 7, 9, ACK | FIN))))
    ns = icmp6(LL6_A, SOLICITED, 135, 0, b"\0" * 4 + IP6_B + ndp_opt(1, MAC_A))
    f["eth-ipv6-icmpv6-ns"] = ("eth", eth(bytes.fromhex("3333ff000002"), MAC_A, ET_IPV6, ipv6(LL6_A, SOLICITED, P_ICMPV6, ns, hop_limit=255)))
    f["eth-ipv6-dstopts-nonxt"] = ("eth", eth(MAC_B, MAC_A, ET_IPV6, ipv6(IP6_A, IP6_B, P_OPTS, ext_opts(P_NONXT, b"\x1e\x04abcd"))))
    inner = eth(MAC_A, MAC_B, ET_IPV4, ipv4(IP4_B, IP4_A, P_TCP, tcp(IP4_B, IP4_A, 80, 50000, 5, 6, SYN | ACK, OPT_MSS)), pad=False)
    f["eth-ipv4-udp-vxlan-eth-tcp"] = ("eth", eth(MAC_B, MAC_A, ET_IPV4, ipv4(IP4_A, IP4_B, P_UDP, udp(IP4_A, IP4_B, 49152, 4789, vxlan(42, inner)))))
    gopts = geneve_opt(0x0102, 0x80, b"\x00\x00\x00\x07") + geneve_opt(0xFFFF, 0x01, b"")
    f["eth-ipv6-udp-geneve-eth"] = (
        "eth",
        eth(MAC_B, MAC_A, ET_IPV6, ipv6(IP6_A, IP6_B, P_UDP, udp(IP6_A, IP6_B, 49153, 6081, geneve(0xABCDE, ET_TEB, gopts, critical=True) + inner))),
    )
    f["eth-ipv4-udp-geneve-ipv4"] = (
        "eth",
        eth(MAC_B, MAC_A, ET_IPV4, ipv4(IP4_A, IP4_B, P_UDP, udp(IP4_A, IP4_B, 49154, 6081, geneve(7, ET_IPV4) + ipv4(IP4_B, IP4_A, P_UDP, udp(IP4_B, IP4_A, 1, 2, b""))))),
    )
    f["eth-llc-stp"] = ("eth", eth(bytes.fromhex("0180c2000000"), MAC_A, 0x0026, bytes.fromhex("424203000000000080005254001234560000000080005254001234568001000014000200")))
    f["raw-ipv4-udp"] = ("raw", ipv4(IP4_A, IP4_B, P_UDP, udp(IP4_A, IP4_B, 123, 123, b"\x23" + b"\0" * 47)))
    f["raw-ipv6-tcp"] = ("raw", ipv6(IP6_A, IP6_B, P_TCP, tcp(IP6_A, IP6_B, 40002, 80, 100, 0, SYN, OPT_MSS + NOP + OPT_WS7 + NOP + NOP + OPT_TS)))
    f["sll-ipv4-tcp"] = ("sll", sll(4, 1, MAC_A, ET_IPV4, ipv4(IP4_A, IP4_B, P_TCP, tcp(IP4_A, IP4_B, 40003, 443, 1, 1, ACK, b"", b"hello"))))
    f["sll2-ipv6-udp"] = ("sll2", sll2(ET_IPV6, 3, 1, 0, MAC_B, ipv6(IP6_B, IP6_A, P_UDP, udp(IP6_B, IP6_A, 53, 53000, b"\xab\xcd\x81\x80"))))
    f["sll2-loopback-ipv4-icmp"] = ("sll2", sll2(ET_IPV4, 1, 772, 0, b"", ipv4(IP4_A, IP4_A, P_ICMP, icmp4(0, 0, 0x00010002, b"ping"))))
    f["null-ipv4-udp"] = ("null", null(2, ipv4(IP4_A, IP4_B, P_UDP, udp(IP4_A, IP4_B, 40000, 40001, b"hello"))))
    f["null-be-ipv6-tcp-freebsd"] = ("null", null(28, ipv6(IP6_A, IP6_B, P_TCP, tcp(IP6_A, IP6_B, 40004, 22, 5, 0, SYN, OPT_MSS)), big_endian=True))
    f["null-ipv6-icmpv6-darwin"] = ("null", null(30, ipv6(IP6_A, IP6_B, P_ICMPV6, icmp6(IP6_A, IP6_B, 128, 0, struct.pack("!HH", 3, 1) + b"mac"))))
    f["null-iso-family"] = ("null", null(7, b"\x81\x1c\x01\x00"))
    f["loop-ipv6-udp-openbsd"] = ("loop", null(24, ipv6(IP6_A, IP6_B, P_UDP, udp(IP6_A, IP6_B, 500, 500, b"isakmp")), big_endian=True))
    f["loop-ipv4-icmp"] = ("loop", null(2, ipv4(IP4_A, IP4_B, P_ICMP, icmp4(8, 0, 0x00090001, b"enc0")), big_endian=True))
    f["chdlc-ipv4-tcp"] = ("chdlc", chdlc(0x0F, ET_IPV4, ipv4(IP4_A, IP4_B, P_TCP, tcp(IP4_A, IP4_B, 179, 40005, 1, 1, ACK | PSH, b"", b"\xff" * 19))))
    f["chdlc-ipv6-udp"] = ("chdlc", chdlc(0x0F, ET_IPV6, ipv6(IP6_A, IP6_B, P_UDP, udp(IP6_A, IP6_B, 521, 521, b"ripng"))))
    f["chdlc-slarp-keepalive"] = ("chdlc", chdlc(0x8F, 0x8035, slarp(2, 0x10, 0x0F, uptime_ms=123456789)))
    f["chdlc-slarp-reply"] = ("chdlc", chdlc(0x8F, 0x8035, slarp(1, 0x0A010101, 0xFFFFFFFC)))
    return f


def seeds():
    s = {t: {} for t in (
        "parse_packet", "ethernet", "vlan", "arp", "ipv4", "ipv6", "tcp", "udp", "icmpv4", "icmpv6",
        "vxlan", "geneve", "sll", "loopback_chdlc", "capture_reader", "capture_roundtrip", "flow_key")}
    fr = frames()
    selector = {"eth": 0, "raw": 1, "sll": 2, "sll2": 3, "null": 4, "loop": 5, "chdlc": 6}
    for name, (link, frame) in fr.items():
        s["parse_packet"][name] = bytes([selector[link]]) + frame
        if link == "eth":
            s["ethernet"][name] = frame
            # flow_key: two bytes of input port, then the frame.
            s["flow_key"][name] = b"\x00\x07" + frame

    # One tag each, then the start of what follows.
    s["vlan"]["pcp3-dei-vid291-ipv6"] = tag(3, 1, 0x123, ET_IPV6) + b"\x60\x00"
    s["vlan"]["priority-tag-ipv4"] = tag(6, 0, 0, ET_IPV4) + b"\x45"
    s["vlan"]["vid4095-reserved"] = tag(0, 0, 0xFFF, ET_IPV4)
    s["vlan"]["qinq-inner-tag"] = tag(0, 0, 4094, ET_VLAN) + tag(1, 0, 1, ET_ARP)

    s["arp"]["request"] = arp(1, MAC_A, IP4_A, b"\0" * 6, IP4_B) + b"\0" * 18
    s["arp"]["reply"] = arp(2, MAC_B, IP4_B, MAC_A, IP4_A)
    s["arp"]["gratuitous"] = arp(1, MAC_A, IP4_A, BCAST, IP4_A)
    s["arp"]["rarp-request"] = arp(3, MAC_A, b"\0" * 4, MAC_A, b"\0" * 4)
    s["arp"]["infiniband-20-byte-hw"] = arp(1, bytes(range(20)), IP4_A, b"\0" * 20, IP4_B, htype=32)

    syn = tcp(IP4_A, IP4_B, 40000, 443, 1, 0, SYN, OPT_MSS + OPT_SACKOK + OPT_TS + NOP + OPT_WS7)
    s["ipv4"]["udp-df"] = ipv4(IP4_A, IP4_B, P_UDP, udp(IP4_A, IP4_B, 5353, 5353, b"mdns"))
    s["ipv4"]["tcp-syn-padded"] = ipv4(IP4_A, IP4_B, P_TCP, syn, tos=0xB8) + b"\0" * 6
    s["ipv4"]["router-alert-igmp"] = ipv4(IP4_A, bytes([224, 0, 0, 22]), 2, bytes.fromhex("2200f9020000000104000000e00000fb"), ttl=1, options=b"\x94\x04\x00\x00")
    s["ipv4"]["record-route-icmp"] = ipv4(IP4_A, IP4_B, P_ICMP, icmp4(8, 0, 1, b""), options=b"\x07\x0b\x04" + b"\0" * 8 + b"\x00")
    s["ipv4"]["first-fragment"] = ipv4(IP4_A, IP4_B, P_UDP, b"z" * 16, df=False, mf=True, ident=77)
    s["ipv4"]["later-fragment"] = ipv4(IP4_A, IP4_B, P_UDP, b"z" * 8, df=False, frag=2, ident=77)
    bad = bytearray(ipv4(IP4_A, IP4_B, P_TCP, syn))
    bad[10] ^= 0xFF
    s["ipv4"]["bad-checksum"] = bytes(bad)

    hbh = ext_opts(P_OPTS, b"\x05\x02\x00\x00\x01\x00")
    dst = ext_opts(P_ROUTE, b"\x1e\x04\x00\x00\x00\x01")  # an experimental (RFC 4727) TLV
    rh = ext_routing(P_FRAG, 2, 1, b"\0" * 4 + IP6_B)
    fh = ext_frag(P_UDP, 0, 0, 1)
    s["ipv6"]["udp"] = ipv6(IP6_A, IP6_B, P_UDP, udp(IP6_A, IP6_B, 546, 547, b"\x01\x02\x03\x04"))
    s["ipv6"]["hbh-dst-rh2-frag-udp"] = ipv6(IP6_A, IP6_B, P_HOPOPT, hbh + dst + rh + fh + udp(IP6_A, IP6_B, 9, 9, b""))
    s["ipv6"]["icmpv6-echo"] = ipv6(IP6_A, IP6_B, P_ICMPV6, icmp6(IP6_A, IP6_B, 128, 0, struct.pack("!HH", 1, 1) + b"ping"))
    s["ipv6"]["nonxt"] = ipv6(IP6_A, IP6_B, P_NONXT, b"")
    s["ipv6"]["ext-hbh-alone"] = ext_opts(P_TCP, b"\x00\x01\x03\x00\x00\x00") + b"rest"
    s["ipv6"]["ext-routing-srh-alone"] = ext_routing(P_TCP, 4, 0, struct.pack("!BBH", 0, 0, 0) + IP6_A)
    s["ipv6"]["ext-fragment-alone"] = ext_frag(P_TCP, 100, 1, 0x01020304) + b"data"

    s["tcp"]["syn"] = syn
    s["tcp"]["syn-ack-linux"] = tcp(IP4_B, IP4_A, 443, 40000, 9, 2, SYN | ACK, OPT_MSS + OPT_SACKOK + OPT_TS + NOP + OPT_WS7)
    s["tcp"]["ack-sack-2-blocks"] = tcp(IP4_A, IP4_B, 40000, 443, 2, 5000, ACK, NOP + NOP + OPT_TS + NOP + NOP + b"\x05\x12" + struct.pack("!IIII", 6000, 7000, 8000, 9000))
    s["tcp"]["psh-ack-payload"] = tcp(IP4_A, IP4_B, 40000, 80, 2, 9, PSH | ACK, NOP + NOP + OPT_TS, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    s["tcp"]["rst-no-options"] = tcp(IP4_B, IP4_A, 80, 40000, 0, 0, RST)
    s["tcp"]["urg-ece-cwr-ns"] = tcp(IP4_A, IP4_B, 1, 2, 3, 4, URG | ECE | CWR | ACK | 0x100, b"", b"!", urgent=1)
    s["tcp"]["mptcp-unknown-option-eol"] = tcp(IP4_A, IP4_B, 40000, 443, 1, 0, SYN, OPT_MSS + b"\x1e\x0c\x00\x81" + b"\x01" * 8 + b"\x00")

    dns_q = bytes.fromhex("abcd01000001000000000000076578616d706c6503636f6d0000010001")
    s["udp"]["dns-query"] = udp(IP4_A, IP4_B, 53000, 53, dns_q)
    s["udp"]["no-checksum"] = udp(IP4_A, IP4_B, 68, 67, b"\x01\x01\x06\x00", checksum=False)
    s["udp"]["length-zero-jumbo"] = udp(IP6_A, IP6_B, 1000, 2000, b"q" * 12, length=0)
    s["udp"]["ethernet-padding"] = udp(IP4_A, IP4_B, 7, 7, b"e") + b"\0" * 5

    quote = ipv4(IP4_B, IP4_A, P_UDP, udp(IP4_B, IP4_A, 33434, 33435, b"\0" * 12))[:28]
    s["icmpv4"]["echo-request"] = icmp4(8, 0, 0x12340001, bytes(range(32)))
    s["icmpv4"]["echo-reply"] = icmp4(0, 0, 0x12340001, bytes(range(32)))
    s["icmpv4"]["frag-needed"] = icmp4(3, 4, 1400, quote)
    s["icmpv4"]["port-unreachable"] = icmp4(3, 3, 0, quote)
    s["icmpv4"]["ttl-exceeded"] = icmp4(11, 0, 0, quote)
    s["icmpv4"]["redirect"] = icmp4(5, 1, struct.unpack("!I", IP4_B)[0], quote)
    s["icmpv4"]["timestamp"] = icmp4(13, 0, 0x00010001, struct.pack("!III", 1000, 0, 0))
    s["icmpv4"]["param-problem"] = icmp4(12, 0, 0x0C000000, quote)

    q6 = ipv6(IP6_B, IP6_A, P_UDP, udp(IP6_B, IP6_A, 33434, 33435, b"\0" * 4))
    s["icmpv6"]["echo-request"] = icmp6(IP6_A, IP6_B, 128, 0, struct.pack("!HH", 7, 1) + b"abcdefgh")
    s["icmpv6"]["echo-reply"] = icmp6(IP6_B, IP6_A, 129, 0, struct.pack("!HH", 7, 1) + b"abcdefgh")
    s["icmpv6"]["dst-unreachable"] = icmp6(IP6_B, IP6_A, 1, 4, b"\0" * 4 + q6)
    s["icmpv6"]["packet-too-big"] = icmp6(IP6_B, IP6_A, 2, 0, struct.pack("!I", 1280) + q6)
    s["icmpv6"]["time-exceeded"] = icmp6(IP6_B, IP6_A, 3, 0, b"\0" * 4 + q6)
    s["icmpv6"]["param-problem"] = icmp6(IP6_B, IP6_A, 4, 1, struct.pack("!I", 40) + q6)
    s["icmpv6"]["router-solicit"] = icmp6(LL6_A, ALL_ROUTERS, 133, 0, b"\0" * 4 + ndp_opt(1, MAC_A))
    s["icmpv6"]["router-advert"] = icmp6(
        LL6_R, ALL_NODES, 134, 0,
        struct.pack("!BBHII", 64, 0xC0, 1800, 30000, 1000) + prefix_info(IP6_A[:8] + b"\0" * 8) + ndp_opt(5, b"\0\0" + struct.pack("!I", 1500)) + ndp_opt(1, MAC_B),
    )
    s["icmpv6"]["neighbor-solicit"] = icmp6(LL6_A, SOLICITED, 135, 0, b"\0" * 4 + IP6_B + ndp_opt(1, MAC_A))
    s["icmpv6"]["neighbor-advert"] = icmp6(IP6_B, IP6_A, 136, 0, b"\x60\0\0\0" + IP6_B + ndp_opt(2, MAC_B))
    s["icmpv6"]["redirect"] = icmp6(LL6_R, LL6_A, 137, 0, b"\0" * 4 + LL6_R + IP6_B + ndp_opt(2, MAC_B) + ndp_opt(4, b"\0" * 6 + q6[:40]))
    s["icmpv6"]["mldv2-report"] = icmp6(LL6_A, bytes.fromhex("ff020000000000000000000000000016"), 143, 0, struct.pack("!HH", 0, 1) + struct.pack("!BBH", 4, 0, 0) + bytes.fromhex("ff0200000000000000000000000000fb"))

    inner = eth(MAC_A, MAC_B, ET_IPV4, ipv4(IP4_B, IP4_A, P_UDP, udp(IP4_B, IP4_A, 1, 2, b"in")), pad=False)
    s["vxlan"]["vni-123-inner-eth"] = vxlan(123, inner)
    s["vxlan"]["vni-max"] = vxlan(0xFFFFFF, b"")
    s["vxlan"]["i-flag-clear"] = vxlan(5, inner, flags=0x00)
    s["vxlan"]["gbp-flags"] = vxlan(77, inner, flags=0x88)

    s["geneve"]["no-options-teb"] = geneve(0x123456, ET_TEB) + inner
    s["geneve"]["two-options-critical"] = geneve(1, ET_TEB, geneve_opt(0x0102, 0x80, b"\x00\x00\x00\x07") + geneve_opt(0xFFFF, 0x01, b""), critical=True) + inner
    s["geneve"]["oam-ipv4"] = geneve(2, ET_IPV4, geneve_opt(0x0103, 0x02, b"abcdefgh"), oam=True) + inner[14:]
    s["geneve"]["version-1"] = geneve(3, ET_TEB, version=1)

    s["sll"]["outgoing-ipv4"] = sll(4, 1, MAC_A, ET_IPV4, b"\x45\x00")
    s["sll"]["infiniband-20-byte-addr"] = sll(0, 32, bytes(range(20)), ET_IPV6, b"\x60")
    s["sll"]["sll2-ipv6"] = sll2(ET_IPV6, 3, 1, 0, MAC_B, b"\x60\x00\x00\x00")
    s["sll"]["sll2-loopback"] = sll2(ET_IPV4, 1, 772, 0, b"", b"\x45")

    s["loopback_chdlc"]["null-le-ipv4"] = null(2, b"\x45\x00")
    s["loopback_chdlc"]["null-be-ipv6-freebsd"] = null(28, b"\x60", big_endian=True)
    s["loopback_chdlc"]["null-le-ipv6-darwin"] = null(30, b"")
    s["loopback_chdlc"]["loop-ipv6-openbsd"] = null(24, b"\x60\x00", big_endian=True)
    s["loopback_chdlc"]["chdlc-unicast-ipv4"] = chdlc(0x0F, ET_IPV4, b"\x45")
    s["loopback_chdlc"]["chdlc-broadcast-slarp"] = chdlc(0x8F, 0x8035, slarp(2, 1, 2))
    s["loopback_chdlc"]["chdlc-cdp"] = chdlc(0x8F, 0x2000, b"\x02\xb4")

    # Capture files: a few of the frames above in every container variant.
    eth_frames = [fr["eth-ipv4-tcp-syn"][1], fr["eth-ipv6-hbh-frag-udp"][1], fr["eth-ipv4-udp-vxlan-eth-tcp"][1]]
    raw = fr["raw-ipv4-udp"][1]
    s_ll = fr["sll-ipv4-tcp"][1]
    s_ll2 = fr["sll2-ipv6-udp"][1]
    cap = {}
    recs = [(1700000000 + i, 123456 + i, f, len(f)) for i, f in enumerate(eth_frames)]
    cap["pcap-le-usec-ethernet"] = pcap(recs)
    cap["pcap-be-usec-ethernet"] = pcap(recs, big_endian=True)
    cap["pcap-le-nsec-raw"] = pcap([(1700000000, 999999999, raw, len(raw))], linktype=101, nanos=True)
    cap["pcap-be-nsec-sll"] = pcap([(1700000000, 5, s_ll, len(s_ll))], linktype=113, nanos=True, big_endian=True)
    cap["pcap-le-usec-sll2-cut"] = pcap([(1, 2, s_ll2[:40], len(s_ll2))], linktype=276, snaplen=40)
    cap["pcap-le-usec-ipv4-linktype228"] = pcap([(2, 3, raw, len(raw))], linktype=228)
    nul, lo, hd = fr["null-ipv4-udp"][1], fr["loop-ipv6-udp-openbsd"][1], fr["chdlc-slarp-keepalive"][1]
    cap["pcap-le-usec-null"] = pcap([(3, 4, nul, len(nul)), (3, 5, nul[:3], len(nul))], linktype=0)
    cap["pcap-be-usec-loop"] = pcap([(4, 5, lo, len(lo))], linktype=108, big_endian=True)
    cap["pcap-le-nsec-chdlc"] = pcap([(5, 6, hd, len(hd))], linktype=104, nanos=True)
    cap["pcap-le-usec-truncated-record"] = pcap(recs)[:-10]
    cap["pcap-le-usec-frac-carry"] = pcap([(5, 2500000, eth_frames[0], len(eth_frames[0]))])
    e = "<"
    cap["pcapng-le-sections-interfaces"] = (
        shb(e, [opt(e, 4, b"rampart gen_seeds")])
        + idb(e, 1, 65535, [opt(e, 2, b"eth0"), opt(e, 9, b"\x09")])
        + idb(e, 101, 0, [opt(e, 2, b"tun0"), opt(e, 14, struct.pack(e + "q", 1000))])
        + epb(e, 0, 1700000000 * 10**9 + 1, eth_frames[0], orig=1514)
        + block(e, 0x0BAD, b"unknown block body..")
        + epb(e, 1, 42 * 10**6, raw, options=[opt(e, 1, b"a comment")])
        + opb(e, 0, 1700000001 * 10**9, eth_frames[1])
        + block(e, 5, struct.pack(e + "IIII", 0, 0, 0, 0))  # interface statistics, skipped
    )
    e = ">"
    cap["pcapng-be-binary-resolution"] = (
        shb(e)
        + idb(e, 113, 262144, [opt(e, 9, b"\x94")])  # 2^-20 s ticks
        + epb(e, 0, (1700000000 << 20) | 12345, s_ll)
        + idb(e, 276, 0)
        + epb(e, 1, 1700000000 * 10**6, s_ll2)
    )
    e = "<"
    cap["pcapng-le-simple-packets"] = shb(e) + idb(e, 1, 64) + spb(e, eth_frames[2], snaplen=64) + spb(e, eth_frames[0][:30])
    cap["pcapng-le-then-be-section"] = (
        shb("<") + idb("<", 1, 0) + epb("<", 0, 1, eth_frames[0])
        + shb(">") + idb(">", 101, 0, [opt(">", 9, b"\x03")]) + epb(">", 0, 2, raw)
    )
    cap["pcapng-le-null-loop-chdlc"] = (
        shb(e) + idb(e, 0, 0) + idb(e, 108, 0) + idb(e, 104, 0)
        + epb(e, 0, 1, nul) + epb(e, 1, 2, lo) + epb(e, 2, 3, hd)
    )
    cap["pcapng-le-truncated-block"] = (shb(e) + idb(e, 1, 0) + epb(e, 0, 7, eth_frames[1]))[:-6]
    s["capture_reader"] = dict(cap)
    s["capture_roundtrip"] = dict(cap)
    # The pipeline model reads any bytes as a scenario: pseudo-random ones of a few sizes, and
    # one asking for batches of one packet and two workers.
    rng = random.Random(10)
    pm = {}
    for name, n in [("short", 64), ("medium", 800), ("long", 4000), ("batch1_workers2", 600)]:
        b = bytes(rng.randrange(256) for _ in range(n))
        if name == "batch1_workers2":
            b = bytes([0, 1]) + b[2:]
        pm[name] = b
    s["pipeline_model"] = pm
    s["policy"] = policy_seeds()
    return s


# ---- IDS application layer and reassembly (crates/fuzz-replay/src/ids_app.rs) -----------------


def two_sided(client, server, piece=0):
    return struct.pack("<HB", len(client), piece) + client + server


def dns_name(dotted):
    out = b""
    for label in dotted.split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns(ident, flags, questions, answers=b"", counts=None):
    qd = len(questions)
    an, ns, ar = counts or (0, 0, 0)
    body = b"".join(dns_name(n) + struct.pack("!HH", t, 1) for n, t in questions)
    return struct.pack("!HHHHHH", ident, flags, qd, an, ns, ar) + body + answers


def rr(name_bytes, rtype, rdata, ttl=300):
    return name_bytes + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def tls_record(kind, body, version=0x0301):
    return struct.pack("!BHH", kind, version, len(body)) + body


def handshake(kind, body):
    return bytes([kind]) + struct.pack("!I", len(body))[1:] + body


def ext(kind, data):
    return struct.pack("!HH", kind, len(data)) + data


def client_hello(sni, versions=()):
    exts = ext(0, struct.pack("!HBH", len(sni) + 3, 0, len(sni)) + sni)
    if versions:
        exts += ext(43, bytes([2 * len(versions)]) + b"".join(struct.pack("!H", v) for v in versions))
    exts += ext(10, b"\x00\x04\x00\x1d\x00\x17")
    body = b"\x03\x03" + bytes(range(32)) + b"\x20" + bytes(32) + b"\x00\x04\x13\x01\xc0\x2f" + b"\x01\x00"
    body += struct.pack("!H", len(exts)) + exts
    return tls_record(22, handshake(1, body))


def server_hello(version=None):
    body = b"\x03\x03" + bytes(range(32, 64)) + b"\x00" + b"\x13\x01\x00"
    if version:
        body += struct.pack("!H", 6) + ext(43, struct.pack("!H", version))
    return tls_record(22, handshake(2, body), 0x0303)


def segments(setup, segs):
    out = bytes([setup])
    for direction, flags, offset, payload, ack_step in segs:
        out += bytes([(0x80 if direction else 0) | flags]) + struct.pack("<HBB", offset, len(payload), ack_step) + payload
    return out


def app_seeds():
    import gzip
    import zlib
    s = {}
    get = b"GET /index.html?q=%41 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: seed\r\nCookie: a=1\r\n\r\n"
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello"
    body = b"<html>" + b"seed body " * 20 + b"</html>"
    gz = gzip.compress(body, mtime=0)
    http = {
        "simple": two_sided(get, ok),
        "simple-bytewise": two_sided(get, ok, 1),
        "pipelined": two_sided(get * 3, ok * 3, 7),
        "chunked-trailer": two_sided(get, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nT: 1\r\n\r\n", 3),
        "gzip": two_sided(get, b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(gz) + gz, 11),
        "deflate-close": two_sided(get, b"HTTP/1.0 200 OK\r\nContent-Encoding: deflate\r\n\r\n" + zlib.compress(body)),
        "continue": two_sided(b"POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
        "folding-uri": two_sided(b"GET /a/./b/../C%2fd//e%u0041\\f?x=%41+1#f HTTP/1.1\r\nX-F: a\r\n  b\r\nHost: H.Test.\r\n\r\n", ok),
        "http09": two_sided(b"GET /simple\r\n", b"<html>raw</html>"),
        "connect": two_sided(b"CONNECT host:443 HTTP/1.1\r\n\r\n\x16\x03\x01", b"HTTP/1.1 200 OK\r\n\r\n\x16\x03\x03"),
        "bad-chunk": two_sided(get, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nrest"),
        "absolute-uri": two_sided(b"POST http://Proxy.Test:81/x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", b"HTTP/1.1 204 No Content\r\n\r\n"),
    }
    s["http_parser"] = http
    q = [("host.example.test", 1)]
    answers = rr(b"\xc0\x0c", 5, dns_name("alias.example.test")) + rr(b"\xc0\x0c", 1, bytes([192, 0, 2, 1]))
    answers += rr(b"\xc0\x0c", 16, b"\x03abc\x02de") + rr(b"\xc0\x0c", 33, struct.pack("!HHH", 1, 2, 80) + b"\xc0\x0c")
    answers += rr(b"\xc0\x0c", 28, bytes(15) + b"\x01") + rr(b"\xc0\x0c", 15, struct.pack("!H", 10) + b"\xc0\x0c")
    soa = rr(dns_name("example.test"), 6, dns_name("ns.example.test") + dns_name("root.example.test") + struct.pack("!IIIII", 1, 2, 3, 4, 5))
    s["dns_message"] = {
        "query-a": dns(0x1234, 0x0100, q),
        "response-many-types": dns(0x1234, 0x8180, q, answers, (6, 0, 0)),
        "nxdomain-soa": dns(7, 0x8183, [("missing.example.test", 1)], soa, (0, 1, 0)),
        "pointer-loop": struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01",
        "ptr-query": dns(9, 0x0100, [("2.0.77.10.in-addr.arpa", 12)]),
    }
    ch13 = client_hello(b"tls.example.test", (0x0304, 0x0303))
    s["tls_handshake"] = {
        "tls13": two_sided(ch13, server_hello(0x0304) + tls_record(23, bytes(40), 0x0303)),
        "tls13-bytewise": two_sided(ch13, server_hello(0x0304), 1),
        "tls12-cert": two_sided(client_hello(b"old.example.test"), server_hello() + tls_record(22, handshake(11, bytes(20))) + tls_record(20, b"\x01"), 5),
        "split-handshake": two_sided(tls_record(22, ch13[5:30]) + tls_record(22, ch13[30:]), b""),
    }
    data = bytes(range(48, 48 + 60))
    s["tcp_reassembly"] = {
        "in-order": segments(0, [(0, 0x08, 0, data[:20], 0), (1, 0, 0, b"", 2), (0, 0x08, 20, data[20:40], 0), (1, 0, 0, b"", 3)]),
        "out-of-order-overlap": segments(4 << 2, [(0, 0, 20, data[20:40], 0), (0, 0, 0, data[:25], 0), (0, 0, 10, b"X" * 30, 0), (1, 0, 0, b"", 4)]),
        "inline-gap": segments(1, [(0, 0, 0, data[:10], 0), (0, 0, 30, data[30:50], 0), (1, 0, 0, b"", 4)]),
        "fin-and-reset": segments(2, [(0, 0x01, 0, data[:16], 0), (1, 0x08, 0, b"reply", 1), (1, 0x04, 5, b"", 1)]),
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def scan_seeds():
    """Seeds of the scanner targets: database text (first byte picks hdb, hsb, ndb, ldb,
    YARA), scanned files, and feeds (first byte: even CSV, odd JSON)."""
    s = {}
    s["scan_signatures"] = {
        "hdb-eicar": b"\x00" + b"44d88612fea8a8f36de82e1278abb02f:68:Win.Test.EICAR_HDB-1\n" + EICAR,
        "hsb-any-size": b"\x01" + b"a" * 64 + b":*:Any.Size:73\n",
        "ndb-forms": b"\x02" + b"A:0:*:4142??4445\nB:0:*:41{2-4}4243*4445\nC:0:EOF-4:41424344\nD:0:0,3:7f454c46\nE:6:EP+0:f30f1efa\nABxDE ABCD",
        "ndb-alternatives": b"\x02" + b"Alt:0:*:7071(72|7374)7576\nNeg:0:*:6162!(63|64)6566\npqruv abxef",
        "ldb-expr": b"\x03" + b"L;Engine:51-255,Target:0;(0|1)&2>1,1;41414141;42424242::i;43434343::wa\nAAAA CCCC CCCC",
        "yara-rules": b"\x04" + b'rule a { strings: $a = "abcd" nocase wide ascii $h = { 41 ?? [1-3] 42 } $r = /ab+c[0-9]{2}/ condition: any of them } abcd',
    }
    s["scan_file"] = {
        "eicar": EICAR,
        "forms": b"\x00AB\x01DE MZ..PE ab....cd AAAA BBBB zZzZ zzzz AAAD abcd",
        "elf-head": b"\x7fELF\x02\x01\x01" + b"\x00" * 57 + b"abcd",
    }
    s["intel_feed"] = {
        "csv": b"\x00type,value,id,description\nip,10.0.0.0/8,net\nip,2001:db8::/32,v6\ndomain,evil.example,d\nurl,\"http://evil.example/a?b=1,2\",u\nmd5,44d88612fea8a8f36de82e1278abb02f,eicar\n",
        "stix": b"\x01" + b'{"type":"bundle","objects":[{"type":"indicator","id":"indicator--1","pattern_type":"stix","pattern":"[ipv4-addr:value = \'198.51.100.1\'] OR [domain-name:value = \'x.example\' OR file:hashes.\'SHA-256\' = \'' + b"ab" * 32 + b'\']"}]}',
        "misp": b"\x03" + b'{"Event":{"info":"x","Attribute":[{"type":"ip-dst|port","value":"203.0.113.5|80"},{"type":"domain|ip","value":"a.example|192.0.2.1"},{"type":"filename|sha1","value":"f|' + b"01" * 20 + b'"},{"type":"url","value":"https://a.example/x"}]}}',
    }
    return s


def policy_seeds():
    """The example policies, and small files that reach each part of the format."""
    files = {}
    examples = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
    for name in sorted(os.listdir(examples)):
        path = os.path.join(examples, name, "policy.toml")
        if os.path.isfile(path):
            with open(path, "rb") as f:
                files["example-" + name + ".toml"] = f.read()
    files["zones-lpm.toml"] = (
        b'[[zone]]\nname = "a"\nmembers = ["10.0.0.0/8", "fd00::/8", "02:00:00:00:00:01"]\n'
        b'[[zone]]\nname = "b"\nmembers = ["10.1.0.0/16", "vm-web1", "label:database"]\n'
        b'[labels]\nweb = ["vm-web1", "vm-web2"]\n'
        b'[[rule]]\nfrom = "a"\nto = ["b", "wan"]\nproto = "tcp"\nports = [80, "8000-8080"]\naction = "allow"\n'
        b'[[rule]]\nfrom = "any"\nproto = "icmp"\nicmp_type = "echo-request"\nicmp_code = 0\naction = "alert"\nlog = true\n'
        b'[default]\naction = "deny"\n'
    )
    files["services-groups.toml"] = (
        b'[[address_group]]\nname = "g"\naddresses = ["192.0.2.0/24", "2001:db8::/32"]\n'
        b'[[service]]\nname = "dns"\nproto = ["tcp", "udp"]\nports = 53\n'
        b'[[service]]\nname = "both"\nservices = ["dns"]\nsource_ports = "1024-65535"\nproto = "udp"\n'
        b'[[rule]]\nid = 7\nname = "r"\nsource = ["g"]\nservices = ["both", "any"]\nstate = ["new", "related"]\naction = "reject"\n'
        b'[[rule]]\nsource = ["g"]\nproto = "udp"\nports = 53\naction = "drop-alert"\n'
    )
    files["nat-flood-spoof.toml"] = (
        b'[[zone]]\nname = "lan"\nmembers = ["192.168.122.0/24"]\n'
        b'[[snat]]\nfrom = "lan"\nmasquerade = "uplink"\nports = "20000-29999"\n'
        b'[[dnat]]\nproto = ["tcp", "udp"]\naddress = "uplink"\nport = "8000-8009"\nto_address = "192.168.122.10"\nto_port = "9000-9009"\n'
        b'[[one_to_one]]\ninternal = "10.1.0.0/28"\nexternal = "198.51.100.16/28"\n'
        b'[[flood]]\nkind = "syn"\nper = "source"\nrate = 500\nburst = 1000\naction = "block"\nblock_seconds = 9\nto = "lan"\n'
        b'[[anti_spoof]]\nports = "*"\nips = ["fe80::/64"]\naction = "alert"\n'
    )
    files["error-unknown-zone.toml"] = b'[[rule]]\nfrom = "nowhere"\naction = "allow"\n'
    return files


def main():
    # Only the targets made here are rewritten: seeds other tools keep (conn_table) stay.
    total = 0
    for target, files in sorted({**seeds(), **app_seeds(), **scan_seeds()}.items()):
        d = os.path.join(ROOT, target)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        for name, data in sorted(files.items()):
            with open(os.path.join(d, name), "wb") as out:
                out.write(data)
            total += len(data)
        print(f"{target}: {len(files)} seeds")
    print(f"{total} bytes in {ROOT}")


if __name__ == "__main__":
    main()
