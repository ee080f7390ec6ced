//! Stacks that cannot take a change set as they are: a failed create (only deletion is possible),
//! a failed rollback, an operation still running.
//!
//! A create that rolled back (`ROLLBACK_COMPLETE`) holds nothing but what its rollback retained, so
//! it is deleted and created again unattended, as CDK does, after listing what stays behind. The
//! rest is repaired only with `deploy --repair`, otherwise refused with the status and the hint.

use crate::aws::Clients;
use crate::aws::cfn::{self, Operation, StackState};
use crate::error::Refusal;
use crate::report::Ui;

/// What to do with a stack in `status` before a change set.
#[derive(Debug, PartialEq, Eq)]
pub enum Repair {
    Proceed,
    /// Creation failed (ROLLBACK_COMPLETE and kin): only deletion is possible; delete, then create.
    Recreate,
    /// UPDATE_ROLLBACK_FAILED: ContinueUpdateRollback, then update.
    ContinueRollback,
    /// Another operation is running: follow it to its end.
    Wait,
    Refuse {
        what: String,
        hint: String,
    },
}

pub fn plan(status: &str, repair: bool) -> Repair {
    let needs = |what: String, fix: &str| Repair::Refuse {
        what,
        hint: format!("pass --repair to {fix} (see `cargo xtask deploy --help`)"),
    };
    match status {
        "ROLLBACK_COMPLETE" => Repair::Recreate,
        "ROLLBACK_FAILED" | "CREATE_FAILED" => {
            if repair {
                Repair::Recreate
            } else {
                needs(
                    format!("{status}: its creation failed and it can only be deleted"),
                    "delete it and create it again",
                )
            }
        }
        "UPDATE_ROLLBACK_FAILED" => {
            if repair {
                Repair::ContinueRollback
            } else {
                needs(format!("{status}: it cannot be updated until its rollback completes"), "continue the rollback")
            }
        }
        "DELETE_FAILED" => Repair::Refuse {
            what: "DELETE_FAILED".into(),
            hint: "finish deleting it with `cargo xtask destroy`, then deploy".into(),
        },
        _ if status.ends_with("_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS" => {
            if repair {
                Repair::Wait
            } else {
                needs(format!("{status}: another operation is running"), "wait for it and then deploy")
            }
        }
        _ => Repair::Proceed,
    }
}

/// Repairs `s` when its status calls for it (only with `repair`); returns the state to deploy onto
/// (None: there is no stack any more, create it).
pub async fn if_needed(
    c: &Clients,
    s: StackState,
    repair: bool,
    dry_run: bool,
    ui: &Ui,
) -> anyhow::Result<Option<StackState>> {
    let status = s.status.clone();
    match plan(&status, repair) {
        Repair::Proceed => Ok(Some(s)),
        Repair::Refuse { what, hint } => Err(Refusal::new(format!("stack {}: {what}", s.id), hint).into()),
        Repair::Recreate if dry_run => {
            ui.note(format!("would delete the {status} stack and create it again"));
            Ok(None)
        }
        Repair::Recreate => {
            ui.phase("repair", async {
                // Whatever the failed create kept (DeletionPolicy Retain) outlives the stack:
                // say so before the stack that names it goes.
                let kept: Vec<_> =
                    cfn::resources(&c.cfn, &s.id).await?.into_iter().filter(|r| r.is_left_behind()).collect();
                for r in &kept {
                    ui.note(format!(
                        "the failed create left {} ({}) {} behind ({}); it is not part of the new stack",
                        r.logical_id, r.kind, r.physical_id, r.status
                    ));
                }
                cfn::delete_and_wait(&c.cfn, &s.id, &[], ui, &c.deadline).await?;
                Ok((
                    (),
                    format!("deleted the {status} stack ({} resources left behind); creating it again", kept.len()),
                ))
            })
            .await?;
            Ok(None)
        }
        Repair::ContinueRollback if dry_run => {
            ui.note("would continue the failed rollback");
            Ok(Some(s))
        }
        Repair::ContinueRollback => {
            ui.phase("repair", async {
                let op = Operation::begin(&c.cfn, &s.id, "rollback").await;
                c.cfn
                    .continue_update_rollback()
                    .stack_name(&s.id)
                    .client_request_token(&op.token)
                    .send()
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot continue the rollback: {}", crate::aws::error_line(&e)))?;
                let end = cfn::follow(&c.cfn, &op, ui, &c.deadline).await?;
                if end != "UPDATE_ROLLBACK_COMPLETE" {
                    let cause = cfn::root_cause(&c.cfn, &op).await?;
                    return Err(cfn::failure_error(&end, cause.as_ref(), "rollback"));
                }
                Ok(((), "rollback continued to UPDATE_ROLLBACK_COMPLETE".into()))
            })
            .await?;
            cfn::describe_settled(&c.cfn, &s.id, "UPDATE_ROLLBACK_COMPLETE", &c.deadline).await
        }
        Repair::Wait => {
            ui.phase("repair", async {
                // Someone else's operation, already seen in progress.
                let op = Operation::running(&c.cfn, &s.id).await;
                let end = cfn::follow(&c.cfn, &op, ui, &c.deadline).await?;
                Ok(((), format!("the running operation ended {end}")))
            })
            .await?;
            // The operation's end state may itself need a repair (e.g. ROLLBACK_COMPLETE).
            match cfn::describe(&c.cfn, &s.id).await? {
                Some(next) if next.status.ends_with("_IN_PROGRESS") && next.status != "REVIEW_IN_PROGRESS" => {
                    Err(Refusal::new(format!("stack {} is still {}", s.id, next.status), "try again later").into())
                }
                Some(next) => Box::pin(if_needed(c, next, repair, dry_run, ui)).await,
                None => Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Repair, plan};

    #[test]
    fn stuck_stacks_are_repaired_only_on_request() {
        assert_eq!(plan("UPDATE_COMPLETE", false), Repair::Proceed);
        assert_eq!(plan("UPDATE_ROLLBACK_COMPLETE", false), Repair::Proceed);
        assert_eq!(plan("REVIEW_IN_PROGRESS", false), Repair::Proceed);
        assert_eq!(plan("ROLLBACK_COMPLETE", false), Repair::Recreate);
        assert_eq!(plan("UPDATE_ROLLBACK_FAILED", true), Repair::ContinueRollback);
        assert_eq!(plan("UPDATE_IN_PROGRESS", true), Repair::Wait);
        assert_eq!(plan("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", true), Repair::Wait);
        assert_eq!(plan("ROLLBACK_FAILED", true), Repair::Recreate);
        for status in ["ROLLBACK_FAILED", "UPDATE_ROLLBACK_FAILED", "CREATE_IN_PROGRESS", "DELETE_FAILED"] {
            let Repair::Refuse { what, hint } = plan(status, false) else { panic!("{status} must be refused") };
            assert!(what.starts_with(status), "{what}");
            assert!(hint.contains("--repair") || hint.contains("destroy"), "{hint}");
        }
    }
}
