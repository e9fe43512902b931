//! Decoding the `sockaddr` a process passes to `connect`, for the shim and the seccomp
//! supervisor alike. The bytes are the caller's (`addrlen` of them, at most a
//! `sockaddr_storage`): every length is checked, nothing is trusted, nothing allocates.

/// What a `connect` address names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockAddr<'a> {
    /// `AF_UNSPEC`: dissolves a datagram socket's association; never denied.
    Unspec,
    /// IPv4: address (network order) and port (host order).
    Inet {
        /// Address bytes.
        addr: [u8; 4],
        /// Port.
        port: u16,
    },
    /// IPv6.
    Inet6 {
        /// Address bytes.
        addr: [u8; 16],
        /// Port.
        port: u16,
    },
    /// A Unix socket by path (as written, maybe relative), without the trailing NULs.
    UnixPath(&'a [u8]),
    /// An abstract Unix socket: the name after the leading NUL.
    UnixAbstract(&'a [u8]),
    /// Any other address family.
    Other(u16),
    /// Too short for its family (the kernel answers `EINVAL`).
    Malformed,
}

/// Decodes `bytes` (the caller's `sockaddr`, `addrlen` bytes).
pub fn decode(bytes: &[u8]) -> SockAddr<'_> {
    let Some(family) = bytes.first_chunk::<2>().map(|f| u16::from_ne_bytes(*f)) else {
        return SockAddr::Malformed;
    };
    match i32::from(family) {
        libc::AF_UNSPEC => SockAddr::Unspec,
        libc::AF_INET => match bytes.get(2..8) {
            Some(b) => SockAddr::Inet {
                addr: [b[2], b[3], b[4], b[5]],
                port: u16::from_be_bytes([b[0], b[1]]),
            },
            None => SockAddr::Malformed,
        },
        libc::AF_INET6 => match bytes.get(2..24) {
            Some(b) => {
                let mut addr = [0u8; 16];
                addr.copy_from_slice(&b[6..22]);
                SockAddr::Inet6 {
                    addr,
                    port: u16::from_be_bytes([b[0], b[1]]),
                }
            }
            None => SockAddr::Malformed,
        },
        libc::AF_UNIX => {
            let name = &bytes[2..];
            match name.split_first() {
                None => SockAddr::Malformed,
                Some((0, rest)) => SockAddr::UnixAbstract(rest),
                Some(_) => {
                    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                    SockAddr::UnixPath(&name[..end])
                }
            }
        }
        _ => SockAddr::Other(family),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn family(f: i32) -> [u8; 2] {
        (f as u16).to_ne_bytes()
    }

    #[test]
    fn families() {
        let mut v4 = family(libc::AF_INET).to_vec();
        v4.extend_from_slice(&8080u16.to_be_bytes());
        v4.extend_from_slice(&[127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            decode(&v4),
            SockAddr::Inet {
                addr: [127, 0, 0, 1],
                port: 8080
            }
        );
        assert_eq!(decode(&v4[..7]), SockAddr::Malformed);

        let mut v6 = family(libc::AF_INET6).to_vec();
        v6.extend_from_slice(&443u16.to_be_bytes());
        v6.extend_from_slice(&[0; 4]);
        v6.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
        v6.extend_from_slice(&[0; 4]);
        assert_eq!(
            decode(&v6),
            SockAddr::Inet6 {
                addr: std::net::Ipv6Addr::LOCALHOST.octets(),
                port: 443
            }
        );

        let mut un = family(libc::AF_UNIX).to_vec();
        un.extend_from_slice(b"/run/x.sock\0\0\0");
        assert_eq!(decode(&un), SockAddr::UnixPath(b"/run/x.sock"));
        let mut ab = family(libc::AF_UNIX).to_vec();
        ab.extend_from_slice(b"\0name");
        assert_eq!(decode(&ab), SockAddr::UnixAbstract(b"name"));
        assert_eq!(decode(&family(libc::AF_UNIX)), SockAddr::Malformed);
        assert_eq!(decode(&family(libc::AF_UNSPEC)), SockAddr::Unspec);
        assert_eq!(
            decode(&family(libc::AF_NETLINK)),
            SockAddr::Other(libc::AF_NETLINK as u16)
        );
        assert_eq!(decode(&[1]), SockAddr::Malformed);
    }

    proptest! {
        #[test]
        fn any_bytes(b in proptest::collection::vec(any::<u8>(), 0..130)) {
            let _ = decode(&b);
        }
    }
}
