//! Following one stack operation (an executed change set, a delete, a continued rollback) to its
//! own end, and finding its root cause.
//!
//! Each operation carries a `ClientRequestToken` of its own and remembers the newest stack event
//! from before it started (the marker). The wait accepts an end only once it has seen this
//! operation's progress: a stack-level event newer than the marker (with this token, when
//! CloudFormation reports one), or an `*_IN_PROGRESS` status read after the start. A stale
//! DescribeStacks that still shows the previous operation's `UPDATE_COMPLETE` therefore never ends
//! the wait; transient errors and throttling are polled through; the deadline bounds it all.

use std::time::Duration;

use anyhow::Context;
use aws_sdk_cloudformation::Client;

use super::is_terminal;
use crate::aws::{Deadline, error_line, is_transient};
use crate::error::Refusal;
use crate::report::Ui;

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
    /// The token of the operation that caused it, when CloudFormation reports one.
    pub token: Option<String>,
}

impl Event {
    /// An event about the stack itself rather than one of its resources.
    pub fn is_stack(&self, stack_id: &str) -> bool {
        self.kind == "AWS::CloudFormation::Stack" && (self.physical_id == stack_id || self.physical_id.is_empty())
    }
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
        token: e.client_request_token().filter(|t| !t.is_empty()).map(String::from),
    }
}

/// One operation on a stack: its token and where its events start.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The stack's id (it stays valid after deletion, unlike its name).
    pub stack_id: String,
    /// Sent as the operation's `ClientRequestToken`; CloudFormation stamps the events with it.
    pub token: String,
    /// The newest event before the operation started (None: the stack had none).
    pub marker: Option<String>,
    /// That event's time: nested stacks' events older than it belong to earlier operations.
    pub since: Option<String>,
    /// The operation was already seen running (someone else's, followed with `--repair`).
    pub seen_running: bool,
}

impl Operation {
    /// Reads the marker; the caller then starts the operation with [`Operation::token`].
    pub async fn begin(cfn: &Client, stack_id: &str, what: &str) -> Operation {
        let newest = match cfn.describe_stack_events().stack_name(stack_id).send().await {
            Ok(out) => out.stack_events().first().map(to_event),
            Err(_) => None,
        };
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Operation {
            stack_id: stack_id.to_string(),
            token: format!("xtask-{what}-{nanos:x}"),
            marker: newest.as_ref().map(|e| e.id.clone()),
            since: newest.map(|e| e.time),
            seen_running: false,
        }
    }

    /// An operation somebody else started and that DescribeStacks already reports in progress:
    /// every new event is its, whatever its token.
    pub async fn running(cfn: &Client, stack_id: &str) -> Operation {
        Operation { token: String::new(), seen_running: true, ..Operation::begin(cfn, stack_id, "wait").await }
    }

