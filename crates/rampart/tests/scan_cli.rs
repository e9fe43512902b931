//! `rampart scan` as a user meets it (real files in a temporary folder, the real binary), and a
//! differential test against ClamAV's `clamscan` on files and signature sets made here: the
//! same files must be found with the same signature names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const RAMPART: &str = env!("CARGO_BIN_EXE_rampart");
const EICAR: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

fn rampart(args: &[&str]) -> Output {
    Command::new(RAMPART)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

#[test]
fn eicar_is_found_by_its_clamav_name_with_the_built_in_database() {
    let dir = tempfile::tempdir().unwrap();
    let eicar = dir.path().join("eicar.com");
    let clean = dir.path().join("clean.txt");
    write(&eicar, EICAR);
    write(&clean, b"nothing to see here\n");
    let o = rampart(&["scan", eicar.to_str().unwrap(), clean.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains(&format!(
            "{}: Win.Test.EICAR_HDB-1 FOUND\n",
            eicar.display()
        )),
        "{out}"
    );
    assert!(out.contains(&format!("{}: OK\n", clean.display())), "{out}");
    assert!(
        out.contains("Infected files: 1\n") && out.contains("Scanned files: 2\n"),
        "{out}"
    );
    assert!(
        out.contains("----------- SCAN SUMMARY -----------"),
        "{out}"
    );

    let o = rampart(&["scan", "--no-summary", clean.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(text(&o.stdout), format!("{}: OK\n", clean.display()));
}

#[test]
fn errors_exit_2_and_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let eicar = dir.path().join("e");
    write(&eicar, EICAR);
    let o = rampart(&[
        "scan",
        "--no-summary",
        missing.to_str().unwrap(),
        eicar.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "an error wins over a detection");
    let out = text(&o.stdout);
    assert!(
        out.contains(&format!("{}: ERROR: cannot access", missing.display())),
        "{out}"
    );
    assert!(out.contains("Win.Test.EICAR_HDB-1 FOUND"), "{out}");

    let o = rampart(&[
        "scan",
        "--db",
        missing.to_str().unwrap(),
        eicar.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).starts_with("rampart: error: database"),
        "{}",
        text(&o.stderr)
    );

    let o = rampart(&["scan"]);
    assert_eq!(o.status.code(), Some(2), "usage error");
}

#[test]
fn folders_json_and_a_database_with_a_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    write(
        &db.join("t.ndb"),
        b"Test.Body.A:0:*:6d61726b65722d41\nTest.Bad:0:*:6d61zz\nTest.Body.B:0:*:6d61726b65722d42\n",
    );
    write(&db.join("readme.txt"), b"not a database");
    let tree = dir.path().join("tree");
    write(&tree.join("top-a.bin"), b"xx marker-A xx");
    write(&tree.join("sub/deep-b.bin"), b"xx marker-B xx");
    write(&tree.join("sub/clean.bin"), b"xx marker-C xx");

    let o = rampart(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        "--no-summary",
        tree.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains(&format!(
            "rampart: warning: {}:2: hex pattern at byte 4",
            db.join("t.ndb").display()
        )),
        "{}",
        text(&o.stderr)
    );
    let out = text(&o.stdout);
    assert!(
        out.contains("top-a.bin: Test.Body.A.UNOFFICIAL FOUND"),
        "{out}"
    );
    assert!(!out.contains("deep-b"), "not recursive: {out}");

    let o = rampart(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        "-r",
        "--json",
        "--hashes",
        tree.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "one object per file");
    let by_path: BTreeMap<String, &serde_json::Value> = lines
        .iter()
        .map(|v| {
            (
                v["path"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned(),
                v,
            )
        })
        .collect();
    assert_eq!(by_path["deep-b.bin"]["verdict"], "infected");
    assert_eq!(
        by_path["deep-b.bin"]["signatures"],
        serde_json::json!(["Test.Body.B.UNOFFICIAL"])
    );
    assert_eq!(by_path["clean.bin"]["verdict"], "clean");
    assert_eq!(by_path["clean.bin"]["size"], 14);
    assert_eq!(by_path["clean.bin"]["md5"].as_str().unwrap().len(), 32);
    let err = text(&o.stderr);
    assert!(
        err.contains("Infected files: 2") && err.contains("Signatures failed to load: 1"),
        "{err}"
    );
}

#[test]
fn max_filesize_caps_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.ndb");
    write(&db, b"Late:0:*:4c4154452d4d41524b\n");
    let f = dir.path().join("big");
    let mut data = vec![b'.'; 10_000];
    data[9_000..9_009].copy_from_slice(b"LATE-MARK");
    write(&f, &data);
    let o = rampart(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        "--max-filesize",
        "4K",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        text(&o.stdout).contains("Files over --max-filesize: 1"),
        "{}",
        text(&o.stdout)
    );
    let o = rampart(&["scan", "--db", db.to_str().unwrap(), f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Signatures of every supported form and files that carry them (and near misses).
fn make_corpus(root: &Path) -> (PathBuf, PathBuf) {
    let mut rng = Rng(0x5eed_cafe);
    let db = root.join("db");
    let tree = root.join("tree");
    let (mut ndb, mut ldb, mut hdb, mut hsb, mut yar) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..24 {
        let a = rng.bytes(6);
        let b = rng.bytes(6);
        let mid = rng.bytes(3);
        let (sig, hit, miss): (String, Vec<u8>, Vec<u8>) = match i % 8 {
            0 => (
                format!("{}{}", hex(&a), hex(&b)),
                [a.clone(), b.clone()].concat(),
                [a.clone(), b[..5].to_vec()].concat(),
            ),
            1 => (
                format!("{}??{}", hex(&a), hex(&b)),
                [a.clone(), vec![0x41], b.clone()].concat(),
                [a.clone(), b.clone()].concat(),
            ),
            2 => (
                format!("{}{{2-5}}{}", hex(&a), hex(&b)),
                [a.clone(), mid.clone(), b.clone()].concat(),
                [a.clone(), vec![1; 6], b.clone()].concat(),
            ),
            3 => (
                format!("{}*{}", hex(&a), hex(&b)),
                [a.clone(), rng.bytes(300), b.clone()].concat(),
                [b.clone(), a.clone()].concat(),
            ),
            4 => (
                format!("{}({:02x}|{:02x}){}", hex(&a), mid[0], mid[1], hex(&b)),
                [a.clone(), vec![mid[1]], b.clone()].concat(),
                [a.clone(), vec![mid[1] ^ 0x80 | 1], b.clone()].concat(),
            ),
            5 => (
                format!("{}{{4}}{}", hex(&a), hex(&b)),
                [a.clone(), rng.bytes(4), b.clone()].concat(),
                [a.clone(), rng.bytes(3), b.clone()].concat(),
            ),
            6 => (
                format!("{}{:x}?{}", hex(&a), mid[0] >> 4, hex(&b)),
                [a.clone(), vec![mid[0] & 0xf0 | 0x7], b.clone()].concat(),
                [a.clone(), vec![(mid[0] >> 4 ^ 1) << 4], b.clone()].concat(),
            ),
            _ => (
                format!("{}[1-3]{:02x}", hex(&a), b[0]),
                [a.clone(), vec![9, 9], b.clone()].concat(),
                [a.clone(), vec![9; 4], b.clone()].concat(),
            ),
        };
        ndb += &format!("Diff.Body.{i}:0:*:{sig}\n");
        let n = rng.below(5000);
        let pre = rng.bytes(n);
        let post = rng.bytes(200);
        files.push((
            format!("hit/body{i}.bin"),
            [pre.clone(), hit, post.clone()].concat(),
        ));
        files.push((format!("miss/body{i}.bin"), [pre, miss, post].concat()));
    }
    // Anchored offsets.
    let m = rng.bytes(8);
    ndb += &format!(
        "Diff.Abs:0:16:{}\nDiff.Shift:0:30,4:{}\nDiff.Eof:0:EOF-20:{}\n",
        hex(&m),
        hex(&m),
        hex(&m)
    );
    let mut f = rng.bytes(64);
    f[16..24].copy_from_slice(&m);
    files.push(("hit/abs.bin".into(), f.clone()));
    f[16] ^= 1;
    f[32..40].copy_from_slice(&m);
    files.push(("hit/shift.bin".into(), f.clone()));
    let mut f = rng.bytes(100);
    f[80..88].copy_from_slice(&m);
    files.push(("hit/eof.bin".into(), f.clone()));
    f.push(0);
    files.push(("miss/eof.bin".into(), f));
    // Logical signatures.
    let (x, y, z) = (rng.bytes(6), rng.bytes(6), rng.bytes(6));
    ldb += &format!(
        "Diff.Logical.And;Engine:51-255,Target:0;0&1;{};{}\n",
        hex(&x),
        hex(&y)
    );
    ldb += &format!(
        "Diff.Logical.Or;Engine:51-255,Target:0;0|(1&2);{};{};{}\n",
        hex(&z),
        hex(&x),
        hex(&y)
    );
    ldb += &format!(
        "Diff.Logical.Count;Engine:51-255,Target:0;0>1;{}\n",
        hex(&z)
    );
    files.push((
        "hit/and.bin".into(),
        [rng.bytes(50), x.clone(), rng.bytes(50), y.clone()].concat(),
    ));
    files.push((
        "miss/and.bin".into(),
        [rng.bytes(50), x.clone(), rng.bytes(50)].concat(),
    ));
    files.push((
        "hit/or.bin".into(),
        [rng.bytes(50), z.clone(), rng.bytes(50)].concat(),
    ));
    files.push((
        "hit/count.bin".into(),
        [z.clone(), rng.bytes(50), z.clone()].concat(),
    ));
    // Hash signatures of some files, with and without size.
    for (k, (name, data)) in files.iter().enumerate().filter(|(k, _)| k % 9 == 0) {
        let tag = name.replace(['/', '.'], "_");
        hdb += &format!("{}:{}:Diff.Hash.{tag}\n", md5_hex(data), data.len());
        if k % 2 == 0 {
            hsb += &format!("{}:*:Diff.Sha.{tag}:73\n", sha256_hex(data));
        }
    }
    hdb += "44d88612fea8a8f36de82e1278abb02f:68:Win.Test.EICAR_HDB-1\n";
    files.push(("hit/eicar.com".into(), EICAR.to_vec()));
    // A YARA rule with a text and a hex string.
    let t = "rampart-differential-marker";
    yar += &format!(
        "rule Diff_Yara {{\n  strings:\n    $t = \"{t}\"\n    $h = {{ {} ?? {} }}\n  condition:\n    any of them\n}}\n",
        spaced(&x[..4]),
        spaced(&y[..4])
    );
    files.push((
        "hit/yara.txt".into(),
        format!("some text {t} more text").into_bytes(),
    ));
    files.push((
        "miss/yara.txt".into(),
        b"some text rampart-differential-marke more".to_vec(),
    ));
    write(&db.join("diff.ndb"), ndb.as_bytes());
    write(&db.join("diff.ldb"), ldb.as_bytes());
    write(&db.join("diff.hdb"), hdb.as_bytes());
    write(&db.join("diff.hsb"), hsb.as_bytes());
    write(&db.join("diff.yar"), yar.as_bytes());
    for (name, data) in &files {
        write(&tree.join(name), data);
    }
    (db, tree)
}

fn spaced(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn tool_hash(tool: &str, data: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    std::fs::write(&p, data).unwrap();
    let o = Command::new(tool).arg(&p).output().expect("coreutils");
    text(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn md5_hex(d: &[u8]) -> String {
    tool_hash("md5sum", d)
}

fn sha256_hex(d: &[u8]) -> String {
    tool_hash("sha256sum", d)
}

/// `path relative to tree` → names, from `PATH: NAME FOUND` lines.
fn found_lines(out: &str, tree: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_suffix(" FOUND") {
            let (path, name) = rest.rsplit_once(": ").unwrap();
            let rel = Path::new(path)
                .strip_prefix(tree)
                .unwrap()
                .display()
                .to_string();
            m.entry(rel).or_default().insert(name.to_owned());
        }
    }
    m
}

#[test]
fn same_files_and_names_as_clamscan() {
    if Command::new("clamscan").arg("--version").output().is_err() {
        eprintln!("skipped: clamscan is not installed (scripts/setup installs clamav)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (db, tree) = make_corpus(dir.path());
    let clam = Command::new("clamscan")
        .args([
            "--allmatch",
            "--no-summary",
            "--infected",
            "--scan-archive=no",
            "--normalize=no",
            "-r",
        ])
        .arg(format!("--database={}", db.display()))
        .arg(&tree)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        clam.status.code(),
        Some(1),
        "clamscan: {}",
        text(&clam.stderr)
    );
    let ours = rampart(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        "-r",
        "-i",
        "--no-summary",
        tree.to_str().unwrap(),
    ]);
    assert_eq!(ours.status.code(), Some(1), "{}", text(&ours.stderr));
    assert!(
        text(&ours.stderr).is_empty(),
        "every signature loads: {}",
        text(&ours.stderr)
    );
    let want = found_lines(&text(&clam.stdout), &tree);
    let got = found_lines(&text(&ours.stdout), &tree);
    // The corpus must exercise every form on both sides.
    assert!(want.len() >= 30, "clamscan found only {want:?}");
    let hits: Vec<String> = std::fs::read_dir(tree.join("hit"))
        .unwrap()
        .map(|e| format!("hit/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    for h in &hits {
        assert!(want.contains_key(h), "clamscan missed {h}");
    }
    for (k, names) in &want {
        if k.starts_with("miss/") {
            assert!(
                names
                    .iter()
                    .all(|n| n.starts_with("Diff.Hash.") || n.starts_with("Diff.Sha.")),
                "{k}: {names:?}"
            );
        }
    }
    assert_eq!(got, want, "rampart (left) and clamscan (right) differ");
}
