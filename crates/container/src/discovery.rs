//! Finding the containers on this host from its processes: the container id in each
//! process's cgroup path (cgroup v2, and the v1 hierarchies of a hybrid host), the runtime's
//! metadata for names, images and labels, and, for a plain directory started with `chroot`
//! or `unshare --root`, the process's root.
//!
//! Recognised cgroup layouts (the last matching path component wins):
//!
//! | component | runtime |
//! |---|---|
//! | `docker-<id>.scope`, or `<id>` under `docker/` | docker (systemd and cgroupfs drivers) |
//! | `cri-containerd-<id>.scope` | containerd (CRI) |
//! | `crio-<id>.scope` | cri-o |
//! | `libpod-<id>.scope`, or `<id>` under `libpod_parent/` | podman |
//! | `<id>` under a `kubepods` path | kubernetes (cgroupfs driver, runtime unknown) |
//!
//! (`crio-conmon-` and `libpod-conmon-` scopes are the runtimes' monitors, not containers.)
//! Everything read here (cgroup files, links, runtime JSON) is written by or for the
//! containers, so it is parsed defensively: an unreadable or odd entry skips that process or
//! that field, never the whole scan.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::eve::ContainerInfo;

/// A container runtime, as recognised from a cgroup path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Runtime {
    /// Docker (runc underneath).
    Docker,
    /// containerd's CRI plugin.
    Containerd,
    /// CRI-O.
    CriO,
    /// Podman.
    Podman,
    /// Kubernetes with the cgroupfs driver: the runtime is not in the path.
    Kubernetes,
    /// A plain root directory (`chroot`, `unshare --root`).
    Rootfs,
}

impl Runtime {
    /// The name used in events and listings.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Podman => "podman",
            Runtime::Kubernetes => "kubernetes",
            Runtime::Rootfs => "rootfs",
        }
    }
}

/// Where the host keeps what discovery reads (a test points these at a fake tree).
#[derive(Debug, Clone)]
pub struct HostPaths {
    /// procfs.
    pub proc: PathBuf,
    /// Docker's container directories (`<id>/config.v2.json`).
    pub docker: PathBuf,
    /// containerd's task bundles (`<namespace>/<id>/config.json`).
    pub containerd: PathBuf,
    /// containers/storage roots (Podman, CRI-O): `overlay-containers/<id>/userdata/config.json`
    /// and `overlay-containers/containers.json`.
    pub storage: Vec<PathBuf>,
}

impl Default for HostPaths {
    fn default() -> Self {
        HostPaths {
            proc: "/proc".into(),
            docker: "/var/lib/docker/containers".into(),
            containerd: "/run/containerd/io.containerd.runtime.v2.task".into(),
            storage: vec![
                "/run/containers/storage".into(),
                "/var/lib/containers/storage".into(),
            ],
        }
    }
}

/// A container found on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// The runtime's id, or `rootfs:<path>`.
    pub id: String,
    /// Its runtime.
    pub runtime: Runtime,
    /// Its name (the runtime's, or the short id, or the root directory's name).
    pub name: String,
    /// Its image, when the runtime names one.
    pub image: Option<String>,
    /// Labels and annotations.
    pub labels: BTreeMap<String, String>,
    /// Its processes (host pids), ascending.
    pub pids: Vec<i32>,
    /// Its root as the host reaches it: `/proc/<pid>/root`, or the directory itself.
    pub root: PathBuf,
}

impl Container {
    /// The identity events carry.
    pub fn info(&self) -> ContainerInfo {
        ContainerInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            image: self.image.clone(),
            runtime: self.runtime.name().to_owned(),
        }
    }
}

