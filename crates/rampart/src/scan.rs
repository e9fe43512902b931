//! `rampart scan PATH...`: scans files and folders on disk with ClamAV and YARA signatures, as
//! `clamscan` does: one line per file (`PATH: NAME FOUND`, `PATH: OK`), or with `--json` one
//! object per file, then a summary. Files are scanned on every core; results are printed in
//! the order the paths were walked.
//!
//! Exit status (clamscan's): 0 nothing found, 1 something found, 2 an error (a file that could
//! not be read, a path that does not exist). Signature lines that fail to load are warnings
//! (`rampart: warning: FILE:LINE: reason`) and are counted in the summary; the rest load.
//!
//! # JSON
//!
//! One object per line and per file: `path`, `verdict` (`"clean"`, `"infected"` or
//! `"error"`), `signatures` (the names that matched, as ClamAV names them: `Name.UNOFFICIAL`
//! for a signature from a database of one's own, `YARA.rule.UNOFFICIAL` for a YARA rule, the
//! built-in `Win.Test.EICAR_HDB-1`), `size`, `scanned` (bytes scanned, less than `size` past
//! `--max-filesize`), `capped`, `md5`/`sha1`/`sha256` (hex, with `--hashes`; else `null`
//! unless a hash signature needed them) and `error` (`null` or why the file could not be
//! scanned). The summary goes to standard error then.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use clap::Args;
use scan::{Digests, ScanCounters, ScanLimits, ScanReport, SignatureSet};

