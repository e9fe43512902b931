//! `rampart completions SHELL`: writes a completion script for bash, zsh, fish, elvish or
//! PowerShell to standard output, generated from the same clap definition the binary parses with,
//! so it can never fall out of date.
//!
//! It must never write anywhere but standard output: installing the script is the user's call.

use std::io::{self, Write};

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::cli::Cli;

/// Arguments of `rampart completions`.
#[derive(Debug, Args)]
#[command(after_help = concat!(
    "Examples:\n",
    "  rampart completions bash > /etc/bash_completion.d/rampart\n",
    "  rampart completions zsh > \"${fpath[1]}/_rampart\"\n",
    "  rampart completions fish > ~/.config/fish/completions/rampart.fish\n\n",
    exit_status_help!()
))]
pub struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Writes the completion script for `args.shell` to standard output.
pub fn run(args: &CompletionsArgs) -> anyhow::Result<()> {
    let mut script = Vec::new();
    write_script(args.shell, &mut script);
    let mut out = io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("writing the completion script to standard output"))
        }
        _ => Ok(()),
    }
}

/// Generates the completion script for `shell` into `out`.
pub fn write_script(shell: Shell, out: &mut Vec<u8>) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "rampart", out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_name_every_subcommand() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut s = Vec::new();
            write_script(shell, &mut s);
            let s = String::from_utf8(s).unwrap();
            for sub in ["decode", "completions"] {
                assert!(s.contains(sub), "{shell}: {sub} missing");
            }
            assert!(s.contains("json"), "{shell}: decode options missing");
        }
    }
}
