//! The probe: finds containers, injects the shim into those a policy selects, reads every
//! protected container's event FIFO, writes EVE lines, and reports processes the shim does not
//! hold.
//!
//! One thread, one loop: discover, attach to new containers (injecting the selected ones),
//! check each protected container's processes for the shim in their memory maps, then `poll`
//! every FIFO until the next round. A container already injected (by an earlier probe, or
//! `rampart probe inject`) is attached as it is: its live policy is never overwritten by the
//! configuration. A container that goes away is drained and dropped.
//!
//! The configuration (TOML) selects policies by container name, image, label, id, runtime or
//! root directory, each a pattern with `*`; the first `[[container]]` whose keys all match
//! wins:
//!
//! ```toml
//! interval_ms = 1000      # rescan period
//! host = "node1"          # written as `host` in events
//!
//! [[container]]
//! name = "web*"
//! label = ["tier=front"]  # every label must match
//! policy = "web.toml"     # relative to this file
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;
use shim_abi::glob::matches_segment;
use toml::Spanned;

use crate::discovery::{self, Container, HostPaths, Runtime};
use crate::elf::{self, Linkage};
use crate::eve::{self, ContainerInfo, EveSink};
use crate::inject::{self, InjectError};
use crate::pipe::EventPipe;
use crate::policy::{Policy, PolicyError};
use crate::shimdir::{LIBRARY, ShimDir};
use crate::sys;

/// A probe configuration error: file, line, key, what.
pub type ConfigError = PolicyError;

/// One `[[container]]` selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Patterns on the container's fields; each given one must match.
    pub id: Option<String>,
    /// Name pattern.
    pub name: Option<String>,
    /// Image pattern.
    pub image: Option<String>,
    /// Runtime name pattern.
    pub runtime: Option<String>,
    /// Root directory pattern (plain rootfs containers).
    pub rootfs: Option<String>,
    /// `key=value-pattern` labels.
    pub labels: Vec<(String, String)>,
    /// The policy file.
    pub policy: PathBuf,
    /// Line of the selector in the configuration.
    pub line: usize,
}

impl Selector {
    /// True if every key given matches the container.
    pub fn matches(&self, c: &Container) -> bool {
        let m = |pat: &Option<String>, v: &str| {
            pat.as_ref()
                .is_none_or(|p| matches_segment(p.as_bytes(), v.as_bytes()))
        };
        let root = c.root.to_string_lossy();
        m(&self.id, &c.id)
            && m(&self.name, &c.name)
            && m(&self.image, c.image.as_deref().unwrap_or(""))
            && m(&self.runtime, c.runtime.name())
            && (self.rootfs.is_none() || (c.runtime == Runtime::Rootfs && m(&self.rootfs, &root)))
            && self.labels.iter().all(|(k, p)| {
                c.labels
                    .get(k)
                    .is_some_and(|v| matches_segment(p.as_bytes(), v.as_bytes()))
            })
    }
}

/// The probe's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProbeConfig {
    /// Rescan period.
    pub interval_ms: u64,
    /// Written as `host` in events.
    pub host: Option<String>,
    /// Selectors, in order.
    pub containers: Vec<Selector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    interval_ms: Option<u64>,
    host: Option<String>,
    #[serde(default)]
    container: Vec<Spanned<RawSelector>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSelector {
    id: Option<String>,
    name: Option<String>,
    image: Option<String>,
    runtime: Option<String>,
    rootfs: Option<String>,
    #[serde(default)]
    label: Vec<String>,
    policy: String,
}

