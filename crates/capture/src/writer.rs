//! [`PcapWriter`] and [`PcapNgWriter`]: capture files that tcpdump, Wireshark and this crate's
//! reader accept.
//!
//! A packet is written as its header and its bytes straight to the inner writer (wrap a file in a
//! `BufWriter`): no allocation per packet. A writer must never produce a record the reader would
//! refuse: data longer than the snapshot length is cut to it (keeping the original length),
//! the snapshot length is at most [`MAX_CAPLEN`], and timestamps that the format cannot hold are
//! refused with [`io::ErrorKind::InvalidInput`] rather than wrapped.

use std::io::{self, Write};

use wire::LinkType;

use crate::reader::{
    BT_EPB, BT_IDB, BT_SHB, BYTE_ORDER_MAGIC, OPT_ENDOFOPT, OPT_IF_NAME, OPT_IF_TSRESOL,
};
use crate::{CaptureFormat, MAX_CAPLEN, Timestamp, TsResolution, linktype_to_raw};

/// `shb_userappl`: the application that wrote the section.
const OPT_SHB_USERAPPL: u16 = 4;
const USER_APPL: &str = "rampart";

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn check_snaplen(snaplen: u32, zero_ok: bool) -> io::Result<()> {
    if snaplen > MAX_CAPLEN || (snaplen == 0 && !zero_ok) {
        let lo = if zero_ok { 0 } else { 1 };
        return Err(invalid(format!(
            "snaplen {snaplen} is outside {lo}..={MAX_CAPLEN}"
        )));
    }
    Ok(())
}

/// The bytes of `data` kept under `snaplen` (0: [`MAX_CAPLEN`]).
fn cut(data: &[u8], snaplen: u32) -> &[u8] {
    let limit = if snaplen == 0 { MAX_CAPLEN } else { snaplen };
    data.get(..limit as usize).unwrap_or(data)
}

/// Appends `v` in the chosen byte order.
fn put16(out: &mut Vec<u8>, v: u16, be: bool) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

fn put32(out: &mut Vec<u8>, v: u32, be: bool) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

fn bytes32(v: u32, be: bool) -> [u8; 4] {
    if be { v.to_be_bytes() } else { v.to_le_bytes() }
}

/// Writes classic pcap: one link type, micro- or nanosecond timestamps, either byte order.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    inner: W,
    snaplen: u32,
    nanos: bool,
    big_endian: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Writes a little-endian file header. `snaplen` must be in 1..=[`MAX_CAPLEN`]; `nanos`
    /// selects nanosecond timestamps (magic `a1b23c4d`).
    pub fn new(inner: W, link: LinkType, snaplen: u32, nanos: bool) -> io::Result<Self> {
        Self::with_byte_order(inner, link, snaplen, nanos, false)
    }

    /// As [`PcapWriter::new`], in the chosen byte order.
    pub fn with_byte_order(
        mut inner: W,
        link: LinkType,
        snaplen: u32,
        nanos: bool,
        big_endian: bool,
    ) -> io::Result<Self> {
        check_snaplen(snaplen, false)?;
        let be = big_endian;
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut h = Vec::with_capacity(24);
        put32(&mut h, magic, be);
        put16(&mut h, 2, be);
        put16(&mut h, 4, be);
        put32(&mut h, 0, be); // thiszone
        put32(&mut h, 0, be); // sigfigs
        put32(&mut h, snaplen, be);
        put32(&mut h, linktype_to_raw(link), be);
        inner.write_all(&h)?;
        Ok(PcapWriter {
            inner,
            snaplen,
            nanos,
            big_endian,
        })
    }

    /// The format this writer produces.
    pub fn format(&self) -> CaptureFormat {
        CaptureFormat::Pcap {
            nanos: self.nanos,
            big_endian: self.big_endian,
        }
    }

    /// Writes one packet record: `data` cut to the snaplen, `orig_len` its length on the wire.
    /// `ts` must lie in 1970..2106 (pcap stores unsigned 32-bit seconds); a microsecond file
    /// truncates the nanoseconds.
    pub fn write_packet(&mut self, ts: Timestamp, orig_len: u32, data: &[u8]) -> io::Result<()> {
        let secs = u32::try_from(ts.secs)
            .map_err(|_| invalid(format!("timestamp {ts} is outside what pcap can hold")))?;
        if ts.nanos >= 1_000_000_000 {
            return Err(invalid(format!(
                "timestamp nanoseconds {} out of range",
                ts.nanos
            )));
        }
        let frac = if self.nanos {
            ts.nanos
        } else {
            ts.nanos / 1000
        };
        let data = cut(data, self.snaplen);
        let be = self.big_endian;
        let mut h = [0u8; 16];
        for (i, v) in [secs, frac, data.len() as u32, orig_len]
            .into_iter()
            .enumerate()
        {
            h[i * 4..i * 4 + 4].copy_from_slice(&bytes32(v, be));
        }
        self.inner.write_all(&h)?;
        self.inner.write_all(data)
    }

    /// Flushes the inner writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The inner writer, without flushing it.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// An interface as the pcapng writer needs it.
