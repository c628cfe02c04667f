use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;

/// Print shell completions: `helpdesk completions bash > ~/.local/share/bash-completion/completions/helpdesk`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell
    pub shell: Shell,
}

pub fn run(args: &Args) -> Result<()> {
    let mut cmd = super::Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "helpdesk", &mut out);
    Ok(())
}