impl ProbeConfig {
    /// Reads a configuration; every selector's policy file is loaded once to check it.
    pub fn load(path: &Path) -> Result<ProbeConfig, ConfigError> {
        let err = |line: usize, key: &str, message: String| ConfigError {
            file: path.to_path_buf(),
            line,
            key: key.to_owned(),
            message,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| err(0, "", format!("cannot read: {e}")))?;
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let raw: RawConfig = toml::from_str(&text).map_err(|e| {
            err(
                e.span().map_or(0, |s| line_of(s.start)),
                "",
                e.message().trim_end().replace('\n', "; "),
            )
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut containers = Vec::new();
        for (i, s) in raw.container.into_iter().enumerate() {
            let line = line_of(s.span().start);
            let s = s.into_inner();
            let key = format!("container[{i}]");
            let mut labels = Vec::new();
            for l in &s.label {
                let (k, v) = l.split_once('=').ok_or_else(|| {
                    err(
                        line,
                        &format!("{key}.label"),
                        format!("{l:?}: expected key=value"),
                    )
                })?;
                labels.push((k.to_owned(), v.to_owned()));
            }
            let policy = base.join(&s.policy);
            Policy::load(&policy)?;
            containers.push(Selector {
                id: s.id,
                name: s.name,
                image: s.image,
                runtime: s.runtime,
                rootfs: s.rootfs,
                labels,
                policy,
                line,
            });
        }
        Ok(ProbeConfig {
            interval_ms: raw.interval_ms.unwrap_or(1000).clamp(10, 3_600_000),
            host: raw.host,
            containers,
        })
    }

    /// The first selector matching `c`.
    pub fn select(&self, c: &Container) -> Option<&Selector> {
        self.containers.iter().find(|s| s.matches(c))
    }
}

/// Why the probe stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Scanning `/proc` failed.
    #[error("scanning {path}: {source}")]
    Scan {
        /// procfs.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Writing events failed.
    #[error("writing events: {0}")]
    Write(#[source] std::io::Error),
    /// Waiting on the FIFOs failed.
    #[error("polling event pipes: {0}")]
    Poll(#[source] std::io::Error),
}

/// What `watch` needs.
#[derive(Debug)]
pub struct WatchOptions<W: Write> {
    /// Policies to inject (none: only attach to containers already injected).
    pub config: ProbeConfig,
    /// The shim library to inject.
    pub library: Option<PathBuf>,
    /// Where discovery looks.
    pub paths: HostPaths,
    /// Where events go.
    pub eve: EveSink<W>,
    /// One round (discover, inject, read) and out.
    pub once: bool,
    /// Only these containers (name, id or id prefix, root directory); empty: all.
    pub only: Vec<String>,
}

/// True if `c` is one of `wanted` (by name, id, id prefix of 4 or more, or root directory).
pub fn is_one_of(c: &Container, wanted: &[String]) -> bool {
    wanted.is_empty()
        || wanted.iter().any(|w| {
            c.name == *w
                || c.id == *w
                || (w.len() >= 4 && c.id.starts_with(w.as_str()))
                || c.root == Path::new(w)
        })
}

/// What a `watch` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WatchStats {
    /// Containers the probe attached to.
    pub attached: usize,
    /// Containers it injected.
    pub injected: usize,
    /// Event lines written (decisions and unhooked processes).
    pub events: u64,
    /// Unhooked processes reported.
    pub unhooked: u64,
}

struct Attached {
    info: ContainerInfo,
    pipe: EventPipe,
    /// (pid, start time) of processes already checked.
    checked: BTreeSet<(i32, u64)>,
}

/// The start time of a process (clock ticks since boot), to tell a reused pid apart.
fn start_time(proc: &Path, pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(proc.join(pid.to_string()).join("stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Why the shim is not in a process, or `None` if it is (or the process has no maps: a
/// kernel thread, a zombie, or gone).
pub fn unhooked_reason(proc: &Path, pid: i32) -> Option<&'static str> {
    let dir = proc.join(pid.to_string());
    let maps = std::fs::read_to_string(dir.join("maps")).ok()?;
    if maps.is_empty() {
        return None;
    }
    let ours = format!("/{}/{LIBRARY}", crate::shimdir::CONTAINER_DIR);
    if maps.lines().any(|l| l.ends_with(&ours)) {
        return None;
    }
    Some(match elf::file_linkage(&dir.join("exe")) {
        Ok(Linkage::Static) => "statically linked: the shim cannot be preloaded",
        _ => "shim not loaded: started before injection, or the loader skipped it",
    })
}

/// Runs the probe until `SIGTERM`/`SIGINT` (or one round with `once`).
pub fn watch<W: Write>(mut opts: WatchOptions<W>) -> Result<WatchStats, ProbeError> {
    sys::catch_termination();
    let mut stats = WatchStats::default();
    let mut attached: BTreeMap<String, Attached> = BTreeMap::new();
    let interval = Duration::from_millis(opts.config.interval_ms.max(10));
    let host = opts.config.host.clone();
    loop {
        let round = Instant::now();
        let mut containers =
            discovery::discover(&opts.paths).map_err(|source| ProbeError::Scan {
                path: opts.paths.proc.clone(),
                source,
            })?;
        containers.retain(|c| is_one_of(c, &opts.only));
        for c in &containers {
            if attached.contains_key(&c.id) {
                continue;
            }
            if let Some(a) = attach(c, &opts.config, opts.library.as_deref(), &mut stats) {
                attached.insert(c.id.clone(), a);
            }
        }
        // Containers gone: read what they left, then drop them.
        let live: BTreeSet<&str> = containers.iter().map(|c| c.id.as_str()).collect();
        let gone: Vec<String> = attached
            .keys()
            .filter(|k| !live.contains(k.as_str()))
            .cloned()
            .collect();
        for id in gone {
            if let Some(mut a) = attached.remove(&id) {
                drain(&mut a, &mut opts.eve, host.as_deref(), &mut stats)?;
                tracing::info!(container = %a.info.name, "container gone");
            }
        }
        for c in &containers {
            let Some(a) = attached.get_mut(&c.id) else {
                continue;
            };
            for &pid in &c.pids {
                let Some(start) = start_time(&opts.paths.proc, pid) else {
                    continue;
                };
                if !a.checked.insert((pid, start)) {
                    continue;
                }
                if let Some(reason) = unhooked_reason(&opts.paths.proc, pid) {
                    let exe = std::fs::read_link(opts.paths.proc.join(pid.to_string()).join("exe"))
                        .unwrap_or_default();
                    let line = eve::unhooked_line(
                        &a.info,
                        pid,
                        exe.as_os_str().as_encoded_bytes(),
                        reason,
                        host.as_deref(),
                    );
                    opts.eve.write_line(&line).map_err(ProbeError::Write)?;
                    stats.events += 1;
                    stats.unhooked += 1;
                }
            }
            // Forget processes that ended.
            a.checked
                .retain(|(pid, _)| c.pids.binary_search(pid).is_ok());
        }
        // Read events until the next round.
        loop {
            let left = interval.saturating_sub(round.elapsed());
            let ids: Vec<String> = attached.keys().cloned().collect();
            let fds: Vec<i32> = ids.iter().map(|id| attached[id].pipe.raw_fd()).collect();
            let timeout = if opts.once {
                0
            } else {
                left.as_millis().min(i32::MAX as u128) as i32
            };
            let ready = if fds.is_empty() {
                std::thread::sleep(left.min(Duration::from_millis(200)));
                Vec::new()
            } else {
                sys::poll_readable(&fds, timeout.min(200)).map_err(ProbeError::Poll)?
            };
            for (id, r) in ids.iter().zip(ready) {
                if r && let Some(a) = attached.get_mut(id) {
                    drain(a, &mut opts.eve, host.as_deref(), &mut stats)?;
                }
            }
            if opts.once || sys::stop_requested() || round.elapsed() >= interval {
                break;
            }
        }
        if opts.once || sys::stop_requested() {
            for a in attached.values_mut() {
                drain(a, &mut opts.eve, host.as_deref(), &mut stats)?;
            }
            return Ok(stats);
        }
    }
}

fn drain<W: Write>(
    a: &mut Attached,
    eve: &mut EveSink<W>,
    host: Option<&str>,
    stats: &mut WatchStats,
) -> Result<(), ProbeError> {
    let mut failed = None;
    let info = &a.info;
    let read = a.pipe.drain(|r| {
        if failed.is_none() {
            match eve.write_line(&eve::decision_line(r, Some(info), host)) {
                Ok(()) => stats.events += 1,
                Err(e) => failed = Some(e),
            }
        }
    });
    if let Some(e) = failed {
        return Err(ProbeError::Write(e));
    }
    if let Err(e) = read {
        tracing::warn!(container = %info.name, "reading {}: {e}", a.pipe.path().display());
    }
    Ok(())
}

/// Attaches to a container: as it is if already injected, else injected with the selected
/// policy, else not at all.
fn attach(
    c: &Container,
    config: &ProbeConfig,
    library: Option<&Path>,
    stats: &mut WatchStats,
) -> Option<Attached> {
    let dir = match ShimDir::open_in_root(&c.root) {
        Ok(dir) => dir,
        Err(_) => {
            let sel = config.select(c)?;
            let Some(library) = library else {
                tracing::warn!(container = %c.name, "selected by {}:{} but no shim library to inject", "config", sel.line);
                return None;
            };
            let injected = Policy::load(&sel.policy)
                .map_err(|e| e.to_string())
                .and_then(|(policy, source)| {
                    inject::inject(&c.root, library, &policy, &source)
                        .map_err(|e: InjectError| e.to_string())
                });
            match injected {
                Ok(inj) => {
                    stats.injected += 1;
                    tracing::info!(container = %c.name, policy = %sel.policy.display(), generation = inj.generation, "injected");
                }
                Err(e) => {
                    tracing::warn!(container = %c.name, "cannot inject: {e}");
                    return None;
                }
            }
            ShimDir::open_in_root(&c.root).ok()?
        }
    };
    let pipe = match EventPipe::open(&dir.events()) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(container = %c.name, "cannot open its event pipe: {e}");
            return None;
        }
    };
    stats.attached += 1;
    tracing::info!(container = %c.name, id = %c.id, "attached");
    Some(Attached {
        info: c.info(),
        pipe,
        checked: BTreeSet::new(),
    })
}

/// Where a container named on the command line lives: a running container (by id, id
/// prefix or name), or a root directory given by path (to inject before it starts).
pub fn locate(paths: &HostPaths, wanted: &str) -> Result<(PathBuf, Option<Container>), String> {
    let containers = discovery::discover(paths)
        .map_err(|e| format!("scanning {}: {e}", paths.proc.display()))?;
    match discovery::find(&containers, wanted) {
        Ok(c) => Ok((c.root.clone(), Some(c.clone()))),
        Err(e) => {
            let p = Path::new(wanted);
            if wanted.starts_with('/') && p.is_dir() {
                Ok((p.to_path_buf(), None))
            } else {
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, image: Option<&str>, labels: &[(&str, &str)]) -> Container {
        Container {
            id: "0123456789abcdef".into(),
            runtime: Runtime::Docker,
            name: name.into(),
            image: image.map(str::to_owned),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            pids: vec![1],
            root: "/proc/1/root".into(),
        }
    }

    #[test]
    fn config_and_selection() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("web.toml"),
            "[files]\ndeny = [\"/etc/shadow\"]\n",
        )
        .unwrap();
        std::fs::write(tmp.path().join("any.toml"), "mode = \"audit\"\n").unwrap();
        let cfg = tmp.path().join("probe.toml");
        std::fs::write(
            &cfg,
            "interval_ms = 250\nhost = \"node1\"\n\n[[container]]\nname = \"web*\"\nlabel = [\"tier=front*\"]\npolicy = \"web.toml\"\n\n[[container]]\npolicy = \"any.toml\"\n",
        )
        .unwrap();
        let c = ProbeConfig::load(&cfg).unwrap();
        assert_eq!(
            (c.interval_ms, c.host.as_deref(), c.containers.len()),
            (250, Some("node1"), 2)
        );
        assert_eq!(c.containers[0].line, 4);
        let web = container("web-1", Some("nginx"), &[("tier", "frontend")]);
        assert_eq!(c.select(&web).unwrap().policy, tmp.path().join("web.toml"));
        let other = container("web-2", None, &[]);
        assert_eq!(
            c.select(&other).unwrap().policy,
            tmp.path().join("any.toml")
        );
        let sel = Selector {
            id: None,
            name: None,
            image: Some("nginx:*".into()),
            runtime: Some("docker".into()),
            rootfs: None,
            labels: vec![],
            policy: "x".into(),
            line: 1,
        };
        assert!(!sel.matches(&web));
        assert!(sel.matches(&container("a", Some("nginx:1.25"), &[])));
    }

    #[test]
    fn config_errors_name_the_line() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join("probe.toml");
        std::fs::write(
            &cfg,
            "[[container]]\nname = \"x\"\npolicy = \"missing.toml\"\n",
        )
        .unwrap();
        let e = ProbeConfig::load(&cfg).unwrap_err().to_string();
        assert!(e.contains("missing.toml: cannot read"), "{e}");
        std::fs::write(
            &cfg,
            "[[container]]\nlabel = [\"nokey\"]\npolicy = \"p.toml\"\n",
        )
        .unwrap();
        let e = ProbeConfig::load(&cfg).unwrap_err().to_string();
        assert!(
            e.contains("probe.toml:1: container[0].label: \"nokey\": expected key=value"),
            "{e}"
        );
        std::fs::write(&cfg, "\n[[container]]\nnmae = \"x\"\npolicy = \"p\"\n").unwrap();
        let e = ProbeConfig::load(&cfg).unwrap_err().to_string();
        assert!(
            e.contains("probe.toml:3") && e.contains("unknown field `nmae`"),
            "{e}"
        );
    }

    #[test]
    fn this_process_is_not_hooked() {
        let reason = unhooked_reason(Path::new("/proc"), std::process::id() as i32);
        assert_eq!(
            reason,
            Some("shim not loaded: started before injection, or the loader skipped it")
        );
        assert!(start_time(Path::new("/proc"), std::process::id() as i32).is_some());
    }
}
