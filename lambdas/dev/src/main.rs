//! `notes-dev`: the dev server's command line (run it with `cargo xtask dev`).

use clap::Parser;

fn main() -> std::process::ExitCode {
    match notes_dev::Dev::parse().run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            notes_dev::print_error(&err);
            std::process::ExitCode::FAILURE
        }
    }
}
