//! Scenario `sync`: `cargo xtask sync` vs `aws s3 sync` on generated sites of 100, 1,000 and 10,000
//! files (the last in the full run only), against the same moto S3, from fresh copies (every mtime
//! reset to now, like a CI checkout) with 0, 1 and 1 % of the files changed: a growth curve. PUTs are
//! counted in moto's access log for both tools; our reads and writes by the SDK interceptor; wall
//! time is each process's.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use super::chart::{Chart, Series};
use super::moto::{Moto, object_puts};
use super::report::{Section, Table};
use super::stack::{self, Project, change_files, generated_site, write_dist, write_plain};
use super::stats::{Summary, bytes, ratio, thousands};
use super::{Env, proc};

const LIMIT: Duration = Duration::from_secs(1200);

/// The site size at which a no-op sync's CPU must stay within 2× `sha256sum` over the same files.
const GOAL_FILES: usize = 10_000;

struct Sample {
    ours_secs: f64,
    /// User + system CPU of the xtask process.
    ours_cpu: f64,
    /// `sha256sum` over the same dist's files, CPU (user + system).
    sha256sum_cpu: f64,
    ours_puts: f64,
    ours_reads: f64,
    /// Of those, ListObjectsV2 pages (of the site bucket).
    ours_pages: f64,
    ours_writes: f64,
    cli_secs: f64,
    cli_puts: f64,
    cli_requests: f64,
}

/// The site sizes of the curve, and how many runs per row at each.
fn sizes(quick: bool) -> &'static [(usize, usize)] {
    if quick { &[(100, 2), (1000, 2)] } else { &[(100, 5), (1000, 5), (10_000, 2)] }
}

/// 0, 1 and 1 % of `files` changed.
fn changes(files: usize) -> [usize; 3] {
    [0, 1, (files / 100).max(2)]
}

/// One size of the curve: a fresh moto and stack, then `reps` rounds of every change count.
/// Also the size of the site manifest in the artifact bucket afterwards.
fn measure(b: &Env<'_>, files: usize, reps: usize) -> anyhow::Result<(Vec<Vec<Sample>>, Option<u64>)> {
    let moto = Moto::start(b.tools)?;
    let scratch = tempfile::tempdir()?;
    let distribution = stack::create_distribution(&moto, scratch.path())?;
    let project = Project::new(b.ctx, &distribution)?;
    let mut site = generated_site(files);

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

    let changes = changes(files);
    let mut samples: Vec<Vec<Sample>> = changes.iter().map(|_| Vec::new()).collect();
    let mut generation = 0;
    for rep in 0..reps {
        for (i, &k) in changes.iter().enumerate() {
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
                        run.run.cpu.as_secs_f64(),
                        object_puts(&requests, &site_bucket).count(),
                        run.json["aws_read_calls"].as_u64().unwrap_or_default(),
                        run.json["aws_write_calls"].as_u64().unwrap_or_default(),
                        run.json["aws_calls"]["S3.ListObjectsV2"].as_u64().unwrap_or_default(),
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
                ours_cpu: ours.1,
                sha256sum_cpu: sha256sum_cpu(&dist)?,
                ours_puts: ours.2 as f64,
                ours_reads: ours.3 as f64,
                ours_writes: ours.4 as f64,
                ours_pages: ours.5 as f64,
                cli_secs: cli.0,
                cli_puts: cli.1 as f64,
                cli_requests: cli.2 as f64,
            });
            std::fs::remove_dir_all(&copy)?;
        }
    }
    // What the site's bookkeeping weighs: the manifest a sync downloads and, on any change, uploads.
    let aws = |args: &[&str]| -> Option<String> {
        let mut cmd = Command::new("aws");
        cmd.args(args).args(["--output", "text", "--endpoint-url", &moto.url]);
        moto.env(&mut cmd, scratch.path());
        let out = proc::run(cmd, LIMIT).ok()?.check("aws s3api").ok()?.stdout();
        Some(out.trim().to_string()).filter(|s| !s.is_empty() && s != "None")
    };
    let query = format!("Buckets[?starts_with(Name, '{}-artifacts-')].Name", stack::STACK);
    let key = format!("sites/{}/manifest.json", stack::STACK);
    let manifest = aws(&["s3api", "list-buckets", "--query", &query]).and_then(|bucket| {
        aws(&["s3api", "head-object", "--bucket", &bucket, "--key", &key, "--query", "ContentLength"])?
            .parse::<u64>()
            .ok()
    });
    Ok((samples, manifest))
}

