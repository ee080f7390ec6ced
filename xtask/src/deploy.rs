//! `cargo xtask deploy`: upload what changed, update the stack, migrate, sync the site, invalidate.
//!
//! Phases, in order, each with a progress line and a timing: preflight (everything local is checked
//! before the first AWS call), artifacts, parameters, stack (no-op check, change set, events),
//! migrations, site, invalidation; then a summary (`--json` for CI, `--dry-run` writes nothing).

pub mod bucket;
pub mod migrations;
pub mod report;
pub mod site;
pub mod stack;
pub mod template;

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use aws_sdk_cloudformation::types::ChangeSetType;

use self::report::Ui;
use self::stack::StackState;
use self::template::Template;
use crate::Ctx;
use crate::artifacts::Artifacts;
use crate::aws::{Aws, block_on};
use crate::calls::Clients;
use crate::errors::Refusal;

/// CloudFormation takes templates up to this size inline; larger ones go through the artifact bucket.
const MAX_TEMPLATE_BODY: usize = 51_200;

/// Options shared by `deploy` and `sync` for the site and the CloudFront invalidation.
#[derive(clap::Args, Debug, Clone)]
pub struct SiteArgs {
    /// Delete at most this many stale site files; more are kept and reported
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_delete: usize,
    /// Uploads in flight at once
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub parallel: usize,
    /// Wait for the CloudFront invalidation to complete
    #[arg(long)]
    pub wait: bool,
    /// Past this many paths, an invalidation collapses to `/dir/*` patterns, then to `/*`
    #[arg(long, value_name = "N", default_value_t = 15)]
    pub max_invalidation_paths: usize,
}

impl SiteArgs {
    pub fn options(&self, dry_run: bool) -> site::SyncOptions {
        site::SyncOptions {
            max_delete: self.max_delete,
            parallel: self.parallel,
            dry_run,
            wait: self.wait,
            invalidation_limit: self.max_invalidation_paths.max(1),
        }
    }
}

/// Upload what changed, update the stack (change set), run migrations, sync the site, invalidate
#[derive(clap::Args, Debug)]
pub struct Deploy {
    /// Deploy the artifacts of this dist directory (from `cargo xtask dist`) instead of building
    #[arg(long, value_name = "DIR")]
    pub from_dist: Option<PathBuf>,
    /// Override a stack parameter (repeatable); wins over the parameters file and injected values
    #[arg(long = "parameter", value_name = "KEY=VALUE", value_parser = template::parse_override)]
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
    parameters_shown: String,
    file_parameters: BTreeMap<String, String>,
}

fn preflight_local(ctx: &Ctx, overrides: &[(String, String)]) -> anyhow::Result<Local> {
    let settings = ctx.settings()?;
    settings.refuse_placeholders()?;
    let stack_name = settings.stack_name()?.to_string();
    let template_path = ctx.template_path();
    let template_shown = template::display(&ctx.root, &template_path);
    let template = Template::load(&template_path, &template_shown)?;
    let parameters_path = ctx.parameters_path();
    let parameters_shown = template::display(&ctx.root, &parameters_path);
    let file_parameters =
        template::load_parameters(&parameters_path, &parameters_shown, &template, ctx.global.allow_example_domains)?;
    for (key, value) in overrides {
        if !template.declares(key) {
            return Err(Refusal::new(
                format!("--parameter {key}: {template_shown} has no such parameter"),
                format!("the template's parameters are: {}", template.parameter_names().join(", ")),
            )
            .into());
        }
        crate::config::refuse_placeholder(&format!("--parameter {key}"), value, ctx.global.allow_example_domains)?;
    }
    Ok(Local { stack_name, template, template_shown, parameters_shown, file_parameters })
}

/// Loads the artifacts: `--from-dist DIR`, or a fresh build.
pub fn load_artifacts(ctx: &Ctx, from_dist: Option<&PathBuf>) -> anyhow::Result<Artifacts> {
    match from_dist {
        Some(dir) => Artifacts::from_dist(&std::path::absolute(dir)?),
        None => crate::build::build_artifacts(ctx),
    }
}

