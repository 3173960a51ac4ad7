//! `bestofn completions SHELL` and `bestofn man`: shell completions and man pages generated from
//! the command line itself (clap's own generators), so they never fall behind the flags.

use std::path::PathBuf;

use clap::CommandFactory;

use super::{Cli, Outcome};
use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell; e.g. `bestofn completions bash >
    /// ~/.local/share/bash-completion/completions/bestofn`.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write bestofn.1 and one page per command (bestofn-generate.1, ...) into this directory
    /// instead of printing bestofn.1 (roff) on standard output.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

pub fn completions(args: &CompletionsArgs) -> Result<Outcome> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "bestofn", &mut script);
    Ok(Outcome {
        summary: String::new(),
        stdout: Some(String::from_utf8_lossy(&script).into_owned()),
    })
}

/// The roff text of one man page, titled `title`.
fn page(command: clap::Command, title: &str) -> Result<String> {
    let mut roff = Vec::new();
    clap_mangen::Man::new(command)
        .title(title)
        .source(concat!("bestofn ", env!("CARGO_PKG_VERSION")))
        .render(&mut roff)
        .map_err(|e| Error::Report(format!("writing a man page: {e}")))?;
    Ok(String::from_utf8_lossy(&roff).into_owned())
}

pub fn man(args: &ManArgs) -> Result<Outcome> {
    let cli = Cli::command();
    let Some(dir) = &args.out_dir else {
        return Ok(Outcome {
            summary: String::new(),
            stdout: Some(page(cli, "bestofn")?),
        });
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut pages = vec![("bestofn.1".to_owned(), page(cli.clone(), "bestofn")?)];
    for sub in cli.get_subcommands() {
        let name = format!("bestofn-{}", sub.get_name());
        let sub = sub.clone().bin_name(&name).display_name(&name);
        pages.push((format!("{name}.1"), page(sub, &name)?));
    }
    for (file, roff) in &pages {
        crate::io::write_atomic(&dir.join(file), roff.as_bytes())?;
    }
    Ok(Outcome {
        summary: format!("{} man pages written to {}", pages.len(), dir.display()),
        stdout: None,
    })
}
