//! Scenario `sync`: `cargo xtask sync` vs `aws s3 sync` on a generated 1,000-file site, against the
//! same moto S3, from fresh copies (every mtime reset to now, like a CI checkout) with 0, 1 and 50
//! files changed. PUTs are counted in moto's access log for both tools; wall time is each process's.

use std::process::Command;
use std::time::Duration;

use super::moto::{Moto, object_puts};
use super::report::{Section, Table};
use super::stack::{self, Project, change_files, generated_site, write_dist, write_plain};
use super::stats::{Summary, ratio};
use super::{Env, proc};

const FILES: usize = 1000;
const CHANGES: [usize; 3] = [0, 1, 50];
const LIMIT: Duration = Duration::from_secs(600);

struct Sample {
    ours_secs: f64,
    ours_puts: f64,
    ours_calls: f64,
    cli_secs: f64,
    cli_puts: f64,
    cli_requests: f64,
}

pub fn run(b: &Env<'_>) -> anyhow::Result<Section> {
    let reps = if b.quick { 2 } else { 5 };
    let moto = Moto::start(b.tools)?;
    let scratch = tempfile::tempdir()?;
    let distribution = stack::create_distribution(&moto, scratch.path())?;
    let project = Project::new(b.ctx, &distribution)?;
    let mut site = generated_site(FILES);

    // Both buckets start from the same site: ours through a first deploy, the CLI's through a first sync.
    let dist = scratch.path().join("dist-initial");
    write_dist(&dist, &site)?;
    let dist_arg = dist.display().to_string();
    stack::xtask(b, &moto, &project, &["deploy", "--from-dist", &dist_arg, "--json"], LIMIT)?;
    let site_bucket = stack::outputs(&moto, scratch.path())?
        .remove("SiteBucketName")
        .ok_or_else(|| anyhow::anyhow!("the bench stack has no SiteBucketName output"))?;
    let cli_bucket = "bench-aws-cli-site";
    let mut mb = Command::new("aws");
    mb.args(["s3", "mb", &format!("s3://{cli_bucket}"), "--endpoint-url", &moto.url]);
    moto.env(&mut mb, scratch.path());
    proc::run(mb, LIMIT)?.check("aws s3 mb")?;
    let plain = scratch.path().join("plain-initial");
    write_plain(&plain, &site)?;
    aws_sync(&moto, &plain, cli_bucket, scratch.path())?;

    let mut samples: Vec<Vec<Sample>> = CHANGES.iter().map(|_| Vec::new()).collect();
    let mut generation = 0;
    for rep in 0..reps {
        for (i, &k) in CHANGES.iter().enumerate() {
            generation += 1;
            change_files(&mut site, k, generation);
            let copy = scratch.path().join(format!("copy-{generation}"));
            let dist = copy.join("dist");
            let plain = copy.join("plain");
            write_dist(&dist, &site)?;
            write_plain(&plain, &site)?;
            // Alternate which tool goes first, so neither always gets the warmer machine.
            let mut ours = None;
            let mut cli = None;
            for turn in 0..2 {
                if (turn + rep) % 2 == 0 {
                    let mark = moto.mark();
                    let dist_arg = dist.display().to_string();
                    let run = stack::xtask(b, &moto, &project, &["sync", "--from-dist", &dist_arg, "--json"], LIMIT)?;
                    let requests = moto.since(mark);
                    ours = Some((
                        run.run.wall.as_secs_f64(),
                        object_puts(&requests, &site_bucket).count(),
                        run.json["aws_calls_total"].as_u64().unwrap_or(requests.len() as u64),
                    ));
                } else {
                    let mark = moto.mark();
                    let wall = aws_sync(&moto, &plain, cli_bucket, scratch.path())?;
                    let requests = moto.since(mark);
                    cli = Some((wall, object_puts(&requests, cli_bucket).count(), requests.len()));
                }
            }
            let (ours, cli) = (ours.expect("ran"), cli.expect("ran"));
            samples[i].push(Sample {
                ours_secs: ours.0,
                ours_puts: ours.1 as f64,
                ours_calls: ours.2 as f64,
                cli_secs: cli.0,
                cli_puts: cli.1 as f64,
                cli_requests: cli.2 as f64,
            });
            std::fs::remove_dir_all(&copy)?;
        }
    }

    let mut table = Table::new(
        format!("{FILES} files, fresh copy each run (mtimes = now), {reps} runs per row; PUTs from moto's access log"),
        &[
            "files changed",
            "xtask sync: PUTs",
            "aws s3 sync: PUTs",
            "xtask sync: wall",
            "aws s3 sync: wall",
            "wall ratio (aws / xtask)",
            "xtask calls",
            "aws requests",
        ],
    );
    for (i, k) in CHANGES.iter().enumerate() {
        let s = &samples[i];
        let col = |f: fn(&Sample) -> f64| Summary::of(&s.iter().map(f).collect::<Vec<_>>()).expect("reps > 0");
        let (ow, cw) = (col(|s| s.ours_secs), col(|s| s.cli_secs));
        table.row([
            k.to_string(),
            col(|s| s.ours_puts).count(),
            col(|s| s.cli_puts).count(),
            ow.secs(),
            cw.secs(),
            ratio(cw.median, ow.median),
            col(|s| s.ours_calls).count(),
            col(|s| s.cli_requests).count(),
        ]);
    }
    Ok(Section {
        method: format!(
            "A generated site of {FILES} text files (HTML, JS, CSS, SVG; 0.2–4 KiB) is put in two buckets of one moto \
             server: the bench stack's site bucket by a first `cargo xtask deploy`, a second bucket by a first \
             `aws s3 sync`. Then, {reps} times, for 0, 1 and 50 changed files: a fresh copy is written (every mtime \
             reset to now, as in a CI checkout) and each tool syncs it (`cargo xtask sync --from-dist` — the xtask \
             binary run directly, no cargo — and `aws s3 sync DIR s3://bucket/`), taking turns at going first. \
             PUTs are object uploads counted in moto's access log for both tools; xtask calls are its own count \
             (SDK interceptor, `--json`), aws requests every request moto logged for the CLI. `aws s3 sync` \
             compares size and mtime, so a fresh checkout re-uploads everything; it also sets no per-file \
             Cache-Control, writes no config.json and invalidates nothing, all of which `xtask sync` does."
        ),
        tables: vec![table],
        notes: Vec::new(),
    })
}

/// `aws s3 sync DIR s3://bucket/` against moto; its wall time in seconds.
fn aws_sync(moto: &Moto, dir: &std::path::Path, bucket: &str, scratch: &std::path::Path) -> anyhow::Result<f64> {
    let mut cmd = Command::new("aws");
    cmd.args(["s3", "sync", "--only-show-errors", "--endpoint-url", &moto.url]).arg(dir).arg(format!("s3://{bucket}/"));
    moto.env(&mut cmd, scratch);
    Ok(proc::run(cmd, LIMIT)?.check("aws s3 sync")?.wall.as_secs_f64())
}
