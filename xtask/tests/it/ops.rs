//! `cargo xtask logs` and `cargo xtask status` through the real binary against moto, on data the
//! tests write with the SDK: log events in a function's log group (found through the stack's
//! outputs), and a function with two versions behind a weighted `live` alias, an alarm in ALARM and
//! a CodeDeploy deployment.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use testkit::moto::Moto;

fn xtask(moto: &Moto, stack: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(["--stack-name", stack, "--region", "us-east-1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env_remove("STACK_NAME")
        .stdin(Stdio::null());
    cmd
}

fn run(moto: &Moto, stack: &str, args: &[&str]) -> Output {
    let out = xtask(moto, stack).args(args).output().expect("xtask runs");
    eprintln!("---- xtask {}\n{}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    out
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

async fn put_events(logs: &aws_sdk_cloudwatchlogs::Client, group: &str, stream: &str, messages: &[(i64, &str)]) {
    use aws_sdk_cloudwatchlogs::types::InputLogEvent;
    let _ = logs.create_log_stream().log_group_name(group).log_stream_name(stream).send().await;
    let events: Vec<InputLogEvent> =
        messages.iter().map(|(t, m)| InputLogEvent::builder().timestamp(*t).message(*m).build().unwrap()).collect();
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap();
}

const REQUEST: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

#[test]
fn logs_prints_a_functions_events_readably_filtered_and_followed() {
    let moto = Moto::start();
    let config = testkit::aws::sdk_config(&moto.endpoint());
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let group = "/notes/logs-test/lambda/api";
    let template = format!(
        "Resources:\n  ApiLogGroup:\n    Type: AWS::Logs::LogGroup\n    Properties: {{LogGroupName: {group}}}\n\
         Outputs:\n  ApiLogGroupName:\n    Value: !Ref ApiLogGroup\n  ApiFunctionName:\n    Value: logs-test-api\n"
    );
    let t = now_ms();
    rt().block_on(async {
        cfn.create_stack().stack_name("logs-test").template_body(template).send().await.expect("stack created");
        put_events(
            &logs,
            group,
            "2025/01/02/[7]abc",
            &[
                (t - 3_600_000 * 3, r#"{"level":"INFO","fields":{"message":"too old"}}"#),
                (t - 60_000, &format!("START RequestId: {REQUEST} Version: 7")),
                (
                    t - 59_000,
                    &format!(
                        r#"{{"level":"INFO","fields":{{"message":"request","method":"GET","path":"/v1/notes","status":200}},"span":{{"requestId":"{REQUEST}","name":"Lambda runtime invoke"}}}}"#
                    ),
                ),
                (t - 58_000, r#"{"level":"ERROR","fields":{"message":"store down","request_id":"other-request"}}"#),
            ],
        )
        .await;
    });

    // Readable lines, oldest first, within --since.
    let out = run(&moto, "logs-test", &["logs", "api", "--since", "2h"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].ends_with(&format!("LAMBDA {REQUEST} START RequestId: {REQUEST} Version: 7")), "{}", lines[0]);
    assert!(
        lines[1].ends_with(&format!("INFO   {REQUEST} request method=GET path=/v1/notes status=200")),
        "{}",
        lines[1]
    );
    assert!(lines[2].ends_with("ERROR  other-request store down"), "{}", lines[2]);
    assert!(lines[1].as_bytes()[4] == b'-' && lines[1].as_bytes()[10] == b' ', "time first: {}", lines[1]);

    // --request-id: that invocation only; --filter: a term; --json: the lines as logged.
    let out = run(&moto, "logs-test", &["logs", "api", "--request-id", REQUEST, "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stdout.lines().nth(1).unwrap().starts_with(r#"{"level":"INFO""#), "{stdout}");
    let out = run(&moto, "logs-test", &["logs", "api", "--filter", "ERROR"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);

    // An unknown function is refused with the stack's functions.
    let out = run(&moto, "logs-test", &["logs", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pick one of: api"));

    // --follow prints what arrives later, once.
    let mut child = xtask(&moto, "logs-test")
        .args(["logs", "api", "--since", "1m", "--follow", "--filter", "later"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    rt().block_on(put_events(
        &logs,
        group,
        "2025/01/02/[7]def",
        &[(now_ms(), r#"{"level":"WARN","fields":{"message":"later event"}}"#)],
    ));
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).expect("the followed event arrives");
    assert!(line.ends_with("WARN   - later event"), "{line}");
    assert!(rx.recv_timeout(Duration::from_secs(5)).is_err(), "each event is printed once");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn status_shows_aliases_with_weights_alarms_in_alarm_and_the_last_release() {
    let moto = Moto::start();
    let config = testkit::aws::sdk_config(&moto.endpoint());
    let stack = "status-test";
    rt().block_on(async {
        // The stack first: moto's Lambda wants a role it can find, and IAM is reached here only
        // through CloudFormation.
        let cfn = aws_sdk_cloudformation::Client::new(&config);
        let template = "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: status-test-role\n      AssumeRolePolicyDocument: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}\nOutputs:\n  ApiFunctionName:\n    Value: status-test-api\n  CodeDeployApplicationName:\n    Value: status-test-app\n";
        cfn.create_stack().stack_name(stack).template_body(template).send().await.expect("stack created");
        let lambda = aws_sdk_lambda::Client::new(&config);
        let zip = xtask::package::zip_bootstrap(b"api v1").unwrap();
        let function = lambda
            .create_function()
            .function_name("status-test-api")
            .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
            .handler("bootstrap")
            .role("arn:aws:iam::123456789012:role/status-test-role")
            .code(aws_sdk_lambda::types::FunctionCode::builder().zip_file(zip.into()).build())
            .send()
            .await
            .expect("function created");
        let name = function.function_name().unwrap().to_string();
        let v1 = lambda.publish_version().function_name(&name).description("api lambdas/api/1.zip").send().await.unwrap();
        lambda
            .update_function_code()
            .function_name(&name)
            .zip_file(xtask::package::zip_bootstrap(b"api v2").unwrap().into())
            .send()
            .await
            .unwrap();
        let v2 = lambda.publish_version().function_name(&name).description("api lambdas/api/2.zip").send().await.unwrap();
        let (v1, v2) = (v1.version().unwrap().to_string(), v2.version().unwrap().to_string());
        lambda
            .create_alias()
            .function_name(&name)
            .name("live")
            .function_version(&v1)
            .routing_config(aws_sdk_lambda::types::AliasRoutingConfiguration::builder().additional_version_weights(&v2, 0.1).build())
            .send()
            .await
            .expect("alias created");

        let cw = aws_sdk_cloudwatch::Client::new(&config);
        for alarm in ["status-test-api-canary-errors", "status-test-db-cpu"] {
            cw.put_metric_alarm()
                .alarm_name(alarm)
                .namespace("AWS/Lambda")
                .metric_name("Errors")
                .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
                .period(60)
                .evaluation_periods(1)
                .threshold(0.0)
                .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
                .send()
                .await
                .expect("alarm created");
        }
        cw.set_alarm_state()
            .alarm_name("status-test-api-canary-errors")
            .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
            .state_reason("Threshold Crossed: 1 datapoint [3.0] was greater than the threshold (0.0).")
            .send()
            .await
            .unwrap();

        let cd = aws_sdk_codedeploy::Client::new(&config);
        cd.create_application()
            .application_name("status-test-app")
            .compute_platform(aws_sdk_codedeploy::types::ComputePlatform::Lambda)
            .send()
            .await
            .unwrap();
        cd.create_deployment_group()
            .application_name("status-test-app")
            .deployment_group_name("status-test-api-group")
            .service_role_arn("arn:aws:iam::123456789012:role/status-test-codedeploy")
            .deployment_config_name("CodeDeployDefault.LambdaCanary10Percent5Minutes")
            .send()
            .await
            .unwrap();
        let appspec = format!(
            r#"{{"version":0.0,"Resources":[{{"ApiFunction":{{"Type":"AWS::Lambda::Function","Properties":{{"Name":"{name}","Alias":"live","CurrentVersion":"{v1}","TargetVersion":"{v2}"}}}}}}]}}"#
        );
        cd.create_deployment()
            .application_name("status-test-app")
            .deployment_group_name("status-test-api-group")
            .revision(
                aws_sdk_codedeploy::types::RevisionLocation::builder()
                    .revision_type(aws_sdk_codedeploy::types::RevisionLocationType::AppSpecContent)
                    .app_spec_content(aws_sdk_codedeploy::types::AppSpecContent::builder().content(appspec).build())
                    .build(),
            )
            .send()
            .await
            .expect("deployment created");

    });

    let out = run(&moto, stack, &["status"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("stack      status-test (CREATE_COMPLETE) in us-east-1\n"), "{text}");
    assert!(text.contains("  api  live → 1 shifting: 90% on 1, 10% on 2"), "{text}");
    assert!(text.contains("api lambdas/api/1.zip"), "{text}");
    assert!(text.contains("alarms     1 in ALARM\n  status-test-api-canary-errors  since "), "{text}");
    assert!(text.contains("Threshold Crossed: 1 datapoint [3.0]"), "{text}");
    assert!(!text.contains("status-test-db-cpu"), "an alarm in OK is not listed: {text}");
    let release = text.split("last release\n").nth(1).expect("a last-release section");
    // moto's deployment ids are UUIDs (AWS's are d-XXXXXXXXX) and stay Created.
    assert!(
        release.starts_with("  api  ") && release.contains(" Created ") && release.contains(": 1 → 2"),
        "{release}"
    );

    let out = run(&moto, stack, &["status", "--json"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["functions"][0]["alias"]["weights"],
        serde_json::json!([{"version": "1", "weight": 0.9}, {"version": "2", "weight": 0.1}])
    );
    assert_eq!(json["alarms_in_alarm"][0]["name"], "status-test-api-canary-errors");

    let out = run(&moto, "no-such-stack", &["status"]);
    assert_eq!(out.status.code(), Some(1));
}
