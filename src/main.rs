use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = helpdesk::cli::Cli::parse();
    helpdesk::cli::init_logging();
    match helpdesk::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if helpdesk::cli::is_broken_pipe(&e) {
                // `helpdesk ticket list | head` is not a failure.
                return ExitCode::SUCCESS;
            }
            eprintln!("helpdesk: {}", helpdesk::cli::error_text(&e));
            ExitCode::from(helpdesk::cli::exit_code(&e))
        }
    }
}
