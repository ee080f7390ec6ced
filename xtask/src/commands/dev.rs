//! `cargo xtask dev`: the app on this machine. Builds and runs the dev server, which is a crate of
//! its own (`lambdas/dev`, package `notes-dev`), so the xtask links no app code and a change under
//! `lambdas/` never rebuilds it. Every argument goes to the dev server (`cargo xtask dev --help`
//! shows its flags); the xtask adds the project directory and, for `--backends local`, the pinned
//! moto from the tools venv.

use std::process::Command;

use anyhow::Context;

use crate::Ctx;
use crate::tools::Tools;

/// Run the app locally: site and API on 127.0.0.1, in-memory stores, dev sign-in (`dev --help`: its flags)
#[derive(clap::Args, Debug)]
#[command(disable_help_flag = true)]
pub struct Dev {
    /// Arguments of the dev server, e.g. `--no-watch`, `--backends local`, `token alice`
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

impl Dev {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let args = &self.args;
        let mut cargo = Command::new("cargo");
        cargo
            .args(["run", "--locked", "--package", "notes-dev", "--bin", "notes-dev", "--"])
            .args(dev_server_args(&ctx.root, args))
            .current_dir(&ctx.root);
        // `--backends local` starts moto: the pinned one, from the tools venv (installed once).
        let local = args.iter().zip(args.iter().skip(1)).any(|(a, b)| a == "--backends" && b == "local")
            || args.iter().any(|a| a == "--backends=local");
        if local {
            cargo.env("MOTO_PYTHON", Tools::ensure(ctx)?.bin("python"));
        }
        // In place of this process (cargo run does the same with the dev server): signals meant for
        // the dev server (Ctrl-C, a test's SIGTERM) reach it, and its exit code is ours.
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            Err(cargo.exec()).context("cannot run `cargo run -p notes-dev`")
        }
        #[cfg(not(unix))]
        {
            let status = cargo.status().context("cannot run `cargo run -p notes-dev`")?;
            // The dev server (or cargo) has printed the cause and the hint already.
            std::process::exit(status.code().unwrap_or(1));
        }
    }
}

/// The dev server's command line: the user's arguments, then `--project-dir ROOT`. After them: the
/// dev server refuses its own flags before a subcommand (`dev token alice` would fail), and a
/// global flag after one is taken.
fn dev_server_args(root: &std::path::Path, args: &[String]) -> Vec<std::ffi::OsString> {
    let mut out: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    out.push("--project-dir".into());
    out.push(root.into());
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_project_dir_follows_the_users_arguments() {
        let check = |args: &[&str], expect: &str| {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let argv = super::dev_server_args(std::path::Path::new("/repo"), &args);
            assert_eq!(argv.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" "), expect);
        };
        check(&[], "--project-dir /repo");
        check(&["token", "alice"], "token alice --project-dir /repo");
        check(&["--no-watch", "--backends", "local"], "--no-watch --backends local --project-dir /repo");
    }
}
