//! Deploy, sync, plan, rollback, a failed create and its recreation (`--repair`), and destroy, run as an IAM user
//! that holds exactly the deployer policies, on moto with IAM enforced: the test's set-up runs as
//! root, then `/moto-api/reset-auth` makes moto authorize every request.
//!
//! Where moto is looser than AWS, and why lint's check of the deployer policies against the
//! tool's calls (`cloud/checks/deployer_calls.rs`) stays the authority on resources:
//! - moto authorizes only the API call itself, never what CloudFormation's handlers do inside it;
//! - outside S3, moto matches statements against the resource `*` (not the resource's ARN), so the
//!   test widens every non-S3 statement's `Resource` to `*`; S3 statements are kept as shipped and
//!   moto matches them against the real bucket and object ARNs;
//! - moto evaluates only some condition keys; the conditional statements (iam:PassRole to the
//!   stack's roles, service-linked roles) are never reached by the tool's own calls;
//! - moto authorizes a versioned delete in DeleteObjects as `s3:DeleteObject` only (S3 also asks
//!   for `s3:DeleteObjectVersion`), and maps some bucket reads to broader actions than S3 does.
//!
//! Two of moto's own defects under enforcement are corrected in `lambdas/testkit/moto_server.py`
//! (the signature of a form-encoded request, DeleteObjects' resource); neither lets a call through
//! that AWS would refuse.

use serde_json::Value as Json;

use crate::e2e::*;

/// The deployer policies as moto can evaluate them (see the module docs).
fn policies_for_moto() -> Vec<(String, Json)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let mut policies = xtask::cloud::checks::files::load_deployer_policies(
        &root.join(xtask::cloud::checks::files::DEPLOYER_POLICY_DIR),
    )
    .unwrap();
    for (_, doc) in &mut policies {
        for statement in doc["Statement"].as_array_mut().unwrap() {
            let s3_only =
                xtask::cloud::checks::policy::strings(statement.get("Action")).iter().all(|a| a.starts_with("s3:"));
            if !s3_only {
                statement["Resource"] = Json::from("*");
            }
        }
    }
    policies
}

