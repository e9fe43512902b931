//! `rampart decode FILE`: prints every packet of a capture (a file, or standard input for `-`),
//! one line each, like `tcpdump -n -tt -S`, or one JSON object each with `--json`.
//!
//! Wiring only: the printing lives in the `decode` crate. This opens the capture and standard
//! output, picks the threads from the file's size, and turns the outcome into the command's
//! errors (which name the file, or standard input).

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use ::decode::{DecodeError, Format, Options};
use anyhow::Context;
use capture::{CaptureError, CaptureFile, CaptureReader};
use clap::Args;

/// Arguments of `rampart decode`.
#[derive(Debug, Args)]
#[command(after_help = concat!(
    "Examples:\n",
    "  rampart decode samples/netns-mix.pcapng\n",
    "  rampart decode --json --count 10 capture.pcap | jq .l4\n",
    "  rampart decode big.pcap | head\n",
    "  tcpdump -i eth0 -w - | rampart decode -\n\n",
    exit_status_help!()
))]
pub struct DecodeArgs {
    /// The capture to read: pcap (microsecond or nanosecond) or pcapng, detected by its magic;
    /// `-` reads it from standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// One JSON object per packet instead of a text line (schema in the crate documentation).
    #[arg(long)]
    pub json: bool,

    /// Stop after printing N packets.
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,
}

/// Runs `rampart decode`.
pub fn run(args: &DecodeArgs) -> anyhow::Result<()> {
    let input = Input::open(&args.file)?;
    let name = &input.name;
    let mut reader =
        CaptureReader::new(input.file).map_err(|e| anyhow::Error::new(e).context(name.clone()))?;
    tracing::info!(file = %name, format = %reader.format(), "decoding");
    let limit = args.count.unwrap_or(u64::MAX);
    let options = Options {
        format: if args.json {
            Format::Json
        } else {
            Format::Text
        },
        limit,
        threads: Options::threads_for(input.len, limit),
    };
    let result = ::decode::print_capture(&mut reader, &mut io::stdout(), &options);
    tracing::info!(
        packets = match &result {
            Ok(s) => s.printed,
            Err(DecodeError::Read { printed, .. } | DecodeError::Write { printed, .. }) => *printed,
        },
        bytes = reader.bytes_read(),
        threads = options.threads,
        "decoded"
    );
    match result {
        Ok(_) => Ok(()),
        Err(DecodeError::Write { source, .. }) => {
            Err(anyhow::Error::new(source).context("writing to standard output"))
        }
        Err(DecodeError::Read { source, .. }) => {
            Err(anyhow::Error::new(source).context(name.clone()))
        }
    }
}

/// The capture to read, opened.
struct Input {
    file: CaptureFile,
    /// Its length, when it is a regular file.
    len: Option<u64>,
    /// What errors call it: the path, or "standard input".
    name: String,
}

impl Input {
    /// Opens `path`, or standard input for `-`.
    fn open(path: &Path) -> anyhow::Result<Input> {
        if path != Path::new("-") {
            let file = File::open(path).map_err(|source| CaptureError::Open {
                path: path.to_owned(),
                source,
            })?;
            return Ok(Input {
                len: file.metadata().ok().map(|m| m.len()),
                file: CaptureFile::new(file),
                name: path.display().to_string(),
            });
        }
        // A file of its own on the descriptor, so that a capture redirected from a file is read
        // as fast as a named one, and its length known (it may then be decoded on several
        // threads); a pipe has none.
        let fd = io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .context("standard input")?;
        let file = File::from(fd);
        Ok(Input {
            len: file
                .metadata()
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len()),
            file: CaptureFile::new(file),
            name: "standard input".to_owned(),
        })
    }
}
