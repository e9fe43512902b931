use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::{DbKind, EICAR, EICAR_NAME};

fn set(kind: DbKind, text: &str) -> SignatureSet {
    let mut b = SignatureSet::builder();
    b.add_text(kind, text, Path::new("t"), false);
    let s = b.build();
    assert!(s.report().failed.is_empty(), "{:?}", s.report().failed);
    s
}

fn names(r: &ScanReport) -> Vec<&str> {
    let mut v: Vec<&str> = r.detections.iter().map(|d| d.name.as_str()).collect();
    v.sort_unstable();
    v
}

fn whole(s: &SignatureSet, data: &[u8]) -> ScanReport {
    scan_bytes(s, data, ScanLimits::default(), Digests::Needed)
}

fn streamed(s: &SignatureSet, data: &[u8], cuts: &[usize]) -> ScanReport {
    let mut f = FileScan::new(s, ScanLimits::default(), Digests::Needed);
    let mut at = 0;
    for &c in cuts {
        let c = c.min(data.len());
        if c > at {
            f.feed(&data[at..c]);
            at = c;
        }
    }
    f.feed(&data[at..]);
    f.finish()
}

#[test]
fn eicar_out_of_the_box_whole_and_streamed() {
    let s = SignatureSet::builtin();
    assert_eq!(names(&whole(&s, EICAR)), vec![EICAR_NAME]);
    assert_eq!(
        names(&streamed(&s, EICAR, &[1, 2, 30, 67])),
        vec![EICAR_NAME]
    );
    let mut longer = EICAR.to_vec();
    longer.push(b'\n');
    assert!(
        names(&whole(&s, &longer)).is_empty(),
        "the hash needs the exact file"
    );
}

#[test]
fn hash_signatures_with_size_and_any_size() {
    let md5 = "44d88612fea8a8f36de82e1278abb02f";
    let sha256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
    let sha1 = "3395856ce81f2b7382dee72602f798b642f14140";
    let s = set(
        DbKind::Hsb,
        &format!("{md5}:68:A\n{sha256}:*:B:73\n{sha1}:68:C\n{md5}:69:WrongSize\n"),
    );
    assert_eq!(
        names(&whole(&s, EICAR)),
        vec!["A.UNOFFICIAL", "B.UNOFFICIAL", "C.UNOFFICIAL"]
    );
    assert_eq!(
        names(&streamed(&s, EICAR, &[5, 40])),
        vec!["A.UNOFFICIAL", "B.UNOFFICIAL", "C.UNOFFICIAL"]
    );
    // Only the digests a signature of this size needs are computed.
    let r = whole(&s, b"123");
    assert!(r.md5.is_none() && r.sha1.is_none() && r.sha256.is_some());
    let all = scan_bytes(&s, b"abc", ScanLimits::default(), Digests::All);
    assert_eq!(
        all.md5.map(|d| d[0]),
        Some(0x90),
        "md5(abc) = 900150983cd2..."
    );
}

