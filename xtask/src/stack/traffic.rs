//! The traffic shift of a deploy, for the stack phase's event stream: when CloudFormation moves a
//! function's `live` alias to a new version, CodeDeploy shifts the traffic gradually (the
//! deployment group's `TrafficShifting` preference) and rolls back when one of the group's alarms
//! fires. [`TrafficWatch`] turns that into lines next to the stack events — each deployment, each
//! change of its status or weights — and, when the update failed, [`TrafficWatch::rollback`] names
//! the alarm that fired as the root cause.
//!
//! Entry points for the stack phase (`stack/update.rs`, `run`): make the watch before
//! ExecuteChangeSet (it follows deployments created from then on), then in place of the plain
//! `stream_until_terminal` call and before the generic failure:
//!
//! ```ignore
//! let mut traffic = TrafficWatch::new(live.map(|s| &s.outputs));
//! // ... execute_change_set ...
//! let end = tokio::select! {
//!     end = cfn::stream_until_terminal(&c.cfn, &cs.stack_id, marker.as_deref(), ui) => end?,
//!     never = traffic.follow(c, ui) => match never {},
//! };
//! if !cfn::is_success(&end) && let Some(rollback) = traffic.rollback(c).await {
//!     return Err(rollback.error(&end));
//! }
//! ```

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use crate::aws::Clients;
use crate::aws::cloudwatch::{self, Alarm};
use crate::aws::codedeploy::{self, Deployment};
use crate::aws::lambda::{self, AliasState};
use crate::cloud::StackOutputs;
use crate::error::Refusal;
use crate::report::Ui;

/// The stack output naming the CodeDeploy application of the functions' deployment groups.
pub const APPLICATION_OUTPUT: &str = "CodeDeployApplicationName";

/// Follows the CodeDeploy deployments that start after it is made.
pub struct TrafficWatch {
    app: Option<String>,
    /// Seconds since the epoch: deployments created before are not this deploy's.
    since: i64,
    /// Deployment id → the last line printed for it.
    printed: BTreeMap<String, String>,
    /// Every deployment seen, by id (the newest state).
    seen: BTreeMap<String, Deployment>,
}

impl TrafficWatch {
    /// `outputs`: the stack's outputs before the update (a new stack has no shift to follow: its
    /// aliases are created, not moved).
    pub fn new(outputs: Option<&StackOutputs>) -> TrafficWatch {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        TrafficWatch {
            app: outputs.and_then(|o| o.all.get(APPLICATION_OUTPUT)).filter(|a| !a.is_empty()).cloned(),
            since: now - 5,
            printed: BTreeMap::new(),
            seen: BTreeMap::new(),
        }
    }

    /// New lines since the last poll (none when the stack has no CodeDeploy application).
    pub async fn poll(&mut self, c: &Clients) -> Vec<String> {
        let Some(app) = self.app.clone() else { return Vec::new() };
        let Ok(found) = codedeploy::deployments(&c.codedeploy, &app, None, Some(self.since), 20).await else {
            return Vec::new();
        };
        let mut lines = Vec::new();
        for d in found.into_iter().rev() {
            let alias = if d.is_done() || d.function.is_empty() {
                None
            } else {
                lambda::alias(&c.lambda, &d.function, &d.alias).await.ok().flatten()
            };
            let line = shift_line(&d, alias.as_ref());
            if self.printed.get(&d.id) != Some(&line) {
                self.printed.insert(d.id.clone(), line.clone());
                lines.push(line);
            }
            self.seen.insert(d.id.clone(), d);
        }
        lines
    }

