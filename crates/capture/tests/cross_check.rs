//! The writers' output read by an independent parser (`pcap-parser`), field by field, against
//! what this crate's reader delivers.

mod common;

use capture::CaptureReader;
use common::{Owned, drain, pcap_sample, pcapng_sample};
use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{PcapNGCapture, parse_pcap_frame, parse_pcap_frame_be, parse_pcap_header};

fn ours(bytes: &[u8]) -> Vec<Owned> {
    let mut r = CaptureReader::new(bytes).unwrap();
    let (got, e) = drain(&mut r, bytes.len());
    assert!(e.is_none(), "{e:?}");
    got
}

#[test]
fn pcap_parser_agrees_on_classic_pcap() {
    for (nanos, big_endian) in [(false, false), (true, false), (false, true), (true, true)] {
        let s = pcap_sample(11, 300, 1600, nanos, big_endian);
        let (mut rest, header) = parse_pcap_header(&s.bytes).unwrap();
        assert_eq!(header.snaplen, 65535);
        assert_eq!(header.network.0, 1);
        assert_eq!(header.is_nanosecond_precision(), nanos);
        assert_eq!(header.is_bigendian(), big_endian);
        // Its whole-file parser knows only little-endian records; walk them with the right one.
        let mut blocks = Vec::new();
        while !rest.is_empty() {
            let (r, b) = if big_endian {
                parse_pcap_frame_be(rest)
            } else {
                parse_pcap_frame(rest)
            }
            .unwrap();
            blocks.push(b);
            rest = r;
        }
        let ours = ours(&s.bytes);
        assert_eq!(blocks.len(), ours.len());
        for (t, o) in blocks.iter().zip(&ours) {
            assert_eq!(
                (t.caplen, t.origlen, t.data),
                (o.caplen, o.orig_len, &o.data[..])
            );
            let frac = if nanos {
                o.timestamp.nanos
            } else {
                o.timestamp.nanos / 1000
            };
            assert_eq!((i64::from(t.ts_sec), t.ts_usec), (o.timestamp.secs, frac));
        }
    }
}

#[test]
fn pcap_parser_agrees_on_pcapng() {
    for big_endian in [false, true] {
        let s = pcapng_sample(12, 300, 1600, big_endian);
        let theirs = PcapNGCapture::from_file(&s.bytes).unwrap();
        assert_eq!(theirs.sections.len(), 2);
        let ours = ours(&s.bytes);
        let mut ours = ours.iter();
        let mut packets = 0;
        for section in &theirs.sections {
            assert_eq!(section.big_endian, big_endian);
            let mut resolutions = Vec::new();
            let mut names = Vec::new();
            for block in &section.blocks {
                match block {
                    Block::InterfaceDescription(idb) => {
                        resolutions.push(idb.if_tsresol().map(|r| r.unwrap()));
                        names.push(idb.if_name().unwrap().unwrap().to_owned());
                    }
                    Block::EnhancedPacket(epb) => {
                        let o = ours.next().unwrap();
                        packets += 1;
                        assert_eq!(epb.if_id, o.interface);
                        assert_eq!(
                            (epb.caplen, epb.origlen, epb.packet_data()),
                            (o.caplen, o.orig_len, &o.data[..])
                        );
                        // pcap-parser decodes decimal resolutions only.
                        if let Some(Some(raw)) = resolutions
                            .get(o.interface as usize)
                            .copied()
                            .map(|r| r.or(Some(6)))
                            && raw < 0x80
                        {
                            let units = 10u64.pow(u32::from(raw));
                            let (secs, frac) = epb.decode_ts(0, units);
                            let nanos = frac as u64 * 1_000_000_000 / units;
                            assert_eq!(
                                (i64::from(secs), nanos as u32),
                                (o.timestamp.secs, o.timestamp.nanos)
                            );
                        }
                    }
                    Block::SectionHeader(_) => {}
                    other => panic!("unexpected block {other:?}"),
                }
            }
            assert_eq!(names, ["eth0", "tun0", "any"]);
            assert_eq!(resolutions, [Some(9), None, Some(0x80 | 32)]);
        }
        assert_eq!(packets, 300);
        assert!(ours.next().is_none());
    }
}
