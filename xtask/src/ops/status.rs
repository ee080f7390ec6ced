//! `cargo xtask status`: what the stack runs right now — its status, where each function's `live`
//! alias points (and the traffic weights during a shift), the alarms in ALARM, and the last release
//! of each function (its CodeDeploy deployment, else when the live version was published).

use serde_json::{Value as Json, json};

use super::LIVE_ALIAS;
use crate::aws::Clients;
use crate::aws::cfn::StackState;
use crate::aws::cloudwatch::{self, Alarm};
use crate::aws::codedeploy::{self, Deployment};
use crate::aws::lambda::{self, AliasState};
use crate::stack::traffic::APPLICATION_OUTPUT;

/// One function's alias and release.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// `api`, from the `ApiFunctionName` output.
    pub short: String,
    pub name: String,
    pub alias: Option<AliasState>,
    /// The live version's description (the template puts its code key there) and publication time.
    pub description: String,
    pub published: String,
    /// The newest CodeDeploy deployment of this function.
    pub last_deployment: Option<Deployment>,
}

/// Everything `status` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub stack: String,
    pub region: String,
    pub stack_status: String,
    pub functions: Vec<Function>,
    pub alarms: Vec<Alarm>,
}

/// Reads the status of `state` (read-only calls: GetAlias, GetFunctionConfiguration,
/// DescribeAlarms, and CodeDeploy's ListDeployments/BatchGetDeployments when the stack has an
/// application).
pub async fn gather(c: &Clients, stack: &str, state: &StackState) -> anyhow::Result<Status> {
    let deployments = match state.outputs.all.get(APPLICATION_OUTPUT) {
        Some(app) => codedeploy::deployments(&c.codedeploy, app, None, None, 50).await?,
        None => Vec::new(),
    };
    let mut functions = Vec::new();
    for (short, name) in super::functions(&state.outputs) {
        let alias = lambda::alias(&c.lambda, &name, LIVE_ALIAS).await?;
        let (description, published) = match &alias {
            Some(a) => lambda::version_info(&c.lambda, &name, &a.version).await.unwrap_or_default(),
            None => (String::new(), String::new()),
        };
        let last_deployment =
            deployments.iter().find(|d| d.function == name || d.function.ends_with(&format!(":{name}"))).cloned();
        functions.push(Function { short, name, alias, description, published, last_deployment });
    }
    let alarms = cloudwatch::in_alarm(&c.cloudwatch, &format!("{stack}-")).await?;
    Ok(Status {
        stack: stack.to_string(),
        region: c.region.clone(),
        stack_status: state.status.clone(),
        functions,
        alarms,
    })
}

fn shares(alias: &AliasState) -> String {
    alias.shares().iter().map(|(v, w)| format!("{:.0}% on {v}", w * 100.0)).collect::<Vec<_>>().join(", ")
}

/// The text `status` prints.
pub fn render(s: &Status) -> String {
    let mut out = vec![format!("stack      {} ({}) in {}", s.stack, s.stack_status, s.region)];
    let width = s.functions.iter().map(|f| f.short.len()).max().unwrap_or(0);
    out.push(format!("functions  (alias {LIVE_ALIAS})"));
    for f in &s.functions {
        let line = match &f.alias {
            None => format!("no alias {LIVE_ALIAS}: callers get $LATEST"),
            Some(a) if a.weights.is_empty() => format!("{LIVE_ALIAS} → {}", a.version),
            Some(a) => format!("{LIVE_ALIAS} → {} shifting: {}", a.version, shares(a)),
        };
        let published = if f.published.is_empty() { String::new() } else { format!("  published {}", f.published) };
        let code = if f.description.is_empty() { String::new() } else { format!("  {}", f.description) };
        out.push(format!("  {:<width$}  {line}{published}{code}", f.short));
    }
    if s.alarms.is_empty() {
        out.push("alarms     none in ALARM".into());
    } else {
        out.push(format!("alarms     {} in ALARM", s.alarms.len()));
        for a in &s.alarms {
            out.push(format!("  {}  since {}: {}", a.name, a.since, a.reason));
        }
    }
    out.push("last release".into());
    for f in &s.functions {
        let line = match &f.last_deployment {
            Some(d) => format!(
                "{} {} {}: {} → {}{}",
                d.id,
                d.status,
                codedeploy::iso(&aws_smithy_types::DateTime::from_secs(d.completed.unwrap_or(d.created))),
                d.current_version,
                d.target_version,
                if d.error_code.is_empty() { String::new() } else { format!(" ({})", d.error_code) }
            ),
            None if !f.published.is_empty() => {
                format!("version {} published {}", f.alias.as_ref().map_or("?", |a| &a.version), f.published)
            }
            None => "none recorded".into(),
        };
        out.push(format!("  {:<width$}  {line}", f.short));
    }
    out.join("\n")
}

