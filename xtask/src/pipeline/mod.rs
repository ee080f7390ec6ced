//! The deploy pipeline that `deploy`, `plan` and `rollback` share: one sequence of phases from the
//! credentials to the release record, fed either with artifacts (a fresh build or a dist) or with
//! an earlier release read back from the artifact bucket ([`recorded`]).
//!
//! Phases, in order, each with a progress line and a timing: credentials (account and region,
//! before any write), parameters (with what AWS would refuse late), lock, repair, upload, stack
//! (no-op check, change set, events; deletion protection switched on after a first create),
//! migrations, site, invalidation, release record. Every wait is bounded by `--timeout`; a rerun
//! after any failure converges. A dry run writes nothing; a plan writes nothing either but asks
//! CloudFormation for the change set, lists it and deletes it again.

pub mod recorded;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::Ctx;
use crate::artifacts::{self, Artifacts, bucket, releases};
use crate::aws::s3::Bucket;
use crate::aws::{Aws, Clients, TimeoutArgs, cfn};
use crate::cloud::{ParameterFile, Template, injected, parameters, transform};
use crate::error::Refusal;
use crate::report::{CodeKeyChange, Ui};
use crate::settings::refuse_placeholder;
use crate::site::invalidation;
use crate::site::publish::{self, SiteArgs, Target};
use crate::site::state::Store;
use crate::stack::lock::{self, LockArgs};
use crate::stack::{migrations, preflight, repair, update};

pub use crate::stack::update::Mode;

/// The flags every command that runs the pipeline shares (`deploy`, `rollback`).
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Show the change set and ask before executing it (needs a terminal)
    #[arg(long)]
    pub confirm: bool,
    /// Repair a stuck stack first: ROLLBACK_FAILED -> delete and recreate, UPDATE_ROLLBACK_FAILED
    /// -> continue the rollback, in progress -> wait. (A ROLLBACK_COMPLETE stack, a create that
    /// failed cleanly, is always deleted and created again.)
    #[arg(long)]
    pub repair: bool,
    /// Run the migration function even if the change set did not call for it (e.g. after a
    /// migration failed for a passing reason and the stack itself is unchanged)
    #[arg(long)]
    pub migrate: bool,
    /// Compute everything, write nothing (no bucket, upload, change set, invalidation)
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary as JSON on stdout (progress stays on stderr)
    #[arg(long)]
    pub json: bool,
    /// Artifact bucket [default: deploy.toml's env.NAME.artifact_bucket, else <stack>-artifacts-<account>-<region>, created on first use]
    #[arg(long, value_name = "NAME")]
    pub artifact_bucket: Option<String>,
    /// Keep the artifacts of this many recent releases in the artifact bucket (0: never delete any)
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub keep_releases: usize,
    #[command(flatten)]
    pub site: SiteArgs,
    #[command(flatten)]
    pub timeout: TimeoutArgs,
    #[command(flatten)]
    pub lock: LockArgs,
}

impl RunArgs {
    pub fn mode(&self) -> Mode {
        if self.dry_run { Mode::DryRun } else { Mode::Deploy }
    }

    /// `--confirm` needs a terminal to ask on; refused up front rather than after the build.
    pub fn check_terminal(&self) -> anyhow::Result<()> {
        use std::io::IsTerminal;
        if self.confirm && !self.dry_run && !std::io::stdin().is_terminal() {
            return Err(Refusal::new(
                "--confirm asks before executing the change set, and standard input is not a terminal",
                "run it from a terminal, or drop --confirm (CI proceeds by default; --dry-run shows the plan)",
            )
            .into());
        }
        Ok(())
    }
}

/// The template and parameters of the working tree, checked without touching AWS.
pub struct Local {
    pub stack_name: String,
    pub template: Template,
    pub template_shown: String,
    pub parameters: ParameterFile,
    /// The environment name to inject, when one was set explicitly and the template takes one.
    pub environment: Option<String>,
    /// `--parameter KEY=VALUE`, applied last.
    pub overrides: Vec<(String, String)>,
}

/// What a run deploys.
pub enum Source {
    /// The working tree's template and parameters with these artifacts (a build or a dist).
    Artifacts { local: Box<Local>, artifacts: Artifacts },
    /// An earlier release, read back from the artifact bucket: its template, its effective
    /// parameters, its zips and its site files (`None`: the release before the live one).
    /// `scratch` is where its site files are downloaded to.
    Release { stack_name: String, number: Option<u64>, scratch: PathBuf },
}

