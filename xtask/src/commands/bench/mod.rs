//! `cargo xtask bench`: claims of "fast" and "minimal" as numbers measured side by side in one run on
//! the same machine, written to `BENCHMARKS.md`.
//!
//! One module per scenario under `bench/`; each returns a [`report::Section`] (how it measured, tables,
//! notes) or an error, which is reported in place of its numbers (the command then exits non-zero
//! after running the others). Times are medians over repetitions with min–max, and comparisons are
//! ratios of medians: these machines are shared and noisy, absolute times are only indicative.

mod api_load;
mod build_costs;
mod cargo_lambda;
mod chart;
mod cold_init;
mod destroy;
pub mod moto;
mod noop_deploy;
pub mod proc;
pub mod report;
mod repro;
mod sam;
mod stack;
pub mod stats;
mod sync;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::ValueEnum;

use crate::Ctx;
use crate::tools::Tools;
use report::Outcome;

/// Measure sync, deploy, builds, cold start and API latency side by side; write BENCHMARKS.md
#[derive(clap::Args, Debug)]
pub struct Bench {
    /// Scenarios to run, in this order [default: all]
    #[arg(value_enum, value_name = "SCENARIO")]
    pub scenarios: Vec<Scenario>,
    /// Short run: fewer repetitions and smaller sizes; every selected scenario still runs
    #[arg(long)]
    pub quick: bool,
    /// Where to write the report [default: BENCHMARKS.md in the project when every scenario runs;
    /// a subset only prints unless --out is given]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// `repro` builds this project twice: the whole workspace, or the build tests' one-function
    /// fixture [default: workspace, fixture with --quick]
    #[arg(long, value_enum, value_name = "WHAT")]
    pub repro_project: Option<ReproProject>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Site sync vs `aws s3 sync` at 100/1,000/10,000 files, 0/1/1 % changed (a growth curve)
    Sync,
    /// Deploy with nothing changed: calls, bytes, wall time; its curve at 200/2,000/10,000 site files
    NoopDeploy,
    /// Two clean builds in two checkouts, artifact hashes compared
    Repro,
    /// Lambda cold init (process start to first Runtime API poll) vs a minimal lambda_http hello
    ColdInit,
    /// Warm API latency and throughput under load, real backends
    ApiLoad,
    /// Emptying a versioned bucket with N = 1,000/10,000/100,000 versions vs the ⌈N/1000⌉×2 floor
    Destroy,
    /// The xtask's first build, and what an edit in lambdas/api or in the xtask rebuilds
    BuildCosts,
    /// `sam deploy` and `cargo xtask deploy` side by side: first, no-op, one function changed
    Sam,
    /// `cargo lambda deploy` and `cargo xtask deploy` of the same function: first, unchanged, changed
    CargoLambda,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReproProject {
    Workspace,
    Fixture,
}

impl Scenario {
    pub const ALL: [Scenario; 9] = [
        Scenario::Sync,
        Scenario::NoopDeploy,
        Scenario::Repro,
        Scenario::ColdInit,
        Scenario::ApiLoad,
        Scenario::Destroy,
        Scenario::BuildCosts,
        Scenario::Sam,
        Scenario::CargoLambda,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Sync => "sync",
            Scenario::NoopDeploy => "noop-deploy",
            Scenario::Repro => "repro",
            Scenario::ColdInit => "cold-init",
            Scenario::ApiLoad => "api-load",
            Scenario::Destroy => "destroy",
            Scenario::BuildCosts => "build-costs",
            Scenario::Sam => "sam",
            Scenario::CargoLambda => "cargo-lambda",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Scenario::Sync => "1. Site sync vs `aws s3 sync`",
            Scenario::NoopDeploy => "2. No-op deploy",
            Scenario::Repro => "3. Reproducible builds",
            Scenario::ColdInit => "4. Lambda cold init",
            Scenario::ApiLoad => "5. Warm API under load",
            Scenario::Destroy => "6. Destroy a versioned bucket",
            Scenario::BuildCosts => "7. Build costs",
            Scenario::Sam => "8. SAM side by side",
            Scenario::CargoLambda => "9. cargo-lambda side by side",
        }
    }
}

/// What every scenario gets.
pub struct Env<'a> {
    pub ctx: &'a Ctx,
    pub tools: &'a Tools,
    pub quick: bool,
    pub repro_project: ReproProject,
    /// A private copy of this xtask binary, run by the AWS scenarios: the shared target dir's
    /// `debug/xtask` may be rebuilt (replaced) by another checkout while the bench runs.
    pub xtask_exe: PathBuf,
    /// Function -> arm64 zip size, when `repro` built the workspace in this run (for `cold-init`).
    pub zip_sizes: std::cell::RefCell<Option<std::collections::BTreeMap<String, u64>>>,
}

