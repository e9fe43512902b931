#!/usr/bin/env python3
"""Writes reuse.pcap: a TCP connection on 10.0.0.1:1000 -> 10.0.0.2:80 opened and closed, then
a new SYN with another ISN on the same tuple one second later (TCP port reuse), then its
handshake. Standard library only; run from this directory."""
import struct
def csum(b):
    if len(b)%2: b+=b'\0'
    s=sum(struct.unpack('!%dH'%(len(b)//2),b)); s=(s&0xffff)+(s>>16); s=(s&0xffff)+(s>>16); return ~s&0xffff
def tcp(src,sp,dst,dp,flags,seq,ack):
    t=struct.pack('!HHIIBBHHH',sp,dp,seq,ack,0x50,flags,1000,0,0)
    ph=bytes(src)+bytes(dst)+struct.pack('!BBH',0,6,len(t))
    t=t[:16]+struct.pack('!H',csum(ph+t))+t[18:]
    ip=bytearray(struct.pack('!BBHHHBBH4s4s',0x45,0,20+len(t),1,0,64,6,0,bytes(src),bytes(dst)))
    ip[10:12]=struct.pack('!H',csum(bytes(ip)))
    # Locally administered unicast MACs made from the addresses (02:00:a.b.c.d).
    return b'\x02\x00'+bytes(dst)+b'\x02\x00'+bytes(src)+b'\x08\x00'+bytes(ip)+t
A=[10,0,0,1];B=[10,0,0,2]
pk=[(0,tcp(A,1000,B,80,2,100,0)),(0.001,tcp(B,80,A,1000,0x12,500,101)),(0.002,tcp(A,1000,B,80,0x10,101,501)),
(0.003,tcp(A,1000,B,80,0x11,101,501)),(0.004,tcp(B,80,A,1000,0x11,501,102)),(0.005,tcp(A,1000,B,80,0x10,102,502)),
(1.0,tcp(A,1000,B,80,2,9000,0)),(1.001,tcp(B,80,A,1000,0x12,7000,9001)),(1.002,tcp(A,1000,B,80,0x10,9001,7001))]
with open('reuse.pcap','wb') as f:
    f.write(struct.pack('<IHHiIII',0xa1b2c3d4,2,4,0,0,65535,1))
    for t,p in pk:
        s=1700000000+int(t); us=int(round((t-int(t))*1e6))
        f.write(struct.pack('<IIII',s,us,len(p),len(p))+p)
