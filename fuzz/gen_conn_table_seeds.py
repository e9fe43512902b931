#!/usr/bin/env python3
"""Seeds of the conn_table fuzz target (fuzz/seeds/conn_table/), from the connection table's
captures (crates/conn/tests/data/*.pcap) and two hand-made fragmented datagrams.

A seed is a sequence of records: length (1 byte), time step in 250 ms units (1 byte), VLAN
(1 byte), then that many bytes of Ethernet frame (frames longer than 255 bytes are cut, as the
format allows). Standard library only, deterministic. Run from the repository root."""
import os
import struct

OUT = "fuzz/seeds/conn_table"
DATA = "crates/conn/tests/data"


def pcap_frames(path):
    with open(path, "rb") as f:
        raw = f.read()
    magic = struct.unpack("<I", raw[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off = 24
    while off + 16 <= len(raw):
        _, _, caplen, _ = struct.unpack(endian + "IIII", raw[off : off + 16])
        yield raw[off + 16 : off + 16 + caplen]
        off += 16 + caplen


def record(frame, step=0, vlan=0):
    frame = frame[:255]
    return bytes([len(frame), step, vlan]) + frame


def ipv4_fragment(ident, off, more, data, proto=17):
    total = 20 + len(data)
    fo = (off // 8) | (0x2000 if more else 0)
    hdr = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident, fo, 64, proto, 0,
                                bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])))
    s = sum(struct.unpack("!10H", hdr))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    hdr[10:12] = struct.pack("!H", ~s & 0xFFFF)
    return b"\x02" * 6 + b"\x01" * 6 + b"\x08\x00" + bytes(hdr) + data


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in ("lifecycle", "midstream"):
        frames = list(pcap_frames(os.path.join(DATA, name + ".pcap")))
        with open(os.path.join(OUT, name), "wb") as f:
            for i, fr in enumerate(frames[:60]):
                f.write(record(fr, step=1 if i % 7 == 0 else 0))
    udp = struct.pack("!HHHH", 5000, 53, 8 + 40, 0) + b"q" * 40
    with open(os.path.join(OUT, "fragments-out-of-order"), "wb") as f:
        f.write(record(ipv4_fragment(7, 24, False, udp[24:])))
        f.write(record(ipv4_fragment(7, 0, True, udp[:24])))
    with open(os.path.join(OUT, "fragments-overlapping"), "wb") as f:
        f.write(record(ipv4_fragment(8, 0, True, udp[:16])))
        f.write(record(ipv4_fragment(8, 8, True, b"X" * 16)))
        f.write(record(ipv4_fragment(8, 16, False, udp[16:]), step=4))


if __name__ == "__main__":
    main()