#[derive(Debug, Clone, Copy)]
struct WriterInterface {
    snaplen: u32,
    resolution: TsResolution,
}

/// Writes pcapng: sections of Interface Description Blocks and Enhanced Packet Blocks.
#[derive(Debug)]
pub struct PcapNgWriter<W: Write> {
    inner: W,
    big_endian: bool,
    interfaces: Vec<WriterInterface>,
}

impl<W: Write> PcapNgWriter<W> {
    /// Writes a little-endian Section Header Block.
    pub fn new(inner: W) -> io::Result<Self> {
        Self::with_byte_order(inner, false)
    }

    /// As [`PcapNgWriter::new`], in the chosen byte order.
    pub fn with_byte_order(inner: W, big_endian: bool) -> io::Result<Self> {
        let mut w = PcapNgWriter {
            inner,
            big_endian,
            interfaces: Vec::new(),
        };
        w.new_section()?;
        Ok(w)
    }

    /// Starts a new section (a Section Header Block): interface ids start again at 0.
    pub fn new_section(&mut self) -> io::Result<()> {
        let be = self.big_endian;
        let mut body = Vec::with_capacity(32);
        put32(&mut body, BYTE_ORDER_MAGIC, be);
        put16(&mut body, 1, be);
        put16(&mut body, 0, be);
        // Section length -1: not given.
        body.extend_from_slice(&[0xff; 8]);
        put_option(&mut body, OPT_SHB_USERAPPL, USER_APPL.as_bytes(), be);
        put_option(&mut body, OPT_ENDOFOPT, &[], be);
        self.write_block(BT_SHB, &body)?;
        self.interfaces.clear();
        Ok(())
    }

    /// Describes an interface with nanosecond timestamps; returns its id in this section.
    /// `snaplen` is at most [`MAX_CAPLEN`] (0: no limit but that one).
    pub fn add_interface(
        &mut self,
        link: LinkType,
        snaplen: u32,
        name: Option<&str>,
    ) -> io::Result<u32> {
        self.add_interface_with_resolution(link, snaplen, name, TsResolution::NANOS)
    }

    /// Describes an interface with the given timestamp resolution (written as `if_tsresol`
    /// unless it is the default microseconds); returns its id in this section.
    pub fn add_interface_with_resolution(
        &mut self,
        link: LinkType,
        snaplen: u32,
        name: Option<&str>,
        resolution: TsResolution,
    ) -> io::Result<u32> {
        check_snaplen(snaplen, true)?;
        let raw_res = resolution
            .to_raw()
            .filter(|_| resolution.is_supported())
            .ok_or_else(|| {
                invalid(format!(
                    "timestamp resolution {resolution:?} is not supported"
                ))
            })?;
        let id = u32::try_from(self.interfaces.len())
            .map_err(|_| invalid("too many interfaces".into()))?;
        let be = self.big_endian;
        let mut body = Vec::with_capacity(64);
        // The link type is 16 bits in an IDB; all of ours are small.
        put16(&mut body, linktype_to_raw(link) as u16, be);
        put16(&mut body, 0, be);
        put32(&mut body, snaplen, be);
        let mut any_option = false;
        if let Some(name) = name {
            if name.len() > usize::from(u16::MAX) {
                return Err(invalid(format!(
                    "interface name of {} bytes is too long",
                    name.len()
                )));
            }
            put_option(&mut body, OPT_IF_NAME, name.as_bytes(), be);
            any_option = true;
        }
        if resolution != TsResolution::MICROS {
            put_option(&mut body, OPT_IF_TSRESOL, &[raw_res], be);
            any_option = true;
        }
        if any_option {
            put_option(&mut body, OPT_ENDOFOPT, &[], be);
        }
        self.write_block(BT_IDB, &body)?;
        self.interfaces.push(WriterInterface {
            snaplen,
            resolution,
        });
        Ok(id)
    }

