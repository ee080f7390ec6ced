//! `cargo xtask deploy`: upload what changed, update the stack, migrate, sync the site, invalidate.
//!
//! Phases, in order, each with a progress line and a timing: preflight (everything local is checked
//! before the first AWS call), artifacts, credentials (account and region, before any write),
//! parameters (with what AWS would refuse late), upload, stack (no-op check, change set, events;
//! deletion protection switched on after a first create), migrations, site, invalidation, release
//! record; then a summary (`--json` for CI, `--dry-run` writes nothing). Every wait is bounded by
//! `--timeout`; a rerun after any failure converges.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use crate::Ctx;
use crate::artifacts::{self, Artifacts, bucket, releases};
use crate::aws::s3::Bucket;
use crate::aws::{Aws, Clients, TimeoutArgs, block_on, cfn};
use crate::cloud::{ParameterFile, Template, injected, parameters, transform};
use crate::error::Refusal;
use crate::report::Ui;
use crate::settings::refuse_placeholder;
use crate::site::invalidation;
use crate::site::publish::{self, SiteArgs, Target};
use crate::site::state::Store;
use crate::stack::lock::{self, LockArgs};
use crate::stack::{migrations, preflight, repair, update};

/// Upload what changed, update the stack (change set), run migrations, sync the site, invalidate
#[derive(clap::Args, Debug)]
pub struct Deploy {
    /// Deploy the artifacts of this dist directory (from `cargo xtask dist`) instead of building
    #[arg(long, value_name = "DIR")]
    pub from_dist: Option<PathBuf>,
    /// Override a stack parameter (repeatable); wins over the parameters file and injected values
    #[arg(long = "parameter", value_name = "KEY=VALUE", value_parser = parameters::parse_override)]
    pub overrides: Vec<(String, String)>,
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
    /// Artifact bucket [default: <stack>-artifacts-<account>-<region>, created on first use]
    #[arg(long, value_name = "NAME")]
    pub artifact_bucket: Option<String>,
    /// Keep the zips of this many recent releases in the artifact bucket (0: never delete any)
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub keep_releases: usize,
    #[command(flatten)]
    pub site: SiteArgs,
    #[command(flatten)]
    pub timeout: TimeoutArgs,
    #[command(flatten)]
    pub lock: LockArgs,
}

/// Everything the preflight established without touching AWS.
struct Local {
    stack_name: String,
    template: Template,
    template_shown: String,
    parameters: ParameterFile,
    /// The environment name to inject, when one was set explicitly and the template takes one.
    environment: Option<String>,
}

