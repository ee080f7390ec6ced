//! CloudFormation operations: the stack's state and its deployed template (here), change sets
//! ([`change_set`]), and following an operation to its own end with its root cause
//! ([`operation`]).
//!
//! DescribeStacks and DescribeStackEvents are eventually consistent: a read can return the state of
//! before the last operation. Nothing here trusts a single read of a terminal status; see
//! [`operation::follow`] and [`describe_settled`].

pub mod change_set;
pub mod operation;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::TemplateStage;
use sha2::Digest;

pub use self::change_set::{Change, ChangeSet, ChangeSetRequest, create_change_set, delete_change_set};
pub use self::operation::{Event, Operation, delete_and_wait, failure_error, first_failure, follow, root_cause};
use super::{Deadline, error_line, is_transient};
use crate::cloud::StackOutputs;
use crate::error::Refusal;

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

    /// The account the stack lives in, from its id (`arn:aws:cloudformation:REGION:ACCOUNT:stack/...`).
    pub fn account(&self) -> Option<&str> {
        self.id.split(':').nth(4).filter(|a| !a.is_empty())
    }
}

fn does_not_exist<E: std::error::Error>(err: &E) -> bool {
    aws_sdk_cloudformation::error::DisplayErrorContext(err).to_string().contains("does not exist")
}

fn to_state(s: &aws_sdk_cloudformation::types::Stack, name: &str) -> Option<StackState> {
    let status = s.stack_status().map_or("UNKNOWN".into(), |s| s.as_str().to_string());
    if status == "DELETE_COMPLETE" {
        return None;
    }
    Some(StackState {
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
            .filter_map(|p| Some((p.parameter_key()?.to_string(), p.parameter_value().unwrap_or("").to_string())))
            .collect(),
        termination_protection: s.enable_termination_protection() == Some(true),
    })
}

/// The stack as DescribeStacks reports it now (None: it does not exist, or is deleted).
pub async fn describe(cfn: &Client, name: &str) -> anyhow::Result<Option<StackState>> {
    match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => Ok(out.stacks().first().and_then(|s| to_state(s, name))),
        Err(err) if does_not_exist(&err) => Ok(None),
        Err(err) if err.as_service_error().is_none() => Err(Refusal::new(
            format!("cannot reach CloudFormation: {}", error_line(&err)),
            "check the network and --region (or AWS_ENDPOINT_URL, when set, points at a running endpoint)",
        )
        .into()),
        Err(err) => Err(Refusal::new(
            format!("cannot describe stack {name}: {}", error_line(&err)),
            "check your credentials (aws sso login, AWS_PROFILE, .env) and their cloudformation:DescribeStacks permission",
        )
        .into()),
    }
}

/// The stack once DescribeStacks agrees that it is `status` (an operation followed to that end
/// may still read as before on the next call): polls through stale and transient reads until the
/// deadline.
pub async fn describe_settled(
    cfn: &Client,
    stack_id: &str,
    status: &str,
    deadline: &Deadline,
) -> anyhow::Result<Option<StackState>> {
    let mut delay = Duration::from_millis(500);
    loop {
        match cfn.describe_stacks().stack_name(stack_id).send().await {
            Ok(out) => {
                let reported = out.stacks().first().and_then(|s| s.stack_status()).map(|s| s.as_str().to_string());
                if reported.as_deref() == Some(status) {
                    return Ok(out.stacks().first().and_then(|s| to_state(s, stack_id)));
                }
            }
            Err(err) if does_not_exist(&err) && status == "DELETE_COMPLETE" => return Ok(None),
            Err(err) if is_transient(&err) => {}
            Err(err) => return Err(anyhow::anyhow!("cannot describe stack {stack_id}: {}", error_line(&err))),
        }
        deadline.check(&format!("waiting for DescribeStacks to report {stack_id} as {status}"))?;
        deadline.sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// The template the stack was last deployed with, as submitted (GetTemplate's Original stage), or
/// None when it cannot be read.
pub async fn deployed_template(cfn: &Client, stack: &str) -> anyhow::Result<Option<String>> {
    let out = cfn.get_template().stack_name(stack).template_stage(TemplateStage::Original).send().await;
    match out {
        Ok(t) => Ok(t.template_body().map(String::from)),
        Err(err) => Err(anyhow::anyhow!("cannot read the template of {stack}: {}", error_line(&err))),
    }
}

/// The sha256 of a template body, as the no-op check compares it.
pub fn body_sha256(body: &str) -> String {
    hex::encode(sha2::Sha256::digest(body.as_bytes()))
}

pub fn is_terminal(status: &str) -> bool {
    !status.ends_with("_IN_PROGRESS")
}

pub fn is_success(status: &str) -> bool {
    matches!(status, "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE")
}

/// One resource of a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackResource {
    pub logical_id: String,
    pub physical_id: String,
    pub kind: String,
    /// Its last status, e.g. `DELETE_SKIPPED` for one a rollback retained.
    pub status: String,
}

impl StackResource {
    /// A resource that still exists outside the stack's control after a rollback or delete.
    pub fn is_left_behind(&self) -> bool {
        !self.physical_id.is_empty() && self.status != "DELETE_COMPLETE"
    }
}

/// Every resource of the stack (ListStackResources, all pages: DescribeStackResources stops at 100).
pub async fn resources(cfn: &Client, stack: &str) -> anyhow::Result<Vec<StackResource>> {
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let out = cfn
            .list_stack_resources()
            .stack_name(stack)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot list the resources of {stack}: {}", error_line(&e)))?;
        for r in out.stack_resource_summaries() {
            all.push(StackResource {
                logical_id: r.logical_resource_id().unwrap_or("").to_string(),
                physical_id: r.physical_resource_id().unwrap_or("").to_string(),
                kind: r.resource_type().unwrap_or("").to_string(),
                status: r.resource_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            });
        }
        token = out.next_token().map(String::from);
        if token.is_none() {
            return Ok(all);
        }
    }
}
