//! Scenario `cargo-lambda`: `cargo lambda deploy` (the pinned cargo-lambda of the tools venv)
//! against moto's Lambda API, side by side with `cargo xtask deploy` of the same function's bytes
//! through the bench stack: the first deploy, a redeploy with the function unchanged, and one with
//! it changed. Both are counted by moto's request recording.

use std::process::Command;
use std::time::Duration;

use super::moto::{Moto, Step, side_by_side};
use super::report::Section;
use super::stack::{self, Project, generated_site, write_dist_zips};
use super::{Env, proc};

const LIMIT: Duration = Duration::from_secs(600);
const FUNCTION: &str = "bench-api";
/// A small Linux executable: cargo lambda deploys only ELF files (it reads their architecture).
const EXECUTABLE: &str = "/usr/bin/true";

pub fn run(b: &Env<'_>) -> anyhow::Result<Section> {
    let moto = Moto::start(b.tools)?;
    let scratch = tempfile::tempdir()?;
    let distribution = stack::create_distribution(&moto, scratch.path())?;
    let project = Project::new(b.ctx, &distribution)?;
    let site = generated_site(0);

    // cargo lambda deploys from a Cargo project (it reads `cargo metadata`), given the binary.
    let crate_dir = scratch.path().join("cargo-lambda");
    std::fs::create_dir_all(crate_dir.join("src"))?;
    std::fs::write(
        crate_dir.join("Cargo.toml"),
        format!("[package]\nname = \"{FUNCTION}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"),
    )?;
    std::fs::write(crate_dir.join("src/main.rs"), "fn main() {}\n")?;
    let elf = std::fs::read(EXECUTABLE)?;
    let binary = |version: u32| -> Vec<u8> {
        // Trailing bytes keep it a valid ELF and change its hash.
        let mut bytes = elf.clone();
        bytes.extend(std::iter::repeat_n(0u8, version as usize));
        bytes
    };
    let mut role = Command::new("aws");
    role.args([
        "iam",
        "create-role",
        "--role-name",
        "bench-cargo-lambda",
        "--assume-role-policy-document",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        "--query",
        "Role.Arn",
        "--output",
        "text",
        "--endpoint-url",
        &moto.url,
    ]);
    moto.env(&mut role, scratch.path());
    let role_arn = proc::run(role, LIMIT)?.check("aws iam create-role")?.stdout().trim().to_string();

    let cargo_lambda = |version: u32| -> anyhow::Result<Step> {
        std::fs::write(crate_dir.join("bootstrap"), binary(version))?;
        let mut cmd = Command::new(b.tools.bin("cargo-lambda"));
        cmd.current_dir(&crate_dir).args([
            "lambda",
            "deploy",
            "--binary-path",
            "bootstrap",
            "--role",
            &role_arn,
            FUNCTION,
        ]);
        moto.env(&mut cmd, scratch.path());
        moto.forget();
        let run = proc::run(cmd, LIMIT)?;
        Ok(moto.step(run.output.status.code().unwrap_or(-1), run.wall.as_secs_f64()))
    };
    let ours = |version: u32| -> anyhow::Result<Step> {
        let dist = scratch.path().join(format!("dist-{version}"));
        if !dist.exists() {
            write_dist_zips(&dist, &site, &crate::package::zip_bootstrap(&binary(version))?)?;
        }
        let dist_arg = dist.display().to_string();
        moto.forget();
        let run = stack::xtask(b, &moto, &project, &["deploy", "--from-dist", &dist_arg, "--json"], LIMIT)?;
        Ok(moto.step(0, run.run.wall.as_secs_f64()))
    };
    let rows = [
        ("first deploy", cargo_lambda(1)?, ours(1)?),
        ("function unchanged", cargo_lambda(1)?, ours(1)?),
        ("function changed", cargo_lambda(2)?, ours(2)?),
    ];
    let table = side_by_side(
        "Same moto, the same function bytes; requests as moto recorded them",
        ["cargo lambda deploy", "cargo xtask deploy"],
        &rows,
        &[("UpdateFunctionCode", "UpdateFunctionCode")],
    );
    Ok(Section {
        method: format!(
            "One moto server. `cargo lambda deploy --binary-path bootstrap` deploys one function ({EXECUTABLE} as its \
             `bootstrap`, a few bytes appended for the changed version) straight through the Lambda API; `cargo \
             xtask deploy --from-dist` deploys the bench stack, whose api function gets the same bytes zipped by the \
             dist writer. cargo lambda has no change detection: every run uploads the zip again \
             (`UpdateFunctionCode`, which publishes a version). Our deploy uploads a zip only when its \
             content-addressed key is missing and leaves CloudFormation alone when nothing changed; CloudFormation \
             then updates the function itself, which moto does inside its own process (no Lambda API request is \
             recorded for it). Requests are counted from moto's request recording for both."
        ),
        tables: vec![table],
        notes: Vec::new(),
        charts: Vec::new(),
    })
}