/// The JSON `status --json` prints.
pub fn to_json(s: &Status) -> Json {
    json!({
        "stack": s.stack,
        "region": s.region,
        "status": s.stack_status,
        "functions": s.functions.iter().map(|f| json!({
            "function": f.short,
            "name": f.name,
            "alias": f.alias.as_ref().map(|a| json!({
                "name": a.alias,
                "version": a.version,
                "weights": a.shares().iter().map(|(v, w)| json!({"version": v, "weight": w})).collect::<Vec<_>>(),
            })),
            "description": f.description,
            "published": f.published,
            "last_deployment": f.last_deployment.as_ref().map(|d| json!({
                "id": d.id, "status": d.status, "from": d.current_version, "to": d.target_version,
                "error": d.error_code,
            })),
        })).collect::<Vec<_>>(),
        "alarms_in_alarm": s.alarms.iter().map(|a| json!({"name": a.name, "since": a.since, "reason": a.reason})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_reads_for_someone_on_call() {
        let status = Status {
            stack: "notes-app-dev".into(),
            region: "us-east-1".into(),
            stack_status: "UPDATE_IN_PROGRESS".into(),
            functions: vec![
                Function {
                    short: "activity".into(),
                    name: "f-activity".into(),
                    alias: Some(AliasState { alias: "live".into(), version: "3".into(), weights: vec![] }),
                    description: "lambdas/activity/ab.zip".into(),
                    published: "2025-01-02T03:04:05.000+0000".into(),
                    last_deployment: None,
                },
                Function {
                    short: "api".into(),
                    name: "f-api".into(),
                    alias: Some(AliasState {
                        alias: "live".into(),
                        version: "6".into(),
                        weights: vec![("7".into(), 0.1)],
                    }),
                    description: String::new(),
                    published: String::new(),
                    last_deployment: Some(Deployment {
                        id: "d-1".into(),
                        status: "InProgress".into(),
                        created: 1_735_787_045,
                        current_version: "6".into(),
                        target_version: "7".into(),
                        ..Deployment::default()
                    }),
                },
                Function {
                    short: "migrate".into(),
                    name: "f-migrate".into(),
                    alias: None,
                    description: String::new(),
                    published: String::new(),
                    last_deployment: None,
                },
            ],
            alarms: vec![Alarm {
                name: "notes-app-dev-api-canary-errors".into(),
                state: "ALARM".into(),
                reason: "Threshold Crossed".into(),
                since: "2025-01-02T03:05:00Z".into(),
                description: String::new(),
            }],
        };
        expect_test::expect![[r#"
            stack      notes-app-dev (UPDATE_IN_PROGRESS) in us-east-1
            functions  (alias live)
              activity  live → 3  published 2025-01-02T03:04:05.000+0000  lambdas/activity/ab.zip
              api       live → 6 shifting: 90% on 6, 10% on 7
              migrate   no alias live: callers get $LATEST
            alarms     1 in ALARM
              notes-app-dev-api-canary-errors  since 2025-01-02T03:05:00Z: Threshold Crossed
            last release
              activity  version 3 published 2025-01-02T03:04:05.000+0000
              api       d-1 InProgress 2025-01-02T03:04:05Z: 6 → 7
              migrate   none recorded"#]]
        .assert_eq(&render(&status));
        assert_eq!(to_json(&status)["functions"][1]["alias"]["weights"][1], json!({"version": "7", "weight": 0.1}));
    }
}
