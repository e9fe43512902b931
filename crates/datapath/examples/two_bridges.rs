//! Writes `two-bridges.pcapng` and `two-bridges.toml` into a directory (default `samples/`):
//! mixed traffic between VMs on two bridges, with the configuration that describes them.
//!
//! `cargo run -p rampart-datapath --example two_bridges -- samples`

#[path = "../tests/common/scenario.rs"]
mod scenario;

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "samples".into()));
    std::fs::create_dir_all(&dir)?;
    scenario::write_capture(BufWriter::new(File::create(
        dir.join("two-bridges.pcapng"),
    )?))?;
    std::fs::write(dir.join("two-bridges.toml"), scenario::CONFIG)?;
    println!(
        "wrote {} and {}",
        dir.join("two-bridges.pcapng").display(),
        dir.join("two-bridges.toml").display()
    );
    Ok(())
}