    /// Writes one Enhanced Packet Block on `interface`: `data` cut to its snaplen, `orig_len`
    /// the length on the wire. `ts` must not be before the epoch nor overflow 64 bits of ticks.
    pub fn write_packet(
        &mut self,
        interface: u32,
        ts: Timestamp,
        orig_len: u32,
        data: &[u8],
    ) -> io::Result<()> {
        let iface = self
            .interfaces
            .get(interface as usize)
            .copied()
            .ok_or_else(|| {
                invalid(format!(
                    "interface {interface} was not added to this section"
                ))
            })?;
        let ticks = iface.resolution.ticks(ts).ok_or_else(|| {
            invalid(format!(
                "timestamp {} does not fit in {:?} ticks",
                ts.fmt_nanos(),
                iface.resolution
            ))
        })?;
        let data = cut(data, iface.snaplen);
        let caplen = data.len() as u32;
        let pad = caplen.next_multiple_of(4) - caplen;
        let blen = 32 + caplen + pad;
        let be = self.big_endian;
        let mut h = [0u8; 28];
        let fields = [
            BT_EPB,
            blen,
            interface,
            (ticks >> 32) as u32,
            ticks as u32,
            caplen,
            orig_len,
        ];
        for (i, v) in fields.into_iter().enumerate() {
            h[i * 4..i * 4 + 4].copy_from_slice(&bytes32(v, be));
        }
        self.inner.write_all(&h)?;
        self.inner.write_all(data)?;
        self.inner.write_all(&[0u8; 3][..pad as usize])?;
        self.inner.write_all(&bytes32(blen, be))
    }

    /// Flushes the inner writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The inner writer, without flushing it.
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// Frames `body` (already a multiple of 4 bytes) as a block.
    fn write_block(&mut self, btype: u32, body: &[u8]) -> io::Result<()> {
        let blen = u32::try_from(body.len() + 12).map_err(|_| invalid("block too long".into()))?;
        let be = self.big_endian;
        self.inner.write_all(&bytes32(btype, be))?;
        self.inner.write_all(&bytes32(blen, be))?;
        self.inner.write_all(body)?;
        self.inner.write_all(&bytes32(blen, be))
    }
}