#[test]
fn body_signatures_each_form() {
    let s = set(
        DbKind::Ndb,
        "Lit:0:*:45494341522d5354\n\
         Wild:0:*:4142??4445464748\n\
         Nib:0:*:5a5a5a3?5a5a\n\
         Range:0:*:50515253{2-4}54555657\n\
         Star:0:*:60616263*64656667\n\
         Alt:0:*:7071(72|7374)75767778\n\
         Abs:0:4,2:30313233\n\
         Eof:0:EOF-6:39393939\n",
    );
    let cases: &[(&[u8], &[&str])] = &[
        (b"xxEICAR-STxx", &["Lit.UNOFFICIAL"]),
        (b"AB_DEFGH", &["Wild.UNOFFICIAL"]),
        (b"AB_DEFGX", &[]),
        (b"ZZZ7ZZ", &["Nib.UNOFFICIAL"]),
        (b"ZZZ@ZZ", &[]),
        (b"PQRS..TUVW", &["Range.UNOFFICIAL"]),
        (b"PQRS.TUVW", &[]),
        (b"PQRS.....TUVW", &[]),
        (b"`abc and then much later defg", &["Star.UNOFFICIAL"]),
        (b"defg then `abc", &[]),
        (b"pqruvwx", &["Alt.UNOFFICIAL"]),
        (b"pqstuvwx", &["Alt.UNOFFICIAL"]),
        (b"pqsuvwx", &[]),
        (b"....0123", &["Abs.UNOFFICIAL"]),
        (b"......0123", &["Abs.UNOFFICIAL"]),
        (b".......0123", &[]),
        (b"...0123", &[]),
        (b"xx9999xx", &["Eof.UNOFFICIAL"]),
        (b"xx9999x", &[]),
        (b"9999xxx", &[]),
    ];
    for (data, want) in cases {
        let mut want = want.to_vec();
        want.sort_unstable();
        assert_eq!(
            names(&whole(&s, data)),
            want,
            "{}",
            String::from_utf8_lossy(data)
        );
        for cut in 0..data.len() {
            assert_eq!(names(&streamed(&s, data, &[cut])), want, "cut at {cut}");
        }
    }
}

#[test]
fn target_types_and_entry_points() {
    let Ok(bin) = std::fs::read("/bin/true") else {
        eprintln!("skipped: /bin/true unreadable");
        return;
    };
    let (kind, ep) = crate::filetype::inspect(&bin[..bin.len().min(HEAD_LEN)]);
    assert_eq!(kind, FileKind::Elf);
    let ep = ep.unwrap() as usize;
    let hex: String = bin[ep..ep + 8].iter().map(|b| format!("{b:02x}")).collect();
    let s = set(
        DbKind::Ndb,
        &format!(
            "ElfEp:6:EP+0:{hex}\nPeEp:1:EP+0:{hex}\nElfMagic:6:0:7f454c46\nAnyEp1:6:EP-1:??{hex}\n"
        ),
    );
    assert_eq!(
        names(&whole(&s, &bin)),
        vec![
            "AnyEp1.UNOFFICIAL",
            "ElfEp.UNOFFICIAL",
            "ElfMagic.UNOFFICIAL"
        ]
    );
    assert_eq!(
        names(&streamed(&s, &bin, &[3, 100, ep + 3])),
        vec![
            "AnyEp1.UNOFFICIAL",
            "ElfEp.UNOFFICIAL",
            "ElfMagic.UNOFFICIAL"
        ]
    );
    let mut not_elf = bin.clone();
    not_elf[0] = 0;
    assert!(names(&whole(&s, &not_elf)).is_empty());
}

#[test]
fn logical_signatures() {
    let s = set(
        DbKind::Ldb,
        "Both;Engine:51-255,Target:0;0&1;41414141;42424242\n\
         Either;Target:0;0|1;43434343;44444444\n\
         Many;Target:0;0>2;45454545\n\
         Exactly;Target:0;0=1;46464646\n\
         Nocase;Target:0;0;6869646465::i\n\
         Wide;Target:0;0;77696465::w\n\
         Sized;Target:0,FileSize:10-20;0;47474747\n",
    );
    let check = |data: &[u8], want: &[&str]| {
        let mut want = want.to_vec();
        want.sort_unstable();
        assert_eq!(
            names(&whole(&s, data)),
            want,
            "{}",
            String::from_utf8_lossy(data)
        );
        assert_eq!(
            names(&streamed(&s, data, &[3, 7])),
            want,
            "streamed {}",
            String::from_utf8_lossy(data)
        );
    };
    check(b"AAAA BBBB", &["Both.UNOFFICIAL"]);
    check(b"AAAA", &[]);
    check(b"DDDD", &["Either.UNOFFICIAL"]);
    check(b"EEEE EEEE EEEE", &["Many.UNOFFICIAL"]);
    check(b"EEEE EEEE", &[]);
    check(b"FFFF", &["Exactly.UNOFFICIAL"]);
    check(b"FFFF FFFF", &[]);
    check(b"HiDdE", &["Nocase.UNOFFICIAL"]);
    check(b"w\0i\0d\0e\0", &["Wide.UNOFFICIAL"]);
    check(b"wide", &[]);
    check(b"GGGG......", &["Sized.UNOFFICIAL"]);
    check(b"GGGG", &[]);
}

