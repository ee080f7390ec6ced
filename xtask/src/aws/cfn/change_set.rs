//! Change sets: created with the stack's parameters and every capability the template may need,
//! computed, listed, and deleted again when they hold nothing or are not executed.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Parameter};

use crate::aws::{Deadline, error_code, error_line, is_transient};
use crate::error::Refusal;

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

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub action: String,
    pub logical_id: String,
    pub physical_id: String,
    pub kind: String,
    /// `True`, `False`, `Conditional` (CloudFormation's words), empty for additions and removals.
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

/// Creates a change set and waits until CloudFormation has computed it (None: it holds no change
/// and is deleted again).
pub async fn create_change_set(
    cfn: &Client,
    req: ChangeSetRequest<'_>,
    deadline: &Deadline,
) -> anyhow::Result<Option<ChangeSet>> {
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
        .map_err(|e| anyhow::anyhow!("cannot create a change set for {}: {}", req.stack_name, error_line(&e)))?;
    let id = out.id().unwrap_or(&name).to_string();
    let stack_id = out.stack_id().unwrap_or(req.stack_name).to_string();
    let mut delay = Duration::from_millis(300);
    'poll: loop {
        deadline.check(&format!("waiting for the change set {name} to be computed"))?;
        let mut changes = Vec::new();
        let mut token = None;
        let (status, reason) = loop {
            let d = match cfn
                .describe_change_set()
                .change_set_name(&id)
                .stack_name(&stack_id)
                .set_next_token(token)
                .send()
                .await
            {
                Ok(d) => d,
                // Eventual consistency: a change set just created can be "not found" for a moment.
                Err(e) if is_transient(&e) || error_code(&e) == Some("ChangeSetNotFound") => {
                    deadline.sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    continue 'poll;
                }
                Err(e) => anyhow::bail!("cannot describe change set {name}: {}", error_line(&e)),
            };
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
                deadline.sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

pub async fn delete_change_set(cfn: &Client, id: &str, stack_id: &str) {
    let _ = cfn.delete_change_set().change_set_name(id).stack_name(stack_id).send().await;
}
