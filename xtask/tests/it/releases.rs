//! Releases: every function's traffic goes through a `live` alias over immutable versions, the api
//! and activity aliases shift gradually under CodeDeploy and roll back on their new version's
//! alarms, and every part of the stack has an alarm that says what to look at first (template
//! checks: moto's CloudFormation has no aliases, CodeDeploy shifting or alarms). On moto: a version
//! is published only when the function changes, through the deploy's own change-set code and the
//! transform; `releases` lists the records and marks the live one.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value as Json, json};
use xtask::cloud::{Template, transform};

fn stack() -> Template {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cloud/stack.yaml");
    Template::load(&path, "cloud/stack.yaml").expect("cloud/stack.yaml parses")
}

fn props<'a>(t: &'a Template, id: &str) -> &'a Json {
    &t.resources.get(id).unwrap_or_else(|| panic!("no resource {id}")).properties
}

#[test]
fn every_function_is_released_through_a_live_alias_over_versions() {
    let t = stack();
    for f in ["Api", "Activity", "Migrate"] {
        let function = format!("{f}Function");
        let version = props(&t, &format!("{f}FunctionVersion"));
        assert_eq!(t.resources[&format!("{f}FunctionVersion")].kind, "AWS::Lambda::Version");
        assert_eq!(version["FunctionName"], json!({"Ref": function}));
        let alias = props(&t, &format!("{f}FunctionAlias"));
        assert_eq!(alias["Name"], "live");
        assert_eq!(alias["FunctionName"], json!({"Ref": function}));
        assert_eq!(alias["FunctionVersion"], json!({"Fn::GetAtt": [format!("{f}FunctionVersion"), "Version"]}));
    }
    // API Gateway, its permission, the stream mapping and the deploy's migration target the alias.
    for (id, r) in t.resources_of_type("AWS::ApiGateway::Method") {
        if r.properties["Integration"]["Type"] == "AWS_PROXY" {
            let uri = r.properties["Integration"]["Uri"]["Fn::Sub"].as_str().unwrap_or_default();
            assert!(uri.contains("/functions/${ApiFunctionAlias}/invocations"), "{id}: {uri}");
        }
    }
    assert_eq!(props(&t, "ApiInvokePermission")["FunctionName"], json!({"Ref": "ApiFunctionAlias"}));
    assert_eq!(props(&t, "ActivityStreamMapping")["FunctionName"], json!({"Ref": "ActivityFunctionAlias"}));
    assert_eq!(t.outputs["MigrateFunctionAlias"]["Value"], json!({"Ref": "MigrateFunctionAlias"}));
    // Nothing invokes a function unqualified any more.
    let body = &t.body;
    assert!(!body.contains("${ApiFunction.Arn}/invocations"));
}