#[test]
fn yara_rules_through_the_prefilter_and_always() {
    let s = set(
        DbKind::Yara,
        r#"rule Text { strings: $a = "EICAR-STANDARD" condition: $a }
           rule Hex { strings: $h = { 4D 5A ?? 00 [2-4] 50 45 } condition: $h }
           rule Re { strings: $r = /plant4-marker-[0-9]{6}-zz/ condition: $r }
           rule Small { condition: filesize == 3 }"#,
    );
    assert_eq!(names(&whole(&s, EICAR)), vec!["YARA.Text.UNOFFICIAL"]);
    assert_eq!(
        names(&whole(&s, b"..MZ\x01\x00abPE..")),
        vec!["YARA.Hex.UNOFFICIAL"]
    );
    assert_eq!(
        names(&whole(&s, b"x plant4-marker-123456-zz y")),
        vec!["YARA.Re.UNOFFICIAL"]
    );
    assert_eq!(
        names(&whole(&s, b"x plant4-marker-12345-zz y")),
        Vec::<&str>::new()
    );
    assert_eq!(names(&whole(&s, b"abc")), vec!["YARA.Small.UNOFFICIAL"]);
    assert_eq!(
        names(&streamed(&s, EICAR, &[10, 20])),
        vec!["YARA.Text.UNOFFICIAL"]
    );
}

#[test]
fn detections_come_as_soon_as_the_bytes_are_there() {
    let s = set(DbKind::Ndb, "Early:0:*:4541524c59\n");
    let mut f = FileScan::new(&s, ScanLimits::default(), Digests::Needed);
    assert!(f.feed(b"....EAR").is_empty());
    let d = f.feed(b"LY and the rest").to_vec();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].name.as_str(), d[0].end),
        ("Early.UNOFFICIAL", Some(9))
    );
    assert!(f.feed(b"EARLY again").is_empty(), "reported once");
    assert_eq!(f.finish().detections.len(), 1);
}

#[test]
fn size_cap_counts_what_was_not_scanned() {
    let s = set(DbKind::Ndb, "Late:0:*:4c415445\n");
    let limits = ScanLimits { max_file_size: 100 };
    let mut data = vec![b'.'; 200];
    data[150..154].copy_from_slice(b"LATE");
    let r = scan_bytes(&s, &data, limits, Digests::All);
    assert!(r.capped && r.scanned == 100 && r.size == 200 && r.detections.is_empty());
    assert!(r.md5.is_some(), "digests of the scanned part");
    let mut f = FileScan::new(&s, limits, Digests::Needed);
    for c in data.chunks(30) {
        f.feed(c);
    }
    let r2 = f.finish();
    assert_eq!((r2.capped, r2.scanned, r2.size), (true, 100, 200));
    let mut c = ScanCounters::default();
    c.add(&r);
    c.add(&r2);
    assert_eq!((c.capped_files, c.capped_bytes, c.files), (2, 200, 2));
}

#[test]
fn a_long_stream_keeps_only_its_window() {
    let s = set(DbKind::Ndb, "Far:0:*:464152{10-20}464152\n");
    let mut f = FileScan::new(
        &s,
        ScanLimits {
            max_file_size: u64::MAX,
        },
        Digests::Needed,
    );
    let chunk = vec![b'x'; 64 << 10];
    for _ in 0..64 {
        f.feed(&chunk);
        assert!(f.buf.len() <= 2 * s.window + (64 << 10) + chunk.len());
    }
    f.feed(b"FAR0123456789abFAR");
    assert_eq!(names(&f.finish()), vec!["Far.UNOFFICIAL"]);
}

