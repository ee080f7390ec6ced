//! The stack phase of a deploy: skip CloudFormation when the stack already runs this template with
//! these parameters; otherwise create a change set, list it, (optionally) ask, execute it and
//! follow its events, with the root cause first on failure.

use std::collections::BTreeMap;

use anyhow::Context;
use aws_sdk_cloudformation::types::ChangeSetType;

use crate::artifacts::bucket;
use crate::aws::Clients;
use crate::aws::cfn::{self, Change, StackState};
use crate::cloud::{StackOutputs, Template, parameters};
use crate::error::Refusal;
use crate::report::Ui;

/// CloudFormation takes templates up to this size inline; larger ones go through the artifact bucket.
const MAX_TEMPLATE_BODY: usize = 51_200;

/// What the stack phase is asked to do.
pub struct Request<'a> {
    pub stack_name: &'a str,
    pub template: &'a Template,
    pub effective: &'a BTreeMap<String, String>,
    /// The stack as DescribeStacks reported it (None: it does not exist yet).
    pub state: Option<&'a StackState>,
    pub artifact_bucket: &'a str,
    pub dry_run: bool,
    /// Show the change set and ask before executing it.
    pub confirm: bool,
}

/// What the stack phase did.
pub struct Outcome {
    pub outputs: StackOutputs,
    /// The stack was created by this run.
    pub created: bool,
    /// The changes of the executed change set (empty when nothing was executed).
    pub changes: Vec<Change>,
}

/// Runs the stack phase; the `String` is the phase's one-line detail.
pub async fn run(c: &Clients, req: &Request<'_>, ui: &Ui) -> anyhow::Result<(Outcome, String)> {
    let live = req.state.filter(|s| !s.is_unborn());
    let unchanged = |s: &StackState| Outcome { outputs: s.outputs.clone(), created: false, changes: Vec::new() };
    // No-op check against what the stack itself says it runs: its parameters (DescribeStacks,
    // already read) and, only if those match, its template (one GetTemplate). Nothing is kept in
    // stack tags: CloudFormation propagates those to every resource, so a hash there would
    // re-tag the whole stack on each change.
    if let Some(s) = live
        && (cfn::is_success(&s.status) || s.status == "UPDATE_ROLLBACK_COMPLETE")
        && parameters::deployed_parameters_match(req.template, req.effective, &s.parameters)
        && cfn::deployed_template_sha256(&c.cfn, &s.id).await?.as_deref() == Some(req.template.sha256.as_str())
    {
        ui.with(|sum| sum.stack_action = "unchanged".into());
        return Ok((unchanged(s), "unchanged: same template and parameters, CloudFormation skipped".into()));
    }
    let kind = if live.is_some() { ChangeSetType::Update } else { ChangeSetType::Create };
    if req.dry_run {
        let what = format!("would create a {} change set", kind.as_str());
        ui.with(|sum| sum.stack_action = what.clone());
        let outcome = live.map_or_else(
            || Outcome { outputs: StackOutputs::default(), created: false, changes: Vec::new() },
            unchanged,
        );
        return Ok((outcome, what));
    }
    let body = &req.template.body;
    let (body, url) = if body.len() > MAX_TEMPLATE_BODY {
        let key = bucket::upload_template(&c.s3, req.artifact_bucket, &req.template.sha256, body).await?;
        (None, Some(template_url(c, req.artifact_bucket, &key)))
    } else {
        (Some(body.as_str()), None)
    };
    let created = kind == ChangeSetType::Create;
    let request = cfn::ChangeSetRequest {
        stack_name: req.stack_name,
        kind: kind.clone(),
        template_body: body,
        template_url: url,
        parameters: req.effective,
    };
    let Some(cs) = cfn::create_change_set(&c.cfn, request).await? else {
        // Same resources (e.g. only a tag-less reformat of the template): nothing to execute.
        ui.with(|sum| sum.stack_action = "empty change set (no changes)".into());
        let outcome = live.map_or_else(
            || Outcome { outputs: StackOutputs::default(), created: false, changes: Vec::new() },
            unchanged,
        );
        return Ok((outcome, "the change set was empty: nothing to execute".into()));
    };
    ui.line(format!("    change set ({}), {} changes:", kind.as_str(), cs.changes.len()));
    for ch in &cs.changes {
        ui.line(format!("      {}", ch.describe()));
    }
    ui.with(|sum| {
        sum.change_set_changes = cs.changes.iter().map(|c| format!("{} {}", c.action, c.logical_id)).collect();
    });
    if req.confirm {
        let answer = match ui.ask("execute this change set? [y/N]", "run it from a terminal") {
            Ok(a) => a,
            Err(e) => {
                cfn::delete_change_set(&c.cfn, &cs.id, &cs.stack_id).await;
                return Err(e);
            }
        };
        if !matches!(answer.as_str(), "y" | "Y" | "yes") {
            cfn::delete_change_set(&c.cfn, &cs.id, &cs.stack_id).await;
            return Err(Refusal::new(
                "deploy cancelled: the change set was not executed (and is deleted)",
                "run it again when ready",
            )
            .into());
        }
    }
    let marker = cfn::last_event_id(&c.cfn, &cs.stack_id).await;
    if let Err(e) = c.cfn.execute_change_set().change_set_name(&cs.id).stack_name(&cs.stack_id).send().await {
        let cause = cfn::root_cause(&c.cfn, &cs.stack_id, marker.as_deref()).await.ok().flatten();
        if let Some(cause) = cause {
            return Err(cfn::failure_error("after ExecuteChangeSet failed", Some(&cause), "execute"));
        }
        return Err(Refusal::new(
            format!("{} change set failed to execute: {}", kind.as_str(), crate::aws::error_line(&e)),
            "fix the cause above (a parameter or resource setting) and deploy again",
        )
        .into());
    }
    let end = cfn::stream_until_terminal(&c.cfn, &cs.stack_id, marker.as_deref(), ui).await?;
    if !cfn::is_success(&end) {
        let cause = cfn::root_cause(&c.cfn, &cs.stack_id, marker.as_deref()).await?;
        return Err(cfn::failure_error(&end, cause.as_ref(), kind.as_str()));
    }
    let after = cfn::describe(&c.cfn, &cs.stack_id).await?.context("the stack vanished after its update")?;
    ui.with(|sum| sum.stack_action = format!("{} ({} changes)", end, cs.changes.len()));
    let detail = format!("{end} ({} changes)", cs.changes.len());
    Ok((Outcome { outputs: after.outputs, created, changes: cs.changes }, detail))
}

/// The S3 URL CloudFormation reads a large template from. Always the AWS form: CloudFormation (and
/// moto, which maps it to its own S3) fetches it itself, not through our endpoint.
fn template_url(c: &Clients, bucket: &str, key: &str) -> String {
    format!("https://{bucket}.s3.{}.amazonaws.com/{key}", c.region)
}