pub fn run(b: &Env<'_>) -> anyhow::Result<Section> {
    let mut table = Table::new(
        "Fresh copy each run (mtimes = now); PUTs from moto's access log; reads and writes by our SDK interceptor",
        &[
            "files",
            "changed",
            "runs",
            "xtask sync: PUTs",
            "aws s3 sync: PUTs",
            "xtask sync: wall",
            "aws s3 sync: wall",
            "wall ratio (aws / xtask)",
            "xtask CPU",
            "CPU / sha256sum",
            "xtask reads",
            "of them listing pages",
            "reads goal ⌈N/1000⌉+2",
            "xtask writes",
            "aws requests",
        ],
    );
    let (mut rows, mut over, mut manifest_sizes, mut noop_cpu) = (0, Vec::new(), Vec::new(), Vec::new());
    // Reads besides the listing pages, per row (the goal allows 2).
    let mut besides_pages = Vec::new();
    let mut series = [("xtask sync", Vec::new()), ("aws s3 sync", Vec::new()), ("goal (reads)", Vec::new())];
    for &(files, reps) in sizes(b.quick) {
        let (samples, manifest) = measure(b, files, reps)?;
        if let Some(size) = manifest {
            manifest_sizes.push(format!(
                "{} files: {} ({} per file)",
                thousands(files as u64),
                bytes(size),
                bytes(size / files as u64)
            ));
        }
        for (i, k) in changes(files).iter().enumerate() {
            let s = &samples[i];
            let col = |f: fn(&Sample) -> f64| Summary::of(&s.iter().map(f).collect::<Vec<_>>()).expect("reps > 0");
            let (ow, cw) = (col(|s| s.ours_secs), col(|s| s.cli_secs));
            let goal = files.div_ceil(1000) + 2;
            let reads = col(|s| s.ours_reads);
            let (cpu, hash) = (col(|s| s.ours_cpu), col(|s| s.sha256sum_cpu));
            if *k == 0 && hash.median > 0.0 {
                noop_cpu.push((files, cpu.median / hash.median));
            }
            rows += 1;
            if *k == 0 {
                let n = files as f64;
                series[0].1.push((n, reads.median + col(|s| s.ours_writes).median));
                series[1].1.push((n, col(|s| s.cli_requests).median));
                series[2].1.push((n, goal as f64));
            }
            if reads.median > goal as f64 {
                over.push((files, reads.median - goal as f64));
            }
            besides_pages.push(reads.median - col(|s| s.ours_pages).median);
            table.row([
                thousands(files as u64),
                k.to_string(),
                reps.to_string(),
                col(|s| s.ours_puts).count(),
                col(|s| s.cli_puts).count(),
                ow.secs(),
                cw.secs(),
                ratio(cw.median, ow.median),
                cpu.secs(),
                // Below the 10 ms tick, `sha256sum` reads as zero: no ratio to show.
                if hash.median > 0.0 { ratio(cpu.median, hash.median) } else { "– (sha256sum < 10 ms)".into() },
                reads.count(),
                col(|s| s.ours_pages).count(),
                goal.to_string(),
                col(|s| s.ours_writes).count(),
                col(|s| s.cli_requests).count(),
            ]);
        }
    }
    let mut notes = Vec::new();
    if !noop_cpu.is_empty() {
        let ratios: Vec<String> = noop_cpu
            .iter()
            .map(|(files, r)| format!("{} files: {}", thousands(*files as u64), ratio(*r, 1.0)))
            .collect();
        let goal = match noop_cpu.iter().find(|(files, _)| *files == GOAL_FILES) {
            Some((_, r)) if *r <= 2.0 => "met".to_string(),
            Some((_, r)) => format!("missed ({})", ratio(*r, 1.0)),
            None => format!("not measured (no {}-file row in this run)", thousands(GOAL_FILES as u64)),
        };
        notes.push(format!(
            "CPU of a sync with nothing changed against `sha256sum` over the same files: {}. The goal, at most 2×, is \
             set at {} files, where reading and hashing the files dominate: {goal}. Below that the xtask's fixed \
             start (its SDK clients, the stack's outputs, the lock) outweighs reading and hashing them.",
            ratios.join(", "),
            thousands(GOAL_FILES as u64)
        ));
    }
    if !manifest_sizes.is_empty() {
        notes.push(format!(
            "the site manifest a sync downloads (and uploads again on any change): {}",
            manifest_sizes.join(", ")
        ));
    }
    if let (Some(min), Some(max)) =
        (besides_pages.iter().copied().reduce(f64::min), besides_pages.iter().copied().reduce(f64::max))
    {
        let besides = if min == max { format!("{min}") } else { format!("{min}–{max}") };
        notes.push(format!(
            "reads besides the listing pages: {besides} in every row (the stack's outputs by DescribeStacks, and the \
             site manifest, which also holds the pending invalidation; the goal allows 2)"
        ));
    }
    if !over.is_empty() {
        let sizes: BTreeSet<String> = over.iter().map(|(n, _)| thousands(*n as u64)).collect();
        let by: BTreeSet<String> = over.iter().map(|(_, d)| d.to_string()).collect();
        notes.push(format!(
            "reads are over ⌈N/1000⌉+2 in {} of {rows} rows (at {} files), by {}: the bucket holds config.json beside \
             the N files, so at a multiple of 1,000 files the listing takes one page more than ⌈N/1000⌉",
            over.len(),
            sizes.into_iter().collect::<Vec<_>>().join(" and "),
            by.into_iter().collect::<Vec<_>>().join("–"),
        ));
    }
    Ok(Section {
        method: format!(
            "For each size N of the curve ({}), a generated site of N text files (HTML, JS, CSS, SVG; 0.2–4 KiB) is put \
             in two buckets of a new moto server: the bench stack's site bucket by a first `cargo xtask deploy`, a \
             second bucket by a first `aws s3 sync`. Then, the row's number of times, for 0, 1 and 1 % of the files \
             changed: a fresh copy is written (every mtime \
             reset to now, as in a CI checkout) and each tool syncs it (`cargo xtask sync --from-dist` — the xtask \
             binary run directly, no cargo — and `aws s3 sync DIR s3://bucket/`), taking turns at going first. \
             PUTs are object uploads counted in moto's access log for both tools; xtask calls are its own count \
             (SDK interceptor, `--json`), aws requests every request moto logged for the CLI. xtask CPU is the \
             process's user + system time (its local work: reading and hashing the dist, planning, the SDK), \
             beside `sha256sum` over the same dist's files (10 ms resolution). `aws s3 sync` \
             compares size and mtime, so a fresh checkout re-uploads everything; it also sets no per-file \
             Cache-Control, writes no config.json and invalidates nothing, all of which `xtask sync` does. Our \
             writes include the bookkeeping: the lock (taken, removed) and, on a change, the site manifest twice \
             (with the paths to invalidate before the first upload, with the new files once CloudFront took them).",
            sizes(b.quick).iter().map(|(n, _)| thousands(*n as u64)).collect::<Vec<_>>().join(", ")
        ),
        tables: vec![table],
        notes,
        charts: vec![Chart {
            file: "sync-calls".into(),
            title: "AWS calls of a sync with nothing changed (fresh checkout)".into(),
            x_label: "site files (log scale)".into(),
            y_label: "calls (median)".into(),
            series: series.into_iter().map(|(name, points)| Series { name: name.into(), points }).collect(),
        }],
    })
}

/// CPU seconds (user + system) of `sha256sum` over every file of `dir`.
fn sha256sum_cpu(dir: &std::path::Path) -> anyhow::Result<f64> {
    let mut cmd = Command::new("sha256sum");
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry?;
        if entry.file_type().is_file() {
            cmd.arg(entry.path());
        }
    }
    Ok(proc::run(cmd, LIMIT)?.check("sha256sum")?.cpu.as_secs_f64())
}

/// `aws s3 sync DIR s3://bucket/` against moto; its wall time in seconds.
fn aws_sync(moto: &Moto, dir: &std::path::Path, bucket: &str, scratch: &std::path::Path) -> anyhow::Result<f64> {
    let mut cmd = Command::new("aws");
    cmd.args(["s3", "sync", "--only-show-errors", "--endpoint-url", &moto.url]).arg(dir).arg(format!("s3://{bucket}/"));
    moto.env(&mut cmd, scratch);
    Ok(proc::run(cmd, LIMIT)?.check("aws s3 sync")?.wall.as_secs_f64())
}