    /// Whether `event` may belong to this operation: events carry no token (moto, older
    /// operations of some handlers) or this one.
    fn owns(&self, event: &Event) -> bool {
        self.token.is_empty() || event.token.as_deref().is_none_or(|t| t == self.token)
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

/// Follows `op` to its end, printing its events as a table; returns the final status. Stale reads
/// and transient errors are waited through; the deadline ends the wait with a refusal.
pub async fn follow(cfn: &Client, op: &Operation, ui: &Ui, deadline: &Deadline) -> anyhow::Result<String> {
    let mut last = op.marker.clone();
    let mut delay = Duration::from_millis(500);
    let mut header = false;
    let mut progress = op.seen_running;
    loop {
        let status = match cfn.describe_stacks().stack_name(&op.stack_id).send().await {
            Ok(out) => out.stacks().first().and_then(|s| s.stack_status()).map(|s| s.as_str().to_string()),
            // A stack id never comes back: gone (CloudFormation describes a deleted stack by id as
            // DELETE_COMPLETE for a while, then not at all) is the end of whatever ran on it.
            Err(err) if super::does_not_exist(&err) => return Ok("DELETE_COMPLETE".to_string()),
            Err(err) if is_transient(&err) => None,
            Err(err) => return Err(anyhow::anyhow!("cannot describe stack {}: {}", op.stack_id, error_line(&err))),
        };
        let mut ended = None;
        if let Ok(new) = events_since(cfn, &op.stack_id, last.as_deref()).await {
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
                if op.owns(e) {
                    progress = true;
                    if e.is_stack(&op.stack_id) && is_terminal(&e.status) && e.status != "REVIEW_IN_PROGRESS" {
                        ended = Some(e.status.clone());
                    }
                }
            }
            if let Some(newest) = new.last() {
                last = Some(newest.id.clone());
            }
        }
        if let Some(end) = ended {
            return Ok(end);
        }
        if let Some(status) = status {
            if !is_terminal(&status) && status != "REVIEW_IN_PROGRESS" {
                progress = true;
            } else if progress && status != "REVIEW_IN_PROGRESS" {
                return Ok(status);
            }
        }
        deadline.check(&format!("following stack {} (status not final yet)", op.stack_id))?;
        deadline.sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// The root cause among `events` (oldest first): the first `*_FAILED` event, preferring one with a
/// real reason over the "Resource creation cancelled" noise that follows it.
pub fn first_failure(events: &[Event]) -> Option<&Event> {
    let failed = || events.iter().filter(|e| e.status.ends_with("_FAILED"));
    failed().find(|e| !e.reason.contains("cancelled") && !e.reason.is_empty()).or_else(|| failed().next())
}

/// The first failure of `op`, following nested stacks down to the resource that actually failed.
/// Only this operation's events count: the stack's own newer than the marker, a nested stack's
/// newer than the operation's start.
pub async fn root_cause(cfn: &Client, op: &Operation) -> anyhow::Result<Option<Event>> {
    let recent: Vec<Event> =
        events_since(cfn, &op.stack_id, op.marker.as_deref()).await?.into_iter().filter(|e| op.owns(e)).collect();
    let mut cause = first_failure(&recent).cloned();
    // Nested stacks: descend while the failure is a stack resource other than this stack itself.
    for _ in 0..5 {
        let Some(c) = &cause else { break };
        if c.kind != "AWS::CloudFormation::Stack" || c.physical_id.is_empty() || c.is_stack(&op.stack_id) {
            break;
        }
        let nested = events_since(cfn, &c.physical_id, None).await.unwrap_or_default();
        let nested: Vec<Event> =
            nested.into_iter().filter(|e| op.since.as_deref().is_none_or(|since| e.time.as_str() > since)).collect();
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

/// Deletes a stack and follows the deletion to DELETE_COMPLETE (or fails with the first failure).
pub async fn delete_and_wait(
    cfn: &Client,
    stack_id: &str,
    retain: &[String],
    ui: &Ui,
    deadline: &Deadline,
) -> anyhow::Result<()> {
    let op = Operation::begin(cfn, stack_id, "delete").await;
    cfn.delete_stack()
        .stack_name(stack_id)
        .client_request_token(&op.token)
        .set_retain_resources((!retain.is_empty()).then(|| retain.to_vec()))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot delete stack {stack_id}: {}", error_line(&e)))?;
    let status = follow(cfn, &op, ui, deadline).await?;
    if status == "DELETE_COMPLETE" {
        return Ok(());
    }
    let cause = root_cause(cfn, &op).await?;
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
            token: None,
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

    #[test]
    fn an_operation_owns_its_events_and_token_less_ones_only() {
        let op = Operation {
            stack_id: "arn:s".into(),
            token: "xtask-1".into(),
            marker: None,
            since: None,
            seen_running: false,
        };
        let mut e = ev("s", "UPDATE_COMPLETE", "");
        assert!(op.owns(&e), "moto and some handlers send no token");
        e.token = Some("xtask-1".into());
        assert!(op.owns(&e));
        e.token = Some("console-2".into());
        assert!(!op.owns(&e), "another operation's event");
        e.kind = "AWS::CloudFormation::Stack".into();
        e.physical_id = "arn:s".into();
        assert!(e.is_stack("arn:s"));
        e.physical_id = "arn:nested".into();
        assert!(!e.is_stack("arn:s"), "a nested stack resource is not the stack itself");
    }
}