impl Source {
    fn stack_name(&self) -> &str {
        match self {
            Source::Artifacts { local, .. } => &local.stack_name,
            Source::Release { stack_name, .. } => stack_name,
        }
    }
}

/// What the run settled on deploying, once the source is read and its parameters computed.
struct Resolved {
    stack_name: String,
    template: Template,
    artifacts: Artifacts,
    effective: BTreeMap<String, String>,
    /// The release this run rolls back to.
    rollback_of: Option<u64>,
}

/// Loads the working tree's template and parameters and checks them (no AWS call).
pub fn load_local(ctx: &Ctx, overrides: &[(String, String)]) -> anyhow::Result<Local> {
    let settings = ctx.settings()?;
    settings.refuse_placeholders()?;
    let stack_name = settings.stack_name()?.to_string();
    let template_path = ctx.template_path();
    let template_shown = ctx.shown(&template_path);
    let template = Template::load(&template_path, &template_shown)?;
    let parameters = ParameterFile::load_layers(&ctx.parameter_files(&settings)?, &template)?;
    parameters.refuse_placeholders(ctx.global.allow_example_domains)?;
    for (key, value) in overrides {
        if !template.declares(key) {
            return Err(Refusal::new(
                format!("--parameter {key}: {template_shown} has no such parameter"),
                format!("the template's parameters are: {}", template.parameter_names().join(", ")),
            )
            .into());
        }
        refuse_placeholder(&format!("--parameter {key}"), value, ctx.global.allow_example_domains)?;
    }
    let environment = explicit_environment(&settings, &template, &parameters, overrides)?;
    Ok(Local { stack_name, template, template_shown, parameters, environment, overrides: overrides.to_vec() })
}

/// The environment name set with `--environment` (or its variable or deploy.toml key), for
/// templates that declare [`injected::ENVIRONMENT_NAME`]. Two different names for one deploy are
/// refused rather than one silently winning: the name is part of resource names.
fn explicit_environment(
    settings: &crate::settings::Settings,
    template: &Template,
    parameters: &ParameterFile,
    overrides: &[(String, String)],
) -> anyhow::Result<Option<String>> {
    let env = &settings.environment;
    if matches!(env.source, crate::settings::Source::Default) || !template.declares(injected::ENVIRONMENT_NAME) {
        return Ok(None);
    }
    let file = parameters
        .values
        .get(injected::ENVIRONMENT_NAME)
        .map(|v| (v, parameters.origins.get(injected::ENVIRONMENT_NAME).unwrap_or(&parameters.shown).clone()));
    let flag = overrides
        .iter()
        .rev()
        .find(|(k, _)| k == injected::ENVIRONMENT_NAME)
        .map(|(_, v)| (v, format!("--parameter {}", injected::ENVIRONMENT_NAME)));
    for (value, origin) in [file, flag].into_iter().flatten() {
        if *value != env.value {
            return Err(Refusal::new(
                format!(
                    "the environment is {:?} ({}) but {origin} sets {} to {value:?}",
                    env.value,
                    env.source,
                    injected::ENVIRONMENT_NAME
                ),
                "set the environment in one place",
            )
            .into());
        }
    }
    Ok(Some(env.value.clone()))
}

