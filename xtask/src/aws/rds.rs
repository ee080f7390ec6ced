//! RDS operations: the final snapshot `destroy` takes of a database before the stack deletes it.

use std::time::Duration;

use super::{Deadline, error_line, is_transient};

/// Snapshots `instance` as `snapshot` and waits until the snapshot is available (through transient
/// errors, until the deadline). A snapshot of that name that exists already is waited for, not
/// taken again, so a rerun after an interruption converges.
pub async fn final_snapshot(
    rds: &aws_sdk_rds::Client,
    instance: &str,
    snapshot: &str,
    deadline: &Deadline,
) -> anyhow::Result<()> {
    let created =
        rds.create_db_snapshot().db_instance_identifier(instance).db_snapshot_identifier(snapshot).send().await;
    match created {
        Ok(_) => {}
        Err(err) if super::error_code(&err) == Some("DBSnapshotAlreadyExists") => {}
        Err(err) => anyhow::bail!("cannot snapshot the database {instance}: {}", error_line(&err)),
    }
    let mut delay = Duration::from_secs(5);
    loop {
        match rds.describe_db_snapshots().db_snapshot_identifier(snapshot).send().await {
            Ok(out) if out.db_snapshots().iter().any(|s| s.status() == Some("available")) => return Ok(()),
            Ok(_) => {}
            Err(err) if is_transient(&err) => {}
            Err(err) => anyhow::bail!("cannot read the snapshot {snapshot}: {}", error_line(&err)),
        }
        deadline.check(&format!("waiting for the final snapshot {snapshot} of {instance}"))?;
        deadline.sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}
