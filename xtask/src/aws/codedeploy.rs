//! CodeDeploy operations: the deployments of the stack's application (the gradual traffic shifts
//! CloudFormation starts when a function's `live` alias moves to a new version), read back with
//! the function, alias and versions of their AppSpec, their status and their error.

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

/// A timestamp as ISO 8601 (`2025-01-02T03:04:05Z`).
pub fn iso(t: &DateTime) -> String {
    t.fmt(Format::DateTime).unwrap_or_default()
}

/// One Lambda deployment of CodeDeploy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deployment {
    pub id: String,
    pub group: String,
    /// Created, Queued, InProgress, Baking, Succeeded, Failed, Stopped, Ready.
    pub status: String,
    /// Seconds since the epoch.
    pub created: i64,
    pub completed: Option<i64>,
    /// `CodeDeployDefault.LambdaCanary10Percent5Minutes`, ...
    pub config: String,
    pub function: String,
    pub alias: String,
    pub current_version: String,
    pub target_version: String,
    /// `ALARM_ACTIVE`, `DEPLOYMENT_GROUP_MISSING`, ... and its message.
    pub error_code: String,
    pub error_message: String,
    pub rollback_message: String,
}

impl Deployment {
    pub fn is_done(&self) -> bool {
        matches!(self.status.as_str(), "Succeeded" | "Failed" | "Stopped")
    }
}

/// (function, alias, current version, target version) from a Lambda AppSpec (JSON or YAML):
/// `Resources: [{<name>: {Type: AWS::Lambda::Function, Properties: {Name, Alias, CurrentVersion,
/// TargetVersion}}}]`.
pub fn parse_appspec(content: &str) -> Option<(String, String, String, String)> {
    let doc: serde_norway::Value = serde_norway::from_str(content).ok()?;
    let doc = crate::cloud::yaml_to_json(&doc).ok()?;
    let resources = doc.get("Resources")?.as_array()?;
    let properties = resources.iter().find_map(|r| r.as_object()?.values().next()?.get("Properties"))?;
    let text = |k: &str| match properties.get(k) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    Some((text("Name"), text("Alias"), text("CurrentVersion"), text("TargetVersion")))
}

fn to_deployment(d: &aws_sdk_codedeploy::types::DeploymentInfo) -> Deployment {
    let appspec = d
        .revision()
        .and_then(|r| r.app_spec_content())
        .and_then(|a| a.content())
        .and_then(parse_appspec)
        .unwrap_or_default();
    let error = d.error_information();
    Deployment {
        id: d.deployment_id().unwrap_or_default().to_string(),
        group: d.deployment_group_name().unwrap_or_default().to_string(),
        status: d.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        created: d.create_time().map_or(0, DateTime::secs),
        completed: d.complete_time().map(DateTime::secs),
        config: d.deployment_config_name().unwrap_or_default().to_string(),
        function: appspec.0,
        alias: appspec.1,
        current_version: appspec.2,
        target_version: appspec.3,
        error_code: error.and_then(|e| e.code()).map(|c| c.as_str().to_string()).unwrap_or_default(),
        error_message: error.and_then(|e| e.message()).unwrap_or_default().to_string(),
        rollback_message: d.rollback_info().and_then(|r| r.rollback_message()).unwrap_or_default().to_string(),
    }
}

/// The next page's token: none when the service returns none, an empty one or the same again (moto
/// answers an empty token on the last page).
fn next(token: Option<&str>, previous: Option<&str>) -> Option<String> {
    token.filter(|t| !t.is_empty() && Some(*t) != previous).map(String::from)
}

/// The deployment groups of `app`.
pub async fn groups(cd: &aws_sdk_codedeploy::Client, app: &str) -> anyhow::Result<Vec<String>> {
    let mut groups = Vec::new();
    let mut token = None;
    loop {
        let out =
            cd.list_deployment_groups().application_name(app).set_next_token(token.clone()).send().await.map_err(
                |e| anyhow::anyhow!("cannot list the deployment groups of {app}: {}", super::error_line(&e)),
            )?;
        groups.extend(out.deployment_groups().iter().cloned());
        token = next(out.next_token(), token.as_deref());
        if token.is_none() {
            break;
        }
    }
    groups.sort();
    Ok(groups)
}

/// The alarms a deployment group stops and rolls back on.
pub async fn group_alarms(cd: &aws_sdk_codedeploy::Client, app: &str, group: &str) -> anyhow::Result<Vec<String>> {
    let out = cd
        .get_deployment_group()
        .application_name(app)
        .deployment_group_name(group)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the deployment group {group}: {}", super::error_line(&e)))?;
    Ok(out
        .deployment_group_info()
        .and_then(|g| g.alarm_configuration())
        .map(|a| a.alarms().iter().filter_map(|a| a.name().map(String::from)).collect())
        .unwrap_or_default())
}

/// The deployments of `app` (one `group`, or all when None) created at or after `since` (seconds
/// since the epoch; all when None), newest first, at most `max`.
pub async fn deployments(
    cd: &aws_sdk_codedeploy::Client,
    app: &str,
    group: Option<&str>,
    since: Option<i64>,
    max: usize,
) -> anyhow::Result<Vec<Deployment>> {
    // ListDeployments takes an application only together with one of its groups.
    let groups = match group {
        Some(g) => vec![g.to_string()],
        None => groups(cd, app).await?,
    };
    let mut ids = Vec::new();
    for group in &groups {
        let mut token = None;
        loop {
            let range =
                since.map(|s| aws_sdk_codedeploy::types::TimeRange::builder().start(DateTime::from_secs(s)).build());
            let out = cd
                .list_deployments()
                .application_name(app)
                .deployment_group_name(group)
                .set_create_time_range(range)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!("cannot list the deployments of {app}/{group}: {}", super::error_line(&e))
                })?;
            ids.extend(out.deployments().iter().cloned());
            token = next(out.next_token(), token.as_deref());
            if token.is_none() || ids.len() >= 100 {
                break;
            }
        }
    }
    let mut found = Vec::new();
    for chunk in ids.chunks(25) {
        let out = cd
            .batch_get_deployments()
            .set_deployment_ids(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the deployments of {app}: {}", super::error_line(&e)))?;
        found.extend(out.deployments_info().iter().map(to_deployment));
    }
    found.sort_by(|a, b| (b.created, &b.id).cmp(&(a.created, &a.id)));
    found.truncate(max);
    Ok(found)
}

#[cfg(test)]
mod tests {
    #[test]
    fn appspecs_name_the_function_alias_and_versions() {
        let json = r#"{"version":0.0,"Resources":[{"ApiFunction":{"Type":"AWS::Lambda::Function","Properties":{"Name":"notes-app-dev-ApiFunction-X","Alias":"live","CurrentVersion":"6","TargetVersion":"7"}}}]}"#;
        assert_eq!(
            super::parse_appspec(json),
            Some(("notes-app-dev-ApiFunction-X".into(), "live".into(), "6".into(), "7".into()))
        );
        let yaml = "version: 0.0\nResources:\n  - api:\n      Type: AWS::Lambda::Function\n      Properties: {Name: f, Alias: live, CurrentVersion: 1, TargetVersion: 2}\n";
        assert_eq!(super::parse_appspec(yaml), Some(("f".into(), "live".into(), "1".into(), "2".into())));
        assert_eq!(super::parse_appspec("not: [an appspec"), None);
    }
}
