//! What this machine must provide: the pinned Python tools (moto, cfn-lint, checkov, cargo-lambda)
//! in a private virtualenv, and the local servers the tests talk to (found by the test kit).
//!
//! Versions live in `xtask/python-tools.txt`. The venv sits in `<target dir>/tools/venv` and is
//! rebuilt whenever that file changes (a stamp holds its sha256), so every machine and CI run uses
//! exactly the pinned versions, never whatever happens to be on PATH.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Context;
use sha2::{Digest, Sha256};
use xshell::cmd;

use crate::Ctx;
use crate::error::Refusal;

pub struct Tools {
    pub venv: PathBuf,
}

impl Tools {
    /// Installs the pinned tools if the venv is missing or stale; cheap when it is up to date.
    pub fn ensure(ctx: &Ctx) -> anyhow::Result<Tools> {
        Tools::ensure_pinned(ctx, "xtask/python-tools.txt", "venv")
    }

    /// The bench's own tools (`xtask/bench-tools.txt`: SAM CLI), in a venv of their own so that
    /// `cargo xtask test` never installs them.
    pub fn ensure_bench(ctx: &Ctx) -> anyhow::Result<Tools> {
        Tools::ensure_pinned(ctx, "xtask/bench-tools.txt", "bench-venv")
    }

    /// The venv `<target>/tools/<dir>` holding exactly the pins of `pins` (a path in the project).
    fn ensure_pinned(ctx: &Ctx, pins: &str, dir: &str) -> anyhow::Result<Tools> {
        let pins_path = ctx.root.join(pins);
        let pins = std::fs::read(&pins_path).with_context(|| format!("cannot read {}", pins_path.display()))?;
        let want = hex::encode(Sha256::digest(&pins));
        let venv = ctx.target_dir().join("tools").join(dir);
        let stamp = venv.join("pins.sha256");
        let tools = Tools { venv };
        if std::fs::read_to_string(&stamp).is_ok_and(|have| have.trim() == want) {
            return Ok(tools);
        }
        let sh = &ctx.sh;
        let venv = &tools.venv;
        eprintln!(
            "    installing pinned Python tools into {} (once per change of {})",
            venv.display(),
            ctx.shown(&pins_path)
        );
        if cmd!(sh, "python3 --version").quiet().ignore_stdout().run().is_err() {
            return Err(Refusal::new(
                "python3 is not installed",
                "install Python 3.11+ with venv and pip (Debian: apt-get install python3 python3-venv)",
            )
            .into());
        }
        cmd!(sh, "python3 -m venv --clear {venv}").quiet().run().context("cannot create the tools virtualenv")?;
        let pip = tools.bin("pip");
        cmd!(sh, "{pip} install --quiet --disable-pip-version-check -r {pins_path}")
            .run()
            .map_err(|e| {
                anyhow::Error::new(Refusal::new(
                    e.to_string(),
                    "pip needs access to PyPI; check the network or a PIP_INDEX_URL mirror",
                ))
            })
            .context("cannot install the pinned Python tools")?;
        std::fs::write(&stamp, want)?;
        Ok(tools)
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.venv.join("bin").join(name)
    }

    /// `PATH` with the venv's `bin/` first: child processes (tests, cargo-lambda) find the tools.
    pub fn path_env(&self) -> OsString {
        let mut paths = vec![self.venv.join("bin")];
        if let Some(path) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&path));
        }
        std::env::join_paths(paths).expect("PATH entries contain no separator")
    }
}

/// A local server (PostgreSQL, Redis) the tests need: its URL, or a refusal saying how to start it.
pub fn require(service: &testkit::services::Service) -> anyhow::Result<String> {
    service.check().map_err(|e| Refusal::new(e.what, e.hint).into())
}
