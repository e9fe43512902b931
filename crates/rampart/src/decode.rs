//! `rampart decode FILE`: prints every packet of a capture, one line each, like
//! `tcpdump -n -tt -S`, or one JSON object each with `--json`.
//!
//! Wiring only: the printing lives in the `decode` crate. This opens the capture and standard
//! output, picks the threads from the file's size, and turns the outcome into the command's
//! errors (which name the file).

use std::io;
use std::path::PathBuf;

use ::decode::{DecodeError, Format, Options};
use capture::{CaptureError, CaptureReader};
use clap::Args;

/// Arguments of `rampart decode`.
#[derive(Debug, Args)]
#[command(after_help = concat!(
    "Examples:\n",
    "  rampart decode samples/netns-mix.pcapng\n",
    "  rampart decode --json --count 10 capture.pcap | jq .l4\n",
    "  rampart decode big.pcap | head\n\n",
    exit_status_help!()
))]
pub struct DecodeArgs {
    /// The capture to read: pcap (microsecond or nanosecond) or pcapng, detected by its magic.
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
    let path = &args.file;
    let mut reader = match CaptureReader::open(path) {
        Ok(r) => r,
        // This one names the path already.
        Err(e @ CaptureError::Open { .. }) => return Err(e.into()),
        Err(e) => return Err(anyhow::Error::new(e).context(path.display().to_string())),
    };
    tracing::info!(file = %path.display(), format = %reader.format(), "decoding");
    let limit = args.count.unwrap_or(u64::MAX);
    let options = Options {
        format: if args.json {
            Format::Json
        } else {
            Format::Text
        },
        limit,
        threads: Options::threads_for(std::fs::metadata(path).ok().map(|m| m.len()), limit),
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
            Err(anyhow::Error::new(source).context(path.display().to_string()))
        }
    }
}
