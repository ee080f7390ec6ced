//! The stack phase of a deploy: skip CloudFormation when the stack already runs this template with
//! these parameters; otherwise create a change set, list it, (optionally) ask, execute it and
//! follow its events, with the root cause first on failure.

use std::collections::BTreeMap;

use anyhow::Context;
use aws_sdk_cloudformation::types::ChangeSetType;

use crate::artifacts::bucket;
use crate::aws::Clients;
use crate::aws::cfn::{self, Change, Operation, StackState};
use crate::aws::s3::{self, Bucket};
use crate::cloud::{StackOutputs, Template, parameters};
use crate::error::Refusal;
use crate::report::Ui;

/// CloudFormation takes templates up to this size inline; larger ones go through the artifact bucket.
const MAX_TEMPLATE_BODY: usize = 51_200;

/// What a run may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Everything: the deploy itself.
    Deploy,
    /// Nothing: every decision is computed and reported.
    DryRun,
    /// Nothing either, but the stack's change set is created, described and deleted again, so the
    /// summary holds CloudFormation's own list of changes and replacements.
    Plan,
}

impl Mode {
    pub fn writes(self) -> bool {
        self == Mode::Deploy
    }
}

/// What the stack phase is asked to do.
pub struct Request<'a> {
    pub stack_name: &'a str,
    pub template: &'a Template,
    pub effective: &'a BTreeMap<String, String>,
    /// The stack as DescribeStacks reported it (None: it does not exist yet).
    pub state: Option<&'a StackState>,
    pub artifact_bucket: &'a Bucket,
    pub mode: Mode,
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
    if let Some(s) = live
        && let Some(why) = unchanged(c, req, s).await?
    {
        ui.with(|sum| sum.stack_action = "unchanged".into());
        return Ok((unchanged_outcome(s), format!("unchanged: {why}, CloudFormation skipped")));
    }
    let kind = if live.is_some() { ChangeSetType::Update } else { ChangeSetType::Create };
    if req.mode == Mode::Plan {
        return describe_only(c, req, live, ui).await;
    }
    if req.mode == Mode::DryRun {
        let what = format!("would create a {} change set", kind.as_str());
        ui.with(|sum| sum.stack_action = what.clone());
        let outcome = live.map_or_else(
            || Outcome { outputs: StackOutputs::default(), created: false, changes: Vec::new() },
            unchanged_outcome,
        );
        return Ok((outcome, what));
    }
    let created = kind == ChangeSetType::Create;
    let Some(cs) = create_change_set(c, req, kind.clone()).await? else {
        // CloudFormation sees nothing to do (a Description or Metadata edit, say). Remember that, so
        // the next deploy of the same template is read-only again instead of another empty change set.
        if let Some(s) = live {
            remember_no_change(c, req, s).await?;
        }
        ui.with(|sum| sum.stack_action = "empty change set (no changes)".into());
        let outcome = live.map_or_else(
            || Outcome { outputs: StackOutputs::default(), created: false, changes: Vec::new() },
            unchanged_outcome,
        );
        return Ok((outcome, "the change set was empty: nothing to execute".into()));
    };
    ui.line(format!("    change set ({}), {} changes:", kind.as_str(), cs.changes.len()));
    for ch in &cs.changes {
        ui.line(format!("      {}", ch.describe()));
    }
    ui.with(|sum| sum.resource_changes = cs.changes.clone());
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
    // CodeDeploy shifts traffic when an alias moves to a new version: followed alongside the events.
    let mut traffic = super::traffic::TrafficWatch::new(live.map(|s| &s.outputs));
    let op = Operation::begin(&c.cfn, &cs.stack_id, "execute").await;
    let executed = c
        .cfn
        .execute_change_set()
        .change_set_name(&cs.id)
        .stack_name(&cs.stack_id)
        .client_request_token(&op.token)
        .send()
        .await;
    if let Err(e) = executed {
        let cause = cfn::root_cause(&c.cfn, &op).await.ok().flatten();
        if let Some(cause) = cause {
            return Err(cfn::failure_error("after ExecuteChangeSet failed", Some(&cause), "execute"));
        }
        return Err(Refusal::new(
            format!("{} change set failed to execute: {}", kind.as_str(), crate::aws::error_line(&e)),
            "fix the cause above (a parameter or resource setting) and deploy again",
        )
        .into());
    }
    let end = tokio::select! {
        end = cfn::follow(&c.cfn, &op, ui, &c.deadline) => end?,
        never = traffic.follow(c, ui) => match never {},
    };
    if !cfn::is_success(&end) {
        // A rollback CodeDeploy started (an alarm fired during the shift) is the root cause.
        if let Some(rollback) = traffic.rollback(c).await {
            return Err(rollback.error(&end));
        }
        let cause = cfn::root_cause(&c.cfn, &op).await?;
        return Err(cfn::failure_error(&end, cause.as_ref(), kind.as_str()));
    }
    // DescribeStacks may still show the stack as before the update (old outputs): wait until it
    // agrees with the events.
    let after = cfn::describe_settled(&c.cfn, &cs.stack_id, &end, &c.deadline)
        .await?
        .context("the stack vanished after its update")?;
    ui.with(|sum| sum.stack_action = format!("{} ({} changes)", end, cs.changes.len()));
    let detail = format!("{end} ({} changes)", cs.changes.len());
    Ok((Outcome { outputs: after.outputs, created, changes: cs.changes }, detail))
}

