//! Lexical path normalisation into a caller's buffer, as the shim needs it before a policy
//! lookup: a relative path joined to its base directory, `.` and empty segments dropped, `..`
//! taking away the segment before it (never above `/`).
//!
//! This is the path *as written*. It equals the path the kernel resolves only when no segment
//! is a symbolic link; the shim learns that from the kernel (`openat2` with
//! `RESOLVE_NO_SYMLINKS`) and otherwise decides again on the resolved path. Never allocates:
//! the hooks call it on every path a process opens.

/// Why a path could not be normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormaliseError {
    /// The result would not fit the output buffer.
    TooLong,
    /// The base of a relative path is not absolute.
    RelativeBase,
}

/// Writes the normalised absolute form of `path` into `out` and returns its length. A relative
/// `path` is taken relative to `base`, an absolute directory path (itself normalised or not).
/// The result starts with `/`, has no trailing `/` (unless it is `/`), and no empty, `.` or
/// `..` segment. An empty `path` gives `base`.
pub fn normalise_into(base: &[u8], path: &[u8], out: &mut [u8]) -> Result<usize, NormaliseError> {
    let mut len = 0usize;
    if path.first() != Some(&b'/') {
        if base.first() != Some(&b'/') {
            return Err(NormaliseError::RelativeBase);
        }
        len = push_segments(base, out, len)?;
    }
    len = push_segments(path, out, len)?;
    if len == 0 {
        *out.first_mut().ok_or(NormaliseError::TooLong)? = b'/';
        len = 1;
    }
    Ok(len)
}

/// Appends the segments of `s` to the normalised path `out[..len]`.
fn push_segments(s: &[u8], out: &mut [u8], mut len: usize) -> Result<usize, NormaliseError> {
    for seg in s.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                // Back to the `/` before the last segment; at the root this is a no-op.
                while len > 0 {
                    len -= 1;
                    if out[len] == b'/' {
                        break;
                    }
                }
            }
            _ => {
                let end = len + 1 + seg.len();
                let dst = out.get_mut(len..end).ok_or(NormaliseError::TooLong)?;
                dst[0] = b'/';
                dst[1..].copy_from_slice(seg);
                len = end;
            }
        }
    }
    Ok(len)
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
