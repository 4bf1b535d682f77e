//! `mqtk generate completions|man DIR`: the checked-in `completions/` and `man/` come from here,
//! and a test fails when they are stale, so every CLI change carries its docs.

use std::fs;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, GenerateArgs, Generated};

pub fn run(args: GenerateArgs) -> anyhow::Result<()> {
    fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let mut cmd = Cli::command();
    match args.what {
        Generated::Completions => {
            for shell in [
                Shell::Bash,
                Shell::Zsh,
                Shell::Fish,
                Shell::PowerShell,
                Shell::Elvish,
            ] {
                clap_complete::generate_to(shell, &mut cmd, "mqtk", &args.dir)
                    .with_context(|| format!("cannot write {shell} completions"))?;
            }
        }
        Generated::Man => {
            clap_mangen::generate_to(cmd, &args.dir).context("cannot write man pages")?;
        }
    }
    Ok(())
}
