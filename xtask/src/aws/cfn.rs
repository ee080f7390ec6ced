//! CloudFormation operations: the stack's state, its deployed template, change sets, the event
//! stream, the first failure of an operation, and deleting a stack.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::DisplayErrorContext;
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Parameter, TemplateStage};
use sha2::Digest;

use crate::cloud::StackOutputs;
use crate::error::Refusal;
use crate::report::Ui;

/// What DescribeStacks says about the stack (None when it does not exist).
#[derive(Debug, Clone)]
pub struct StackState {
    pub id: String,
    pub status: String,
    pub tags: BTreeMap<String, String>,
    pub outputs: StackOutputs,
    pub parameters: BTreeMap<String, String>,
    pub termination_protection: bool,
}

impl StackState {
    /// A stack that exists only as a container for a CREATE change set (or was never created).
    pub fn is_unborn(&self) -> bool {
        self.status == "REVIEW_IN_PROGRESS"
    }
}

fn err_text<E: std::error::Error>(err: &E) -> String {
    DisplayErrorContext(err).to_string()
}

pub async fn describe(cfn: &Client, name: &str) -> anyhow::Result<Option<StackState>> {
    match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => {
            let Some(s) = out.stacks().first() else { return Ok(None) };
            let status = s.stack_status().map_or("UNKNOWN".into(), |s| s.as_str().to_string());
            if status == "DELETE_COMPLETE" {
                return Ok(None);
            }
            Ok(Some(StackState {
                id: s.stack_id().unwrap_or(name).to_string(),
                status,
                tags: s.tags().iter().map(|t| (t.key().unwrap_or("").into(), t.value().unwrap_or("").into())).collect(),
                outputs: StackOutputs::from_map(
                    s.outputs()
                        .iter()
                        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value().unwrap_or("").to_string())))
                        .collect(),
                ),
                parameters: s
                    .parameters()
                    .iter()
                    .filter_map(|p| {
                        Some((p.parameter_key()?.to_string(), p.parameter_value().unwrap_or("").to_string()))
                    })
                    .collect(),
                termination_protection: s.enable_termination_protection() == Some(true),
            }))
        }
        Err(err) if err_text(&err).contains("does not exist") => Ok(None),
        Err(err) if err.as_service_error().is_none() => Err(Refusal::new(
            format!("cannot reach CloudFormation: {}", super::error_line(&err)),
            "check the network and --region (or AWS_ENDPOINT_URL, when set, points at a running endpoint)",
        )
        .into()),
        Err(err) => Err(Refusal::new(
            format!("cannot describe stack {name}: {}", super::error_line(&err)),
            "check your credentials (aws sso login, AWS_PROFILE, .env) and their cloudformation:DescribeStacks permission",
        )
        .into()),
    }
}

/// The sha256 of the template the stack was last deployed with (as submitted: GetTemplate's
/// Original stage), or None when it cannot be read.
pub async fn deployed_template_sha256(cfn: &Client, stack: &str) -> anyhow::Result<Option<String>> {
    let out = cfn.get_template().stack_name(stack).template_stage(TemplateStage::Original).send().await;
    match out {
        Ok(t) => Ok(t.template_body().map(|b| hex::encode(sha2::Sha256::digest(b.as_bytes())))),
        Err(err) => Err(anyhow::anyhow!("cannot read the template of {stack}: {}", super::error_line(&err))),
    }
}

/// One stack event, as printed and as searched for the root cause.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub time: String,
    pub logical_id: String,
    pub physical_id: String,
    pub kind: String,
    pub status: String,
    pub reason: String,
}

fn to_event(e: &aws_sdk_cloudformation::types::StackEvent) -> Event {
    Event {
        id: e.event_id().unwrap_or("").into(),
        time: e.timestamp().map(|t| t.to_string()).unwrap_or_default(),
        logical_id: e.logical_resource_id().unwrap_or("").into(),
        physical_id: e.physical_resource_id().unwrap_or("").into(),
        kind: e.resource_type().unwrap_or("").into(),
        status: e.resource_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        reason: e.resource_status_reason().unwrap_or("").into(),
    }
}

/// The events of a stack newer than the event `after` (all of them when None), oldest first.
/// DescribeStackEvents pages newest first, so paging stops at `after`: a long history is not re-read.
pub async fn events_since(cfn: &Client, stack: &str, after: Option<&str>) -> anyhow::Result<Vec<Event>> {
    let mut newest_first = Vec::new();
    let mut token = None;
    'pages: loop {
        let out = cfn
            .describe_stack_events()
            .stack_name(stack)
            .set_next_token(token)
            .send()
            .await
            .with_context(|| format!("cannot read the events of {stack}"))?;
        for e in out.stack_events() {
            if after.is_some() && e.event_id() == after {
                break 'pages;
            }
            newest_first.push(to_event(e));
        }
        token = out.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    newest_first.reverse();
    Ok(newest_first)
}