/// A reference matcher for single-part patterns without anchors: tries every start.
fn reference(hex: &str, data: &[u8]) -> bool {
    let p = crate::pattern::Pattern::parse(hex).unwrap();
    (0..=data.len()).any(|s| p.find_in(data, s..=s).is_some())
}

fn body_hex() -> impl Strategy<Value = String> {
    let tok = prop_oneof![
        4 => any::<u8>().prop_map(|b| format!("{:02x}", b % 4 + 0x61)),
        1 => Just("??".to_owned()),
        1 => (0u32..3, 0u32..3).prop_map(|(a, b)| format!("{{{}-{}}}", a, a + b)),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| format!("({:02x}|{:02x}{:02x})", a % 4 + 0x61, b % 4 + 0x61, a % 3 + 0x61)),
    ];
    (
        proptest::collection::vec(any::<u8>(), 2..4),
        proptest::collection::vec(tok, 0..5),
        proptest::bool::ANY,
        proptest::collection::vec(any::<u8>(), 2..3),
    )
        .prop_map(|(anchor, toks, star, tail)| {
            let a: String = anchor
                .iter()
                .map(|b| format!("{:02x}", b % 4 + 0x61))
                .collect();
            let t: String = tail
                .iter()
                .map(|b| format!("{:02x}", b % 4 + 0x61))
                .collect();
            format!("{a}{}{}{t}", toks.concat(), if star { "*" } else { "" })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A body signature matches the same whatever the chunking, and as the reference does.
    #[test]
    fn chunking_does_not_change_matches(
        hex in body_hex(),
        data in proptest::collection::vec((0u8..5).prop_map(|b| b + 0x61), 0..200),
        cuts in proptest::collection::vec(0usize..200, 0..8),
    ) {
        let mut b = SignatureSet::builder();
        b.add_text(DbKind::Ndb, &format!("P:0:*:{hex}"), Path::new("p"), false);
        let s = b.build();
        prop_assume!(s.report().failed.is_empty());
        let mut cuts = cuts;
        cuts.sort_unstable();
        let one = !whole(&s, &data).detections.is_empty();
        let many = !streamed(&s, &data, &cuts).detections.is_empty();
        prop_assert_eq!(one, many, "whole vs streamed");
        prop_assert_eq!(one, reference(&hex, &data), "scanner vs reference");
    }
}

#[test]
fn a_scan_can_own_its_share_of_the_set_and_move_between_threads() {
    let set = std::sync::Arc::new(SignatureSet::builtin());
    let mut f = FileScan::new(set.clone(), ScanLimits::default(), Digests::All);
    f.feed(&EICAR[..30]);
    // Per-connection state outlives the caller's borrow and may move to another thread.
    let report = std::thread::spawn(move || {
        f.feed(&EICAR[30..]);
        f.finish()
    })
    .join()
    .unwrap();
    assert_eq!(names(&report), vec![EICAR_NAME]);
    assert!(report.sha1.is_some());
}

#[test]
fn a_dense_atom_is_verified_in_one_walk_per_pass() {
    let s = set(DbKind::Ndb, "Dense:0:*:41414141{0-5000}4242\n");
    let data = vec![b'A'; 20_000];
    let mut m = Matcher::new(&s);
    m.advance(&s, &data, 0, Some(data.len() as u64), true);
    assert!(m.detections.is_empty());
    // One candidate per byte; verified one by one they would take 20,000 x 5,000 steps.
    assert!(m.positions.steps < 200_000, "{} steps", m.positions.steps);
    let mut hit = data.clone();
    hit.extend_from_slice(b"BB");
    assert_eq!(names(&whole(&s, &hit)), vec!["Dense.UNOFFICIAL"]);
}
