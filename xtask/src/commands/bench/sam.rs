//! Scenario `sam`: `sam deploy` (SAM CLI, pinned in `xtask/bench-tools.txt`) and `cargo xtask deploy`
//! side by side on one moto, for the same stack (the bench stack: a plain template, no Transform)
//! and the same zips: a first deploy, a redeploy with nothing changed (SAM with and without
//! `--no-fail-on-empty-changeset`), and a deploy with one function changed. Both tools are counted
//! by moto's own request recording, operation by operation.

use std::process::Command;
use std::time::Duration;

use super::moto::{Moto, Step, side_by_side};
use super::report::{Section, Table};
use super::stack::{self, Project, generated_site, stand_in_zip, write_dist_of};
use super::{Env, proc};
use crate::tools::Tools;

const LIMIT: Duration = Duration::from_secs(600);
const SAM_STACK: &str = "bench-sam";

pub fn run(b: &Env<'_>) -> anyhow::Result<Section> {
    let sam_tools = Tools::ensure_bench(b.ctx)?;
    let sam = sam_tools.bin("sam");
    let moto = Moto::start(b.tools)?;
    let scratch = tempfile::tempdir()?;
    let distribution = stack::create_distribution(&moto, scratch.path())?;
    let project = Project::new(b.ctx, &distribution)?;
    let site = generated_site(0);

    // SAM's copy of the stack: the same template with each function's Code a local zip, which
    // `sam deploy` uploads itself (content-addressed by MD5) and rewrites to S3.
    let sam_dir = scratch.path().join("sam");
    std::fs::create_dir_all(&sam_dir)?;
    let mut sam_template = std::fs::read_to_string(project.path("cloud/stack.yaml"))?;
    for (name, param) in [("api", "ApiCodeKey"), ("activity", "ActivityCodeKey")] {
        let from = format!("Code: {{S3Bucket: !Ref ArtifactBucket, S3Key: !Ref {param}}}");
        anyhow::ensure!(sam_template.contains(&from), "the bench stack's template has no `{from}`");
        sam_template = sam_template.replace(&from, &format!("Code: {name}.zip"));
    }
    std::fs::write(sam_dir.join("template.yaml"), sam_template)?;
    let write_zips = |api_version: u32| -> anyhow::Result<()> {
        std::fs::write(sam_dir.join("api.zip"), stand_in_zip("api", api_version)?)?;
        std::fs::write(sam_dir.join("activity.zip"), stand_in_zip("activity", 1)?)?;
        Ok(())
    };
    let sam_bucket = "bench-sam-artifacts";
    let mut mb = Command::new("aws");
    mb.args(["s3", "mb", &format!("s3://{sam_bucket}"), "--endpoint-url", &moto.url]);
    moto.env(&mut mb, scratch.path());
    proc::run(mb, LIMIT)?.check("aws s3 mb")?;

    // `sam deploy` exits 1 when its change set is empty unless told otherwise: `fail_on_empty`
    // keeps that default, every other run passes `--no-fail-on-empty-changeset` as CI scripts do.
    let sam_deploy = |fail_on_empty: bool| -> anyhow::Result<Step> {
        let mut cmd = Command::new(&sam);
        cmd.current_dir(&sam_dir).args([
            "deploy",
            "--template-file",
            "template.yaml",
            "--stack-name",
            SAM_STACK,
            "--s3-bucket",
            sam_bucket,
            "--capabilities",
            "CAPABILITY_IAM",
            "--no-confirm-changeset",
            "--region",
            testkit::aws::REGION,
            "--parameter-overrides",
        ]);
        cmd.arg(format!(
            "ArtifactBucket=unused ApiCodeKey=unused ActivityCodeKey=unused DistributionId={distribution} \
             WwwDomainName=www.example.com ApiDomainName=api.example.com"
        ));
        if !fail_on_empty {
            cmd.arg("--no-fail-on-empty-changeset");
        }
        moto.env(&mut cmd, scratch.path());
        // moto reads a TemplateURL on `localhost` path-style (`/bucket/key`); on 127.0.0.1 it takes
        // the first label of the host for the bucket. SAM builds the URL from its endpoint.
        cmd.env("AWS_ENDPOINT_URL", moto.url.replace("127.0.0.1", "localhost")).env("SAM_CLI_TELEMETRY", "0");
        moto.forget();
        let run = proc::run(cmd, LIMIT)?;
        Ok(moto.step(run.output.status.code().unwrap_or(-1), run.wall.as_secs_f64()))
    };
    let ours_deploy = |api_version: u32, n: usize| -> anyhow::Result<Step> {
        let dist = scratch.path().join(format!("dist-{n}"));
        write_dist_of(&dist, &site, api_version)?;
        let dist_arg = dist.display().to_string();
        moto.forget();
        let run = stack::xtask(b, &moto, &project, &["deploy", "--from-dist", &dist_arg, "--json"], LIMIT)?;
        Ok(moto.step(0, run.run.wall.as_secs_f64()))
    };

    write_zips(1)?;
    let first = (sam_deploy(false)?, ours_deploy(1, 0)?);
    // moto finds changes in SAM's first redeploy of a stack it created (its diff of a created
    // stack's resources; CloudFormation finds none): one such redeploy settles it, unmeasured.
    let settle = sam_deploy(false)?;
    let mut notes = Vec::new();
    if settle.op("ExecuteChangeSet") > 0 {
        notes.push(
            "on moto, SAM's first redeploy after the create still executed a change set (moto's diff of a stack a \
             create change set made); it ran once before the rows below and is not in them"
                .to_string(),
        );
    }
    let rows: Vec<(&str, Step, Step)> = vec![
        ("first deploy", first.0, first.1),
        ("nothing changed", sam_deploy(false)?, ours_deploy(1, 1)?),
        ("nothing changed (SAM without --no-fail-on-empty-changeset)", sam_deploy(true)?, ours_deploy(1, 2)?),
        (
            "api changed",
            {
                write_zips(2)?;
                sam_deploy(false)?
            },
            ours_deploy(2, 3)?,
        ),
    ];

    let overview = side_by_side(
        "Same moto, same stack and zips; requests as moto recorded them",
        ["sam deploy", "cargo xtask deploy"],
        &rows,
        &[("HEAD object", "S3 HEAD object"), ("change sets", "CreateChangeSet")],
    );
    let (_, sam_noop, ours_noop) = &rows[1];
    let mut by_op = Table::new(
        "Nothing changed: requests by operation (SAM with --no-fail-on-empty-changeset)",
        &["operation", "sam deploy", "cargo xtask deploy"],
    );
    let names: std::collections::BTreeSet<&String> = sam_noop.ops.keys().chain(ours_noop.ops.keys()).collect();
    for op in names {
        by_op.row([format!("`{op}`"), sam_noop.op(op).to_string(), ours_noop.op(op).to_string()]);
    }
    let version = proc::run(
        {
            let mut c = Command::new(&sam);
            c.arg("--version");
            c
        },
        Duration::from_secs(60),
    )
    .map(|r| r.stdout().trim().to_string())
    .unwrap_or_else(|e| format!("unknown ({e})"));
    Ok(Section {
        method: format!(
            "One moto server. SAM deploys the bench stack's template with each function's `Code` pointing at a local \
             zip (`sam deploy` packages and uploads it, then creates and executes a change set); `cargo xtask deploy \
             --from-dist` deploys the same template with the code keys injected, from a dist holding the same zips \
             and an empty site (it still writes the site's `config.json`, its bookkeeping, the lock and a release \
             record, none of which SAM does). {version}; both tools' requests are counted from moto's request \
             recording (operation from the query protocol's `Action`, the JSON protocol's target, or S3's method \
             and path). SAM's wall time includes its waiters' polling intervals and Python's start-up; ours is \
             the xtask binary run directly."
        ),
        tables: vec![overview, by_op],
        notes,
        charts: Vec::new(),
    })
}
