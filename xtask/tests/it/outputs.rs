//! `cargo xtask outputs` against moto: reads a real stack's outputs through the SDK, honouring
//! AWS_ENDPOINT_URL, and refuses clearly when the stack does not exist.

use std::process::{Command, Output};

use testkit::moto::Moto;

fn outputs(moto: &Moto, stack: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["--stack-name", stack, "--region", "us-east-1", "outputs"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("xtask runs")
}

#[test]
fn prints_the_outputs_of_a_stack_on_moto() {
    let moto = Moto::start();
    let config = testkit::aws::sdk_config(&moto.endpoint());
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let template = "Resources:\n  Site:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: site-bucket-for-outputs\nOutputs:\n  SiteBucketName:\n    Value: !Ref Site\n";
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        cfn.create_stack().stack_name("outputs-test").template_body(template).send().await.expect("stack created");
    });

    let out = outputs(&moto, "outputs-test", &["--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json, serde_json::json!({ "SiteBucketName": "site-bucket-for-outputs" }));

    let out = outputs(&moto, "no-such-stack", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: stack no-such-stack does not exist in us-east-1\nhint: "), "{stderr}");
}
