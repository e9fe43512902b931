//! Lexical path normalisation into a caller's buffer, as the shim needs it before a policy
//! lookup: a relative path joined to its base directory, `.` and empty segments dropped, `..`
//! taking away the segment before it (never above `/`).
//!
//! This is the path *as written*. It equals the path the kernel resolves only when no segment
//! is a symbolic link; the shim learns that from the kernel (`openat2` with
//! `RESOLVE_NO_SYMLINKS`) and otherwise decides again on the resolved path. Never allocates:
//! the hooks call it on every path a process opens, into a buffer they need not clear.

use std::mem::MaybeUninit;

/// Why a path could not be normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormaliseError {
    /// The result would not fit the output buffer.
    TooLong,
    /// The base of a relative path is not absolute.
    RelativeBase,
}

/// Writes the normalised absolute form of `path` into `out` and returns it. A relative
/// `path` is taken relative to `base`, an absolute directory path (itself normalised or not).
/// The result starts with `/`, has no trailing `/` (unless it is `/`), and no empty, `.` or
/// `..` segment. An empty `path` gives `base`. `out` need not be initialised: the hooks pass
/// a stack buffer they do not pay to clear.
pub fn normalise<'o>(
    base: &[u8],
    path: &[u8],
    out: &'o mut [MaybeUninit<u8>],
) -> Result<&'o [u8], NormaliseError> {
    let mut w = Writer {
        out,
        len: 0,
        high: 0,
    };
    if path.first() != Some(&b'/') {
        if base.first() != Some(&b'/') {
            return Err(NormaliseError::RelativeBase);
        }
        w.push_segments(base)?;
    }
    w.push_segments(path)?;
    if w.len == 0 {
        w.out
            .first_mut()
            .ok_or(NormaliseError::TooLong)?
            .write(b'/');
        w.len = 1;
        w.high = w.high.max(1);
    }
    Ok(w.into_written())
}

/// True if `path` is absolute and already normal (what [`normalise`] would give back): no
/// empty, `.` or `..` segment and no trailing `/`. One pass, no copy: the hooks look paths
/// that are up as they are.
pub fn is_normal(path: &[u8]) -> bool {
    match path {
        [b'/'] => return true,
        [b'/', ..] if path.last() != Some(&b'/') => {}
        _ => return false,
    }
    let mut i = 0;
    while i < path.len() {
        if path[i] == b'/' {
            match (path.get(i + 1), path.get(i + 2), path.get(i + 3)) {
                (Some(b'/'), _, _) => return false,
                (Some(b'.'), None | Some(b'/'), _) => return false,
                (Some(b'.'), Some(b'.'), None | Some(b'/')) => return false,
                _ => {}
            }
        }
        i += 1;
    }
    true
}

/// [`normalise`] into an initialised buffer; returns the length.
pub fn normalise_into(base: &[u8], path: &[u8], out: &mut [u8]) -> Result<usize, NormaliseError> {
    // SAFETY: MaybeUninit<u8> has u8's layout, and `normalise` only ever stores initialised
    // bytes through the slice, so `out` stays initialised.
    let out = unsafe { &mut *(out as *mut [u8] as *mut [MaybeUninit<u8>]) };
    normalise(base, path, out).map(<[u8]>::len)
}

/// The output being written: `out[..len]` is the path so far; `out[..high]` (high >= len)
/// has been written at some point, so it is initialised.
struct Writer<'o> {
    out: &'o mut [MaybeUninit<u8>],
    len: usize,
    high: usize,
}

impl<'o> Writer<'o> {
    /// The byte at `i` (`/` past what was written, which never happens: `..` only reads back
    /// below `len`).
    fn at(&self, i: usize) -> u8 {
        if i >= self.high {
            return b'/';
        }
        // SAFETY: every index below `high` was written by `push_segments`.
        unsafe { self.out[i].assume_init() }
    }

    /// Appends the segments of `s`.
    fn push_segments(&mut self, s: &[u8]) -> Result<(), NormaliseError> {
        for seg in s.split(|&b| b == b'/') {
            match seg {
                b"" | b"." => {}
                b".." => {
                    // Back to the `/` before the last segment; at the root this is a no-op.
                    while self.len > 0 {
                        self.len -= 1;
                        if self.at(self.len) == b'/' {
                            break;
                        }
                    }
                }
                _ => {
                    let end = self.len + 1 + seg.len();
                    let dst = self
                        .out
                        .get_mut(self.len..end)
                        .ok_or(NormaliseError::TooLong)?;
                    dst[0].write(b'/');
                    for (d, &b) in dst[1..].iter_mut().zip(seg) {
                        d.write(b);
                    }
                    self.len = end;
                    self.high = self.high.max(end);
                }
            }
        }
        Ok(())
    }

