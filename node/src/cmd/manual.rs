//! Shell completions and man pages, generated from the command line's own
//! definition (so they never drift from it) and shipped in the package.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap_complete::Shell;

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    pub shell: Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManpagesArgs {
    /// Folder to write the pages to (created if missing): kampung.1 and
    /// one page per command (kampung-user-add.1, ...).
    #[arg(long)]
    pub out: PathBuf,
}

/// Print the completion script for `a.shell` to standard output.
pub fn completions(mut cli: clap::Command, a: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cli, "kampung", &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        // `kampung completions bash | head`: the reader had enough.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Write a man page for the program and for every command under it.
pub fn manpages(cli: clap::Command, a: ManpagesArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create the folder {}", a.out.display()))?;
    let mut cli = cli;
    cli.build();
    let written = write_pages(&cli, "kampung", &a.out)?;
    eprintln!("{written} man pages written to {}", a.out.display());
    Ok(ExitCode::SUCCESS)
}

/// The page of `cmd` as `name.1`, then its subcommands' as `name-sub.1`.
fn write_pages(cmd: &clap::Command, name: &str, out: &Path) -> anyhow::Result<usize> {
    let path = out.join(format!("{name}.1"));
    let mut bytes = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .title(name.to_string())
        .render(&mut bytes)
        .with_context(|| format!("cannot render the man page of {name}"))?;
    std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    let mut written = 1;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        written += write_pages(sub, &format!("{name}-{}", sub.get_name()), out)?;
    }
    Ok(written)
}