fn preflight_local(ctx: &Ctx, overrides: &[(String, String)]) -> anyhow::Result<Local> {
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
    Ok(Local { stack_name, template, template_shown, parameters, environment })
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

impl Deploy {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let ui = Ui::new("deploy", self.dry_run);
        // 1. Preflight: nothing below touches AWS until the template and parameters are valid.
        let (local, aws) = ui.preflight(|| {
            if self.confirm && !self.dry_run && !std::io::stdin().is_terminal() {
                return Err(Refusal::new(
                    "--confirm asks before executing the change set, and standard input is not a terminal",
                    "run it from a terminal, or drop --confirm (CI proceeds by default; --dry-run shows the plan)",
                )
                .into());
            }
            let local = preflight_local(ctx, &self.overrides)?;
            let aws = Aws::connect(ctx)?;
            let detail = format!(
                "{} parameters from {}, template {} ({} bytes)",
                local.parameters.values.len(),
                local.parameters.shown,
                local.template_shown,
                local.template.body.len()
            );
            Ok(((local, aws), detail))
        })?;
        ui.with(|s| {
            s.stack = Some(local.stack_name.clone());
            s.region = aws.region().to_string();
        });
        // 2a. Artifacts, still before any AWS call: a fresh build can take minutes.
        let artifacts = match &self.from_dist {
            Some(dir) => ui.phase_blocking("artifacts", || {
                let artifacts = artifacts::build::load(ctx, Some(dir), &ui)?;
                let detail = format!(
                    "{} functions, {} site files ({})",
                    artifacts.functions.len(),
                    artifacts.site.files.len(),
                    dir.display()
                );
                Ok((artifacts, detail))
            })?,
            None => artifacts::build::build_from_source(ctx, &Ui::plain("build"))?,
        };
        let result = block_on(self.run_async(&aws, &local, artifacts, &ui));
        // The summary is printed on failure too: what was uploaded and which calls were made.
        ui.conclude(result, self.json)
    }

    async fn run_async(&self, aws: &Aws, local: &Local, artifacts: Artifacts, ui: &Ui) -> anyhow::Result<()> {
        let c = Clients::new(aws, self.timeout.deadline());
        let stack_name = local.stack_name.as_str();
        let region = aws.region().to_string();
        // Who and where, before anything is written.
        let (account, state) = ui
            .phase("credentials", async {
                // DescribeStacks proves the credentials too; STS is asked only for a new stack.
                let state = cfn::describe(&c.cfn, stack_name).await?;
                let account = crate::aws::account(&c, state.as_ref()).await?;
                let detail = format!(
                    "account {account}, region {region}, stack {stack_name} {}",
                    state.as_ref().map_or("does not exist yet".to_string(), |s| format!("is {}", s.status))
                );
                Ok(((account, state), detail))
            })
            .await?;
        let artifact_bucket = Bucket::new(
            self.artifact_bucket.clone().unwrap_or_else(|| bucket::artifact_bucket_name(stack_name, &account, &region)),
            &account,
        );

        // 3. Parameters (file + injected artifact bucket/keys + --parameter), checked with what AWS
        // would refuse late, all before the first write.
        let effective = ui
            .phase("parameters", async {
                let (effective, detail) = self.effective_parameters(local, &artifacts, &artifact_bucket.name, ui)?;
                let ctx = preflight::Context {
                    template: &local.template,
                    effective: &effective,
                    region: &region,
                    account: &account,
                    stack: stack_name,
                    shown: &local.parameters.shown,
                };
                preflight::check(&ctx)?;
                self.check_concurrency(&c, &local.template, &effective, state.is_none()).await?;
                Ok((effective, detail))
            })
            .await?;
        // From here on this run writes to the stack: under its lock (a dry run writes nothing).
        let mut ensured = None;
        let held = if self.dry_run {
            None
        } else {
            let req = lock::Request {
                bucket: &artifact_bucket,
                stack: stack_name,
                command: "deploy",
                commit: &artifacts.git_commit,
            };
            ui.phase("lock", async {
                match lock::acquire(&c, &req, &self.lock, ui).await? {
                    (None, _) => {
                        // A first deploy: the lock lives in the artifact bucket, made first.
                        ensured = Some(bucket::ensure(&c, &artifact_bucket, false, ui).await?);
                        lock::acquire(&c, &req, &self.lock, ui).await
                    }
                    taken => Ok(taken),
                }
            })
            .await?
        };
        let bucket = (&artifact_bucket, ensured);
        let result = self.locked(&c, local, artifacts, ui, &account, state, bucket, &effective).await;
        match held {
            Some(held) => lock::released(result, held.release(&c, ui).await, ui),
            None => result,
        }
    }

    /// The phases that write to the stack, under its lock: repair, upload, stack, migrations, site,
    /// invalidation, release record.
    #[allow(clippy::too_many_arguments)]
    async fn locked(
        &self,
        c: &Clients,
        local: &Local,
        artifacts: Artifacts,
        ui: &Ui,
        account: &str,
        mut state: Option<cfn::StackState>,
        // The artifact bucket, and its keys when the lock phase already made it.
        (artifact_bucket, ensured): (&Bucket, Option<std::collections::HashSet<String>>),
        effective: &BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        let stack_name = local.stack_name.as_str();
        if let Some(s) = &state {
            state = repair::if_needed(c, s.clone(), self.repair, self.dry_run, ui).await?;
        }

        // 2b. Upload only the keys missing under lambdas/ (one listing).
        ui.phase("upload", async {
            let existing = match ensured {
                Some(existing) => existing,
                None => bucket::ensure(c, artifact_bucket, self.dry_run, ui).await?,
            };
            let t = bucket::upload_missing(
                c,
                artifact_bucket,
                &artifacts.functions,
                &existing,
                self.site.parallel,
                self.dry_run,
                ui,
            )
            .await?;
            let detail = format!("{artifact_bucket}: {} uploaded, {} already there", t.uploaded, t.skipped);
            ui.with(|s| s.artifacts = Some(t));
            Ok(((), detail))
        })
        .await?;

        // 4-5. Stack: no-op check, change set, execute, events, root cause on failure. A first create
        // runs with deletion protection off (a failed create can then roll back and leave nothing);
        // an update right after it switches protection on.
        let first = if state.is_none() { injected::unprotected_for_create(&local.template, effective) } else { None };
        // What CloudFormation receives: Versions and the API Deployment renamed after what they
        // capture, so they are replaced exactly when that changes (cloud/transform.rs).
        let submitted = transform::transform(&local.template, first.as_ref().unwrap_or(effective))?;
        let protected_template = match &first {
            Some(_) => Some(transform::transform(&local.template, effective)?),
            None => None,
        };
        let request = update::Request {
            stack_name,
            template: &submitted,
            effective: first.as_ref().unwrap_or(effective),
            state: state.as_ref(),
            artifact_bucket,
            dry_run: self.dry_run,
            confirm: self.confirm,
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

        // 6. Migrations.
        if outcome.created || self.migrate || !outcome.changes.is_empty() {
            ui.phase("migrations", async {
                let migrate_fn = outcome.outputs.migrate_function_name.as_deref().unwrap_or_default();
                if self.migrate || migrations::needs_migration(outcome.created, &outcome.changes, migrate_fn) {
                    let done = migrations::run(c, &outcome.outputs, self.dry_run, ui).await?;
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

        // 7-8. Site and invalidation.
        let opts = self.site.options(self.dry_run);
        if state.is_none() && self.dry_run && outcome.outputs.is_empty() {
            ui.note("the stack does not exist yet: the site plan needs its outputs (a real deploy creates them)");
            return Ok(());
        }
        let store = Store { bucket: artifact_bucket.clone(), stack: stack_name.to_string() };
        if let Some(target) = Target::of(&outcome.outputs, account, store, ui) {
            let pending =
                ui.phase("site", publish::sync_site(c, &target, &outcome.outputs, &artifacts.site, &opts, ui)).await?;
            ui.phase("invalidation", async {
                let detail = invalidation::invalidate(c, &target, &pending, &opts, ui).await?;
                Ok(((), detail))
            })
            .await?;
        }

        // 9. The release record and the pruning of artifacts no recent release needs.
        if !self.dry_run && self.changed_anything(ui) {
            ui.phase("release", async {
                let who = match c.sts.get_caller_identity().send().await {
                    Ok(who) => who.arn().unwrap_or("unknown").to_string(),
                    Err(_) => "unknown".to_string(),
                };
                let draft = releases::Draft {
                    artifacts: &artifacts,
                    commit: artifacts.git_commit.clone(),
                    who,
                    parameters: effective,
                    outputs: &outcome.outputs.all,
                };
                let number = releases::record(c, artifact_bucket, stack_name, draft).await?;
                let pruned =
                    releases::prune(c, artifact_bucket, self.keep_releases, &artifacts, self.site.parallel).await?;
                Ok(((), format!("release {number} recorded; {pruned} zips no recent release uses deleted")))
            })
            .await?;
        }
        Ok(())
    }

    /// Whether this run changed the stack, uploaded a zip or changed the site.
    fn changed_anything(&self, ui: &Ui) -> bool {
        ui.with(|s| {
            s.stack_action != "unchanged"
                || s.artifacts.as_ref().is_some_and(|t| t.uploaded > 0)
                || s.site.as_ref().is_some_and(|t| t.uploaded > 0 || t.deleted > 0)
        })
    }

    /// The account can give the functions the concurrency they reserve (one GetAccountSettings).
    async fn check_concurrency(
        &self,
        c: &Clients,
        template: &Template,
        effective: &BTreeMap<String, String>,
        new_stack: bool,
    ) -> anyhow::Result<()> {
        let wanted = preflight::reserved_concurrency(template, effective);
        if wanted == 0 {
            return Ok(());
        }
        let settings = c.lambda.get_account_settings().send().await.map_err(|e| {
            anyhow::anyhow!("cannot read the account's Lambda settings: {}", crate::aws::error_line(&e))
        })?;
        let Some(limit) = settings.account_limit() else { return Ok(()) };
        // An existing stack's functions already hold their reservations: only the account's
        // total can be checked for them.
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

    /// The parameters file, what the deploy injects, then `--parameter` overrides; checked against
    /// the template's constraints.
    fn effective_parameters(
        &self,
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
        for (k, v) in &self.overrides {
            effective.insert(k.clone(), v.clone());
        }
        parameters::check_effective(&local.template, &effective, &local.parameters.shown)?;
        let detail = format!(
            "{} effective ({} injected: {}; {} overridden)",
            effective.len(),
            done.parameters.len(),
            done.parameters.join(", "),
            self.overrides.len()
        );
        Ok((effective, detail))
    }
}