/// Runs the pipeline from the credentials phase on.
pub async fn run(aws: &Aws, source: Source, args: &RunArgs, mode: Mode, ui: &Ui) -> anyhow::Result<()> {
    let c = Clients::new(aws, args.timeout.deadline());
    let stack_name = source.stack_name().to_string();
    let region = aws.region().to_string();
    // Who and where, before anything is written.
    let (account, state) = ui
        .phase("credentials", async {
            // DescribeStacks proves the credentials too; STS is asked only for a new stack.
            let state = cfn::describe(&c.cfn, &stack_name).await?;
            let account = crate::aws::account(&c, state.as_ref()).await?;
            let detail = format!(
                "account {account}, region {region}, stack {stack_name} {}",
                state.as_ref().map_or("does not exist yet".to_string(), |s| format!("is {}", s.status))
            );
            Ok(((account, state), detail))
        })
        .await?;
    ui.with(|s| s.account = Some(account.clone()));
    let name =
        bucket::artifact_bucket_of(args.artifact_bucket.as_deref(), &aws.settings, &stack_name, &account, &region);
    let artifact_bucket = Bucket::new(name, &account);

    // The parameters (computed, or a release's own), checked with what AWS would refuse late, all
    // before the first write.
    let resolved = match source {
        Source::Artifacts { local, artifacts } => {
            ui.phase("parameters", async {
                let (effective, detail) = effective_parameters(&local, &artifacts, &artifact_bucket.name, ui)?;
                let shown = local.parameters.shown.clone();
                let resolved = Resolved {
                    stack_name: stack_name.clone(),
                    template: local.template,
                    artifacts,
                    effective,
                    rollback_of: None,
                };
                check_parameters(&c, &resolved, state.as_ref(), &region, &account, &shown).await?;
                Ok((resolved, detail))
            })
            .await?
        }
        Source::Release { number, scratch, .. } => {
            ui.phase("release", async {
                let release = recorded::choose(&c, &artifact_bucket, &stack_name, number, state.as_ref()).await?;
                let (mut resolved, detail) =
                    recorded::load(&c, &artifact_bucket, release, &scratch, args.site.parallel, ui).await?;
                resolved.stack_name = stack_name.clone();
                let shown = format!("release {}", resolved.rollback_of.unwrap_or_default());
                check_parameters(&c, &resolved, state.as_ref(), &region, &account, &shown).await?;
                Ok((resolved, detail))
            })
            .await?
        }
    };
    record_code_key_changes(&resolved, state.as_ref(), ui);

    // From here on this run writes to the stack: under its lock (a dry run or a plan writes nothing).
    let mut ensured = None;
    let held = if mode.writes() {
        let req = lock::Request {
            bucket: &artifact_bucket,
            stack: &stack_name,
            command: if resolved.rollback_of.is_some() { "rollback" } else { "deploy" },
            commit: &resolved.artifacts.git_commit,
        };
        ui.phase("lock", async {
            match lock::acquire(&c, &req, &args.lock, ui).await? {
                (None, _) => {
                    // A first deploy: the lock lives in the artifact bucket, made first.
                    ensured = Some(bucket::ensure(&c, &artifact_bucket, false, ui).await?);
                    lock::acquire(&c, &req, &args.lock, ui).await
                }
                taken => Ok(taken),
            }
        })
        .await?
    } else {
        None
    };
    let run = Locked { c: &c, args, mode, ui, account: &account, artifact_bucket: &artifact_bucket, ensured };
    let result = run.phases(&resolved, state).await;
    match held {
        Some(held) => lock::released(result, held.release(&c, ui).await, ui),
        None => result,
    }
}

async fn check_parameters(
    c: &Clients,
    resolved: &Resolved,
    state: Option<&cfn::StackState>,
    region: &str,
    account: &str,
    shown: &str,
) -> anyhow::Result<()> {
    let ctx = preflight::Context {
        template: &resolved.template,
        effective: &resolved.effective,
        region,
        account,
        stack: &resolved.stack_name,
        shown,
    };
    preflight::check(&ctx)?;
    check_concurrency(c, &resolved.template, &resolved.effective, state.is_none()).await
}

/// The code keys this run changes, for the summary (and the plan).
fn record_code_key_changes(resolved: &Resolved, state: Option<&cfn::StackState>, ui: &Ui) {
    let changes: Vec<CodeKeyChange> = resolved
        .artifacts
        .functions
        .iter()
        .filter(|f| resolved.template.declares(&f.code_key_parameter))
        .filter_map(|f| {
            let deployed = state.and_then(|s| s.parameters.get(&f.code_key_parameter)).cloned();
            let new = resolved.effective.get(&f.code_key_parameter)?.clone();
            (deployed.as_ref() != Some(&new)).then(|| CodeKeyChange { function: f.function.clone(), deployed, new })
        })
        .collect();
    ui.with(|s| s.code_key_changes = changes);
}

/// The phases that write to the stack (under its lock when they do).
struct Locked<'a> {
    c: &'a Clients,
    args: &'a RunArgs,
    mode: Mode,
    ui: &'a Ui,
    account: &'a str,
    artifact_bucket: &'a Bucket,
    /// The artifact bucket's keys when the lock phase already made it.
    ensured: Option<std::collections::HashSet<String>>,
}

