//! Writes the seed inputs of the container fuzz targets (`shim_image`, `shim_record`,
//! `elf_linkage`, `policy_toml`) into `DIR/<target>/`, deterministically:
//!
//! ```sh
//! cargo run -p rampart-container --example fuzz_seeds -- fuzz/seeds
//! ```
//!
//! Seeds are small valid examples (compiled images of sample policies, event records, ELF
//! headers, policy files) named after what they hold; see `fuzz/README.md`.

use std::path::{Path, PathBuf};

use container::policy::Policy;
use shim_abi::record::{EventMode, MAX_RECORD, RecordHead, RecordStrings, encode};
use shim_abi::{Access, Kind, Verdict};

const POLICIES: &[(&str, &str)] = &[
    ("empty", ""),
    ("shadow", "[files]\ndeny = [\"/etc/shadow\"]\n"),
    (
        "full",
        r#"mode = "audit"
default = "allow"
fallback = "deny"
audit_rate = 5
[exec]
deny = ["/usr/bin/wget", { argv0 = "nc*" }, { path = "/bin/busybox", argv0 = "sh" }]
[files]
errno = "EPERM"
deny = ["/etc/shadow", { path = "/etc/**", access = "write+create" }, "/home/*/.ssh/**"]
allow = [{ path = "/etc/app/**", access = "rw" }, "/var/log/*.log"]
[network]
default = "deny"
allow = ["10.0.0.0/8", "127.0.0.1:8080", "[::1]:443", "unix:/run/app.sock", "*:53", "unix:@x11-*"]
deny = ["10.9.0.0/16:22-23", "family:netlink"]
"#,
    ),
    (
        "allowlist",
        "default = \"deny\"\n[exec]\nallow = [\"/bin/*\", \"/usr/bin/**\"]\n[files]\nallow = [\"/**\"]\ndeny = [\"/proc/*/mem\"]\n",
    ),
];

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn elf64(types: &[u32], big: bool) -> Vec<u8> {
    let mut b = vec![0u8; 64 + 56 * types.len()];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 2;
    b[5] = if big { 2 } else { 1 };
    let put16 = |b: &mut Vec<u8>, at: usize, v: u16| {
        b[at..at + 2].copy_from_slice(&if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        })
    };
    let off = if big {
        64u64.to_be_bytes()
    } else {
        64u64.to_le_bytes()
    };
    b[32..40].copy_from_slice(&off);
    put16(&mut b, 54, 56);
    put16(&mut b, 56, types.len() as u16);
    for (i, t) in types.iter().enumerate() {
        let v = if big {
            t.to_be_bytes()
        } else {
            t.to_le_bytes()
        };
        b[64 + 56 * i..68 + 56 * i].copy_from_slice(&v);
    }
    b
}

fn main() {
    let out: PathBuf = std::env::args()
        .nth(1)
        .expect("usage: fuzz_seeds DIR")
        .into();

    for (name, text) in POLICIES {
        write(
            &out.join("policy_toml"),
            &format!("{name}.toml"),
            text.as_bytes(),
        );
        let policy = Policy::parse(text, Path::new(name)).unwrap();
        let image = policy.compile(3).unwrap();
        // shim_image reads an odd first byte as "an image, then a probe a third its size".
        let mut seed = vec![1u8];
        seed.extend_from_slice(&image);
        seed.extend(b"etc/shadow/".iter().cycle().take(image.len() / 3));
        write(&out.join("shim_image"), &format!("image-{name}"), &seed);
    }
    write(
        &out.join("policy_toml"),
        "bad-glob.toml",
        b"[files]\ndeny = [\"/etc/**x\"]\n",
    );
    write(
        &out.join("policy_toml"),
        "bad-cidr.toml",
        b"[network]\nallow = [\"10.0.0.1/8\"]\n",
    );
    // Even first byte: rules from 3-byte groups, then paths.
    write(
        &out.join("shim_image"),
        "built-rules",
        &[2, 7, 0, 0x81, 4, 3, 0x00, 1, 2, 3, 0, 7, 1, 2],
    );
    write(
        &out.join("shim_image"),
        "built-deny-default",
        &[6, 4, 4, 0x83, 0, 0, 0x02, 3, 3, 0, 1],
    );

    let head = |kind, verdict, blocked, mode| RecordHead {
        kind,
        verdict,
        blocked,
        mode,
        access: Access::READ.0,
        pid: 42,
        uid: 1000,
        rule: 0,
        generation: 2,
        time_ns: 1_795_459_920_000_000_000,
        errno: if blocked { 13 } else { 0 },
        family: 0,
        port: 0,
        addr: [0; 16],
    };
    let mut stream = Vec::new();
    let mut buf = [0u8; MAX_RECORD];
    let records = [
        (
            head(Kind::File, Verdict::Deny, true, EventMode::Enforce),
            RecordStrings {
                path: b"/etc/shadow",
                exe: b"/usr/bin/cat",
                label: b"files.deny[0] /etc/shadow",
                ..Default::default()
            },
        ),
        (
            head(Kind::Exec, Verdict::Allow, false, EventMode::Audit),
            RecordStrings {
                path: b"/bin/ls",
                resolved: b"/bin/busybox",
                arg: b"ls",
                exe: b"/bin/sh",
                label: b"",
            },
        ),
        (
            RecordHead {
                family: 2,
                port: 25,
                addr: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                ..head(Kind::Connect, Verdict::Deny, true, EventMode::Fallback)
            },
            RecordStrings::default(),
        ),
    ];
    for (i, (h, s)) in records.iter().enumerate() {
        let n = encode(&mut buf, h, s);
        write(&out.join("shim_record"), &format!("record-{i}"), &buf[..n]);
        stream.extend_from_slice(&buf[..n]);
    }
    write(&out.join("shim_record"), "stream-of-three", &stream);
    let mut garbage = b"junkRM".to_vec();
    garbage.extend_from_slice(&stream);
    write(&out.join("shim_record"), "stream-after-garbage", &garbage);

    write(
        &out.join("elf_linkage"),
        "elf64-dynamic",
        &elf64(&[6, 3, 1], false),
    );
    write(
        &out.join("elf_linkage"),
        "elf64-static",
        &elf64(&[6, 1, 1], false),
    );
    write(
        &out.join("elf_linkage"),
        "elf64-big-endian-dynamic",
        &elf64(&[3], true),
    );
    write(&out.join("elf_linkage"), "script", b"#!/bin/sh\necho hi\n");
    let mut elf32 = vec![0u8; 52 + 32];
    elf32[..6].copy_from_slice(b"\x7fELF\x01\x01");
    elf32[28..32].copy_from_slice(&52u32.to_le_bytes());
    elf32[42..44].copy_from_slice(&32u16.to_le_bytes());
    elf32[44..46].copy_from_slice(&1u16.to_le_bytes());
    elf32[52..56].copy_from_slice(&3u32.to_le_bytes());
    write(&out.join("elf_linkage"), "elf32-dynamic", &elf32);
}