/// Prompts on a terminal; refuses without one.
fn ask(question: &str) -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        return Err(Refusal::new(
            "cannot ask for confirmation: standard input is not a terminal",
            "run it from a terminal",
        )
        .into());
    }
    eprint!("{question} ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

impl Deploy {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let ui = Ui::new("deploy", "", "", self.dry_run);
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
                local.file_parameters.len(),
                local.parameters_shown,
                local.template_shown,
                local.template.body.len()
            );
            Ok(((local, aws), detail))
        })?;
        ui.with(|s| {
            s.stack = local.stack_name.clone();
            s.region = aws.region().to_string();
        });
        // 2a. Artifacts, still before any AWS call: a fresh build can take minutes.
        let artifacts = ui.phase_blocking("artifacts", || {
            let artifacts = load_artifacts(ctx, self.from_dist.as_ref())?;
            let detail = format!(
                "{} functions, {} site files ({})",
                artifacts.functions.len(),
                artifacts.site.files.len(),
                self.from_dist.as_ref().map_or("fresh build".to_string(), |d| d.display().to_string())
            );
            Ok((artifacts, detail))
        })?;
        let result = block_on(self.run_async(&aws, &local, artifacts, &ui));
        // The summary is printed on failure too: what was uploaded and which calls were made.
        if let Err(err) = &result {
            // The cause first, above the summary (the events table, if any, is just above).
            eprintln!("FAILED: {}", err.chain().map(ToString::to_string).collect::<Vec<_>>().join(": "));
        }
        ui.finish(self.json)?;
        result
    }

    async fn run_async(&self, aws: &Aws, local: &Local, artifacts: Artifacts, ui: &Ui) -> anyhow::Result<()> {
        let c = Clients::new(aws);
        let stack_name = local.stack_name.as_str();
        let region = aws.region().to_string();
        let (account, mut state) = ui
            .phase("credentials", async {
                let who = c.sts.get_caller_identity().send().await.map_err(|e| {
                    let reachable = e.as_service_error().is_some();
                    let line = crate::calls::sdk_error_line(&e);
                    if reachable {
                        Refusal::new(
                            format!("AWS credentials are not usable: {line}"),
                            "log in (aws sso login), set AWS_PROFILE, or put keys in .env",
                        )
                    } else {
                        Refusal::new(
                            format!("cannot reach AWS STS: {line}"),
                            match &aws.endpoint_url {
                                Some(url) => format!("is the endpoint {url} (AWS_ENDPOINT_URL) up?"),
                                None => "check the network, proxy settings and --region".to_string(),
                            },
                        )
                    }
                })?;
                let account = who.account().unwrap_or("unknown").to_string();
                let state = stack::describe(&c.cfn, stack_name).await?;
                let detail = format!(
                    "account {account}, {region}, stack {stack_name} {}",
                    state.as_ref().map_or("does not exist yet".to_string(), |s| format!("is {}", s.status))
                );
                Ok(((account, state), detail))
            })
            .await?;
        if let Some(s) = &state {
            state = self.repair_if_needed(&c, s.clone(), ui).await?;
        }

        // 2b. Upload only the keys missing under lambdas/ (one listing).
        let artifact_bucket = ui
            .phase("upload", async {
                let bucket = self
                    .artifact_bucket
                    .clone()
                    .unwrap_or_else(|| bucket::artifact_bucket_name(stack_name, &account, &region));
                let existing = match bucket::list_keys(&c.s3, &bucket, "lambdas/").await? {
                    Some(keys) => keys,
                    None if self.dry_run => {
                        ui.note(format!("would create the artifact bucket {bucket}"));
                        Default::default()
                    }
                    None => {
                        ui.line(format!("    creating the artifact bucket {bucket} (versioned, encrypted, private)"));
                        let plain_http = aws.endpoint_url.as_deref().is_some_and(|u| u.starts_with("http://"));
                        bucket::create_artifact_bucket(&c.s3, &bucket, &region, plain_http, ui).await?;
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
                ui.with(|s| s.artifacts = t);
                Ok((bucket, detail))
            })
            .await?;

        // 3. Parameters: file + injected artifact bucket/keys + --parameter overrides.
        let effective = ui.phase_blocking("parameters", || {
            let mut effective = local.file_parameters.clone();
            let mut injected = Vec::new();
            let declared = &local.template;
            if declared.declares("ArtifactBucket") {
                effective.insert("ArtifactBucket".into(), artifact_bucket.clone());
                injected.push("ArtifactBucket");
            }
            for f in &artifacts.functions {
                if declared.declares(&f.code_key_parameter) {
                    effective.insert(f.code_key_parameter.clone(), f.key.clone());
                    injected.push(f.code_key_parameter.as_str());
                } else {
                    ui.note(format!(
                        "{} declares no parameter {} for function {}: its zip is uploaded but not deployed",
                        local.template_shown, f.code_key_parameter, f.function
                    ));
                }
            }
            for (k, v) in &self.overrides {
                effective.insert(k.clone(), v.clone());
            }
            template::check_effective(&local.template, &effective, &local.parameters_shown)?;
            let detail = format!(
                "{} effective ({} injected: {}; {} overridden)",
                effective.len(),
                injected.len(),
                injected.join(", "),
                self.overrides.len()
            );
            Ok((effective, detail))
        })?;

        // 4-5. Stack: no-op check, change set, execute, events, root cause on failure.
        let (outputs, created, changes) =
            ui.phase("stack", self.update_stack(&c, local, state.as_ref(), &effective, &artifact_bucket, ui)).await?;

        // 6. Migrations.
        let migrate_fn = outputs.get("MigrateFunctionName").cloned().unwrap_or_default();
        if created || self.migrate || !changes.is_empty() {
            ui.phase("migrations", async {
                if self.migrate || migrations::needs_migration(created, &changes, &migrate_fn) {
                    let done = migrations::run(&c, &outputs, self.dry_run, ui).await?;
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
        if state.is_none() && self.dry_run && outputs.is_empty() {
            ui.note("the stack does not exist yet: the site plan needs its outputs (a real deploy creates them)");
            return Ok(());
        }
        let changed = ui
            .phase("site", async {
                let (changed, detail) = site::sync_site(&c, &outputs, &artifacts.site, &opts, ui).await?;
                Ok((changed, detail))
            })
            .await?;
        ui.phase("invalidation", async {
            let detail = site::invalidate(&c, &outputs, &changed, &opts, ui).await?;
            Ok(((), detail))
        })
        .await?;
        Ok(())
    }

    /// Handles a stack that cannot take a change set as it is (only with `--repair`).
    async fn repair_if_needed(&self, c: &Clients, s: StackState, ui: &Ui) -> anyhow::Result<Option<StackState>> {
        let status = s.status.as_str();
        let stuck_hint = "pass --repair to fix it first (see `cargo xtask deploy --help`)";
        match status {
            "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" => {
                if !self.repair {
                    return Err(Refusal::new(
                        format!("stack {} is {status}: its creation failed and it can only be deleted", s.id),
                        format!("{stuck_hint}: it is deleted and created again"),
                    )
                    .into());
                }
                if self.dry_run {
                    ui.note(format!("would delete the {status} stack and create it again"));
                    return Ok(None);
                }
                ui.phase("repair", async {
                    stack::delete_and_wait(&c.cfn, &s, &[], ui).await?;
                    Ok(((), format!("deleted the {status} stack; creating it again")))
                })
                .await?;
                Ok(None)
            }
            "UPDATE_ROLLBACK_FAILED" => {
                if !self.repair {
                    return Err(Refusal::new(
                        format!("stack {} is UPDATE_ROLLBACK_FAILED", s.id),
                        format!("{stuck_hint}: the rollback is continued"),
                    )
                    .into());
                }
                if self.dry_run {
                    ui.note("would continue the failed rollback");
                    return Ok(Some(s));
                }
                ui.phase("repair", async {
                    let marker = stack::last_event_id(&c.cfn, &s.id).await;
                    c.cfn
                        .continue_update_rollback()
                        .stack_name(&s.id)
                        .send()
                        .await
                        .map_err(|e| anyhow::anyhow!("cannot continue the rollback: {}", stack::short_error(&e)))?;
                    let end = stack::stream_until_terminal(&c.cfn, &s.id, marker.as_deref(), ui).await?;
                    if end != "UPDATE_ROLLBACK_COMPLETE" {
                        let cause = stack::root_cause(&c.cfn, &s.id, marker.as_deref()).await?;
                        return Err(stack::failure_error(&end, cause.as_ref(), "rollback"));
                    }
                    Ok(((), "rollback continued to UPDATE_ROLLBACK_COMPLETE".into()))
                })
                .await?;
                stack::describe(&c.cfn, &s.id).await
            }
            "DELETE_FAILED" => Err(Refusal::new(
                format!("stack {} is DELETE_FAILED", s.id),
                "finish deleting it with `cargo xtask destroy`, then deploy",
            )
            .into()),
            _ if status.ends_with("_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS" => {
                if !self.repair {
                    return Err(Refusal::new(
                        format!("stack {} is {status}: another operation is running", s.id),
                        "wait for it, or pass --repair to wait for it and then deploy",
                    )
                    .into());
                }
                let end = ui
                    .phase("repair", async {
                        let end = stack::stream_until_terminal(
                            &c.cfn,
                            &s.id,
                            stack::last_event_id(&c.cfn, &s.id).await.as_deref(),
                            ui,
                        )
                        .await?;
                        Ok((end.clone(), format!("the running operation ended {end}")))
                    })
                    .await?;
                let next = stack::describe(&c.cfn, &s.id).await?;
                match next {
                    Some(n) if n.status != end || !n.status.ends_with("_IN_PROGRESS") => {
                        Box::pin(self.repair_if_needed(c, n, ui)).await
                    }
                    other => Ok(other),
                }
            }
            _ => Ok(Some(s)),
        }
    }

    /// Returns (outputs, created, changes of the executed change set).
    async fn update_stack(
        &self,
        c: &Clients,
        local: &Local,
        state: Option<&StackState>,
        effective: &BTreeMap<String, String>,
        artifact_bucket: &str,
        ui: &Ui,
    ) -> anyhow::Result<((BTreeMap<String, String>, bool, Vec<stack::Change>), String)> {
        let stack_name = local.stack_name.as_str();
        let params_sha = template::parameters_sha256(effective);
        let live = state.filter(|s| !s.is_unborn());
        if let Some(s) = live
            && s.tags.get(stack::TAG_TEMPLATE) == Some(&local.template.sha256)
            && s.tags.get(stack::TAG_PARAMETERS) == Some(&params_sha)
            && (stack::is_success(&s.status) || s.status == "UPDATE_ROLLBACK_COMPLETE")
        {
            ui.with(|sum| sum.stack_action = "unchanged".into());
            return Ok((
                (s.outputs.clone(), false, Vec::new()),
                "unchanged: same template and parameters, CloudFormation skipped".into(),
            ));
        }
        let kind = if live.is_some() { ChangeSetType::Update } else { ChangeSetType::Create };
        if self.dry_run {
            let what = format!("would create a {} change set", kind.as_str());
            ui.with(|sum| sum.stack_action = what.clone());
            return Ok(((live.map(|s| s.outputs.clone()).unwrap_or_default(), false, Vec::new()), what));
        }
        let mut tags: BTreeMap<String, String> = live
            .map(|s| s.tags.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| !k.starts_with("xtask:"))
            .collect();
        tags.insert(stack::TAG_TEMPLATE.into(), local.template.sha256.clone());
        tags.insert(stack::TAG_PARAMETERS.into(), params_sha);
        let (body, url) = if local.template.body.len() > MAX_TEMPLATE_BODY {
            let key =
                bucket::upload_template(&c.s3, artifact_bucket, &local.template.sha256, &local.template.body).await?;
            (None, Some(template_url(c, artifact_bucket, &key)))
        } else {
            (Some(local.template.body.as_str()), None)
        };
        let created = kind == ChangeSetType::Create;
        let request = stack::ChangeSetRequest {
            stack_name,
            kind: kind.clone(),
            template_body: body,
            template_url: url,
            parameters: effective,
            tags: &tags,
        };
        let Some(cs) = stack::create_change_set(&c.cfn, request).await? else {
            // Same resources (e.g. only a tag-less reformat of the template): nothing to execute.
            ui.with(|sum| sum.stack_action = "empty change set (no changes)".into());
            let outputs = live.map(|s| s.outputs.clone()).unwrap_or_default();
            return Ok(((outputs, false, Vec::new()), "the change set was empty: nothing to execute".into()));
        };
        ui.line(format!("    change set ({}), {} changes:", kind.as_str(), cs.changes.len()));
        for ch in &cs.changes {
            ui.line(format!("      {}", ch.describe()));
        }
        ui.with(|sum| {
            sum.change_set_changes = cs.changes.iter().map(|c| format!("{} {}", c.action, c.logical_id)).collect();
        });
        if self.confirm {
            let answer = match ui.suspend(|| ask("execute this change set? [y/N]")) {
                Ok(a) => a,
                Err(e) => {
                    stack::delete_change_set(&c.cfn, &cs.id, &cs.stack_id).await;
                    return Err(e);
                }
            };
            if !matches!(answer.as_str(), "y" | "Y" | "yes") {
                stack::delete_change_set(&c.cfn, &cs.id, &cs.stack_id).await;
                return Err(Refusal::new(
                    "deploy cancelled: the change set was not executed (and is deleted)",
                    "run it again when ready",
                )
                .into());
            }
        }
        let marker = stack::last_event_id(&c.cfn, &cs.stack_id).await;
        if let Err(e) = c.cfn.execute_change_set().change_set_name(&cs.id).stack_name(&cs.stack_id).send().await {
            let cause = stack::root_cause(&c.cfn, &cs.stack_id, marker.as_deref()).await.ok().flatten();
            if let Some(cause) = cause {
                return Err(stack::failure_error("after ExecuteChangeSet failed", Some(&cause), "execute"));
            }
            return Err(Refusal::new(
                format!("{} change set failed to execute: {}", kind.as_str(), stack::short_error(&e)),
                "fix the cause above (a parameter or resource setting) and deploy again",
            )
            .into());
        }
        let end = stack::stream_until_terminal(&c.cfn, &cs.stack_id, marker.as_deref(), ui).await?;
        if !stack::is_success(&end) {
            let cause = stack::root_cause(&c.cfn, &cs.stack_id, marker.as_deref()).await?;
            return Err(stack::failure_error(&end, cause.as_ref(), kind.as_str()));
        }
        let after = stack::describe(&c.cfn, &cs.stack_id).await?.context("the stack vanished after its update")?;
        ui.with(|sum| sum.stack_action = format!("{} ({} changes)", end, cs.changes.len()));
        Ok(((after.outputs, created, cs.changes.clone()), format!("{end} ({} changes)", cs.changes.len())))
    }
}

/// The S3 URL CloudFormation reads a large template from. Always the AWS form: CloudFormation (and
/// moto, which maps it to its own S3) fetches it itself, not through our endpoint.
fn template_url(c: &Clients, bucket: &str, key: &str) -> String {
    format!("https://{bucket}.s3.{}.amazonaws.com/{key}", c.region)
}