/// Creates the IAM user `user` with the policies (as root, before enforcement); returns its keys.
fn create_deployer(moto: &Moto, user: &str, policies: &[(String, Json)]) -> (String, String) {
    let script = r#"
import json, sys, boto3
spec = json.load(sys.stdin)
iam = boto3.client("iam", endpoint_url=spec["url"], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
user = spec["user"]
iam.create_user(UserName=user)
for name, doc in spec["policies"]:
    arn = iam.create_policy(PolicyName=f"{user}-{name}", PolicyDocument=json.dumps(doc))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
key = iam.create_access_key(UserName=user)["AccessKey"]
print(json.dumps([key["AccessKeyId"], key["SecretAccessKey"]]))
"#;
    let spec = serde_json::json!({
        "url": moto.url,
        "user": user,
        "policies": policies.iter().map(|(file, doc)| {
            let name = file.rsplit('/').next().unwrap().trim_end_matches(".json").to_string();
            serde_json::json!([name, doc])
        }).collect::<Vec<_>>(),
    });
    let python = testkit::moto::MotoOptions::default().python;
    let mut child = std::process::Command::new(&python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    use std::io::Write;
    child.stdin.take().unwrap().write_all(spec.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "creating the deployer user failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// From now on moto authorizes every request.
fn enforce(moto: &Moto) {
    let reply = testkit::http::send("POST", &format!("{}/moto-api/reset-auth", moto.url), &[], b"0").unwrap();
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
}

fn as_deployer(moto: &Moto, project: &Project, stack: &str, keys: &(String, String), args: &[&str]) -> Run {
    let mut cmd = xtask_command(moto, project, stack, args);
    cmd.env("AWS_ACCESS_KEY_ID", &keys.0).env("AWS_SECRET_ACCESS_KEY", &keys.1);
    run(cmd, args)
}

#[test]
fn deploy_sync_repair_and_destroy_succeed_with_exactly_the_deployer_policies() {
    let moto = Moto::start();
    let rt = rt();
    // The deployer policies are scoped to stacks named notes-app-*.
    let stack = "notes-app-iam";
    let distribution = rt.block_on(create_distribution(&moto));
    let (project, _) = Project::new(&distribution, "api v1", &site_v1());
    let s3 = rt.block_on(moto.s3());
    rt.block_on(s3.create_bucket().bucket("notes-app-taken").send()).unwrap();
    let keys = create_deployer(&moto, "deployer", &policies_for_moto());
    // The same policies without cloudformation:CreateChangeSet: the deploy must be refused there.
    let mut without_put = policies_for_moto();
    for (_, doc) in &mut without_put {
        for statement in doc["Statement"].as_array_mut().unwrap() {
            if let Some(actions) = statement["Action"].as_array_mut() {
                actions.retain(|a| a != "cloudformation:CreateChangeSet");
            }
        }
    }
    let short_keys = create_deployer(&moto, "short-deployer", &without_put);
    enforce(&moto);

    // Someone without the policies is refused: enforcement is on.
    let mut stranger = xtask_command(&moto, &project, stack, &["outputs"]);
    stranger.env("AWS_ACCESS_KEY_ID", "AKIANOBODY0000000000").env("AWS_SECRET_ACCESS_KEY", "nobody");
    let refused = run(stranger, &["outputs"]);
    assert!(!refused.status.success(), "{}", refused.stderr);

    let dist = project.path("dist");
    let short =
        as_deployer(&moto, &project, stack, &short_keys, &["--allow-example-domains", "deploy", "--from-dist", &dist]);
    assert!(!short.status.success(), "{}", short.stderr);
    assert!(
        short.stderr.contains("cannot create a change set") && short.stderr.contains("AccessDenied"),
        "{}",
        short.stderr
    );
    let deploy = |extra: &[&str]| {
        let mut args = vec!["--allow-example-domains", "deploy", "--json", "--from-dist", &dist];
        args.extend(extra);
        as_deployer(&moto, &project, stack, &keys, &args)
    };
    // A failed first create (a bucket name someone holds), then --repair recreates it.
    let failed = deploy(&["--parameter", "DataBucketName=notes-app-taken"]);
    assert!(!failed.status.success());
    assert!(!failed.stderr.contains("AccessDenied"), "{}", failed.stderr);
    let repaired = deploy(&["--repair"]);
    assert!(repaired.status.success(), "{}", repaired.stderr);
    // A release with another page: sync alone, then a deploy that changes nothing.
    let synced = as_deployer(&moto, &project, stack, &keys, &["--allow-example-domains", "sync", "--from-dist", &dist]);
    assert!(synced.status.success(), "{}", synced.stderr);
    let again = deploy(&[]);
    assert!(again.status.success(), "{}", again.stderr);
    // A second release (new api code), its plan first; then a rollback to the first release.
    let dist2 = project.path("dist2");
    write_dist(std::path::Path::new(&dist2), "api v2", &site_v1());
    let out = project.path("plan.md");
    let plan = ["--allow-example-domains", "plan", "--from-dist", &dist2, "--out", &out];
    let planned = as_deployer(&moto, &project, stack, &keys, &plan);
    assert!(planned.status.success(), "{}", planned.stderr);
    let second =
        as_deployer(&moto, &project, stack, &keys, &["--allow-example-domains", "deploy", "--from-dist", &dist2]);
    assert!(second.status.success(), "{}", second.stderr);
    let back = as_deployer(&moto, &project, stack, &keys, &["rollback", "--json"]);
    assert!(back.status.success(), "{}", back.stderr);
    assert_eq!(back.changes(), ["Modify ApiFunction"]);
    let outputs = as_deployer(&moto, &project, stack, &keys, &["outputs"]);
    assert!(outputs.status.success(), "{}", outputs.stderr);
    let destroy = as_deployer(&moto, &project, stack, &keys, &["destroy", "--yes", "--json"]);
    assert!(destroy.status.success(), "{}", destroy.stderr);
}
