//! File kind and entry point from a file's first bytes, for ClamAV target types (1 PE, 6 ELF,
//! 9 Mach-O) and `EP+n` offsets.
//!
//! Reads only the head of the file ([`HEAD_LEN`] bytes); every field is bounds-checked, and a
//! header that points outside the head gives no entry point rather than an error: the file is
//! untrusted.

/// How many leading bytes the kind and entry point are read from.
pub const HEAD_LEN: usize = 8192;

/// The executable formats ClamAV target types name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pe,
    Elf,
    MachO,
    Other,
}

fn u16_at(b: &[u8], at: usize, le: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if le {
        u16::from_le_bytes(s)
    } else {
        u16::from_be_bytes(s)
    })
}

fn u32_at(b: &[u8], at: usize, le: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(s)
    } else {
        u32::from_be_bytes(s)
    })
}

fn u64_at(b: &[u8], at: usize, le: bool) -> Option<u64> {
    let s: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(if le {
        u64::from_le_bytes(s)
    } else {
        u64::from_be_bytes(s)
    })
}

/// The kind of file `head` starts, and its entry point as a file offset where the format has
/// one and the headers lie within `head`.
pub fn inspect(head: &[u8]) -> (FileKind, Option<u64>) {
    if head.starts_with(b"\x7fELF") {
        return (FileKind::Elf, elf_entry(head));
    }
    if head.starts_with(b"MZ") {
        if let Some(pe) = u32_at(head, 0x3c, true).map(|v| v as usize)
            && head.get(pe..pe.saturating_add(4)) == Some(b"PE\0\0")
        {
            return (FileKind::Pe, pe_entry(head, pe));
        }
        return (FileKind::Other, None);
    }
    let magic = u32_at(head, 0, false);
    if matches!(
        magic,
        Some(0xfeed_face | 0xfeed_facf | 0xcefa_edfe | 0xcffa_edfe)
    ) {
        return (FileKind::MachO, None);
    }
    (FileKind::Other, None)
}

/// ELF `e_entry` mapped to a file offset through the `PT_LOAD` program header that holds it.
fn elf_entry(h: &[u8]) -> Option<u64> {
    let class64 = *h.get(4)? == 2;
    let le = *h.get(5)? != 2;
    let (entry, phoff, phentsize, phnum) = if class64 {
        (
            u64_at(h, 24, le)?,
            u64_at(h, 32, le)?,
            u16_at(h, 54, le)?,
            u16_at(h, 56, le)?,
        )
    } else {
        (
            u64::from(u32_at(h, 24, le)?),
            u64::from(u32_at(h, 28, le)?),
            u16_at(h, 42, le)?,
            u16_at(h, 44, le)?,
        )
    };
    for i in 0..u64::from(phnum) {
        let at = usize::try_from(phoff.checked_add(i * u64::from(phentsize))?).ok()?;
        let (ptype, offset, vaddr, filesz) = if class64 {
            (
                u32_at(h, at, le)?,
                u64_at(h, at + 8, le)?,
                u64_at(h, at + 16, le)?,
                u64_at(h, at + 32, le)?,
            )
        } else {
            (
                u32_at(h, at, le)?,
                u64::from(u32_at(h, at + 4, le)?),
                u64::from(u32_at(h, at + 8, le)?),
                u64::from(u32_at(h, at + 16, le)?),
            )
        };
        if ptype == 1 && vaddr <= entry && entry - vaddr < filesz {
            return (entry - vaddr).checked_add(offset);
        }
    }
    None
}

/// PE `AddressOfEntryPoint` mapped to a file offset through the section that holds it.
fn pe_entry(h: &[u8], pe: usize) -> Option<u64> {
    let nsections = u16_at(h, pe + 6, true)?;
    let opt_size = u16_at(h, pe + 20, true)? as usize;
    let opt = pe + 24;
    let rva = u32_at(h, opt + 16, true)?;
    let table = opt + opt_size;
    for i in 0..nsections as usize {
        let s = table + 40 * i;
        let vsize = u32_at(h, s + 8, true)?;
        let va = u32_at(h, s + 12, true)?;
        let raw_size = u32_at(h, s + 16, true)?;
        let raw = u32_at(h, s + 20, true)?;
        if va <= rva && u64::from(rva - va) < u64::from(vsize.max(raw_size)) {
            return Some(u64::from(rva - va) + u64::from(raw));
        }
    }
    // An entry point inside the headers is its own file offset.
    ((rva as usize) < table).then_some(u64::from(rva))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_entry_of_a_real_binary() {
        let Ok(bin) = std::fs::read("/bin/true") else {
            eprintln!("skipped: /bin/true unreadable");
            return;
        };
        let (kind, ep) = inspect(&bin[..HEAD_LEN.min(bin.len())]);
        assert_eq!(kind, FileKind::Elf);
        let ep = ep.expect("entry point in the head") as usize;
        assert!(ep < bin.len());
        // The x86-64 entry of a glibc program starts with endbr64 or xor %ebp,%ebp.
        if cfg!(target_arch = "x86_64") {
            assert!(
                bin[ep..].starts_with(&[0xf3, 0x0f, 0x1e, 0xfa])
                    || bin[ep..].starts_with(&[0x31, 0xed]),
                "{:02x?}",
                &bin[ep..ep + 4]
            );
        }
    }

    #[test]
    fn minimal_pe_entry() {
        let mut f = vec![0u8; 1024];
        f[..2].copy_from_slice(b"MZ");
        f[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        f[0x80..0x84].copy_from_slice(b"PE\0\0");
        f[0x86..0x88].copy_from_slice(&1u16.to_le_bytes()); // one section
        f[0x94..0x96].copy_from_slice(&0xe0u16.to_le_bytes()); // optional header size
        let opt = 0x80 + 24;
        f[opt + 16..opt + 20].copy_from_slice(&0x1010u32.to_le_bytes());
        let s = opt + 0xe0;
        f[s + 8..s + 12].copy_from_slice(&0x100u32.to_le_bytes());
        f[s + 12..s + 16].copy_from_slice(&0x1000u32.to_le_bytes());
        f[s + 16..s + 20].copy_from_slice(&0x200u32.to_le_bytes());
        f[s + 20..s + 24].copy_from_slice(&0x200u32.to_le_bytes());
        assert_eq!(inspect(&f), (FileKind::Pe, Some(0x210)));
        assert_eq!(inspect(&f[..0x90]).0, FileKind::Pe);
        assert_eq!(
            inspect(&f[..0x90]).1,
            None,
            "headers cut off: no entry point"
        );
        assert_eq!(inspect(b"MZ").0, FileKind::Other);
        assert_eq!(inspect(b"").0, FileKind::Other);
    }
}
