//! Rampart's container side on the host: the probe that finds containers, injects the shim
//! (`librampart_shim.so`) into them, compiles and swaps their policies, and turns the shim's
//! event records into EVE JSON; and the runner behind `rampart run`, with the seccomp
//! supervisor that holds programs the shim cannot (static and raw-syscall binaries).
//!
//! - [`policy`]: the TOML policy, validated and compiled into the image the shim maps;
//! - [`shimdir`]: the directory the shim reads (library, image, control and counters pages,
//!   event FIFO), and live policy changes;
//! - [`pipe`] and [`eve`]: reading the FIFO and writing EVE lines;
//! - [`discovery`], [`inject`] and [`probe`]: finding containers, putting the shim in and
//!   taking it out, and the probe's loop;
//! - [`elf`]: whether a program can be hooked at all;
//! - [`run`]: `rampart run` through the shim;
//! - [`supervisor`] and [`seccomp`]: `rampart run --seccomp`;
//! - [`bench`]: `rampart bench shim`.
//!
//! # Example
//!
//! ```
//! use std::path::Path;
//! use container::policy::Policy;
//! use shim_abi::image::PolicyImage;
//! use shim_abi::{Access, Verdict};
//!
//! let text = "[files]\ndeny = [\"/etc/shadow\"]\n";
//! let policy = Policy::parse(text, Path::new("web.toml"))?;
//! let image = policy.compile(1)?;
//! let image = PolicyImage::new_checked(&image)?;
//! assert_eq!(image.decide_file(b"/etc/shadow", Access::READ).verdict, Verdict::Deny);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bench;
pub mod discovery;
pub mod elf;
pub mod eve;
pub mod inject;
pub mod pipe;
pub mod policy;
pub mod probe;
pub mod run;
pub mod seccomp;
pub mod shimdir;
pub mod supervisor;
mod sys;
