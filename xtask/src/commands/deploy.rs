//! `cargo xtask deploy`: upload what changed, update the stack, migrate, sync the site, invalidate.
//!
//! Phases, in order, each with a progress line and a timing: preflight (everything local is checked
//! before the first AWS call), artifacts, credentials, upload, parameters, stack (no-op check,
//! change set, events), migrations, site, invalidation; then a summary (`--json` for CI,
//! `--dry-run` writes nothing).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use crate::Ctx;
use crate::artifacts::{self, Artifacts, bucket};
use crate::aws::{Aws, Clients, block_on, cfn};
use crate::cloud::{ParameterFile, Template, injected, parameters};
use crate::error::Refusal;
use crate::report::Ui;
use crate::settings::refuse_placeholder;
use crate::site::invalidation;
use crate::site::publish::{self, SiteArgs};
use crate::stack::{migrations, repair, update};

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
    /// Repair a stuck stack first: ROLLBACK_COMPLETE -> delete and recreate,
    /// UPDATE_ROLLBACK_FAILED -> continue the rollback, in progress -> wait
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
    #[command(flatten)]
    pub site: SiteArgs,
}

/// Everything the preflight established without touching AWS.
struct Local {
    stack_name: String,
    template: Template,
    template_shown: String,
    parameters: ParameterFile,
}

fn preflight_local(ctx: &Ctx, overrides: &[(String, String)]) -> anyhow::Result<Local> {
    let settings = ctx.settings()?;
    settings.refuse_placeholders()?;
    let stack_name = settings.stack_name()?.to_string();
    let template_path = ctx.template_path();
    let template_shown = ctx.shown(&template_path);
    let template = Template::load(&template_path, &template_shown)?;
    let parameters_path = ctx.parameters_path();
    let parameters = ParameterFile::load(&parameters_path, &ctx.shown(&parameters_path), &template)?;
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
    Ok(Local { stack_name, template, template_shown, parameters })
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
        let c = Clients::new(aws);
        let stack_name = local.stack_name.as_str();
        let region = aws.region().to_string();
        let (account, mut state) = ui
            .phase("credentials", async {
                // DescribeStacks proves the credentials too; the account comes from the stack's ARN
                // (arn:aws:cloudformation:REGION:ACCOUNT:stack/...), STS is asked only for a new stack.
                let state = cfn::describe(&c.cfn, stack_name).await?;
                let from_arn = state.as_ref().and_then(|s| s.id.split(':').nth(4)).filter(|a| !a.is_empty());
                let account = match from_arn {
                    Some(account) => account.to_string(),
                    None => {
                        let who = c.sts.get_caller_identity().send().await.map_err(|e| {
                            Refusal::new(
                                format!("AWS credentials are not usable: {}", crate::aws::error_line(&e)),
                                "log in (aws sso login), set AWS_PROFILE, or put keys in .env",
                            )
                        })?;
                        who.account().unwrap_or("unknown").to_string()
                    }
                };
                let detail = format!(
                    "account {account}, {region}, stack {stack_name} {}",
                    state.as_ref().map_or("does not exist yet".to_string(), |s| format!("is {}", s.status))
                );
                Ok(((account, state), detail))
            })
            .await?;
        if let Some(s) = &state {
            state = repair::if_needed(&c, s.clone(), self.repair, self.dry_run, ui).await?;
        }

        // 2b. Upload only the keys missing under lambdas/ (one listing).
        let artifact_bucket = ui
            .phase("upload", async {
                let bucket = self
                    .artifact_bucket
                    .clone()
                    .unwrap_or_else(|| bucket::artifact_bucket_name(stack_name, &account, &region));
                let existing = match crate::aws::s3::list_keys(&c.s3, &bucket, artifacts::KEY_PREFIX).await? {
                    Some(keys) => keys,
                    None if self.dry_run => {
                        ui.note(format!("would create the artifact bucket {bucket}"));
                        Default::default()
                    }
                    None => {
                        ui.line(format!("    creating the artifact bucket {bucket} (versioned, encrypted, private)"));
                        bucket::create_artifact_bucket(&c.s3, &bucket, &region, c.plain_http(), ui).await?;
                        Default::default()
                    }
                };
                let t = bucket::upload_missing(
                    &c.s3,
                    &bucket,
                    &artifacts.functions,
                    &existing,
                    self.site.parallel,
                    self.dry_run,
                    ui,
                )
                .await?;
                let detail = format!("s3://{bucket}: {} uploaded, {} already there", t.uploaded, t.skipped);
                ui.with(|s| s.artifacts = Some(t));
                Ok((bucket, detail))
            })
            .await?;

        // 3. Parameters: file + injected artifact bucket/keys + --parameter overrides.
        let effective =
            ui.phase_blocking("parameters", || self.effective_parameters(local, &artifacts, &artifact_bucket, ui))?;

        // 4-5. Stack: no-op check, change set, execute, events, root cause on failure.
        let request = update::Request {
            stack_name,
            template: &local.template,
            effective: &effective,
            state: state.as_ref(),
            artifact_bucket: &artifact_bucket,
            dry_run: self.dry_run,
            confirm: self.confirm,
        };
        let outcome = ui.phase("stack", update::run(&c, &request, ui)).await?;

        // 6. Migrations.
        if outcome.created || self.migrate || !outcome.changes.is_empty() {
            ui.phase("migrations", async {
                let migrate_fn = outcome.outputs.migrate_function_name.as_deref().unwrap_or_default();
                if self.migrate || migrations::needs_migration(outcome.created, &outcome.changes, migrate_fn) {
                    let done = migrations::run(&c, &outcome.outputs, self.dry_run, ui).await?;
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
        let changed = ui.phase("site", publish::sync_site(&c, &outcome.outputs, &artifacts.site, &opts, ui)).await?;
        ui.phase("invalidation", async {
            let detail = invalidation::invalidate(&c, &outcome.outputs, &changed, &opts, ui).await?;
            Ok(((), detail))
        })
        .await?;
        Ok(())
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
        let done = injected::inject(&local.template, &mut effective, artifact_bucket, &artifacts.functions);
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