/// The root cause among `events` (oldest first): the first `*_FAILED` event, preferring one with a
/// real reason over the "Resource creation cancelled" noise that follows it.
pub fn first_failure(events: &[Event]) -> Option<&Event> {
    let failed = || events.iter().filter(|e| e.status.ends_with("_FAILED"));
    failed().find(|e| !e.reason.contains("cancelled") && !e.reason.is_empty()).or_else(|| failed().next())
}

/// The first failure of the operation that started after `since_id` (an event id, or None for all),
/// following nested stacks down to the resource that actually failed.
pub async fn root_cause(cfn: &Client, stack: &str, since_id: Option<&str>) -> anyhow::Result<Option<Event>> {
    let recent = events_since(cfn, stack, since_id).await?;
    let mut cause = first_failure(&recent).cloned();
    // Nested stacks: descend while the failure is an AWS::CloudFormation::Stack other than this one.
    for _ in 0..5 {
        let Some(c) = &cause else { break };
        if c.kind != "AWS::CloudFormation::Stack" || c.physical_id.is_empty() || c.logical_id == stack {
            break;
        }
        let nested = events_since(cfn, &c.physical_id, None).await.unwrap_or_default();
        match first_failure(&nested) {
            Some(inner) => {
                let mut inner = inner.clone();
                inner.logical_id = format!("{}/{}", c.logical_id, inner.logical_id);
                cause = Some(inner);
            }
            None => break,
        }
    }
    Ok(cause)
}

pub fn is_terminal(status: &str) -> bool {
    !status.ends_with("_IN_PROGRESS")
}

pub fn is_success(status: &str) -> bool {
    matches!(status, "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE")
}