impl Locked<'_> {
    /// Repair, upload, stack, migrations, site, invalidation, release record.
    async fn phases(self, resolved: &Resolved, mut state: Option<cfn::StackState>) -> anyhow::Result<()> {
        let Locked { c, args, mode, ui, account, artifact_bucket, ensured } = self;
        let dry_run = !mode.writes();
        let stack_name = resolved.stack_name.as_str();
        let (template, effective, artifacts) = (&resolved.template, &resolved.effective, &resolved.artifacts);
        if let Some(s) = &state {
            state = repair::if_needed(c, s.clone(), args.repair, dry_run, ui).await?;
        }

        // Upload only the keys missing under lambdas/ (one listing).
        ui.phase("upload", async {
            let existing = match ensured {
                Some(existing) => existing,
                None => bucket::ensure(c, artifact_bucket, dry_run, ui).await?,
            };
            let t = bucket::upload_missing(
                c,
                artifact_bucket,
                &artifacts.functions,
                &existing,
                args.site.parallel,
                dry_run,
                ui,
            )
            .await?;
            let detail = format!("{artifact_bucket}: {} uploaded, {} already there", t.uploaded, t.skipped);
            ui.with(|s| s.artifacts = Some(t));
            Ok(((), detail))
        })
        .await?;

        // Stack: no-op check, change set, execute, events, root cause on failure. A first create
        // runs with deletion protection off (a failed create can then roll back and leave
        // nothing); an update right after it switches protection on.
        let first = if state.is_none() { injected::unprotected_for_create(template, effective) } else { None };
        // What CloudFormation receives: Versions and the API Deployment renamed after what they
        // capture, so they are replaced exactly when that changes (cloud/transform.rs).
        let submitted = transform::transform(template, first.as_ref().unwrap_or(effective))?;
        let protected_template = match &first {
            Some(_) => Some(transform::transform(template, effective)?),
            None => None,
        };
        let request = update::Request {
            stack_name,
            template: &submitted,
            effective: first.as_ref().unwrap_or(effective),
            state: state.as_ref(),
            artifact_bucket,
            mode,
            confirm: args.confirm,
        };
        let mut outcome = ui.phase("stack", update::run(c, &request, ui)).await?;
        if first.is_some() && outcome.created {
            outcome = ui
                .phase("protection", async {
                    let created = cfn::describe(&c.cfn, stack_name).await?;
                    let template = protected_template.as_ref().unwrap_or(&submitted);
                    let request = update::Request { effective, template, state: created.as_ref(), ..request };
                    let (protected, _) = update::run(c, &request, ui).await?;
                    let detail = format!("{} on now that the stack exists", injected::DELETION_PROTECTION);
                    Ok((update::Outcome { created: true, ..protected }, detail))
                })
                .await?;
        }

        // Migrations.
        if outcome.created || args.migrate || !outcome.changes.is_empty() {
            ui.phase("migrations", async {
                let migrate_fn = outcome.outputs.migrate_function_name.as_deref().unwrap_or_default();
                if args.migrate || migrations::needs_migration(outcome.created, &outcome.changes, migrate_fn) {
                    let done = migrations::run(c, &outcome.outputs, dry_run, ui).await?;
                    ui.with(|s| s.migration = done.clone());
                    Ok(((), done))
                } else {
                    Ok((
                        (),
                        "not needed: the change set touched neither the migration function nor the database".into(),
                    ))
                }
            })
            .await?;
        }

        // Site and invalidation.
        let opts = args.site.options(dry_run);
        if state.is_none() && dry_run && outcome.outputs.is_empty() {
            ui.note("the stack does not exist yet: the site plan needs its outputs (a real deploy creates them)");
            return Ok(());
        }
        let store = Store { bucket: artifact_bucket.clone(), stack: stack_name.to_string() };
        if let Some(target) = Target::of(&outcome.outputs, account, store, ui) {
            let published =
                ui.phase("site", publish::sync_site(c, &target, &outcome.outputs, &artifacts.site, &opts, ui)).await?;
            ui.phase("invalidation", async {
                let detail = invalidation::invalidate(c, &target, &published, &opts, ui).await?;
                Ok(((), detail))
            })
            .await?;
        }

        // The release record (with what a rollback to it needs: the template and the site files,
        // content-addressed beside the zips) and the pruning of what no recent release needs.
        if !dry_run && changed_anything(ui) {
            ui.phase("release", async {
                let who = match c.sts.get_caller_identity().send().await {
                    Ok(who) => who.arn().unwrap_or("unknown").to_string(),
                    Err(_) => "unknown".to_string(),
                };
                let kept =
                    releases::keep_sources(c, artifact_bucket, template, &artifacts.site, args.site.parallel).await?;
                let draft = releases::Draft {
                    artifacts,
                    template_key: kept.template_key,
                    commit: artifacts.git_commit.clone(),
                    who,
                    parameters: effective,
                    outputs: &outcome.outputs.all,
                    rollback_of: resolved.rollback_of,
                };
                let number = releases::record(c, artifact_bucket, stack_name, draft).await?;
                let keep = args.keep_releases;
                let pruned =
                    releases::prune(c, artifact_bucket, stack_name, keep, artifacts, args.site.parallel).await?;
                Ok((
                    (),
                    format!(
                        "release {number} recorded ({} site files kept for rollbacks); {pruned}",
                        kept.site_files_uploaded
                    ),
                ))
            })
            .await?;
        }
        Ok(())
    }
}