fn is_id(s: &str) -> bool {
    s.len() >= 12 && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The runtime and container id in a `/proc/PID/cgroup` file, if any.
pub fn id_from_cgroup(text: &str) -> Option<(Runtime, String)> {
    let mut found = None;
    for line in text.lines() {
        // hierarchy-id:controllers:path
        let Some(path) = line.splitn(3, ':').nth(2) else {
            continue;
        };
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        for (i, part) in parts.iter().enumerate() {
            let parent = i.checked_sub(1).map(|j| parts[j]);
            let scoped = |prefix: &str| {
                part.strip_prefix(prefix)
                    .and_then(|r| r.strip_suffix(".scope"))
                    .filter(|id| is_id(id))
            };
            let hit = if let Some(id) = scoped("docker-") {
                Some((Runtime::Docker, id))
            } else if let Some(id) = scoped("cri-containerd-") {
                Some((Runtime::Containerd, id))
            } else if let Some(id) = scoped("crio-") {
                Some((Runtime::CriO, id))
            } else if let Some(id) = scoped("libpod-") {
                Some((Runtime::Podman, id))
            } else if is_id(part) {
                match parent {
                    Some("docker") => Some((Runtime::Docker, *part)),
                    Some("libpod_parent") => Some((Runtime::Podman, *part)),
                    _ if parts[..i].iter().any(|p| p.contains("kubepods")) => {
                        Some((Runtime::Kubernetes, *part))
                    }
                    _ => None,
                }
            } else {
                None
            };
            if let Some((rt, id)) = hit {
                found = Some((rt, id.to_owned()));
            }
        }
    }
    found
}

/// Finds the containers: every process with a container id in its cgroup, grouped by id, and
/// every process whose root is not the probe's, grouped by root.
pub fn discover(paths: &HostPaths) -> std::io::Result<Vec<Container>> {
    let own_root = fs::read_link(paths.proc.join("self/root")).unwrap_or_else(|_| "/".into());
    let mut by_id: BTreeMap<String, Container> = BTreeMap::new();
    for entry in fs::read_dir(&paths.proc)? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        let cgroup = fs::read_to_string(dir.join("cgroup")).unwrap_or_default();
        let (runtime, id, root) = match id_from_cgroup(&cgroup) {
            Some((rt, id)) => (rt, id, dir.join("root")),
            None => {
                let Ok(root) = fs::read_link(dir.join("root")) else {
                    continue;
                };
                if root == own_root || !root.is_absolute() {
                    continue;
                }
                (Runtime::Rootfs, format!("rootfs:{}", root.display()), root)
            }
        };
        let c = by_id.entry(id.clone()).or_insert_with(|| Container {
            name: String::new(),
            image: None,
            labels: BTreeMap::new(),
            pids: Vec::new(),
            id,
            runtime,
            root,
        });
        c.pids.push(pid);
    }
    let mut containers: Vec<Container> = by_id.into_values().collect();
    for c in &mut containers {
        c.pids.sort_unstable();
        if c.runtime != Runtime::Rootfs {
            c.root = paths.proc.join(c.pids[0].to_string()).join("root");
        }
        metadata(paths, c);
        if c.name.is_empty() {
            c.name = match c.runtime {
                Runtime::Rootfs => c
                    .root
                    .file_name()
                    .map_or_else(|| "rootfs".to_owned(), |n| n.to_string_lossy().into_owned()),
                _ => c.id.chars().take(12).collect(),
            };
        }
    }
    Ok(containers)
}

/// Docker's `config.v2.json`, the parts we use.
#[derive(Deserialize)]
struct DockerConfig {
    #[serde(rename = "Name")]
    name: Option<String>,
    #[serde(rename = "Config")]
    config: Option<DockerInner>,
}

#[derive(Deserialize)]
struct DockerInner {
    #[serde(rename = "Image")]
    image: Option<String>,
    #[serde(rename = "Labels")]
    labels: Option<BTreeMap<String, String>>,
}

/// An OCI runtime bundle's `config.json`, the parts we use.
#[derive(Deserialize)]
struct OciConfig {
    annotations: Option<BTreeMap<String, String>>,
}

/// An entry of containers/storage's `containers.json`.
#[derive(Deserialize)]
struct StorageEntry {
    id: String,
    #[serde(default)]
    names: Vec<String>,
    metadata: Option<String>,
}

/// The name and image keys runtimes put in OCI annotations, in order of preference.
const NAME_KEYS: &[&str] = &[
    "io.kubernetes.cri.container-name",
    "io.kubernetes.container.name",
    "nerdctl/name",
];
const IMAGE_KEYS: &[&str] = &[
    "io.kubernetes.cri.image-name",
    "io.kubernetes.cri-o.ImageName",
    "org.opencontainers.image.ref.name",
];

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let bytes = fs::read(path).ok()?;
    if bytes.len() > 16 << 20 {
        return None;
    }
    serde_json::from_slice(&bytes).ok()
}

