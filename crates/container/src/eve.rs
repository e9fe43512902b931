//! Container events as EVE-style JSON lines.
//!
//! One line per event record from a shim (or decision of the seccomp supervisor), with the
//! common EVE header (`timestamp`, `event_type`, and `dest_ip`/`dest_port`/`proto` for
//! connections, where Suricata puts them), then Rampart's fields:
//!
//! ```json
//! {"timestamp":"2026-11-23T18:52:00.123456+0000","event_type":"file",
//!  "container":{"id":"3f…","name":"web","image":"nginx:1.25","runtime":"docker"},
//!  "pid":42,"uid":0,"executable":"/usr/bin/cat","decision":"deny","action":"blocked",
//!  "mode":"enforce","rule":"files.deny[0] /etc/shadow","errno":"EACCES","policy_generation":3,
//!  "file":{"path":"/etc/shadow","access":"read"}}
//! ```
//!
//! `event_type` is `process` (an execution; `process.path`, `process.resolved`,
//! `process.argv0`), `file` (`file.path`, `file.resolved`, `file.access`) or `connection`
//! (`connection.family`, `connection.dest_ip`, `connection.dest_port`, `connection.path` for
//! Unix sockets). `decision` is what the policy said, `action` what happened (audit mode
//! reports `deny` and `allowed`), `mode` is `enforce`, `audit` or `fallback`. `rule` is absent
//! when a table's default decided. `pid` is the process id inside its pid namespace.
//! `truncated` lists fields the shim had to cut. A process in a protected container that the
//! shim does not hold is reported as `event_type: "process"` with `hooked: false` and a
//! `reason`. Paths that are not UTF-8 have their other bytes written as `\xNN`.
//!
//! Records come from processes inside the container: they are decoded with checks, and what
//! they claim (pid, executable) is what that process wrote.

use std::borrow::Cow;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use events::Timestamp;
use serde::Serialize;
use shim_abi::record::{self, EventRecord};
use shim_abi::{Access, Kind};

/// Which container an event came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerInfo {
    /// Container id (runtime id, or `rootfs:<path>` for a plain directory).
    pub id: String,
    /// Name.
    pub name: String,
    /// Image, when the runtime's metadata names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `docker`, `containerd`, `cri-o`, `podman`, `kubernetes`, or `rootfs`.
    pub runtime: String,
}

/// Bytes as text: UTF-8 as is, any other byte as `\xNN`.
pub fn text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                for b in chunk.invalid() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            Cow::Owned(out)
        }
    }
}

fn opt_text(bytes: &[u8]) -> Option<Cow<'_, str>> {
    (!bytes.is_empty()).then(|| text(bytes))
}

#[derive(Serialize)]
struct ProcessBody<'a> {
    path: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved: Option<Cow<'a, str>>,
    argv0: Cow<'a, str>,
}

#[derive(Serialize)]
struct FileBody<'a> {
    path: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved: Option<Cow<'a, str>>,
    access: &'static str,
}

#[derive(Serialize)]
struct ConnectionBody<'a> {
    family: Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dest_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dest_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
struct DecisionEvent<'a> {
    timestamp: Timestamp,
    event_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dest_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dest_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<&'a ContainerInfo>,
    pid: i32,
    uid: u32,
    executable: Cow<'a, str>,
    decision: &'static str,
    action: &'static str,
    mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errno: Option<Cow<'static, str>>,
    policy_generation: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    process: Option<ProcessBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<FileBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection: Option<ConnectionBody<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    truncated: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
}

/// The name of an address family, or its number.
pub fn family_name(family: u16) -> Cow<'static, str> {
    match i32::from(family) {
        libc::AF_UNIX => "unix".into(),
        libc::AF_INET => "inet".into(),
        libc::AF_INET6 => "inet6".into(),
        libc::AF_NETLINK => "netlink".into(),
        libc::AF_PACKET => "packet".into(),
        libc::AF_VSOCK => "vsock".into(),
        _ => family.to_string().into(),
    }
}

fn errno_text(errno: u16) -> Cow<'static, str> {
    match shim_abi::errno_name(i32::from(errno)) {
        Some(n) => n.into(),
        None => errno.to_string().into(),
    }
}