/// Whether this run changed the stack, uploaded a zip or changed the site.
fn changed_anything(ui: &Ui) -> bool {
    ui.with(|s| {
        s.stack_action != "unchanged"
            || s.artifacts.as_ref().is_some_and(|t| t.uploaded > 0)
            || s.site.as_ref().is_some_and(|t| t.uploaded > 0 || t.deleted > 0)
    })
}

/// The account can give the functions the concurrency they reserve (one GetAccountSettings).
async fn check_concurrency(
    c: &Clients,
    template: &Template,
    effective: &BTreeMap<String, String>,
    new_stack: bool,
) -> anyhow::Result<()> {
    let wanted = preflight::reserved_concurrency(template, effective);
    if wanted == 0 {
        return Ok(());
    }
    let settings =
        c.lambda.get_account_settings().send().await.map_err(|e| {
            anyhow::anyhow!("cannot read the account's Lambda settings: {}", crate::aws::error_line(&e))
        })?;
    let Some(limit) = settings.account_limit() else { return Ok(()) };
    // An existing stack's functions already hold their reservations: only the account's total can
    // be checked for them.
    let unreserved = if new_stack {
        limit.unreserved_concurrent_executions().unwrap_or(0) as i64
    } else {
        limit.concurrent_executions() as i64
    };
    preflight::concurrency_fits(wanted, unreserved, limit.concurrent_executions() as i64).map_err(|why| {
        Refusal::new(
            why,
            "ask AWS for a higher Lambda concurrency quota (Service Quotas), or lower ApiReservedConcurrency",
        )
        .into()
    })
}

/// The parameters file, what the deploy injects, then `--parameter` overrides; checked against the
/// template's constraints.
fn effective_parameters(
    local: &Local,
    artifacts: &Artifacts,
    artifact_bucket: &str,
    ui: &Ui,
) -> anyhow::Result<(BTreeMap<String, String>, String)> {
    let mut effective = local.parameters.values.clone();
    let mut done = injected::inject(&local.template, &mut effective, artifact_bucket, &artifacts.functions);
    if let Some(environment) = &local.environment {
        effective.insert(injected::ENVIRONMENT_NAME.into(), environment.clone());
        done.parameters.push(injected::ENVIRONMENT_NAME.into());
    }
    for (function, parameter) in &done.undeclared {
        ui.note(format!(
            "{} declares no parameter {parameter} for function {function}: its zip is uploaded but not deployed",
            local.template_shown
        ));
    }
    for (k, v) in &local.overrides {
        effective.insert(k.clone(), v.clone());
    }
    parameters::check_effective(&local.template, &effective, &local.parameters.shown)?;
    let detail = format!(
        "{} effective ({} injected: {}; {} overridden)",
        effective.len(),
        done.parameters.len(),
        done.parameters.join(", "),
        local.overrides.len()
    );
    Ok((effective, detail))
}

/// The artifacts of a deploy: `--from-dist DIR` (verified), or a fresh build.
pub fn artifacts(ctx: &Ctx, from_dist: Option<&std::path::Path>, ui: &Ui) -> anyhow::Result<Artifacts> {
    match from_dist {
        Some(dir) => ui.phase_blocking("artifacts", || {
            let artifacts = artifacts::build::load(ctx, Some(dir), ui)?;
            let detail = format!(
                "{} functions, {} site files ({})",
                artifacts.functions.len(),
                artifacts.site.files.len(),
                dir.display()
            );
            Ok((artifacts, detail))
        }),
        None => artifacts::build::build_from_source(ctx, &Ui::plain("build")),
    }
}