/// Fills name, image and labels from the runtime's files, where they can be found.
fn metadata(paths: &HostPaths, c: &mut Container) {
    let from_annotations = |c: &mut Container, a: BTreeMap<String, String>| {
        if let Some(n) = NAME_KEYS.iter().find_map(|k| a.get(*k)) {
            c.name = n.clone();
        }
        if let Some(i) = IMAGE_KEYS.iter().find_map(|k| a.get(*k)) {
            c.image = Some(i.clone());
        }
        c.labels.extend(a);
    };
    match c.runtime {
        Runtime::Docker => {
            if let Some(d) =
                read_json::<DockerConfig>(&paths.docker.join(&c.id).join("config.v2.json"))
            {
                if let Some(n) = d.name {
                    c.name = n.trim_start_matches('/').to_owned();
                }
                if let Some(inner) = d.config {
                    c.image = inner.image;
                    c.labels.extend(inner.labels.unwrap_or_default());
                }
            }
        }
        Runtime::Containerd | Runtime::Kubernetes | Runtime::CriO | Runtime::Podman => {
            let mut bundles: Vec<PathBuf> = Vec::new();
            if let Ok(namespaces) = fs::read_dir(&paths.containerd) {
                bundles.extend(
                    namespaces
                        .flatten()
                        .map(|ns| ns.path().join(&c.id).join("config.json")),
                );
            }
            for storage in &paths.storage {
                bundles.push(
                    storage
                        .join("overlay-containers")
                        .join(&c.id)
                        .join("userdata/config.json"),
                );
            }
            if let Some(a) = bundles
                .iter()
                .find_map(|b| read_json::<OciConfig>(b))
                .and_then(|o| o.annotations)
            {
                from_annotations(c, a);
            }
            for storage in &paths.storage {
                let list = storage.join("overlay-containers/containers.json");
                let Some(entries) = read_json::<Vec<StorageEntry>>(&list) else {
                    continue;
                };
                if let Some(e) = entries.into_iter().find(|e| e.id == c.id) {
                    if let Some(n) = e.names.first() {
                        c.name = n.clone();
                    }
                    let image = e
                        .metadata
                        .and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok())
                        .and_then(|m| {
                            m.get("image-name")
                                .and_then(|v| v.as_str())
                                .map(str::to_owned)
                        });
                    if image.is_some() {
                        c.image = image;
                    }
                }
            }
        }
        Runtime::Rootfs => {}
    }
}

