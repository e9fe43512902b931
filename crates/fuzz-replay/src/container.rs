//! Fuzz bodies for the container side: the policy image the shim maps (a process in the
//! container can rewrite it), the event records it reads from the FIFO (any process can write
//! there), the ELF headers of a container's programs, and the TOML policy compiler.

use container::elf::{self, Linkage};
use container::policy::Policy;
use shim_abi::build::{ImageBuilder, PathRule};
use shim_abi::image::{ConnectTarget, NO_RULE, PolicyImage};
use shim_abi::record::{self, EventRecord, MAX_RECORD, Next, next_record};
use shim_abi::sockaddr::{self, SockAddr};
use shim_abi::{Access, Verdict, glob};

/// Runs every lookup of a checked image with paths, argv0 and a `sockaddr` taken from `probe`,
/// and checks what it promises: rule ids name labels; and, for an image the builder wrote
/// (`built`), that the precomputed answers agree with the lookups (a damaged or forged image
/// may hold any answers: it must only not crash the shim).
fn exercise(image: &PolicyImage<'_>, probe: &[u8], built: bool) {
    let _ = (image.generation(), image.mode(), image.audit_rate());
    let _ = (image.exec_errno(), image.file_errno(), image.net_errno());
    let path: Vec<u8> = [&b"/"[..], probe].concat();
    let mut norm = vec![0u8; path.len() + 2];
    let n = shim_abi::path::normalise_into(b"/", &path, &mut norm).unwrap_or(0);
    let norm = &norm[..n.max(1)];
    for a in 0..8u8 {
        let d = image.decide_file(norm, Access(a));
        assert!(
            d.rule == NO_RULE || (d.rule as usize) < image.rule_count(),
            "file rule id"
        );
        let _ = image.label(d.rule);
        if let Some(v) = image.file_uniform(Access(a)).verdict().filter(|_| built) {
            assert_eq!(d.verdict, v, "precomputed file answer for access {a}");
        }
    }
    let d = image.decide_exec(norm, Some(b"/bin/busybox"), probe);
    assert!(
        d.rule == NO_RULE || (d.rule as usize) < image.rule_count(),
        "exec rule id"
    );
    if let Some(v) = image.exec_uniform().verdict().filter(|_| built) {
        assert_eq!(d.verdict, v, "precomputed exec answer");
    }
    let target = match sockaddr::decode(probe) {
        SockAddr::Inet { addr, port } => Some(ConnectTarget::Inet { addr, port }),
        SockAddr::Inet6 { addr, port } => Some(ConnectTarget::Inet6 { addr, port }),
        SockAddr::UnixPath(_) => Some(ConnectTarget::Unix(norm)),
        SockAddr::UnixAbstract(name) => Some(ConnectTarget::Unix(name)),
        SockAddr::Other(f) => Some(ConnectTarget::Other(f)),
        SockAddr::Unspec | SockAddr::Malformed => None,
    };
    if let Some(t) = target {
        let d = image.decide_connect(&t);
        assert!(
            d.rule == NO_RULE || (d.rule as usize) < image.rule_count(),
            "net rule id"
        );
        if let Some(v) = image.net_uniform(t.class()).verdict().filter(|_| built) {
            assert_eq!(d.verdict, v, "precomputed network answer");
        }
    }
}

/// The pieces a built image's patterns and paths are made of.
const SEGMENTS: [&str; 8] = ["a", "b", "ab", "*", "**", "a*", "?", "etc"];