/// One decision as a JSON line (with its newline).
pub fn decision_line(
    rec: &EventRecord<'_>,
    container: Option<&ContainerInfo>,
    host: Option<&str>,
) -> String {
    let h = rec.head();
    let s = rec.strings();
    let ts = Timestamp::new(
        (h.time_ns / 1_000_000_000) as i64,
        (h.time_ns % 1_000_000_000) as u32,
    );
    let (event_type, process, file, connection, dest) = match h.kind {
        Kind::Exec => (
            "process",
            Some(ProcessBody {
                path: text(s.path),
                resolved: opt_text(s.resolved),
                argv0: text(s.arg),
            }),
            None,
            None,
            None,
        ),
        Kind::File => (
            "file",
            None,
            Some(FileBody {
                path: text(s.path),
                resolved: opt_text(s.resolved),
                access: Access(h.access).name(),
            }),
            None,
            None,
        ),
        Kind::Connect => {
            let ip = match i32::from(h.family) {
                libc::AF_INET => Some(IpAddr::V4(Ipv4Addr::new(
                    h.addr[0], h.addr[1], h.addr[2], h.addr[3],
                ))),
                libc::AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(h.addr))),
                _ => None,
            };
            let port = ip.map(|_| h.port);
            (
                "connection",
                None,
                None,
                Some(ConnectionBody {
                    family: family_name(h.family),
                    dest_ip: ip,
                    dest_port: port,
                    path: opt_text(s.path),
                    resolved: opt_text(s.resolved),
                }),
                ip.map(|ip| (ip, h.port)),
            )
        }
    };
    let truncated: Vec<&'static str> = [
        (record::TRUNCATED_PATH, "path"),
        (record::TRUNCATED_RESOLVED, "resolved"),
        (record::TRUNCATED_ARG, "argv0"),
        (record::TRUNCATED_EXE, "executable"),
        (record::TRUNCATED_LABEL, "rule"),
    ]
    .iter()
    .filter(|(bit, _)| rec.truncated() & bit != 0)
    .map(|(_, name)| *name)
    .collect();
    let event = DecisionEvent {
        timestamp: ts,
        event_type,
        dest_ip: dest.map(|d| d.0),
        dest_port: dest.map(|d| d.1),
        container,
        pid: h.pid,
        uid: h.uid,
        executable: text(s.exe),
        decision: h.verdict.name(),
        action: if h.blocked { "blocked" } else { "allowed" },
        mode: h.mode.name(),
        rule: opt_text(s.label),
        errno: h.blocked.then(|| errno_text(h.errno)),
        policy_generation: h.generation,
        process,
        file,
        connection,
        truncated,
        host,
    };
    let mut line = serde_json::to_string(&event).unwrap_or_default();
    line.push('\n');
    line
}

#[derive(Serialize)]
struct UnhookedEvent<'a> {
    timestamp: Timestamp,
    event_type: &'static str,
    container: &'a ContainerInfo,
    pid: i32,
    executable: Cow<'a, str>,
    hooked: bool,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
}

/// A process of a protected container that the shim does not hold, as a JSON line. `pid` is
/// the host's pid.
pub fn unhooked_line(
    container: &ContainerInfo,
    pid: i32,
    executable: &[u8],
    reason: &str,
    host: Option<&str>,
) -> String {
    let event = UnhookedEvent {
        timestamp: Timestamp::now(),
        event_type: "process",
        container,
        pid,
        executable: text(executable),
        hooked: false,
        reason,
        host,
    };
    let mut line = serde_json::to_string(&event).unwrap_or_default();
    line.push('\n');
    line
}

/// Where event lines go: a file or standard error, flushed after every line so that a reader
/// tailing it sees each event as it happens.
#[derive(Debug)]
pub struct EveSink<W: Write> {
    out: W,
    lines: u64,
}

impl<W: Write> EveSink<W> {
    /// A sink over `out`.
    pub fn new(out: W) -> Self {
        EveSink { out, lines: 0 }
    }

    /// Writes one line (which ends in a newline) and flushes.
    pub fn write_line(&mut self, line: &str) -> io::Result<()> {
        self.out.write_all(line.as_bytes())?;
        self.out.flush()?;
        self.lines += 1;
        Ok(())
    }

    /// Lines written so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shim_abi::Verdict;
    use shim_abi::record::{EventMode, MAX_RECORD, RecordHead, RecordStrings};