/// Appends one option, its value padded to 4 bytes. The caller bounds `value` to 65535 bytes.
fn put_option(out: &mut Vec<u8>, code: u16, value: &[u8], be: bool) {
    put16(out, code, be);
    put16(out, value.len() as u16, be);
    out.extend_from_slice(value);
    out.resize(out.len().next_multiple_of(4), 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Owned, read_bytes};

    const LINKS: [LinkType; 7] = [
        LinkType::Ethernet,
        LinkType::RawIp,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Null,
        LinkType::Loop,
        LinkType::CiscoHdlc,
    ];

    fn frame(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
            .collect()
    }

    /// (timestamp, orig_len, data) of a mixed set of packets, some longer than 100 bytes.
    fn packets() -> Vec<(Timestamp, u32, Vec<u8>)> {
        (0..40u32)
            .map(|i| {
                let len = [0, 1, 3, 14, 60, 99, 100, 101, 1514][i as usize % 9];
                let ts = Timestamp::new(
                    1_700_000_000 + i64::from(i),
                    (u64::from(i) * 123_456_789 % 1_000_000_000) as u32,
                );
                (ts, len as u32 + i % 3, frame(len, i as u8))
            })
            .collect()
    }

    #[test]
    fn pcap_round_trip_every_variant() {
        for big_endian in [false, true] {
            for nanos in [false, true] {
                for link in LINKS {
                    let mut w =
                        PcapWriter::with_byte_order(Vec::new(), link, 100, nanos, big_endian)
                            .unwrap();
                    assert_eq!(w.format(), CaptureFormat::Pcap { nanos, big_endian });
                    let mut want = Vec::new();
                    for (i, (ts, orig, data)) in packets().into_iter().enumerate() {
                        let offset = w.get_ref().len() as u64;
                        w.write_packet(ts, orig, &data).unwrap();
                        let kept = &data[..data.len().min(100)];
                        let nanos_kept = if nanos {
                            ts.nanos
                        } else {
                            ts.nanos / 1000 * 1000
                        };
                        want.push(Owned {
                            number: i as u64 + 1,
                            offset,
                            timestamp: Timestamp::new(ts.secs, nanos_kept),
                            caplen: kept.len() as u32,
                            orig_len: orig,
                            interface: 0,
                            link,
                            data: kept.to_vec(),
                        });
                    }
                    w.flush().unwrap();
                    let bytes = w.into_inner();
                    let mut r = crate::CaptureReader::new(&bytes[..]).unwrap();
                    assert_eq!(r.format(), CaptureFormat::Pcap { nanos, big_endian });
                    let i = &r.interfaces()[0];
                    assert_eq!(
                        (i.link, i.linktype_raw, i.snaplen),
                        (link, linktype_to_raw(link), 100)
                    );
                    let (got, e) = crate::testutil::read_all(&mut r);
                    assert!(e.is_none(), "{e:?}");
                    assert_eq!(got, want, "be={big_endian} nanos={nanos} {link:?}");
                    assert!(got.iter().any(|p| p.caplen < p.orig_len));
                }
            }
        }
    }

    #[test]
    fn pcapng_round_trip_interfaces_resolutions_sections() {
        let resolutions = [
            TsResolution::MICROS,
            TsResolution::NANOS,
            TsResolution::Decimal(3),
            TsResolution::Decimal(0),
            TsResolution::Binary(20),
            TsResolution::Binary(30),
        ];
        for big_endian in [false, true] {
            let mut w = PcapNgWriter::with_byte_order(Vec::new(), big_endian).unwrap();
            let mut want = Vec::new();
            let mut number = 0;
            for section in 0..2 {
                if section == 1 {
                    w.new_section().unwrap();
                }
                // One interface per resolution, cycling the link types, some with a snaplen.
                let mut ifaces = Vec::new();
                for (k, &res) in resolutions.iter().enumerate() {
                    let link = LINKS[(k + section) % 4];
                    let snaplen = if k % 2 == 0 { 0 } else { 100 };
                    let name = format!("if{section}.{k}");
                    let id = w
                        .add_interface_with_resolution(link, snaplen, Some(&name), res)
                        .unwrap();
                    assert_eq!(id as usize, k);
                    ifaces.push((link, snaplen, res));
                }
                for (i, (ts, orig, data)) in packets().into_iter().enumerate() {
                    let id = (i * 7 + section) % ifaces.len();
                    let (link, snaplen, res) = ifaces[id];
                    let offset = w.get_ref().len() as u64;
                    w.write_packet(id as u32, ts, orig, &data).unwrap();
                    let kept = if snaplen == 0 {
                        &data[..]
                    } else {
                        &data[..data.len().min(100)]
                    };
                    number += 1;
                    want.push(Owned {
                        number,
                        offset,
                        timestamp: res.timestamp(res.ticks(ts).unwrap(), 0),
                        caplen: kept.len() as u32,
                        orig_len: orig,
                        interface: id as u32,
                        link,
                        data: kept.to_vec(),
                    });
                    if res == TsResolution::NANOS || res == TsResolution::Binary(30) {
                        assert_eq!(want.last().unwrap().timestamp, ts, "exact at 1 ns or finer");
                    }
                }
            }
            let bytes = w.into_inner();
            let mut r = crate::CaptureReader::new(&bytes[..]).unwrap();
            let (got, e) = crate::testutil::read_all(&mut r);
            assert!(e.is_none(), "{e:?}");
            assert_eq!(got, want, "big_endian={big_endian}");
            let names: Vec<_> = r
                .interfaces()
                .iter()
                .map(|i| i.name.clone().unwrap())
                .collect();
            assert_eq!(
                names,
                (0..6).map(|k| format!("if1.{k}")).collect::<Vec<_>>()
            );
            let res: Vec<_> = r.interfaces().iter().map(|i| i.ts_resolution).collect();
            assert_eq!(res, resolutions);
            assert_eq!(r.interfaces()[1].snaplen, 100);
        }
    }

    #[test]
    fn default_interface_is_nanoseconds_and_microseconds_writes_no_option() {
        let mut w = PcapNgWriter::new(Vec::new()).unwrap();
        let before = w.get_ref().len();
        w.add_interface_with_resolution(LinkType::Ethernet, 65535, None, TsResolution::MICROS)
            .unwrap();
        assert_eq!(w.get_ref().len() - before, 20, "a bare IDB");
        w.add_interface(LinkType::Ethernet, 65535, None).unwrap();
        w.write_packet(1, Timestamp::new(1, 7), 1, &[9]).unwrap();
        let (got, _) = read_bytes(w.get_ref());
        assert_eq!(got[0].timestamp, Timestamp::new(1, 7));
    }

    #[test]
    fn writers_refuse_what_the_format_cannot_hold() {
        let kind = |r: io::Result<()>| r.unwrap_err().kind();
        assert_eq!(
            PcapWriter::new(Vec::new(), LinkType::Ethernet, 0, false)
                .unwrap_err()
                .kind(),
            io::ErrorKind::InvalidInput
        );
        assert!(PcapWriter::new(Vec::new(), LinkType::Ethernet, MAX_CAPLEN + 1, false).is_err());
        let mut w = PcapWriter::new(Vec::new(), LinkType::Ethernet, MAX_CAPLEN, false).unwrap();
        assert_eq!(
            kind(w.write_packet(Timestamp::new(-1, 0), 1, &[0])),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            kind(w.write_packet(Timestamp::new(1 << 32, 0), 1, &[0])),
            io::ErrorKind::InvalidInput
        );
        let bad_nanos = Timestamp {
            secs: 1,
            nanos: 1_000_000_000,
        };
        assert_eq!(
            kind(w.write_packet(bad_nanos, 1, &[0])),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            w.get_ref().len(),
            24,
            "nothing written for a refused packet"
        );

        let mut w = PcapNgWriter::new(Vec::new()).unwrap();
        assert_eq!(
            kind(w.write_packet(0, Timestamp::new(1, 0), 1, &[0])),
            io::ErrorKind::InvalidInput
        );
        assert!(
            w.add_interface(LinkType::Ethernet, MAX_CAPLEN + 1, None)
                .is_err()
        );
        assert!(
            w.add_interface_with_resolution(LinkType::Ethernet, 0, None, TsResolution::Decimal(20))
                .is_err()
        );
        assert!(
            w.add_interface_with_resolution(LinkType::Ethernet, 0, None, TsResolution::Binary(200))
                .is_err()
        );
        let long = "x".repeat(70_000);
        assert!(w.add_interface(LinkType::Ethernet, 0, Some(&long)).is_err());
        let id = w.add_interface(LinkType::Ethernet, 0, None).unwrap();
        assert_eq!(id, 0, "refused interfaces take no id");
        assert_eq!(
            kind(w.write_packet(id, Timestamp::new(-5, 0), 1, &[0])),
            io::ErrorKind::InvalidInput
        );
        // 2^64 ns is in 2554: beyond that a nanosecond interface cannot count.
        assert!(
            w.write_packet(id, Timestamp::new(18_446_744_074, 0), 1, &[0])
                .is_err()
        );
        w.new_section().unwrap();
        assert!(
            w.write_packet(id, Timestamp::new(1, 0), 1, &[0]).is_err(),
            "ids restart per section"
        );
    }

    #[test]
    fn pcapng_snaplen_zero_still_bounded_by_max_caplen() {
        let mut w = PcapNgWriter::new(Vec::new()).unwrap();
        let id = w.add_interface(LinkType::RawIp, 0, None).unwrap();
        let big = vec![0x45u8; MAX_CAPLEN as usize + 10];
        w.write_packet(id, Timestamp::new(1, 0), big.len() as u32, &big)
            .unwrap();
        let (got, e) = read_bytes(w.get_ref());
        assert!(e.is_none(), "{e:?}");
        assert_eq!(
            (got[0].caplen, got[0].orig_len),
            (MAX_CAPLEN, MAX_CAPLEN + 10)
        );
    }
}