    /// Polls every five seconds and prints each new line; never returns (select it against the
    /// stack's event stream).
    pub async fn follow(&mut self, c: &Clients, ui: &Ui) -> Infallible {
        loop {
            for line in self.poll(c).await {
                ui.line(line);
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    }

    /// After a failed update: the deployment CodeDeploy stopped or rolled back, with the alarm that
    /// fired (None when no deployment of this deploy failed).
    pub async fn rollback(&mut self, c: &Clients) -> Option<Rollback> {
        let _ = self.poll(c).await;
        let app = self.app.clone()?;
        let failed = self
            .seen
            .values()
            .filter(|d| matches!(d.status.as_str(), "Failed" | "Stopped"))
            .max_by_key(|d| d.created)?;
        let names = match codedeploy::group_alarms(&c.codedeploy, &app, &failed.group).await {
            Ok(names) => names,
            Err(_) => alarm_names_in(&failed.error_message),
        };
        let alarms = cloudwatch::named(&c.cloudwatch, &names).await.unwrap_or_default();
        Some(rollback_from(failed, &alarms))
    }
}

/// `    traffic  <function> <deployment>  <status>: live 6 → 7, 10% on 7 (<config>)`.
pub fn shift_line(d: &Deployment, alias: Option<&AliasState>) -> String {
    let config = d.config.trim_start_matches("CodeDeployDefault.").trim_start_matches("Lambda");
    let versions = if d.current_version.is_empty() && d.target_version.is_empty() {
        String::new()
    } else {
        format!(
            ": {} {} → {}",
            if d.alias.is_empty() { "alias" } else { &d.alias },
            d.current_version,
            d.target_version
        )
    };
    let share = alias
        .map(|a| {
            let on_target = a.shares().iter().find(|(v, _)| *v == d.target_version).map_or(0.0, |(_, w)| *w);
            format!(", {:.0}% on {}", on_target * 100.0, d.target_version)
        })
        .unwrap_or_default();
    let error =
        if d.error_code.is_empty() { String::new() } else { format!(" — {}: {}", d.error_code, d.error_message) };
    let function = if d.function.is_empty() { d.group.as_str() } else { d.function.as_str() };
    format!("    traffic  {function} {}  {}{versions}{share} ({config}){error}", d.id, d.status)
}

/// Alarm names in a CodeDeploy error message (`... Activated alarms: a, b`), when the deployment
/// group cannot be read.
pub fn alarm_names_in(message: &str) -> Vec<String> {
    message
        .split_once("alarms:")
        .or_else(|| message.split_once("Alarms:"))
        .map(|(_, rest)| rest.split([',', ' ', '[', ']']).filter(|s| !s.is_empty()).map(String::from).collect())
        .unwrap_or_default()
}

/// A deployment CodeDeploy stopped, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollback {
    pub deployment: Deployment,
    /// The alarms of its group that are in ALARM (the cause when the error is ALARM_ACTIVE).
    pub fired: Vec<Alarm>,
}

/// What the deployment and its group's alarms say.
pub fn rollback_from(d: &Deployment, alarms: &[Alarm]) -> Rollback {
    Rollback { deployment: d.clone(), fired: alarms.iter().filter(|a| a.state == "ALARM").cloned().collect() }
}

impl Rollback {
    /// The root-cause line: the alarm that fired first, else CodeDeploy's own error.
    pub fn cause(&self) -> String {
        let d = &self.deployment;
        let function = if d.function.is_empty() { d.group.as_str() } else { d.function.as_str() };
        let stays = if d.current_version.is_empty() {
            String::new()
        } else {
            format!(
                ", {} stays on version {}",
                if d.alias.is_empty() { "the alias" } else { &d.alias },
                d.current_version
            )
        };
        match self.fired.first() {
            Some(alarm) => format!(
                "{function}: CodeDeploy rolled back {} (version {}){stays}: alarm {} fired: {}",
                d.id, d.target_version, alarm.name, alarm.reason
            ),
            None => format!(
                "{function}: CodeDeploy deployment {} {} (version {}){stays}: {} {}",
                d.id,
                d.status.to_ascii_lowercase(),
                d.target_version,
                d.error_code,
                if d.error_message.is_empty() { &d.rollback_message } else { &d.error_message }
            ),
        }
    }

