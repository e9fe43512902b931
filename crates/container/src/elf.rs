//! Is a program dynamically linked? Only a program with an ELF interpreter (`PT_INTERP`, the
//! dynamic loader) ever loads the shim; a static or static-PIE binary, or a script's
//! interpreter that is static, runs unhooked.
//!
//! Reads a container's executables, so the bytes are untrusted: every offset and count is
//! checked, both ELF classes and byte orders are read, and nothing can panic or loop past the
//! bytes given.

use std::io::{self, Read};
use std::path::Path;

/// What a file is, as far as preloading goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linkage {
    /// ELF with an interpreter: the dynamic loader runs it and preloads the shim.
    Dynamic,
    /// ELF without one: static (or static-PIE); nothing is preloaded.
    Static,
    /// Not ELF (a script, or too short): its `#!` interpreter decides.
    NotElf,
}

const PT_INTERP: u64 = 3;

/// The linkage of the ELF image in `bytes` (its start: headers and program headers).
pub fn linkage(bytes: &[u8]) -> Linkage {
    if bytes.len() < 52 || bytes[..4] != *b"\x7fELF" {
        return Linkage::NotElf;
    }
    let wide = match bytes[4] {
        1 => false,
        2 => true,
        _ => return Linkage::NotElf,
    };
    let big = match bytes[5] {
        1 => false,
        2 => true,
        _ => return Linkage::NotElf,
    };
    let u16_at = |at: usize| -> Option<u64> {
        let b: [u8; 2] = *bytes.get(at..)?.first_chunk::<2>()?;
        Some(u64::from(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }))
    };
    let u32_at = |at: usize| -> Option<u64> {
        let b: [u8; 4] = *bytes.get(at..)?.first_chunk::<4>()?;
        Some(u64::from(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }))
    };
    let u64_at = |at: usize| -> Option<u64> {
        let b: [u8; 8] = *bytes.get(at..)?.first_chunk::<8>()?;
        Some(if big {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    };
    let header = if wide {
        (u64_at(32), u16_at(54), u16_at(56))
    } else {
        (u32_at(28), u16_at(42), u16_at(44))
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = header else {
        return Linkage::NotElf;
    };
    for i in 0..phnum {
        let Some(at) = i
            .checked_mul(phentsize)
            .and_then(|o| o.checked_add(phoff))
            .and_then(|o| usize::try_from(o).ok())
        else {
            break;
        };
        match u32_at(at) {
            Some(PT_INTERP) => return Linkage::Dynamic,
            Some(_) => {}
            None => break,
        }
    }
    Linkage::Static
}

/// The linkage of the file at `path` (its first 64 KiB, where program headers sit).
pub fn file_linkage(path: &Path) -> io::Result<Linkage> {
    let mut bytes = Vec::with_capacity(4096);
    std::fs::File::open(path)?
        .take(64 * 1024)
        .read_to_end(&mut bytes)?;
    Ok(linkage(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn programs_on_this_machine() {
        assert_eq!(
            file_linkage(Path::new("/bin/sh")).unwrap(),
            Linkage::Dynamic
        );
        assert_eq!(
            file_linkage(Path::new("/etc/hostname")).unwrap(),
            Linkage::NotElf
        );
        let exe = std::env::current_exe().unwrap();
        assert_eq!(file_linkage(&exe).unwrap(), Linkage::Dynamic);
    }

    /// Every program in /bin, held to what the loader's own `ldd` says about it.
    #[test]
    fn agrees_with_ldd_on_this_machine() {
        let mut seen = (0, 0);
        for entry in std::fs::read_dir("/bin").unwrap().flatten().take(150) {
            let path = entry.path();
            let Ok(ours) = file_linkage(&path) else {
                continue;
            };
            if ours == Linkage::NotElf {
                continue;
            }
            let ldd = std::process::Command::new("ldd")
                .arg(&path)
                .output()
                .unwrap();
            let says_static = String::from_utf8_lossy(&ldd.stdout)
                .contains("not a dynamic executable")
                || String::from_utf8_lossy(&ldd.stderr).contains("not a dynamic executable");
            let expected = if says_static {
                Linkage::Static
            } else {
                Linkage::Dynamic
            };
            assert_eq!(ours, expected, "{}", path.display());
            if says_static {
                seen.1 += 1
            } else {
                seen.0 += 1
            }
        }
        assert!(seen.0 > 10, "no dynamic programs in /bin? {seen:?}");
        println!(
            "{} dynamic and {} static programs agree with ldd",
            seen.0, seen.1
        );
    }

    /// A minimal ELF64 little-endian header with `phnum` program headers of the given types.
    fn elf64(types: &[u64]) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 56 * types.len()];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&(types.len() as u16).to_le_bytes());
        for (i, t) in types.iter().enumerate() {
            b[64 + 56 * i..68 + 56 * i].copy_from_slice(&(*t as u32).to_le_bytes());
        }
        b
    }

    #[test]
    fn offsets_at_the_end_of_the_address_space() {
        // A program header offset near usize::MAX must not overflow (found by fuzzing).
        let mut b = elf64(&[PT_INTERP]);
        b[32..40].copy_from_slice(&(u64::MAX - 3).to_le_bytes());
        assert_eq!(linkage(&b), Linkage::Static);
    }

    #[test]
    fn headers() {
        assert_eq!(linkage(&elf64(&[6, PT_INTERP, 1])), Linkage::Dynamic);
        assert_eq!(linkage(&elf64(&[6, 1, 1])), Linkage::Static);
        // Program headers past the bytes: nothing found, no panic.
        let mut cut = elf64(&[6, PT_INTERP]);
        cut.truncate(80);
        assert_eq!(linkage(&cut), Linkage::Static);
        assert_eq!(linkage(b"#!/bin/sh\n"), Linkage::NotElf);
    }

    proptest! {
        #[test]
        fn any_bytes(mut b in proptest::collection::vec(any::<u8>(), 0..400), wide in any::<bool>()) {
            if b.len() > 6 {
                b[..4].copy_from_slice(b"\x7fELF");
                b[4] = if wide { 2 } else { 1 };
            }
            let _ = linkage(&b);
        }
    }
}