/// `PolicyImage` over bytes. The first byte chooses: odd, the rest is an image as found on
/// disk (checked, then every lookup run on it); even, the rest describes rules, an image is
/// built from them and must agree with trying every rule by hand, then is damaged at one byte
/// and looked up again.
pub fn shim_image(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 1 {
        let (image, probe) = rest.split_at(rest.len() * 3 / 4);
        if let Ok(img) = PolicyImage::new_checked(image) {
            exercise(&img, probe, false);
        }
        return;
    }
    // Rules: each 3 bytes, segments from the first two, effect and access from the third.
    let mut b = ImageBuilder::new(u64::from(mode));
    if mode & 2 == 2 {
        b.file_default = Verdict::Deny;
    }
    let mut rules = Vec::new();
    let (spec, paths) = rest.split_at(rest.len().min(24) / 3 * 3);
    for r in spec.chunks_exact(3) {
        let count = 1 + usize::from(r[2] >> 7);
        let segs: Vec<&str> = [r[0], r[1]][..count]
            .iter()
            .map(|&s| SEGMENTS[usize::from(s) % SEGMENTS.len()])
            .collect();
        let pattern = format!("/{}", segs.join("/"));
        let effect = if r[2] & 1 == 1 {
            Verdict::Deny
        } else {
            Verdict::Allow
        };
        let access = Access(((r[2] >> 1) & 7).max(1));
        let rule =
            PathRule::new(&pattern, effect, pattern.clone()).expect("built patterns are valid");
        b.file_rule(rule.with_access(access));
        rules.push((pattern, effect, access));
    }
    let mut bytes = b.build().expect("small images build");
    let img = PolicyImage::new_checked(&bytes).expect("a built image checks");
    for p in paths.chunks(3) {
        let segs: Vec<&str> = p
            .iter()
            .map(|&s| ["a", "b", "ab", "etc", "c"][usize::from(s) % 5])
            .collect();
        let path = format!("/{}", segs.join("/"));
        for a in [Access::READ, Access::WRITE, Access(3), Access::ALL] {
            let got = img.decide_file(path.as_bytes(), a);
            let matches = |e: Verdict, ok: &dyn Fn(Access) -> bool| {
                rules.iter().any(|(pat, eff, ra)| {
                    *eff == e
                        && ok(*ra)
                        && glob::matches(&pat.as_bytes()[1..], &path.as_bytes()[1..])
                })
            };
            let want = if matches(Verdict::Deny, &|ra| ra.intersects(a)) {
                Verdict::Deny
            } else if matches(Verdict::Allow, &|ra| ra.contains(a)) {
                Verdict::Allow
            } else {
                b.file_default
            };
            assert_eq!(got.verdict, want, "{path} {a:?} under {rules:?}");
        }
    }
    exercise(&img, paths, true);
    if let Some(&at) = paths.first() {
        let i = usize::from(at) * bytes.len() / 256;
        bytes[i] ^= paths.get(1).copied().unwrap_or(0x5a) | 1;
        if let Ok(img) = PolicyImage::new_checked(&bytes) {
            exercise(&img, paths, false);
        }
    }
}

/// The probe's FIFO reader on arbitrary bytes, fed in reads of a size taken from the data:
/// every byte is consumed as a record or as garbage, and every record re-encodes to one that
/// reads back the same.
pub fn shim_record(data: &[u8]) {
    let chunk = 1 + usize::from(data.first().copied().unwrap_or(0)) * 17;
    let mut buf: Vec<u8> = Vec::new();
    let mut consumed = 0usize;
    for piece in data.chunks(chunk) {
        buf.extend_from_slice(piece);
        let mut at = 0;
        loop {
            match next_record(&buf[at..]) {
                Next::Record(r) => {
                    assert!(r.len() >= record::RECORD_HEADER && r.len() <= MAX_RECORD);
                    let mut out = [0u8; MAX_RECORD];
                    let n = record::encode(&mut out, r.head(), &r.strings());
                    let again =
                        EventRecord::new_checked(&out[..n]).expect("re-encoded record reads");
                    assert_eq!(again.head(), r.head(), "record head round trip");
                    assert_eq!(again.strings(), r.strings(), "record strings round trip");
                    at += r.len();
                }
                Next::Garbage(k) => {
                    assert!(k >= 1 && k <= buf.len() - at, "garbage count");
                    at += k;
                }
                Next::NeedMore => break,
            }
        }
        consumed += at;
        buf.drain(..at);
    }
    assert_eq!(consumed + buf.len(), data.len(), "bytes lost in the stream");
    assert!(
        buf.len() < MAX_RECORD + record::RECORD_HEADER,
        "a stalled record longer than any"
    );
}

/// `container::elf::linkage` on a program's first bytes: never panics, and a file too short
/// for an ELF header is not ELF.
pub fn elf_linkage(data: &[u8]) {
    let l = elf::linkage(data);
    if data.len() < 52 {
        assert_eq!(l, Linkage::NotElf);
    }
    // Dynamic means a PT_INTERP header was read within the bytes: the same bytes with junk
    // after them are still dynamic.
    if l == Linkage::Dynamic {
        let mut longer = data.to_vec();
        longer.extend_from_slice(&[0xa5; 64]);
        assert_eq!(elf::linkage(&longer), Linkage::Dynamic);
    }
}

/// The TOML policy compiler: text that parses compiles, and its image checks and answers.
pub fn policy_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::parse(text, std::path::Path::new("fuzz.toml")) {
        Ok(p) => {
            let bytes = p.compile(1).expect("a parsed policy compiles");
            let img = PolicyImage::new_checked(&bytes).expect("a compiled image checks");
            assert!(img.rule_count() >= p.rule_count(), "every rule has a label");
            exercise(&img, b"etc/shadow", true);
            exercise(&img, &[2, 0, 0, 25, 10, 0, 0, 1], true);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("fuzz.toml"), "error names the file: {msg}");
        }
    }
}