#[test]
fn api_and_activity_shift_gradually_and_roll_back_on_their_new_versions_alarms() {
    let t = stack();
    let shifting = &t.parameters["TrafficShifting"];
    assert_eq!(shifting.default.as_deref(), Some("Canary10Percent5Minutes"), "prod's preference is the default");
    assert!(shifting.allowed_values.as_ref().unwrap().contains(&"AllAtOnce".to_string()));
    let dev = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../cloud/parameters.json")).unwrap();
    assert!(dev.contains(r#""ParameterKey": "TrafficShifting", "ParameterValue": "AllAtOnce""#), "dev shifts at once");
    assert_eq!(props(&t, "CodeDeployApplication")["ComputePlatform"], "Lambda");
    for f in ["Api", "Activity"] {
        let alias = t.document.pointer(&format!("/Resources/{f}FunctionAlias")).unwrap();
        let policy = &alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"];
        assert_eq!(policy["ApplicationName"], json!({"Ref": "CodeDeployApplication"}));
        let group_id = format!("{f}DeploymentGroup");
        assert_eq!(policy["DeploymentGroupName"], json!({"Ref": group_id}));
        let group = props(&t, &group_id);
        assert_eq!(group["DeploymentConfigName"], json!({"Fn::Sub": "CodeDeployDefault.Lambda${TrafficShifting}"}));
        assert_eq!(
            group["DeploymentStyle"],
            json!({"DeploymentType": "BLUE_GREEN", "DeploymentOption": "WITH_TRAFFIC_CONTROL"})
        );
        assert_eq!(
            group["AutoRollbackConfiguration"]["Events"],
            json!(["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"])
        );
        assert_eq!(group["AlarmConfiguration"]["Enabled"], true);
        let alarms: Vec<String> = group["AlarmConfiguration"]["Alarms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["Name"]["Ref"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(alarms, [format!("{f}CanaryErrorsAlarm"), format!("{f}CanaryThrottlesAlarm")]);
        // The errors trigger watches the version being released; the alias moves only after the
        // alarms were updated to it.
        let errors = props(&t, &alarms[0]);
        assert!(
            errors["Dimensions"].as_array().unwrap().contains(
                &json!({"Name": "ExecutedVersion", "Value": {"Fn::GetAtt": [format!("{f}FunctionVersion"), "Version"]}})
            ),
            "{}",
            errors["Dimensions"]
        );
        assert_eq!(errors["MetricName"], "Errors");
        assert_eq!(props(&t, &alarms[1])["MetricName"], "Throttles");
        assert_eq!(t.resources[&format!("{f}FunctionAlias")].depends_on, alarms);
    }
    // The migration alias is moved by CloudFormation alone: the deploy runs it and reports.
    assert!(t.document.pointer("/Resources/MigrateFunctionAlias/UpdatePolicy").is_none());
}

#[test]
fn every_part_has_an_alarm_on_the_topic_that_says_what_to_look_at_first() {
    let t = stack();
    let mut watched = Vec::new();
    for (id, alarm) in t.resources_of_type("AWS::CloudWatch::Alarm") {
        let p = &alarm.properties;
        assert_eq!(p["AlarmActions"], json!([{"Ref": "AlarmTopic"}]), "{id}");
        let description = p["AlarmDescription"].as_str().unwrap_or_default();
        assert!(description.contains("First look:"), "{id}: {description}");
        let threshold = p["Threshold"]["Ref"].as_str().unwrap_or_else(|| panic!("{id}: the threshold is a parameter"));
        assert!(t.parameters[threshold].default.is_some(), "{id}: {threshold} has a default");
        let metric = p["MetricName"]
            .as_str()
            .or_else(|| p["Metrics"][1]["MetricStat"]["Metric"]["MetricName"].as_str())
            .unwrap_or_default();
        let namespace = p["Namespace"]
            .as_str()
            .or_else(|| p["Metrics"][1]["MetricStat"]["Metric"]["Namespace"].as_str())
            .unwrap_or_default();
        watched.push(format!("{namespace} {metric}{}", if p["ExtendedStatistic"] == "p99" { " p99" } else { "" }));
    }
    watched.sort();
    watched.dedup();
    expect_test::expect![[r#"
        AWS/ApiGateway 5XXError
        AWS/ApiGateway Latency p99
        AWS/CloudFront 5xxErrorRate
        AWS/ElastiCache DatabaseMemoryUsagePercentage
        AWS/ElastiCache Evictions
        AWS/Lambda Duration p99
        AWS/Lambda Errors
        AWS/Lambda IteratorAge
        AWS/Lambda Throttles
        AWS/RDS CPUUtilization
        AWS/RDS DatabaseConnections
        AWS/RDS FreeStorageSpace
        AWS/SQS ApproximateAgeOfOldestMessage
        AWS/SQS ApproximateNumberOfMessagesVisible"#]]
    .assert_eq(&watched.join("\n"));
    // Each function: errors, throttles and p99 duration.
    for f in ["Api", "Activity", "Migrate"] {
        for kind in ["Errors", "Throttles", "Duration"] {
            let a = props(&t, &format!("{f}{kind}Alarm"));
            assert_eq!(a["Dimensions"], json!([{"Name": "FunctionName", "Value": {"Ref": format!("{f}Function")}}]));
        }
    }
    // CloudFront's metrics exist in us-east-1 only: its alarm exists only in a us-east-1 stack.
    assert_eq!(t.resources["CloudFront5xxAlarm"].condition.as_deref(), Some("InUsEast1"));
    assert_eq!(t.conditions["InUsEast1"], json!({"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}));
    // The topic: encrypted, CloudWatch may publish, an optional e-mail subscription.
    assert_eq!(props(&t, "AlarmTopic")["KmsMasterKeyId"], json!({"Fn::GetAtt": ["DataKey", "Arn"]}));
    assert_eq!(t.resources["AlarmEmailSubscription"].condition.as_deref(), Some("HasAlarmEmail"));
    assert_eq!(t.parameters["AlarmEmail"].default.as_deref(), Some(""));
    // The dashboard shows every function and store.
    let body = props(&t, "Dashboard")["DashboardBody"]["Fn::Sub"].as_str().unwrap();
    let dashboard: Json = serde_json::from_str(body).expect("the dashboard body is JSON");
    assert!(dashboard["widgets"].as_array().unwrap().len() >= 12);
    for needle in [
        "${ApiFunction}",
        "${ActivityFunction}",
        "${MigrateFunction}",
        "${Database}",
        "${Cache}-001",
        "${Distribution}",
    ] {
        assert!(body.contains(needle), "the dashboard lacks {needle}");
    }
}

// ---- on moto -----------------------------------------------------------------------------------

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

async fn published_versions(lambda: &aws_sdk_lambda::Client, function: &str) -> Vec<String> {
    let out = lambda.list_versions_by_function().function_name(function).send().await.unwrap();
    out.versions().iter().filter_map(|v| v.version()).filter(|v| *v != "$LATEST").map(String::from).collect()
}

/// One deploy's stack phase on moto: the template through the transform, then the deploy's own
/// no-op check (the deployed template's sha256 and parameters) and change-set code. Returns the
/// executed changes (`Add X`, ...), None when the no-op check skipped CloudFormation.
async fn deploy(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    source: &Template,
    params: &BTreeMap<String, String>,
) -> Option<Vec<String>> {
    use xtask::aws::cfn;
    let template = transform::transform(source, params).expect("transforms");
    let state = cfn::describe(cfn, stack).await.unwrap();
    if let Some(s) = &state
        && &s.parameters == params
        && cfn::deployed_template(cfn, &s.id).await.unwrap().map(|body| cfn::body_sha256(&body)).as_deref()
            == Some(template.sha256.as_str())
    {
        return None;
    }
    let kind = if state.is_some() {
        aws_sdk_cloudformation::types::ChangeSetType::Update
    } else {
        aws_sdk_cloudformation::types::ChangeSetType::Create
    };
    let request = cfn::ChangeSetRequest {
        stack_name: stack,
        kind,
        template_body: Some(&template.body),
        template_url: None,
        parameters: params,
    };
    let deadline = xtask::aws::Deadline::after(std::time::Duration::from_secs(120));
    let cs = cfn::create_change_set(cfn, request, &deadline).await.unwrap().expect("a change set with changes");
    let op = cfn::Operation::begin(cfn, &cs.stack_id, "execute").await;
    cfn.execute_change_set()
        .change_set_name(&cs.id)
        .stack_name(&cs.stack_id)
        .client_request_token(&op.token)
        .send()
        .await
        .unwrap();
    let ui = xtask::report::Ui::plain("releases");
    let end = cfn::follow(cfn, &op, &ui, &deadline).await.unwrap();
    assert!(cfn::is_success(&end), "{end}");
    let mut changes: Vec<String> = cs.changes.iter().map(|c| format!("{} {}", c.action, c.logical_id)).collect();
    changes.sort();
    Some(changes)
}

/// The stack's Version resources (logical ids).
async fn version_resources(cfn: &aws_sdk_cloudformation::Client, stack: &str) -> Vec<String> {
    let out = cfn.describe_stack_resources().stack_name(stack).send().await.unwrap();
    out.stack_resources()
        .iter()
        .filter(|r| r.resource_type() == Some("AWS::Lambda::Version"))
        .filter_map(|r| r.logical_resource_id().map(String::from))
        .collect()
}

#[test]
fn a_version_is_published_only_when_the_function_changes() {
    let moto = testkit::moto::Moto::start();
    let config = testkit::aws::sdk_config(&moto.endpoint());
    let s3 = testkit::aws::s3_client(&config);
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let lambda = aws_sdk_lambda::Client::new(&config);
    let source = Template::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/moto-release-stack.yaml"),
        "moto-release-stack.yaml",
    )
    .unwrap();
    let rt = rt();
    let (key1, key2) = (format!("lambdas/api/{}.zip", "1".repeat(64)), format!("lambdas/api/{}.zip", "2".repeat(64)));
    rt.block_on(async {
        s3.create_bucket().bucket("release-artifacts").send().await.unwrap();
        for (key, code) in [(&key1, "api v1"), (&key2, "api v2")] {
            let zip = xtask::package::zip_bootstrap(code.as_bytes()).unwrap();
            s3.put_object().bucket("release-artifacts").key(key).body(zip.into()).send().await.unwrap();
        }
    });
    let params = |key: &str, label: &str| -> BTreeMap<String, String> {
        BTreeMap::from([
            ("ArtifactBucket".to_string(), "release-artifacts".to_string()),
            ("ApiCodeKey".to_string(), key.to_string()),
            ("Label".to_string(), label.to_string()),
        ])
    };
    let version_id =
        |p: &BTreeMap<String, String>| transform::renames(&source, p).unwrap()["ApiFunctionVersion"].clone();
    let (v1, v2) = (version_id(&params(&key1, "a")), version_id(&params(&key2, "a")));
    assert_eq!(version_id(&params(&key1, "b")), v1, "an unrelated parameter keeps the version's id");
    let stack = "notes-release";
    rt.block_on(async {
        let created =
            deploy(&cfn, stack, &source, &params(&key1, "a")).await.expect("the first deploy creates the stack");
        assert!(created.contains(&format!("Add {v1}")), "{created:?}");
        let out = cfn.describe_stacks().stack_name(stack).send().await.unwrap();
        let function = out.stacks()[0]
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some("ApiFunctionName"))
            .and_then(|o| o.output_value())
            .unwrap()
            .to_string();
        assert_eq!(published_versions(&lambda, &function).await, ["1"]);

        // Two deploys, one version: the same inputs give the same bytes, and the no-op check stops
        // before any CloudFormation write.
        assert_eq!(deploy(&cfn, stack, &source, &params(&key1, "a")).await, None);
        assert_eq!(published_versions(&lambda, &function).await, ["1"]);

        // An unrelated change updates the stack and leaves the version alone.
        let unrelated = deploy(&cfn, stack, &source, &params(&key1, "b")).await.expect("an update");
        assert_eq!(unrelated, ["Modify Unrelated"]);
        assert_eq!(published_versions(&lambda, &function).await, ["1"]);
        assert_eq!(version_resources(&cfn, stack).await, std::slice::from_ref(&v1));

        // New code: a new Version resource replaces the old one (CloudFormation publishes it after
        // the function's update, by dependency order, and deletes the old version afterwards).
        let released = deploy(&cfn, stack, &source, &params(&key2, "b")).await.expect("an update");
        assert_eq!(released, [format!("Add {v2}"), "Modify ApiFunction".to_string(), format!("Remove {v1}")]);
        assert_eq!(version_resources(&cfn, stack).await, std::slice::from_ref(&v2));
        // moto applies a change set's additions before its modifications (not in dependency
        // order), so its PublishVersion still sees the old code and returns version 1; AWS
        // publishes version 2 here. What moto shows is that one Version resource was added.
        assert_eq!(deploy(&cfn, stack, &source, &params(&key2, "b")).await, None, "and the next deploy is a no-op");
    });
}

/// `cargo xtask releases` on moto: the records of two deploys, the live one marked.
mod listing {
    use crate::e2e::*;

    #[test]
    fn releases_lists_the_records_newest_first_and_marks_the_live_one() {
        let moto = Moto::start();
        let rt = rt();
        let stack = "notes-releases";
        let distribution = rt.block_on(create_distribution(&moto));
        for api in ["api v1", "api v2"] {
            let (project, _) = Project::new(&distribution, api, &site_v1());
            let args = ["--allow-example-domains", "deploy", "--from-dist", &project.path("dist"), "--json"]
                .map(String::from)
                .to_vec();
            let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
            assert!(xtask(&moto, &project, stack, &args).status.success());
        }
        let (project, _) = Project::new(&distribution, "api v1", &site_v1());
        let listed = xtask_command(&moto, &project, stack, &["releases"]).output().unwrap();
        assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
        // Times vary: masked.
        let text = regex::Regex::new(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ")
            .unwrap()
            .replace_all(&String::from_utf8_lossy(&listed.stdout), "<time>              ")
            .into_owned();
        expect_test::expect![[r#"
              release  time                  commit        who
            *       2  <time>                e2e           arn:aws:sts::123456789012:user/moto
                    1  <time>                e2e           arn:aws:sts::123456789012:user/moto
            * live: release 2 is what the stack runs
        "#]]
        .assert_eq(&text);
        let json = xtask(&moto, &project, stack, &["releases", "--json"]);
        assert!(json.status.success(), "{}", json.stderr);
        let live: Vec<(u64, bool)> =
            json.json.as_array().unwrap().iter().map(|r| (r["number"].as_u64().unwrap(), r["live"] == true)).collect();
        assert_eq!(live, [(2, true), (1, false)]);
    }
}

/// Pruning in an artifact bucket that serves two stacks keeps each stack's recent zips.
mod shared_bucket {
    use crate::e2e::*;

    #[test]
    fn pruning_never_deletes_another_stacks_live_code() {
        let moto = Moto::start();
        let rt = rt();
        let distribution = rt.block_on(create_distribution(&moto));
        let deploy = |stack: &str, api: &str| {
            let (project, key) = Project::new(&distribution, api, &site_v1());
            let dist = project.path("dist");
            let args = [
                "--allow-example-domains",
                "deploy",
                "--from-dist",
                &dist,
                "--json",
                "--artifact-bucket",
                "shared-artifacts",
                "--keep-releases",
                "1",
            ];
            let run = xtask(&moto, &project, stack, &args);
            assert!(run.status.success(), "{}", run.stderr);
            key
        };
        let a = deploy("notes-a", "api a");
        let b1 = deploy("notes-b", "api b1");
        let b2 = deploy("notes-b", "api b2");
        let s3 = rt.block_on(moto.s3());
        let exists = |key: &str| rt.block_on(s3.head_object().bucket("shared-artifacts").key(key).send()).is_ok();
        // notes-b kept one release: its older zip went; notes-a's live zip stayed.
        assert!(exists(&a), "notes-a's code was pruned by notes-b's deploy");
        assert!(exists(&b2));
        assert!(!exists(&b1), "pruning still deletes what no kept release needs");
    }
}