/// A container chosen by what an operator types: its id or a prefix of it (at least 4
/// characters), its name, or, for a plain root directory, the directory's path.
pub fn find<'c>(containers: &'c [Container], wanted: &str) -> Result<&'c Container, String> {
    if let Some(c) = containers
        .iter()
        .find(|c| c.name == wanted || c.id == wanted)
    {
        return Ok(c);
    }
    if wanted.starts_with('/')
        && let Some(c) = containers
            .iter()
            .find(|c| c.runtime == Runtime::Rootfs && c.root == Path::new(wanted))
    {
        return Ok(c);
    }
    let by_prefix: Vec<&Container> = containers
        .iter()
        .filter(|c| wanted.len() >= 4 && c.id.starts_with(wanted))
        .collect();
    match by_prefix.as_slice() {
        [c] => Ok(c),
        [] => Err(format!(
            "no running container named or with an id starting {wanted:?}"
        )),
        many => Err(format!(
            "{wanted:?} matches {} containers: give more of the id",
            many.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const ID: &str = "3f4e1c2b5a6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f";

    #[test]
    fn cgroup_layouts() {
        let cases = [
            (
                format!("0::/system.slice/docker-{ID}.scope"),
                Some(Runtime::Docker),
            ),
            (
                format!("12:memory:/docker/{ID}\n0::/"),
                Some(Runtime::Docker),
            ),
            (
                format!(
                    "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-{ID}.scope"
                ),
                Some(Runtime::Containerd),
            ),
            (
                format!("0::/kubepods.slice/x.slice/crio-{ID}.scope"),
                Some(Runtime::CriO),
            ),
            (
                format!("0::/machine.slice/libpod-{ID}.scope/container"),
                Some(Runtime::Podman),
            ),
            (format!("0::/libpod_parent/{ID}"), Some(Runtime::Podman)),
            (
                format!("0::/kubepods/burstable/pod1234/{ID}"),
                Some(Runtime::Kubernetes),
            ),
            (format!("0::/machine.slice/libpod-conmon-{ID}.scope"), None),
            (format!("0::/system.slice/crio-conmon-{ID}.scope"), None),
            (
                "0::/user.slice/user-0.slice/session-1.scope".to_owned(),
                None,
            ),
            ("0::/".to_owned(), None),
            ("garbage".to_owned(), None),
            (format!("0::/somewhere/{ID}"), None),
        ];
        for (text, want) in cases {
            let got = id_from_cgroup(&text);
            assert_eq!(got.as_ref().map(|g| g.0), want, "{text}");
            if let Some((_, id)) = got {
                assert_eq!(id, ID);
            }
        }
    }

    /// A fake host: /proc with a docker process, a containerd one, a chrooted one and a host
    /// one, and the runtimes' metadata files.
    #[test]
    fn discovery_on_a_fake_host() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        let proc = t.join("proc");
        let rootfs = t.join("srv/busybox");
        fs::create_dir_all(&rootfs).unwrap();
        let mk = |pid: &str, cgroup: String, root: &Path| {
            let d = proc.join(pid);
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("cgroup"), cgroup).unwrap();
            symlink(root, d.join("root")).unwrap();
        };
        fs::create_dir_all(proc.join("self")).unwrap();
        symlink("/", proc.join("self/root")).unwrap();
        mk("1", "0::/init.scope\n".into(), Path::new("/"));
        mk(
            "200",
            format!("0::/system.slice/docker-{ID}.scope\n"),
            Path::new("/"),
        );
        mk(
            "150",
            format!("0::/system.slice/docker-{ID}.scope\n"),
            Path::new("/"),
        );
        let cid = ID.replace('3', "4");
        mk(
            "300",
            format!("0::/k.slice/cri-containerd-{cid}.scope\n"),
            Path::new("/"),
        );
        mk("400", "0::/user.slice\n".into(), &rootfs);
        fs::create_dir_all(proc.join("not-a-pid")).unwrap();

        let docker = t.join("docker");
        fs::create_dir_all(docker.join(ID)).unwrap();
        fs::write(
            docker.join(ID).join("config.v2.json"),
            r#"{"Name":"/web","Config":{"Image":"nginx:1.25","Labels":{"tier":"front"}}}"#,
        )
        .unwrap();
        let containerd = t.join("containerd");
        fs::create_dir_all(containerd.join("k8s.io").join(&cid)).unwrap();
        fs::write(
            containerd.join("k8s.io").join(&cid).join("config.json"),
            r#"{"annotations":{"io.kubernetes.cri.container-name":"db","io.kubernetes.cri.image-name":"postgres:16"}}"#,
        )
        .unwrap();

        let paths = HostPaths {
            proc: proc.clone(),
            docker,
            containerd,
            storage: vec![t.join("storage")],
        };
        let found = discover(&paths).unwrap();
        assert_eq!(found.len(), 3, "{found:#?}");
        let web = find(&found, "web").unwrap();
        assert_eq!(
            (web.runtime, web.pids.as_slice()),
            (Runtime::Docker, &[150, 200][..])
        );
        assert_eq!(web.image.as_deref(), Some("nginx:1.25"));
        assert_eq!(web.labels.get("tier").map(String::as_str), Some("front"));
        assert_eq!(web.root, proc.join("150/root"));
        let db = find(&found, "db").unwrap();
        assert_eq!(
            (db.runtime, db.image.as_deref()),
            (Runtime::Containerd, Some("postgres:16"))
        );
        let plain = find(&found, rootfs.to_str().unwrap()).unwrap();
        assert_eq!(
            (plain.runtime, plain.name.as_str()),
            (Runtime::Rootfs, "busybox")
        );
        assert_eq!(plain.root, rootfs);
        assert_eq!(find(&found, &ID[..8]).unwrap().name, "web");
        assert!(find(&found, "nothing").is_err());
        assert!(find(&found, "abc").is_err());
    }

    #[test]
    fn this_host_can_be_scanned() {
        let found = discover(&HostPaths::default()).unwrap();
        // Whatever runs here, every container found has processes and a root.
        for c in found {
            assert!(!c.pids.is_empty() && !c.name.is_empty(), "{c:?}");
        }
    }
}