/// Arguments of `rampart scan`.
#[derive(Debug, Args)]
#[command(after_help = concat!(
    "The default database is the built-in EICAR signature (Win.Test.EICAR_HDB-1). --db takes \
     a directory (or file) of .hdb, .hsb, .ndb, .ldb and .yar/.yara files; names are reported \
     as ClamAV reports them (Name.UNOFFICIAL, YARA.rule.UNOFFICIAL).\n\n\
     Examples:\n  rampart scan -r /srv/uploads\n  rampart scan --db sigs/ -r --json tree/ > results.jsonl\n\n",
    "Exit status:
  0  nothing found
  1  a signature matched some file
  2  error: a path or file could not be read (or a usage error)"
))]
pub struct ScanArgs {
    /// Files and folders to scan.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Signature database: a directory of .hdb/.hsb/.ndb/.ldb/.yar files, or one such file.
    /// May be given several times.
    #[arg(long, value_name = "DIR")]
    pub db: Vec<PathBuf>,
    /// Scan folders and their subfolders (without it, only the files directly in a folder).
    #[arg(short, long)]
    pub recursive: bool,
    /// One JSON object per file on standard output; the summary goes to standard error.
    #[arg(long)]
    pub json: bool,
    /// Print only infected files (and errors).
    #[arg(short, long)]
    pub infected: bool,
    /// Compute MD5, SHA-1 and SHA-256 of every file (shown with --json).
    #[arg(long)]
    pub hashes: bool,
    /// Scan at most this many bytes of each file (suffix K, M or G); the rest is counted.
    #[arg(long, value_name = "SIZE", default_value = "100M", value_parser = parse_size)]
    pub max_filesize: u64,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// No summary at the end.
    #[arg(long)]
    pub no_summary: bool,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.as_bytes().last() {
        Some(b'K' | b'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some(b'M' | b'm') => (&s[..s.len() - 1], 1 << 20),
        Some(b'G' | b'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{s:?} is not a size such as 4096, 512K, 100M or 2G"))
}

/// One path to scan, or one that could not be walked.
struct Job {
    path: PathBuf,
    walk_error: Option<String>,
}

/// The outcome for one file.
type Outcome = Result<ScanReport, String>;

/// Runs `rampart scan`; the exit status is the command's (0, 1, 2).
pub fn run(args: &ScanArgs) -> ExitCode {
    match scan_all(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rampart: error: {}", crate::one_line(&e));
            ExitCode::from(2)
        }
    }
}

fn scan_all(args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let set = if args.db.is_empty() {
        SignatureSet::builtin()
    } else {
        for d in &args.db {
            if !d.exists() {
                anyhow::bail!("database {}: no such file or directory", d.display());
            }
        }
        SignatureSet::load(&args.db)
    };
    let report = set.report();
    for f in &report.failed {
        eprintln!("rampart: warning: {f}");
    }
    if set.is_empty() {
        anyhow::bail!(
            "no signature loaded from {} (see the warnings above)",
            args.db
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    tracing::info!(
        hash = report.hash,
        body = report.body,
        logical = report.logical,
        yara = report.yara,
        failed = report.failed.len(),
        "signatures loaded"
    );

    let mut dirs = 0usize;
    let mut jobs = Vec::new();
    for p in &args.paths {
        walk(p, args.recursive, true, &mut jobs, &mut dirs);
    }
    let limits = ScanLimits {
        max_file_size: args.max_filesize,
    };
    let digests = if args.hashes {
        Digests::All
    } else {
        Digests::Needed
    };
    let workers = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        usize::from,
    );
    let workers = workers.min(jobs.len()).max(1);

    let progress = (io::stderr().is_terminal() && jobs.len() > 1).then(|| {
        let pb = indicatif::ProgressBar::new(jobs.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} files {msg}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        pb
    });

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut totals = Totals::default();
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<(usize, Outcome)>(256);
    std::thread::scope(|s| -> anyhow::Result<()> {
        for _ in 0..workers {
            let tx = tx.clone();
            let (jobs, next, set) = (&jobs, &next, &set);
            s.spawn(move || {
                let mut buf = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let outcome = match &job.walk_error {
                        Some(e) => Err(e.clone()),
                        None => scan::scan_path(set, &job.path, limits, digests, &mut buf)
                            .map_err(|e| e.to_string()),
                    };
                    if buf.capacity() > (8 << 20) {
                        buf = Vec::new();
                    }
                    if tx.send((i, outcome)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Print in walk order: hold results that arrive early.
        let mut waiting = BTreeMap::new();
        let mut printed = 0;
        for (i, outcome) in rx {
            waiting.insert(i, outcome);
            while let Some(outcome) = waiting.remove(&printed) {
                let path = &jobs[printed].path;
                totals.add(&outcome);
                let line = if args.json {
                    json_line(path, &outcome)
                } else {
                    text_lines(path, &outcome, args.infected)
                };
                if let Err(e) = out.write_all(line.as_bytes()) {
                    if e.kind() == io::ErrorKind::BrokenPipe {
                        return Ok(());
                    }
                    return Err(anyhow::Error::new(e).context("writing results"));
                }
                printed += 1;
                if let Some(pb) = &progress {
                    pb.inc(1);
                    if totals.counters.infected > 0 {
                        pb.set_message(format!("{} infected", totals.counters.infected));
                    }
                }
            }
        }
        Ok(())
    })?;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let _ = out.flush();
    drop(out);
    if !args.no_summary {
        let summary = summary(&set, &totals, dirs, started);
        if args.json {
            eprint!("{summary}");
        } else {
            // A reader that went away (`| head`) is not an error.
            let mut stdout = std::io::stdout().lock();
            let _ = stdout
                .write_all(summary.as_bytes())
                .and_then(|()| stdout.flush());
        }
    }
    Ok(if totals.errors > 0 {
        ExitCode::from(2)
    } else if totals.counters.infected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Collects the files under `path`: a file itself, a folder's files (and, recursively, its
/// subfolders'). Symbolic links are followed only when named on the command line, as
/// clamscan does by default.
fn walk(path: &Path, recursive: bool, top: bool, jobs: &mut Vec<Job>, dirs: &mut usize) {
    let meta = if top {
        std::fs::metadata(path)
    } else {
        std::fs::symlink_metadata(path)
    };
    let meta = match meta {
        Ok(m) => m,
        Err(e) => {
            jobs.push(Job {
                path: path.to_owned(),
                walk_error: Some(format!("cannot access: {e}")),
            });
            return;
        }
    };
    if meta.is_file() {
        jobs.push(Job {
            path: path.to_owned(),
            walk_error: None,
        });
        return;
    }
    if !meta.is_dir() || (!top && !recursive) {
        return;
    }
    *dirs += 1;
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            jobs.push(Job {
                path: path.to_owned(),
                walk_error: Some(format!("cannot read directory: {e}")),
            });
            return;
        }
    };
    entries.sort();
    for e in entries {
        walk(&e, recursive, false, jobs, dirs);
    }
}

#[derive(Default)]
struct Totals {
    counters: ScanCounters,
    errors: usize,
}

impl Totals {
    fn add(&mut self, o: &Outcome) {
        match o {
            Ok(r) => self.counters.add(r),
            Err(_) => self.errors += 1,
        }
    }
}

fn hex(d: Option<&[u8]>) -> serde_json::Value {
    d.map_or(serde_json::Value::Null, |d| {
        serde_json::Value::String(d.iter().map(|b| format!("{b:02x}")).collect())
    })
}

fn json_line(path: &Path, o: &Outcome) -> String {
    let v = match o {
        Ok(r) => serde_json::json!({
            "path": path.to_string_lossy(),
            "verdict": if r.infected() { "infected" } else { "clean" },
            "signatures": r.detections.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
            "size": r.size,
            "scanned": r.scanned,
            "capped": r.capped,
            "md5": hex(r.md5.as_ref().map(|d| &d[..])),
            "sha1": hex(r.sha1.as_ref().map(|d| &d[..])),
            "sha256": hex(r.sha256.as_ref().map(|d| &d[..])),
            "error": r.yara_error,
        }),
        Err(e) => serde_json::json!({
            "path": path.to_string_lossy(),
            "verdict": "error",
            "signatures": [],
            "size": null,
            "scanned": null,
            "capped": false,
            "md5": null, "sha1": null, "sha256": null,
            "error": e,
        }),
    };
    let mut s = v.to_string();
    s.push('\n');
    s
}

fn text_lines(path: &Path, o: &Outcome, infected_only: bool) -> String {
    let p = path.display();
    match o {
        Ok(r) if r.infected() => r
            .detections
            .iter()
            .map(|d| format!("{p}: {} FOUND\n", d.name))
            .collect(),
        Ok(_) if infected_only => String::new(),
        Ok(_) => format!("{p}: OK\n"),
        Err(e) => format!("{p}: ERROR: {e}\n"),
    }
}

fn summary(set: &SignatureSet, t: &Totals, dirs: usize, started: Instant) -> String {
    let r = set.report();
    let c = &t.counters;
    let secs = started.elapsed().as_secs_f64();
    let mb = |b: u64| b as f64 / (1u64 << 20) as f64;
    let mut s = String::from("\n----------- SCAN SUMMARY -----------\n");
    s += &format!("Known viruses: {}\n", r.loaded().max(set.len()));
    if !r.failed.is_empty() {
        s += &format!("Signatures failed to load: {}\n", r.failed.len());
    }
    s += &format!("Engine version: rampart {}\n", env!("CARGO_PKG_VERSION"));
    s += &format!("Scanned directories: {dirs}\n");
    s += &format!("Scanned files: {}\n", c.files);
    s += &format!("Infected files: {}\n", c.infected);
    if t.errors > 0 {
        s += &format!("Total errors: {}\n", t.errors);
    }
    s += &format!("Data scanned: {:.2} MB\n", mb(c.bytes_scanned));
    s += &format!("Data read: {:.2} MB\n", mb(c.bytes));
    if c.capped_files > 0 {
        s += &format!(
            "Files over --max-filesize: {} ({:.2} MB not scanned)\n",
            c.capped_files,
            mb(c.capped_bytes)
        );
    }
    s += &format!(
        "Time: {secs:.3} sec ({} m {} s)\n",
        (secs as u64) / 60,
        (secs as u64) % 60
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("100M"), Ok(100 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("x").is_err());
        assert!(parse_size("99999999999G").is_err());
    }
}