/// The change set for `req` (the template through the artifact bucket when it is too large to
/// pass inline); None when CloudFormation finds nothing to change.
async fn create_change_set(
    c: &Clients,
    req: &Request<'_>,
    kind: ChangeSetType,
) -> anyhow::Result<Option<cfn::ChangeSet>> {
    let body = &req.template.body;
    let (body, url) = if body.len() > MAX_TEMPLATE_BODY {
        let key = bucket::upload_template(c, req.artifact_bucket, &req.template.sha256, body).await?;
        (None, Some(template_url(c, &req.artifact_bucket.name, &key)))
    } else {
        (Some(body.as_str()), None)
    };
    let request = cfn::ChangeSetRequest {
        stack_name: req.stack_name,
        kind,
        template_body: body,
        template_url: url,
        parameters: req.effective,
    };
    cfn::create_change_set(&c.cfn, request, &c.deadline).await
}

/// A plan's stack phase: CloudFormation's own changes and replacement flags for an existing stack
/// (its change set, created, described and deleted again; never executed), every resource as an
/// addition for a stack that does not exist yet (a create change set would leave a
/// `REVIEW_IN_PROGRESS` stack behind).
async fn describe_only(
    c: &Clients,
    req: &Request<'_>,
    live: Option<&StackState>,
    ui: &Ui,
) -> anyhow::Result<(Outcome, String)> {
    let Some(s) = live else {
        let changes: Vec<Change> = req
            .template
            .resources
            .iter()
            .map(|(id, r)| Change {
                action: "Add".into(),
                logical_id: id.clone(),
                physical_id: String::new(),
                kind: r.kind.clone(),
                replacement: String::new(),
            })
            .collect();
        let detail = format!("the stack does not exist yet: {} resources to create", changes.len());
        ui.with(|sum| {
            sum.stack_action = "would create the stack".into();
            sum.resource_changes = changes;
        });
        return Ok((Outcome { outputs: StackOutputs::default(), created: false, changes: Vec::new() }, detail));
    };
    let Some(cs) = create_change_set(c, req, ChangeSetType::Update).await? else {
        ui.with(|sum| sum.stack_action = "empty change set (no changes)".into());
        return Ok((unchanged_outcome(s), "the change set is empty: nothing would change".into()));
    };
    cfn::delete_change_set(&c.cfn, &cs.id, &cs.stack_id).await;
    let detail = format!("{} changes (change set described and deleted, not executed)", cs.changes.len());
    ui.with(|sum| {
        sum.stack_action = format!("would update ({} changes)", cs.changes.len());
        sum.resource_changes = cs.changes;
    });
    Ok((unchanged_outcome(s), detail))
}

fn unchanged_outcome(s: &StackState) -> Outcome {
    Outcome { outputs: s.outputs.clone(), created: false, changes: Vec::new() }
}

/// Why the stack already runs what the deploy would give it, if it does. Compared with what the
/// stack itself says it runs, never with a local record: its parameters (DescribeStacks, already
/// read) and its template (one GetTemplate): the same bytes, the same template in another
/// formatting (comments, key order, short or long form), or a request CloudFormation already
/// answered with an empty change set (one HeadObject): the same deployed template and parameters,
/// the same local template and effective parameters. Nothing is kept in stack tags:
/// CloudFormation propagates those to every resource.
async fn unchanged(c: &Clients, req: &Request<'_>, s: &StackState) -> anyhow::Result<Option<&'static str>> {
    if !(cfn::is_success(&s.status) || s.status == "UPDATE_ROLLBACK_COMPLETE") {
        return Ok(None);
    }
    let Some(deployed) = cfn::deployed_template(&c.cfn, &s.id).await? else { return Ok(None) };
    let same_parameters = parameters::deployed_parameters_match(req.template, req.effective, &s.parameters);
    if same_parameters && cfn::body_sha256(&deployed) == req.template.sha256 {
        return Ok(Some("same template and parameters"));
    }
    let Ok(deployed) = Template::parse(&deployed) else { return Ok(None) };
    if same_parameters && deployed.canonical_sha256() == req.template.canonical_sha256() {
        return Ok(Some("the same template (formatted differently) and parameters"));
    }
    let marker = no_change_key(req, &deployed, s);
    if s3::exists(c, req.artifact_bucket, &marker).await? {
        return Ok(Some("CloudFormation found no change in this request before"));
    }
    Ok(None)
}

/// The key of the record that CloudFormation found no change from the stack as it runs (its
/// template and parameters) to this request (the local template and the effective parameters).
fn no_change_key(req: &Request<'_>, deployed: &Template, s: &StackState) -> String {
    use sha2::{Digest, Sha256};
    // Both maps are ordered: the same pair always hashes the same.
    let parameters = serde_json::to_vec(&(&s.parameters, req.effective)).unwrap_or_default();
    format!(
        "state/{}/no-change/{}-{}-{}",
        req.stack_name,
        deployed.canonical_sha256(),
        req.template.canonical_sha256(),
        hex::encode(Sha256::digest(parameters))
    )
}

async fn remember_no_change(c: &Clients, req: &Request<'_>, s: &StackState) -> anyhow::Result<()> {
    let Some(deployed) = cfn::deployed_template(&c.cfn, &s.id).await? else { return Ok(()) };
    let Ok(deployed) = Template::parse(&deployed) else { return Ok(()) };
    let key = no_change_key(req, &deployed, s);
    s3::put_checked(c, req.artifact_bucket, &key, Vec::new(), "application/octet-stream", None).await
}

/// The S3 URL CloudFormation reads a large template from. Always the AWS form: CloudFormation (and
/// moto, which maps it to its own S3) fetches it itself, not through our endpoint.
fn template_url(c: &Clients, bucket: &str, key: &str) -> String {
    format!("https://{bucket}.s3.{}.amazonaws.com/{key}", c.region)
}