    /// The error the deploy exits with: the cause first, the alarm's advice as the hint.
    pub fn error(&self, stack_status: &str) -> anyhow::Error {
        let advice = self.fired.first().map(|a| a.description.clone()).filter(|d| !d.is_empty());
        let function = self.deployment.function.clone();
        Refusal::new(
            format!("{} — stack ended {stack_status}", self.cause()),
            match advice {
                Some(advice) => {
                    format!("{advice} (`cargo xtask logs` on the function; `cargo xtask status` shows the aliases)")
                }
                None => format!("read `cargo xtask logs` for {function}; fix the cause and deploy again"),
            },
        )
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(status: &str) -> Deployment {
        Deployment {
            id: "d-ABC123".into(),
            group: "notes-app-dev-ApiDeploymentGroup-X".into(),
            status: status.into(),
            created: 100,
            config: "CodeDeployDefault.LambdaCanary10Percent5Minutes".into(),
            function: "notes-app-dev-ApiFunction-X".into(),
            alias: "live".into(),
            current_version: "6".into(),
            target_version: "7".into(),
            ..Deployment::default()
        }
    }

    #[test]
    fn a_shift_reads_as_versions_and_weights() {
        let alias = AliasState { alias: "live".into(), version: "6".into(), weights: vec![("7".into(), 0.1)] };
        assert_eq!(
            shift_line(&deployment("InProgress"), Some(&alias)),
            "    traffic  notes-app-dev-ApiFunction-X d-ABC123  InProgress: live 6 → 7, 10% on 7 (Canary10Percent5Minutes)"
        );
        let done = AliasState { alias: "live".into(), version: "7".into(), weights: vec![] };
        assert!(
            shift_line(&deployment("Succeeded"), Some(&done))
                .ends_with("Succeeded: live 6 → 7, 100% on 7 (Canary10Percent5Minutes)")
        );
    }

    #[test]
    fn a_rollback_names_the_alarm_that_fired() {
        let mut d = deployment("Stopped");
        d.error_code = "ALARM_ACTIVE".into();
        d.error_message = "One or more alarms have been activated according to the Amazon CloudWatch metrics you selected, and the affected deployments have been stopped. Activated alarms: <notes-app-dev-api-canary-errors>".into();
        let alarms = vec![
            Alarm { name: "notes-app-dev-api-canary-throttles".into(), state: "OK".into(), ..alarm() },
            Alarm { name: "notes-app-dev-api-canary-errors".into(), state: "ALARM".into(), ..alarm() },
        ];
        let rollback = rollback_from(&d, &alarms);
        assert_eq!(
            rollback.cause(),
            "notes-app-dev-ApiFunction-X: CodeDeploy rolled back d-ABC123 (version 7), live stays on version 6: alarm notes-app-dev-api-canary-errors fired: Threshold Crossed: 1 datapoint [2.0] was greater than the threshold (0.0)."
        );
        let error = rollback.error("UPDATE_ROLLBACK_COMPLETE");
        let refusal = error.downcast_ref::<Refusal>().expect("a refusal");
        assert!(refusal.to_string().ends_with("stack ended UPDATE_ROLLBACK_COMPLETE"), "{refusal}");
        let without = rollback_from(&d, &[]);
        assert!(
            without.cause().contains("stopped (version 7), live stays on version 6: ALARM_ACTIVE One or more"),
            "{}",
            without.cause()
        );
        assert_eq!(alarm_names_in("Activated alarms: a-1, b-2"), ["a-1", "b-2"]);
    }

    fn alarm() -> Alarm {
        Alarm {
            name: String::new(),
            state: String::new(),
            reason: "Threshold Crossed: 1 datapoint [2.0] was greater than the threshold (0.0).".into(),
            since: String::new(),
            description: "The new version fails: read its errors first.".into(),
        }
    }
}
