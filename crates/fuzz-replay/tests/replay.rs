//! Replays every committed fuzz input through the function its fuzz target calls, so that
//! `cargo test` re-checks, without libFuzzer, everything fuzzing has found: the minimised corpus
//! (`fuzz/corpus/<target>/`), the hand-made seeds (`fuzz/seeds/<target>/`, from
//! `fuzz/gen_seeds.py`) and the inputs that once crashed (`fuzz/regressions/<target>/`).
//!
//! A target whose corpus or seeds directory is missing or empty fails rather than passing on
//! nothing, and the target lists here, in `fuzz_replay::TARGETS`, in `fuzz/fuzz_targets/` and
//! in `fuzz/corpus/` must agree.

use std::collections::BTreeSet;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// `fuzz/` at the top of the repository (this crate is `crates/fuzz-replay`).
fn fuzz_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().nth(2).unwrap_or(manifest).join("fuzz")
}

/// The files in `dir`, sorted; `None` if it does not exist.
fn files_in(dir: &Path) -> Option<Vec<PathBuf>> {
    let entries = fs::read_dir(dir).ok()?;
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("read a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Some(files)
}

/// The names of the entries of `dir` (file stems with `strip` removed, or directory names).
fn names_in(dir: &Path, strip: &str) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("read a directory entry").file_name())
        .filter_map(|n| n.to_str().map(|s| s.trim_end_matches(strip).to_owned()))
        .filter(|n| !n.starts_with('.'))
        .collect()
}

/// Runs every input of one target; fails listing each input that panicked.
fn replay(name: &str) {
    let target = fuzz_replay::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("{name} is not in fuzz_replay::TARGETS"))
        .1;
    let root = fuzz_dir();
    let required = |kind: &str| {
        let dir = root.join(kind).join(name);
        let files = files_in(&dir).unwrap_or_else(|| {
            panic!(
                "{} is missing: run fuzz/gen_seeds.py, or fuzz/run-all.sh to grow a corpus",
                dir.display()
            )
        });
        assert!(!files.is_empty(), "{} is empty", dir.display());
        files
    };
    let corpus = required("corpus");
    let seeds = required("seeds");
    let regressions = files_in(&root.join("regressions").join(name)).unwrap_or_default();

    let mut failed = Vec::new();
    for path in corpus.iter().chain(&seeds).chain(&regressions) {
        let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if catch_unwind(AssertUnwindSafe(|| target(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    println!(
        "{name}: replayed {} inputs ({} corpus, {} seeds, {} regressions)",
        corpus.len() + seeds.len() + regressions.len(),
        corpus.len(),
        seeds.len(),
        regressions.len()
    );
    assert!(
        failed.is_empty(),
        "{name}: {} inputs panicked (messages above):\n  {}",
        failed.len(),
        failed.join("\n  ")
    );
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {
        /// The targets this file has a test for.
        const TESTED: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                replay(stringify!($name));
            }
        )*
    };
}

replay_tests!(
    parse_packet,
    ethernet,
    vlan,
    arp,
    ipv4,
    ipv6,
    tcp,
    udp,
    icmpv4,
    icmpv6,
    vxlan,
    geneve,
    sll,
    loopback_chdlc,
    capture_reader,
    capture_roundtrip,
    flow_key,
    conn_table,
    pipeline_model,
    http_parser,
    dns_message,
    tls_handshake,
    tcp_reassembly,
    ids_rule,
    policy,
    scan_signatures,
    scan_file,
    intel_feed,
    shim_image,
    shim_record,
    elf_linkage,
    policy_toml,
);

#[test]
fn every_target_is_fuzzed_replayed_and_has_a_corpus() {
    let tested: BTreeSet<String> = TESTED.iter().map(|s| s.to_string()).collect();
    let listed: BTreeSet<String> = fuzz_replay::TARGETS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    let root = fuzz_dir();
    let fuzzed = names_in(&root.join("fuzz_targets"), ".rs");
    let corpora = names_in(&root.join("corpus"), "");
    let seeded = names_in(&root.join("seeds"), "");
    assert_eq!(tested, listed, "tests here vs fuzz_replay::TARGETS");
    assert_eq!(fuzzed, listed, "fuzz/fuzz_targets/ vs fuzz_replay::TARGETS");
    assert_eq!(corpora, listed, "fuzz/corpus/ vs fuzz_replay::TARGETS");
    assert_eq!(seeded, listed, "fuzz/seeds/ vs fuzz_replay::TARGETS");
    if root.join("regressions").is_dir() {
        let regressed = names_in(&root.join("regressions"), "");
        assert!(
            regressed.is_subset(&listed),
            "fuzz/regressions/ names unknown targets: {:?}",
            regressed.difference(&listed).collect::<Vec<_>>()
        );
    }
}