impl Bench {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let scenarios = if self.scenarios.is_empty() { Scenario::ALL.to_vec() } else { self.scenarios.clone() };
        let all = Scenario::ALL.iter().all(|s| scenarios.contains(s));
        let out = match (&self.out, all) {
            (Some(path), _) => Some(std::path::absolute(path)?),
            (None, true) => Some(ctx.root.join("BENCHMARKS.md")),
            (None, false) => None,
        };
        let load_before = load_average();
        let tools = Tools::ensure(ctx)?;
        let private = tempfile::tempdir()?;
        let xtask_exe = private.path().join("xtask");
        // /proc/self/exe still reads the running binary after its path was replaced or deleted.
        std::fs::copy("/proc/self/exe", &xtask_exe)
            .or_else(|_| std::fs::copy(std::env::current_exe()?, &xtask_exe))
            .map_err(|e| anyhow::anyhow!("cannot copy the xtask binary for the bench: {e}"))?;
        let bench = Env {
            xtask_exe,
            zip_sizes: Default::default(),
            ctx,
            tools: &tools,
            quick: self.quick,
            repro_project: self.repro_project.unwrap_or(if self.quick {
                ReproProject::Fixture
            } else {
                ReproProject::Workspace
            }),
        };
        let tree_before = source_tree(ctx);
        let mut outcomes = Vec::new();
        for scenario in scenarios {
            eprintln!("==> bench {}", scenario.name());
            let start = Instant::now();
            let result = match scenario {
                Scenario::Sync => sync::run(&bench),
                Scenario::NoopDeploy => noop_deploy::run(&bench),
                Scenario::Repro => repro::run(&bench),
                Scenario::ColdInit => cold_init::run(&bench),
                Scenario::ApiLoad => api_load::run(&bench),
                Scenario::Destroy => destroy::run(&bench),
                Scenario::BuildCosts => build_costs::run(&bench),
                Scenario::Sam => sam::run(&bench),
                Scenario::CargoLambda => cargo_lambda::run(&bench),
            };
            let outcome = Outcome {
                name: scenario.name(),
                title: scenario.title(),
                result: result.map_err(|e| e.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")),
                seconds: start.elapsed().as_secs_f64(),
            };
            match &outcome.result {
                Ok(_) => eprintln!("    ok in {:.0} s", outcome.seconds),
                Err(e) => eprintln!("    FAILED after {:.0} s: {e}", outcome.seconds),
            }
            println!("{}", outcome.markdown());
            outcomes.push(outcome);
        }
        let mut mode = if self.quick {
            "quick (`cargo xtask bench --quick`): fewer repetitions and smaller sizes — indicative only".to_string()
        } else {
            "full (`cargo xtask bench`)".to_string()
        };
        if self.repro_project.is_some() {
            let what = match bench.repro_project {
                ReproProject::Workspace => "the whole workspace",
                ReproProject::Fixture => "the one-function fixture project, not the workspace",
            };
            mode.push_str(&format!("; `repro` built {what} (`--repro-project`)"));
        }
        let machine = machine_info(&load_before);
        let versions = versions(&bench);
        let doc = report::document(&mode, &machine, &versions, &outcomes);
        let mut charts = Vec::new();
        if let Some(out) = &out {
            std::fs::write(out, &doc)?;
            eprintln!("wrote {}", out.display());
            let dir = out.parent().unwrap_or(&ctx.root).join(report::CHARTS_DIR);
            for chart in outcomes.iter().filter_map(|o| o.result.as_ref().ok()).flat_map(|s| &s.charts) {
                std::fs::create_dir_all(&dir)?;
                let path = dir.join(format!("{}.svg", chart.file));
                std::fs::write(&path, chart.svg()).with_context(|| format!("cannot write {}", path.display()))?;
                charts.push(path);
            }
        }
        let failed: Vec<&str> = outcomes.iter().filter(|o| o.result.is_err()).map(|o| o.name).collect();
        if !failed.is_empty() {
            return Err(anyhow::anyhow!("scenario(s) failed: {} (their errors are in the report)", failed.join(", ")));
        }
        // Every build output belongs under the target dir: a file the bench left in the source tree
        // would be found by the tidy tests, or committed.
        let written: Vec<String> = source_tree(ctx)
            .difference(&tree_before)
            .filter(|p| out.as_ref().is_none_or(|o| ctx.root.join(p) != *o) && !charts.contains(&ctx.root.join(p)))
            .cloned()
            .collect();
        if let Some(first) = written.first() {
            return Err(crate::error::Refusal::new(
                format!("the bench wrote {} file(s) inside the source tree, e.g. {first}", written.len()),
                "a scenario builds or writes outside the target dir: point it at ctx.target_dir()",
            )
            .into());
        }
        Ok(())
    }
}

/// Every file of the project, relative to its root, outside `.git` and the target dir.
fn source_tree(ctx: &Ctx) -> std::collections::BTreeSet<String> {
    let target = ctx.target_dir();
    walkdir::WalkDir::new(&ctx.root)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git" && e.path() != target)
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.path().strip_prefix(&ctx.root).ok().map(|p| p.display().to_string()))
        .collect()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn machine_info(load_before: &str) -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("?".to_string(), |(_, m)| m.trim().to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or("?".to_string(), |kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0));
    let nproc = std::thread::available_parallelism().map_or("?".to_string(), |n| n.to_string());
    vec![
        ("date (UTC)".into(), proc::version("date", &["-u", "+%Y-%m-%d %H:%M:%S"])),
        ("nproc".into(), nproc),
        ("CPU".into(), model),
        ("memory".into(), mem),
        ("kernel".into(), proc::version("uname", &["-srm"])),
        ("load average (1/5/15 min) at start".into(), load_before.to_string()),
        ("load average (1/5/15 min) at end".into(), load_average()),
    ]
}

fn versions(b: &Env<'_>) -> Vec<(String, String)> {
    let python = b.tools.bin("python");
    let moto = proc::version(&python, &["-c", "import moto; print(moto.__version__)"]);
    vec![
        ("rustc".into(), proc::version("rustc", &["--version"])),
        ("cargo".into(), proc::version("cargo", &["--version"])),
        ("cargo-lambda".into(), proc::version(b.tools.bin("cargo-lambda"), &["lambda", "--version"])),
        ("moto".into(), moto),
        ("awscli".into(), proc::version("aws", &["--version"])),
        ("wrk".into(), proc::version("wrk", &["-v"])),
        ("PostgreSQL".into(), proc::version("psql", &["--version"])),
        ("Redis".into(), proc::version("redis-server", &["--version"])),
    ]
}