/// Follows the stack until it reaches a terminal state, printing new events as a table.
/// Returns the final status. `stack` should be the stack id (it stays valid after deletion).
pub async fn stream_until_terminal(
    cfn: &Client,
    stack: &str,
    since_id: Option<&str>,
    ui: &Ui,
) -> anyhow::Result<String> {
    let mut last = since_id.map(String::from);
    let mut delay = Duration::from_millis(500);
    let mut header = false;
    loop {
        let status = match cfn.describe_stacks().stack_name(stack).send().await {
            Ok(out) => {
                out.stacks().first().and_then(|s| s.stack_status()).map_or("UNKNOWN".into(), |s| s.as_str().to_string())
            }
            Err(err) if err_text(&err).contains("does not exist") => "DELETE_COMPLETE".to_string(),
            Err(err) => return Err(anyhow::Error::new(err).context(format!("cannot describe stack {stack}"))),
        };
        if let Ok(new) = events_since(cfn, stack, last.as_deref()).await {
            for e in &new {
                if !header {
                    ui.line(format!(
                        "    {:<10} {:<32} {:<30} {:<26} {}",
                        "time", "resource", "type", "status", "reason"
                    ));
                    header = true;
                }
                let time = e.time.get(11..19).unwrap_or(&e.time);
                ui.line(format!("    {:<10} {:<32} {:<30} {:<26} {}", time, e.logical_id, e.kind, e.status, e.reason));
            }
            if let Some(newest) = new.last() {
                last = Some(newest.id.clone());
            }
        }
        if is_terminal(&status) && status != "REVIEW_IN_PROGRESS" {
            return Ok(status);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// The newest event id of a stack (the marker after which a new operation's events start).
pub async fn last_event_id(cfn: &Client, stack: &str) -> Option<String> {
    let out = cfn.describe_stack_events().stack_name(stack).send().await.ok()?;
    out.stack_events().first().and_then(|e| e.event_id()).map(String::from)
}

pub struct ChangeSetRequest<'a> {
    pub stack_name: &'a str,
    pub kind: ChangeSetType,
    pub template_body: Option<&'a str>,
    pub template_url: Option<String>,
    pub parameters: &'a BTreeMap<String, String>,
}

/// A created change set: its id and its changes (empty: nothing to do, already deleted).
pub struct ChangeSet {
    pub id: String,
    pub stack_id: String,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone)]
pub struct Change {
    pub action: String,
    pub logical_id: String,
    pub physical_id: String,
    pub kind: String,
    pub replacement: String,
}

impl Change {
    pub fn describe(&self) -> String {
        let replace = if self.replacement == "True" { " (replacement)" } else { "" };
        format!("{:<8} {} ({}){replace}", self.action, self.logical_id, self.kind)
    }
}

fn is_no_change(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

pub async fn create_change_set(cfn: &Client, req: ChangeSetRequest<'_>) -> anyhow::Result<Option<ChangeSet>> {
    let name = format!("xtask-{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis());
    let params = req
        .parameters
        .iter()
        .map(|(k, v)| Parameter::builder().parameter_key(k).parameter_value(v).build())
        .collect::<Vec<_>>();
    let out = cfn
        .create_change_set()
        .stack_name(req.stack_name)
        .change_set_name(&name)
        .change_set_type(req.kind.clone())
        .set_template_body(req.template_body.map(String::from))
        .set_template_url(req.template_url)
        .set_parameters(Some(params))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .capabilities(Capability::CapabilityAutoExpand)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot create a change set for {}: {}", req.stack_name, super::error_line(&e)))?;
    let id = out.id().unwrap_or(&name).to_string();
    let stack_id = out.stack_id().unwrap_or(req.stack_name).to_string();
    let mut delay = Duration::from_millis(300);
    loop {
        let mut changes = Vec::new();
        let mut token = None;
        let (status, reason) = loop {
            let d = cfn
                .describe_change_set()
                .change_set_name(&id)
                .stack_name(&stack_id)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("cannot describe change set {name}: {}", super::error_line(&e)))?;
            for c in d.changes() {
                if let Some(r) = c.resource_change() {
                    changes.push(Change {
                        action: r.action().map(|a| a.as_str().to_string()).unwrap_or_default(),
                        logical_id: r.logical_resource_id().unwrap_or("").into(),
                        physical_id: r.physical_resource_id().unwrap_or("").into(),
                        kind: r.resource_type().unwrap_or("").into(),
                        replacement: r.replacement().map(|a| a.as_str().to_string()).unwrap_or_default(),
                    });
                }
            }
            token = d.next_token().map(String::from);
            if token.is_none() {
                break (d.status().cloned(), d.status_reason().unwrap_or("").to_string());
            }
        };
        match status {
            Some(ChangeSetStatus::CreateComplete) => return Ok(Some(ChangeSet { id, stack_id, changes })),
            Some(ChangeSetStatus::Failed) if is_no_change(&reason) => {
                delete_change_set(cfn, &id, &stack_id).await;
                return Ok(None);
            }
            Some(ChangeSetStatus::Failed) => {
                delete_change_set(cfn, &id, &stack_id).await;
                return Err(Refusal::new(
                    format!("the change set for {} failed: {reason}", req.stack_name),
                    "fix the template or parameters named above",
                )
                .into());
            }
            _ => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

pub async fn delete_change_set(cfn: &Client, id: &str, stack_id: &str) {
    let _ = cfn.delete_change_set().change_set_name(id).stack_name(stack_id).send().await;
}

/// Deletes a stack and follows it to DELETE_COMPLETE (or fails with the first failure).
pub async fn delete_and_wait(cfn: &Client, state: &StackState, retain: &[String], ui: &Ui) -> anyhow::Result<()> {
    let marker = last_event_id(cfn, &state.id).await;
    cfn.delete_stack()
        .stack_name(&state.id)
        .set_retain_resources((!retain.is_empty()).then(|| retain.to_vec()))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot delete stack {}: {}", state.id, super::error_line(&e)))?;
    let status = stream_until_terminal(cfn, &state.id, marker.as_deref(), ui).await?;
    if status == "DELETE_COMPLETE" {
        return Ok(());
    }
    let cause = root_cause(cfn, &state.id, marker.as_deref()).await?;
    Err(failure_error(&status, cause.as_ref(), "delete"))
}

/// The error for a failed stack operation: the root cause first, then the final status.
pub fn failure_error(status: &str, cause: Option<&Event>, what: &str) -> anyhow::Error {
    match cause {
        Some(c) => Refusal::new(
            format!("{} ({}) {}: {} — stack ended {status}", c.logical_id, c.kind, c.status, c.reason),
            format!(
                "fix the cause above and deploy again; `cargo xtask deploy --repair` handles a stack left in {status}"
            ),
        )
        .into(),
        None => Refusal::new(
            format!("stack {what} ended {status} (no failed resource event was reported)"),
            "see the events above, or the CloudFormation console",
        )
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(logical: &str, status: &str, reason: &str) -> Event {
        Event {
            id: logical.into(),
            time: String::new(),
            logical_id: logical.into(),
            physical_id: String::new(),
            kind: "AWS::S3::Bucket".into(),
            status: status.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn the_first_real_failure_is_the_root_cause() {
        let events = vec![
            ev("stack", "CREATE_IN_PROGRESS", "User Initiated"),
            ev("Table", "CREATE_IN_PROGRESS", ""),
            ev("Data", "CREATE_FAILED", "data-bucket already exists"),
            ev("Table", "CREATE_FAILED", "Resource creation cancelled"),
            ev("stack", "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [Data, Table]."),
            ev("stack", "ROLLBACK_COMPLETE", ""),
        ];
        assert_eq!(first_failure(&events).unwrap().logical_id, "Data");
        let cancelled_first =
            vec![ev("A", "CREATE_FAILED", "Resource creation cancelled"), ev("B", "CREATE_FAILED", "boom")];
        assert_eq!(first_failure(&cancelled_first).unwrap().logical_id, "B");
        assert!(first_failure(&events[..2]).is_none());
    }
}