    fn line(
        head: RecordHead,
        strings: RecordStrings<'_>,
        c: Option<&ContainerInfo>,
    ) -> serde_json::Value {
        let mut buf = [0u8; MAX_RECORD];
        let n = record::encode(&mut buf, &head, &strings);
        let rec = EventRecord::new_checked(&buf[..n]).unwrap();
        let l = decision_line(&rec, c, Some("node1"));
        assert!(l.ends_with('\n') && !l[..l.len() - 1].contains('\n'));
        serde_json::from_str(&l).unwrap()
    }

    fn head(kind: Kind) -> RecordHead {
        RecordHead {
            kind,
            verdict: Verdict::Deny,
            blocked: true,
            mode: EventMode::Enforce,
            access: Access::READ.0,
            pid: 7,
            uid: 0,
            rule: 0,
            generation: 2,
            time_ns: 1_795_459_920_123_456_000,
            errno: libc::EACCES as u16,
            family: 0,
            port: 0,
            addr: [0; 16],
        }
    }

    #[test]
    fn a_denied_open() {
        let c = ContainerInfo {
            id: "abc".into(),
            name: "web".into(),
            image: Some("nginx".into()),
            runtime: "docker".into(),
        };
        let v = line(
            head(Kind::File),
            RecordStrings {
                path: b"/etc/shadow",
                resolved: b"",
                arg: b"",
                exe: b"/usr/bin/cat",
                label: b"files.deny[0] /etc/shadow",
            },
            Some(&c),
        );
        assert_eq!(v["timestamp"], "2026-11-23T18:52:00.123456+0000");
        assert_eq!(v["event_type"], "file");
        assert_eq!(v["container"]["name"], "web");
        assert_eq!(v["container"]["image"], "nginx");
        assert_eq!(v["file"]["path"], "/etc/shadow");
        assert_eq!(v["file"]["access"], "read");
        assert!(v["file"].get("resolved").is_none());
        assert_eq!(
            (v["decision"].as_str(), v["action"].as_str()),
            (Some("deny"), Some("blocked"))
        );
        assert_eq!(v["errno"], "EACCES");
        assert_eq!(v["rule"], "files.deny[0] /etc/shadow");
        assert_eq!(v["executable"], "/usr/bin/cat");
        assert_eq!(v["policy_generation"], 2);
        assert_eq!(v["host"], "node1");
    }

    #[test]
    fn a_connection_and_an_execution() {
        let mut h = head(Kind::Connect);
        h.family = libc::AF_INET as u16;
        h.port = 8080;
        h.addr[..4].copy_from_slice(&[127, 0, 0, 1]);
        h.errno = libc::ECONNREFUSED as u16;
        let v = line(h, RecordStrings::default(), None);
        assert_eq!(v["event_type"], "connection");
        assert_eq!(
            (v["dest_ip"].as_str(), v["dest_port"].as_u64()),
            (Some("127.0.0.1"), Some(8080))
        );
        assert_eq!(v["connection"]["family"], "inet");
        assert_eq!(v["errno"], "ECONNREFUSED");
        assert!(v.get("container").is_none() && v.get("rule").is_none());

        let mut h = head(Kind::Exec);
        h.blocked = false;
        h.mode = EventMode::Audit;
        let v = line(
            h,
            RecordStrings {
                path: b"/bin/ls",
                resolved: b"/bin/busybox",
                arg: b"ls",
                exe: b"/bin/sh\xff",
                label: b"",
            },
            None,
        );
        assert_eq!(v["event_type"], "process");
        assert_eq!(v["process"]["resolved"], "/bin/busybox");
        assert_eq!(v["process"]["argv0"], "ls");
        assert_eq!(v["executable"], "/bin/sh\\xff");
        assert_eq!(
            (v["action"].as_str(), v["mode"].as_str()),
            (Some("allowed"), Some("audit"))
        );
        assert!(v.get("errno").is_none());
    }

    #[test]
    fn unhooked() {
        let c = ContainerInfo {
            id: "rootfs:/srv/c".into(),
            name: "c".into(),
            image: None,
            runtime: "rootfs".into(),
        };
        let v: serde_json::Value = serde_json::from_str(&unhooked_line(
            &c,
            99,
            b"/bin/busybox",
            "statically linked",
            None,
        ))
        .unwrap();
        assert_eq!(
            (v["event_type"].as_str(), v["hooked"].as_bool()),
            (Some("process"), Some(false))
        );
        assert_eq!(v["reason"], "statically linked");
        assert_eq!(v["container"]["runtime"], "rootfs");
    }
}
