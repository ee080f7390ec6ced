//! Scenario `noop-deploy`: `cargo xtask deploy --from-dist` when nothing changed, from a fresh copy of
//! the project and dist (mtimes reset): AWS calls by operation, bytes uploaded, wall time. The first
//! deploy (stack created, everything uploaded) runs in the same session as the reference. Then the
//! growth curve: no-op deploys of sites of 200, 2,000 and 10,000 files (the last in the full run),
//! whose calls should stay flat apart from listing pages.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Env;
use super::chart::{Chart, Series};
use super::moto::Moto;
use super::report::{Section, Table};
use super::stack::{self, Project, XtaskRun, generated_site, write_dist};
use super::stats::{Summary, bytes, ratio};

const LIMIT: Duration = Duration::from_secs(900);
const SITE_FILES: usize = 200;

/// The sizes of the curve, and the no-op runs at each.
fn curve_sizes(quick: bool) -> &'static [(usize, usize)] {
    if quick { &[(200, 1), (2000, 1)] } else { &[(200, 3), (2000, 3), (10_000, 2)] }
}

pub fn run(b: &Env<'_>) -> anyhow::Result<Section> {
    let reps = if b.quick { 3 } else { 7 };
    let moto = Moto::start(b.tools)?;
    let scratch = tempfile::tempdir()?;
    let distribution = stack::create_distribution(&moto, scratch.path())?;
    let site = generated_site(SITE_FILES);

    let deploy = |n: usize| -> anyhow::Result<XtaskRun> {
        // A fresh copy every time: nothing carried over on disk from the previous run.
        let project = Project::new(b.ctx, &distribution)?;
        let dist = project.path("dist");
        write_dist(&dist, &site)?;
        let dist_arg = dist.display().to_string();
        let run = stack::xtask(b, &moto, &project, &["deploy", "--from-dist", &dist_arg, "--json"], LIMIT)?;
        eprintln!("    deploy {n}: {:.2} s, {} calls", run.run.wall.as_secs_f64(), run.json["aws_calls_total"]);
        Ok(run)
    };
    let first = deploy(0)?;
    let mut noops = Vec::new();
    for n in 1..=reps {
        noops.push(deploy(n)?);
    }

    let walls: Vec<f64> = noops.iter().map(|r| r.run.wall.as_secs_f64()).collect();
    let wall = Summary::of(&walls).expect("reps > 0");
    let num = |r: &XtaskRun, k: &str| r.json[k].as_u64().unwrap_or(0) as f64;
    let summary_of = |k: &str| Summary::of(&noops.iter().map(|r| num(r, k)).collect::<Vec<_>>()).expect("reps > 0");
    let bytes_up = Summary::of(&noops.iter().map(|r| r.uploaded_bytes() as f64).collect::<Vec<_>>()).expect("reps");

    let mut overview = Table::new(
        format!("Project with 2 functions and a {SITE_FILES}-file site; {reps} no-op runs, each from a fresh copy"),
        &["deploy", "wall", "AWS calls", "of which writes", "bytes uploaded", "change sets", "invalidations"],
    );
    overview.row([
        "first (creates the stack)".to_string(),
        super::stats::fmt_secs(first.run.wall.as_secs_f64()),
        num(&first, "aws_calls_total").to_string(),
        num(&first, "aws_write_calls").to_string(),
        bytes(first.uploaded_bytes()),
        first.call("CloudFormation.CreateChangeSet").to_string(),
        first.call("CloudFront.CreateInvalidation").to_string(),
    ]);
    overview.row([
        "no-op (nothing changed)".to_string(),
        wall.secs(),
        summary_of("aws_calls_total").count(),
        summary_of("aws_write_calls").count(),
        format!("{} B", bytes_up.count()),
        Summary::of(&noops.iter().map(|r| r.call("CloudFormation.CreateChangeSet") as f64).collect::<Vec<_>>())
            .expect("reps")
            .count(),
        Summary::of(&noops.iter().map(|r| r.call("CloudFront.CreateInvalidation") as f64).collect::<Vec<_>>())
            .expect("reps")
            .count(),
    ]);
    overview.row([
        "ratio first / no-op".to_string(),
        ratio(first.run.wall.as_secs_f64(), wall.median),
        ratio(num(&first, "aws_calls_total"), summary_of("aws_calls_total").median),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ]);

    let mut ops: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in &noops {
        for op in r.calls().keys() {
            ops.entry(op.clone()).or_default();
        }
    }
    for (op, counts) in ops.iter_mut() {
        *counts = noops.iter().map(|r| r.call(op) as f64).collect();
    }
    let mut by_op = Table::new(
        "No-op deploy: AWS calls by operation (SDK interceptor, `--json`)",
        &["operation", "calls", "first deploy"],
    );
    for (op, counts) in &ops {
        by_op.row([format!("`{op}`"), Summary::of(counts).expect("reps").count(), first.call(op).to_string()]);
    }

    let mut phases = Table::new("No-op deploy: time per phase (from the summary)", &["phase", "time"]);
    let names: Vec<String> = noops[0].json["phases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["phase"].as_str().map(String::from))
        .collect();
    for name in names {
        let secs: Vec<f64> = noops.iter().filter_map(|r| r.phase(&name)).collect();
        if let Some(s) = Summary::of(&secs) {
            phases.row([name, s.secs()]);
        }
    }
    // Its lock (taken, removed) is the only thing a no-op deploy writes.
    let notes = match noops.iter().find(|r| num(r, "aws_write_calls") > 2.0) {
        Some(r) => vec![format!("a no-op deploy made write calls beyond its lock: {}", r.json["aws_calls"])],
        None => Vec::new(),
    };
    let (curve, chart) = curve(b)?;
    Ok(Section {
        method: format!(
            "moto's server on a loopback port, the deploy tests' moto-friendly stack. One first deploy creates it \
             (reference), then {reps} deploys with nothing changed, each from a fresh copy of the project and of \
             its dist directory (`--from-dist`, so no cargo build: the xtask binary runs directly and the wall \
             time excludes cargo's own build check). Calls are counted by the deploy's SDK interceptor (`--json`). \
             The growth curve repeats this on a new moto per size: a first deploy of a site of N files, then \
             no-op deploys."
        ),
        tables: vec![overview, by_op, phases, curve],
        notes,
        charts: vec![chart],
    })
}

/// No-op deploys at each site size: calls, reads, writes, listing pages, wall; and its chart.
fn curve(b: &Env<'_>) -> anyhow::Result<(Table, Chart)> {
    let mut table = Table::new(
        "No-op deploy as the site grows (a new moto per size; fresh copy each run)",
        &["site files", "runs", "AWS calls", "reads", "writes", "S3.ListObjectsV2", "wall"],
    );
    let (mut calls, mut listings) = (Vec::new(), Vec::new());
    for &(files, reps) in curve_sizes(b.quick) {
        let moto = Moto::start(b.tools)?;
        let scratch = tempfile::tempdir()?;
        let distribution = stack::create_distribution(&moto, scratch.path())?;
        let site = generated_site(files);
        let mut runs = Vec::new();
        for n in 0..=reps {
            let project = Project::new(b.ctx, &distribution)?;
            let dist = project.path("dist");
            write_dist(&dist, &site)?;
            let dist_arg = dist.display().to_string();
            let run = stack::xtask(b, &moto, &project, &["deploy", "--from-dist", &dist_arg, "--json"], LIMIT)?;
            // The first deploy of each size creates the stack and uploads the site: not a no-op.
            if n > 0 {
                runs.push(run);
            }
        }
        let col = |f: &dyn Fn(&XtaskRun) -> f64| Summary::of(&runs.iter().map(f).collect::<Vec<_>>()).expect("reps");
        let num = |r: &XtaskRun, k: &str| r.json[k].as_u64().unwrap_or(0) as f64;
        let n = files as f64;
        calls.push((n, col(&|r| num(r, "aws_calls_total")).median));
        listings.push((n, col(&|r| r.call("S3.ListObjectsV2") as f64).median));
        table.row([
            super::stats::thousands(files as u64),
            reps.to_string(),
            col(&|r| num(r, "aws_calls_total")).count(),
            col(&|r| num(r, "aws_read_calls")).count(),
            col(&|r| num(r, "aws_write_calls")).count(),
            col(&|r| r.call("S3.ListObjectsV2") as f64).count(),
            col(&|r| r.run.wall.as_secs_f64()).secs(),
        ]);
    }
    let chart = Chart {
        file: "noop-deploy-calls".into(),
        title: "AWS calls of a deploy with nothing changed".into(),
        x_label: "site files (log scale)".into(),
        y_label: "calls (median)".into(),
        series: vec![
            Series { name: "all calls".into(), points: calls },
            Series { name: "S3.ListObjectsV2".into(), points: listings },
        ],
    };
    Ok((table, chart))
}
