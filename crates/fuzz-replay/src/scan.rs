//! Fuzz bodies for the content scanner (`scan` crate): signature database text, scanned file
//! bytes, and threat-intelligence feeds. Each checks what the crate promises beyond "no panic":
//! a file scanned whole and scanned in chunks gives the same detections, a database line that
//! fails is reported with its line, and every indicator that loads is found by its own value.

use std::path::Path;

use scan::{DbKind, Digests, FileScan, IntelSet, ScanLimits, SignatureSet, scan_bytes};

/// Chunk boundaries taken from the data itself.
fn cuts(data: &[u8]) -> Vec<usize> {
    let step = 1 + usize::from(data.first().copied().unwrap_or(0) % 97);
    (step..data.len()).step_by(step).collect()
}

/// Detections of `data` whole and in chunks must agree (names, in a set).
fn agree(set: &SignatureSet, data: &[u8]) {
    let limits = ScanLimits {
        max_file_size: 1 << 20,
    };
    let whole = scan_bytes(set, data, limits, Digests::All);
    let mut f = FileScan::new(set, limits, Digests::All);
    let mut at = 0;
    for c in cuts(data) {
        f.feed(&data[at..c]);
        at = c;
    }
    f.feed(&data[at..]);
    let streamed = f.finish();
    let names = |r: &scan::ScanReport| {
        let mut v: Vec<String> = r.detections.iter().map(|d| d.name.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(names(&whole), names(&streamed), "whole vs streamed");
    assert_eq!(whole.md5, streamed.md5, "md5");
    assert_eq!(whole.sha256, streamed.sha256, "sha256");
    assert_eq!(whole.size, data.len() as u64);
}

/// Database text of the kind `data[0]` picks (hdb, hsb, ndb, ldb, YARA), loaded, then used to
/// scan the text itself whole and in chunks.
pub fn signatures(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let kind = match pick % 5 {
        0 => DbKind::Hdb,
        1 => DbKind::Hsb,
        2 => DbKind::Ndb,
        3 => DbKind::Ldb,
        _ => DbKind::Yara,
    };
    let text = String::from_utf8_lossy(rest);
    let mut b = SignatureSet::builder();
    b.add_text(kind, &text, Path::new("fuzz"), false);
    let set = b.build();
    let lines = text.lines().count();
    for f in &set.report().failed {
        let _ = f.to_string();
        if kind != DbKind::Yara {
            let line = f.line.expect("a database line failure names its line");
            assert!(line >= 1 && line <= lines, "line {line} of {lines}");
        }
    }
    agree(&set, rest);
}

/// A fixed set covering every form; `data` is the file.
pub fn file(data: &[u8]) {
    thread_local! {
        static SET: SignatureSet = {
            let mut b = SignatureSet::builder();
            b.add_text(DbKind::Ndb, "A:0:*:4142??4445\nB:0:*:4d5a{2-6}5045\nC:0:*:6162*6364\nD:0:0,4:7f454c46\nE:0:EOF-4:61626364\nF:6:EP+0:f30f1efa\nG:1:EP-2:????4142\nH:0:*:(4141|424243)4444\n", Path::new("f.ndb"), false);
            b.add_text(DbKind::Ldb, "L;Target:0;0&(1|2)>1;41414141;42424242;43434343\nM;Target:0;0=2;5a5a5a5a::i\n", Path::new("f.ldb"), false);
            b.add_text(DbKind::Hdb, "44d88612fea8a8f36de82e1278abb02f:68:Win.Test.EICAR_HDB-1", Path::new("f.hdb"), true);
            b.add_text(DbKind::Yara, "rule Y { strings: $a = \"abcd\" nocase $b = { 41 ?? 43 44 } condition: any of them }", Path::new("f.yar"), false);
            b.build()
        };
    }
    SET.with(|set| {
        assert!(set.report().failed.is_empty(), "{:?}", set.report().failed);
        agree(set, data);
    });
}

/// A feed (CSV when `data[0]` is even, else JSON: STIX or MISP): every indicator that loads
/// must be found by its own value.
pub fn intel_feed(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut b = IntelSet::builder();
    if pick % 2 == 0 {
        b.add_csv(&text, Path::new("f.csv"), "f");
    } else {
        b.add_json(&text, Path::new("f.json"), "f");
    }
    let set = b.build();
    for f in &set.report().failed {
        let _ = f.to_string();
    }
    assert_eq!(set.len(), set.report().loaded);
    for i in set.indicators() {
        let found = match i.kind {
            scan::intel::IndicatorKind::Ip => {
                let addr = i.value.split('/').next().expect("network form");
                set.match_ip(addr.parse().expect("a loaded network parses"))
                    .is_some()
            }
            scan::intel::IndicatorKind::Domain => set.match_domain(&i.value).is_some(),
            scan::intel::IndicatorKind::Url => set.match_url(&i.value).is_some(),
            scan::intel::IndicatorKind::Hash(kind) => {
                let d: Vec<u8> = (0..i.value.len() / 2)
                    .map(|k| u8::from_str_radix(&i.value[2 * k..2 * k + 2], 16).expect("hex"))
                    .collect();
                set.match_hash(kind, &d).is_some()
            }
        };
        assert!(found, "{:?} not found by its own value", i.value);
    }
}