    fn into_written(self) -> &'o [u8] {
        // SAFETY: `out[..len]` is initialised (len <= high, see `at`), and MaybeUninit<u8>
        // has u8's layout.
        unsafe { std::slice::from_raw_parts(self.out.as_ptr().cast::<u8>(), self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn norm(base: &str, path: &str) -> Result<String, NormaliseError> {
        let mut out = [0u8; 64];
        let n = normalise_into(base.as_bytes(), path.as_bytes(), &mut out)?;
        Ok(String::from_utf8(out[..n].to_vec()).unwrap())
    }

    #[test]
    fn the_issue_s_path_tricks() {
        assert_eq!(norm("/", "/etc/../etc/shadow").unwrap(), "/etc/shadow");
        assert_eq!(norm("/etc", "shadow").unwrap(), "/etc/shadow");
        assert_eq!(
            norm("/usr/bin", "../../etc/./shadow").unwrap(),
            "/etc/shadow"
        );
        assert_eq!(norm("/", "/../../etc//shadow/").unwrap(), "/etc/shadow");
        assert_eq!(norm("/tmp", "").unwrap(), "/tmp");
        assert_eq!(norm("/", "..").unwrap(), "/");
        assert_eq!(norm("/a/b", "../..").unwrap(), "/");
        assert_eq!(norm("/", "/").unwrap(), "/");
    }

    #[test]
    fn normal_paths() {
        for p in ["/", "/etc", "/etc/hostname", "/a/.b/..c/...", "/a.b"] {
            assert!(is_normal(p.as_bytes()), "{p}");
        }
        for p in [
            "", "etc", "/etc/", "//etc", "/etc//x", "/./x", "/x/.", "/x/..", "/x/../y", "/.",
        ] {
            assert!(!is_normal(p.as_bytes()), "{p}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(norm("rel", "x"), Err(NormaliseError::RelativeBase));
        assert_eq!(norm("/", &"a/".repeat(40)), Err(NormaliseError::TooLong));
        // An absolute path ignores the base, even a bad one.
        assert_eq!(norm("rel", "/x").unwrap(), "/x");
    }

    /// The reference: a stack of segments.
    fn reference(base: &str, path: &str) -> String {
        let mut stack: Vec<&str> = Vec::new();
        let joined = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("{base}/{path}")
        };
        for seg in joined.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    stack.pop();
                }
                s => stack.push(s),
            }
        }
        format!("/{}", stack.join("/"))
    }

    proptest! {
        #[test]
        fn agrees_with_a_segment_stack(
            base in proptest::collection::vec(prop_oneof!["a", "b", "\\.", "\\.\\.", ""], 0..5),
            path in proptest::collection::vec(prop_oneof!["a", "bc", "\\.", "\\.\\.", ""], 0..7),
            absolute in any::<bool>(),
        ) {
            let base = format!("/{}", base.join("/"));
            let path = format!("{}{}", if absolute { "/" } else { "" }, path.join("/"));
            let mut out = [0u8; 256];
            let n = normalise_into(base.as_bytes(), path.as_bytes(), &mut out).unwrap();
            prop_assert_eq!(std::str::from_utf8(&out[..n]).unwrap(), reference(&base, &path));
        }

        #[test]
        fn a_normal_path_normalises_to_itself(path in "(/[a-z.]{0,3}){0,6}/?") {
            let mut out = [0u8; 64];
            let n = normalise_into(b"/", path.as_bytes(), &mut out).unwrap();
            prop_assert_eq!(is_normal(path.as_bytes()), &out[..n] == path.as_bytes(), "{:?}", path);
        }

        #[test]
        fn uninitialised_and_initialised_buffers_agree(
            base in "(/[a-z.]{0,3}){0,4}",
            path in "(/?[a-z.]{0,3}){0,5}",
        ) {
            let mut init = [0xffu8; 64];
            let mut raw = [MaybeUninit::<u8>::uninit(); 64];
            let a = normalise_into(base.as_bytes(), path.as_bytes(), &mut init).map(|n| init[..n].to_vec());
            let b = normalise(base.as_bytes(), path.as_bytes(), &mut raw).map(<[u8]>::to_vec);
            prop_assert_eq!(a, b);
        }

        #[test]
        fn never_panics_and_never_overflows(
            base in proptest::collection::vec(any::<u8>(), 0..40),
            path in proptest::collection::vec(any::<u8>(), 0..40),
            cap in 0usize..48,
        ) {
            let mut out = vec![0u8; cap];
            if let Ok(n) = normalise_into(&base, &path, &mut out) {
                prop_assert!(n <= cap && n > 0 && out[0] == b'/');
            }
        }
    }
}
