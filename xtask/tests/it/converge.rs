//! Deploys, syncs and destroys that converge on real AWS semantics, proven through the
//! fault-injecting proxy in front of moto (`testkit::faults`): stale DescribeStacks, throttling,
//! 5xx and dropped connections, buckets owned by another account, CloudFront's limits, an
//! interrupted sync, a bucket edited by hand. Each scenario: the command either converges or exits
//! non-zero with the root cause first, and the next run converges.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use testkit::faults::Fault;

use crate::e2e::*;

const DEPLOY: &[&str] = &["--allow-example-domains", "deploy", "--json"];

fn deploy(moto: &Moto, project: &Project, stack: &str, extra: &[&str]) -> Run {
    let dist = project.path("dist");
    let mut args: Vec<&str> = DEPLOY.to_vec();
    args.extend(["--from-dist", &dist]);
    args.extend(extra);
    xtask(moto, project, stack, &args)
}

fn sync(moto: &Moto, project: &Project, stack: &str, extra: &[&str]) -> Run {
    let dist = project.path("dist");
    let mut args = vec!["--allow-example-domains", "sync", "--json", "--from-dist", &dist];
    args.extend(extra);
    xtask(moto, project, stack, &args)
}

/// The site bucket's keys and their bytes.
async fn site_contents(moto: &Moto, bucket: &str) -> BTreeMap<String, Vec<u8>> {
    let s3 = moto.s3().await;
    let listed = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    let mut out = BTreeMap::new();
    for o in listed.contents() {
        let key = o.key().unwrap().to_string();
        let body = s3.get_object().bucket(bucket).key(&key).send().await.unwrap();
        out.insert(key, body.body.collect().await.unwrap().to_vec());
    }
    out
}

/// What the dist says the site bucket must hold (its site files; config.json aside).
fn expected_site(site: &Site) -> BTreeMap<String, Vec<u8>> {
    site.iter().map(|(k, (content, ..))| (k.clone(), content.as_bytes().to_vec())).collect()
}

fn without_config(mut contents: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    contents.remove("config.json");
    contents
}

#[test]
fn a_stale_describe_stacks_never_ends_the_wait_before_the_update_ran() {
    let moto = Moto::with_faults();
    let rt = rt();
    let stack = "notes-stale";
    let distribution = rt.block_on(create_distribution(&moto));
    let (project, _) = Project::new(&distribution, "api v1", &site_v1());
    // A first create whose DescribeStacks keeps showing the stack as it was (REVIEW_IN_PROGRESS,
    // no outputs) for a while after ExecuteChangeSet: the deploy follows the events and waits until
    // DescribeStacks agrees, then syncs the site with the real outputs.
    moto.faults().stale_describe_stacks(4);
    let first = deploy(&moto, &project, stack, &["--parameter", "EnableDeletionProtection=false"]);
    assert!(first.status.success(), "{}", first.stderr);
    let outs = rt.block_on(outputs(&moto, stack));
    let site = without_config(rt.block_on(site_contents(&moto, &outs["SiteBucketName"])));
    assert_eq!(site, expected_site(&site_v1()));

    // An update that fails (a bucket name someone else holds) while DescribeStacks still reports
    // the previous UPDATE_COMPLETE: the old wait took that for success and went on to migrate and
    // sync; now the deploy fails with the root cause first.
    let s3 = rt.block_on(moto.s3());
    rt.block_on(s3.create_bucket().bucket("taken-data-bucket").send()).unwrap();
    moto.faults().stale_describe_stacks(6);
    let failed = deploy(&moto, &project, stack, &["--parameter", "DataBucketName=taken-data-bucket"]);
    assert!(!failed.status.success(), "{}", failed.stderr);
    let error = failed.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
    assert!(error.contains("AppDataBucket"), "{}", failed.stderr);
    assert!(!failed.stderr.contains("==> site"), "nothing after the stack phase may run: {}", failed.stderr);

    // The next run, without the bad parameter, converges.
    let again = deploy(&moto, &project, stack, &[]);
    assert!(again.status.success(), "{}", again.stderr);
}

#[test]
fn throttling_5xx_and_dropped_connections_are_retried_to_convergence() {
    let moto = Moto::with_faults();
    let rt = rt();
    let stack = "notes-flaky";
    let distribution = rt.block_on(create_distribution(&moto));
    let (project, _) = Project::new(&distribution, "api v1", &site_v1());
    let f = moto.faults();
    f.fail("CloudFormation.DescribeStacks", Fault::Throttle, 3);
    f.fail("CloudFormation.DescribeStackEvents", Fault::Internal, 2);
    f.fail("S3.PutObject", Fault::Throttle, 3);
    f.fail("S3.PutObject", Fault::Reset, 1);
    f.fail("S3.ListObjectsV2", Fault::Internal, 2);
    f.fail("CloudFront.CreateInvalidation", Fault::Reset, 1);
    let run = deploy(&moto, &project, stack, &[]);
    assert!(run.status.success(), "{}", run.stderr);
    let outs = rt.block_on(outputs(&moto, stack));
    let site = without_config(rt.block_on(site_contents(&moto, &outs["SiteBucketName"])));
    assert_eq!(site, expected_site(&site_v1()));
    // The faults were met, and retried past.
    assert!(f.calls("S3.PutObject") > 11, "{:?}", f.counts());

    // Faults past what retries absorb: the deploy fails with the cause; the next run converges.
    let (changed, new_key) = Project::new(&distribution, "api v2", &site_v1());
    f.fail("S3.PutObject", Fault::Internal, 40);
    let failed = deploy(&moto, &changed, stack, &[]);
    assert!(!failed.status.success(), "{}", failed.stderr);
    let error = failed.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
    assert!(error.contains("InternalError"), "the cause, not a generic failure: {}", failed.stderr);
    f.reset();
    let healed = deploy(&moto, &changed, stack, &[]);
    assert!(healed.status.success(), "{}", healed.stderr);
    assert_eq!(rt.block_on(stack_parameters(&moto, stack))["ApiCodeKey"], new_key);

    // destroy through throttled listings and a dropped DeleteObjects.
    f.fail("S3.ListObjectVersions", Fault::Throttle, 2);
    f.fail("S3.DeleteObjects", Fault::Reset, 1);
    let destroy = xtask(&moto, &changed, stack, &["destroy", "--yes", "--json"]);
    assert!(destroy.status.success(), "{}", destroy.stderr);
    let cfn = aws_sdk_cloudformation::Client::new(&rt.block_on(moto.sdk()));
    assert!(rt.block_on(cfn.describe_stacks().stack_name(stack).send()).is_err(), "the stack should be gone");
}

#[test]
fn a_bucket_owned_by_another_account_stops_the_deploy_before_any_write() {
    let moto = Moto::with_faults();
    let rt = rt();
    let stack = "notes-squatted";
    let distribution = rt.block_on(create_distribution(&moto));
    let (project, _) = Project::new(&distribution, "api v1", &site_v1());
    // Someone else created the artifact bucket's predictable name in their account.
    let bucket = "notes-squatted-artifacts-123456789012-us-east-1";
    rt.block_on(rt.block_on(moto.s3()).create_bucket().bucket(bucket).send()).unwrap();
    moto.faults().bucket_owner(bucket, "999999999999");
    let run = deploy(&moto, &project, stack, &[]);
    assert!(!run.status.success(), "{}", run.stderr);
    let error = run.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
    assert!(error.contains("is not owned by account 123456789012"), "{}", run.stderr);
    let f = moto.faults();
    for write in ["S3.CreateBucket", "CloudFormation.CreateChangeSet"] {
        assert_eq!(f.calls(write), 0, "{write} before the ownership check: {:?}", f.counts());
    }
    // Every S3 call named the account as the expected owner, so S3 refused each before acting: the
    // one write tried is the lock's (its refusal is the ownership check), and nothing was written.
    for seen in f.seen().iter().filter(|s| s.operation.starts_with("S3.")) {
        assert_eq!(seen.header("x-amz-expected-bucket-owner"), Some("123456789012"), "{}", seen.operation);
    }
    assert!(f.calls("S3.PutObject") <= 1, "{:?}", f.counts());
    let listed = rt.block_on(rt.block_on(moto.s3()).list_objects_v2().bucket(bucket).send()).unwrap();
    assert_eq!(listed.key_count(), Some(0), "the squatter's bucket was written to: {listed:?}");
}

#[test]
fn an_interrupted_sync_and_a_bucket_edited_by_hand_are_repaired() {
    let moto = Moto::with_faults();
    let rt = rt();
    let stack = "notes-repair";
    let distribution = rt.block_on(create_distribution(&moto));
    let mut site = site_v1();
    site.extend((0..30).map(|i| (format!("docs/page{i:02}.html"), html(&format!("page {i}")))));
    let (project, _) = Project::new(&distribution, "api v1", &site_v1());
    assert!(deploy(&moto, &project, stack, &[]).status.success());
    let bucket = rt.block_on(outputs(&moto, stack))["SiteBucketName"].clone();

    // A sync of the bigger release, killed after a few uploads (each slowed down).
    let (bigger, _) = Project::new(&distribution, "api v1", &site);
    let f = moto.faults();
    f.fail("S3.PutObject", Fault::Delay(Duration::from_millis(300)), 60);
    let dist = bigger.path("dist");
    let mut child = xtask_command(
        &moto,
        &bigger,
        stack,
        &["--allow-example-domains", "sync", "--from-dist", &dist, "--parallel", "1"],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while f.calls("S3.PutObject") < 5 {
        assert!(Instant::now() < deadline, "the sync never started uploading");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    f.reset();
    let half = without_config(rt.block_on(site_contents(&moto, &bucket)));
    assert_ne!(half, expected_site(&site), "the kill came before the end");

    // Meanwhile someone edits the bucket by hand: deletes a file, overwrites one, adds a stray.
    let s3 = rt.block_on(moto.s3());
    rt.block_on(s3.delete_object().bucket(&bucket).key("robots.txt").send()).unwrap();
    rt.block_on(s3.put_object().bucket(&bucket).key("index.html").body(ByteStream::from_static(b"defaced")).send())
        .unwrap();
    rt.block_on(s3.put_object().bucket(&bucket).key("notes.txt").body(ByteStream::from_static(b"hand-made")).send())
        .unwrap();

    // The next sync puts back exactly the release, and invalidates what changed.
    let repaired = sync(&moto, &bigger, stack, &[]);
    assert!(repaired.status.success(), "{}", repaired.stderr);
    assert_eq!(without_config(rt.block_on(site_contents(&moto, &bucket))), expected_site(&site));
    let paths = repaired.json["invalidation_paths"].to_string();
    assert!(paths.contains("/index.html") || paths.contains("/*"), "{paths}");
    // And a sync after that has nothing to do.
    let quiet = sync(&moto, &bigger, stack, &[]);
    assert!(quiet.status.success(), "{}", quiet.stderr);
    // The lock, taken and removed: nothing else.
    assert_eq!(quiet.json["aws_write_calls"], 2, "{}", quiet.json["aws_calls"]);
    // The stack's outputs, one listing page of the site bucket and the manifest (which also holds
    // the pending invalidation): nothing else is read.
    assert_eq!(quiet.json["aws_read_calls"], 3, "{}", quiet.json["aws_calls"]);
}

#[test]
fn paths_an_earlier_xtask_left_pending_are_invalidated_and_its_record_removed() {
    let moto = Moto::with_faults();
    let rt = rt();
    let stack = "notes-legacy-pending";
    let distribution = rt.block_on(create_distribution(&moto));
    let (project, _) = Project::new(&distribution, "api v1", &site_v1());
    assert!(deploy(&moto, &project, stack, &[]).status.success());
    // What an xtask from before this manifest format left: a manifest without `pending` (plain
    // JSON, as the first ones wrote it) and the paths CloudFront never took, beside it.
    let artifacts = format!("{stack}-artifacts-123456789012-us-east-1");
    let manifest_key = format!("sites/{stack}/manifest.json");
    let legacy_key = format!("sites/{stack}/pending-invalidation.json");
    let s3 = rt.block_on(moto.s3());
    let stored = rt.block_on(async {
        let out = s3.get_object().bucket(&artifacts).key(&manifest_key).send().await.unwrap();
        out.body.collect().await.unwrap().into_bytes()
    });
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&stored[..]), &mut json).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert!(manifest["pending"]["paths"].as_array().is_some_and(|p| p.is_empty()), "{manifest}");
    manifest.as_object_mut().unwrap().remove("pending");
    let legacy = serde_json::json!({"distribution": distribution, "paths": ["/old.html"]});
    rt.block_on(async {
        let put = |key: &str, body: Vec<u8>| s3.put_object().bucket(&artifacts).key(key).body(body.into()).send();
        put(&manifest_key, serde_json::to_vec(&manifest).unwrap()).await.unwrap();
        put(&legacy_key, serde_json::to_vec(&legacy).unwrap()).await.unwrap();
    });

    let upgraded = sync(&moto, &project, stack, &[]);
    assert!(upgraded.status.success(), "{}", upgraded.stderr);
    assert_eq!(upgraded.json["site"]["uploaded"], 0, "{}", upgraded.stderr);
    assert_eq!(upgraded.json["invalidation_paths"], serde_json::json!(["/old.html"]));
    let gone = rt.block_on(s3.get_object().bucket(&artifacts).key(&legacy_key).send());
    assert!(gone.is_err(), "the earlier xtask's pending record is still there");
    // From then on the manifest alone says: no read of the old record, nothing to invalidate.
    let quiet = sync(&moto, &project, stack, &[]);
    assert!(quiet.status.success(), "{}", quiet.stderr);
    assert_eq!(quiet.calls("CloudFront.CreateInvalidation"), 0, "{}", quiet.json["aws_calls"]);
    assert_eq!(quiet.calls("S3.GetObject"), 1, "{}", quiet.json["aws_calls"]);
}

#[test]
fn invalidations_are_encoded_kept_until_accepted_and_wait_out_cloudfront_limits() {
    let moto = Moto::with_faults();
    let rt = rt();
    let stack = "notes-invalidate";
    let distribution = rt.block_on(create_distribution(&moto));
    let mut site = site_v1();
    site.insert("docs/read me.html".into(), html("<p>spaces"));
    site.insert("café.html".into(), html("<p>accent"));
    site.insert(
        ".well-known/security.txt".into(),
        ("Contact: mailto:security@example.org".into(), "text/plain; charset=utf-8", "no-cache", false),
    );
    let (project, _) = Project::new(&distribution, "api v1", &site);
    let f = moto.faults();
    // CloudFront refuses the invalidation for longer than the SDK retries: the deploy fails, and
    // the paths stay pending.
    f.fail("CloudFront.CreateInvalidation", Fault::Internal, 40);
    let failed = deploy(&moto, &project, stack, &["--timeout", "60s"]);
    assert!(!failed.status.success(), "{}", failed.stderr);
    f.reset();
    // Nothing changed since, but the next run invalidates what the failed one could not, after
    // waiting out "too many invalidations in progress".
    f.fail("CloudFront.CreateInvalidation", Fault::TooManyInvalidations, 2);
    let again = deploy(&moto, &project, stack, &[]);
    assert!(again.status.success(), "{}", again.stderr);
    assert_eq!(again.json["site"]["uploaded"], 0, "{}", again.stderr);
    assert_eq!(f.calls("CloudFront.CreateInvalidation"), 3);
    let paths: Vec<String> = serde_json::from_value(again.json["invalidation_paths"].clone()).unwrap();
    for want in ["/docs/read%20me.html", "/caf%C3%A9.html", "/.well-known/security.txt", "/index.html"] {
        assert!(paths.iter().any(|p| p == want) || paths == ["/*"], "{want} in {paths:?}");
    }
    // Accepted: nothing is pending any more.
    let quiet = deploy(&moto, &project, stack, &[]);
    assert!(quiet.status.success(), "{}", quiet.stderr);
    assert_eq!(quiet.calls("CloudFront.CreateInvalidation"), 0, "{}", quiet.json["aws_calls"]);
    // The bookkeeping is not in the public site bucket.
    let bucket = rt.block_on(outputs(&moto, stack))["SiteBucketName"].clone();
    let keys: Vec<String> = rt.block_on(site_contents(&moto, &bucket)).into_keys().collect();
    assert!(!keys.iter().any(|k| k.starts_with("_xtask") || k.contains("manifest")), "{keys:?}");
}

#[test]
fn template_edits_that_change_no_resource_return_to_a_read_only_no_op() {
    let moto = Moto::start();
    let rt = rt();
    let stack = "notes-noop";
    let distribution = rt.block_on(create_distribution(&moto));
    let (project, _) = Project::new(&distribution, "api v1", &site_v1());
    assert!(deploy(&moto, &project, stack, &[]).status.success());
    let template = project.path("cloud/stack.yaml");
    let original = std::fs::read_to_string(&template).unwrap();

    // A comment and reformatting only: the same template to CloudFormation, read-only at once.
    std::fs::write(
        &template,
        format!("# a note for readers\n{}", original.replace("{Type: String}", "\n    Type: String")),
    )
    .unwrap();
    let comment = deploy(&moto, &project, stack, &[]);
    assert!(comment.status.success(), "{}", comment.stderr);
    // The lock, taken and removed: nothing else.
    assert_eq!(comment.json["aws_write_calls"], 2, "{}", comment.json["aws_calls"]);

    // A Description edit: one empty change set, remembered; the next deploy is read-only again.
    std::fs::write(&template, original.replace("end-to-end test stack for moto", "the e2e stack")).unwrap();
    let described = deploy(&moto, &project, stack, &[]);
    assert!(described.status.success(), "{}", described.stderr);
    assert_eq!(described.calls("CloudFormation.CreateChangeSet"), 1, "{}", described.json["aws_calls"]);
    let after = deploy(&moto, &project, stack, &[]);
    assert!(after.status.success(), "{}", after.stderr);
    // The lock, taken and removed: nothing else.
    assert_eq!(after.json["aws_write_calls"], 2, "{}", after.json["aws_calls"]);
    assert_eq!(after.calls("CloudFormation.CreateChangeSet"), 0);
}

/// The `Parameters.member.N.ParameterValue` of `key` in a form-encoded CloudFormation request.
fn form_parameter(body: &[u8], key: &str) -> Option<String> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'%' if i + 2 < bytes.len() => {
                    out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                    i += 3;
                }
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).unwrap()
    }
    let body = std::str::from_utf8(body).unwrap();
    let pairs: BTreeMap<String, String> =
        body.split('&').filter_map(|pair| pair.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect();
    let member = pairs.iter().find(|(k, v)| k.ends_with(".ParameterKey") && v.as_str() == key)?.0;
    pairs.get(&member.replace(".ParameterKey", ".ParameterValue")).cloned()
}

#[test]
fn a_failed_first_create_rolls_back_unprotected_and_the_next_deploy_recreates_it() {
    let moto = Moto::with_faults();
    let rt = rt();
    let stack = "notes-recreate";
    let distribution = rt.block_on(create_distribution(&moto));
    let (project, _) = Project::new(&distribution, "api v1", &site_v1());
    let s3 = rt.block_on(moto.s3());
    rt.block_on(s3.create_bucket().bucket("taken-by-someone").send()).unwrap();
    // Protection is wanted, the create fails: it ran unprotected, so its rollback deleted what it made.
    let protected = ["--parameter", "EnableDeletionProtection=true"];
    let failed =
        deploy(&moto, &project, stack, &[&protected[..], &["--parameter", "DataBucketName=taken-by-someone"]].concat());
    assert!(!failed.status.success(), "{}", failed.stderr);
    let error = failed.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
    assert!(error.contains("AppDataBucket") && error.contains("ROLLBACK_COMPLETE"), "{}", failed.stderr);
    let f = moto.faults();
    let create = f.seen().into_iter().find(|s| s.operation == "CloudFormation.CreateChangeSet").unwrap();
    assert_eq!(form_parameter(&create.body, "EnableDeletionProtection").as_deref(), Some("false"));
    let cfn = aws_sdk_cloudformation::Client::new(&rt.block_on(moto.sdk()));
    let status = rt.block_on(cfn.describe_stacks().stack_name(stack).send()).unwrap().stacks()[0]
        .stack_status()
        .unwrap()
        .as_str()
        .to_string();
    assert_eq!(status, "ROLLBACK_COMPLETE");

    // The next deploy, fixed, needs no --repair: the rolled-back stack is deleted and created again,
    // then protection is switched on in an update of its own.
    f.reset();
    let fixed = deploy(&moto, &project, stack, &protected);
    assert!(fixed.status.success(), "{}", fixed.stderr);
    assert!(fixed.stderr.contains("deleted the ROLLBACK_COMPLETE stack"), "{}", fixed.stderr);
    assert_eq!(f.calls("CloudFormation.DeleteStack"), 1, "{:?}", f.counts());
    let change_sets: Vec<_> =
        f.seen().into_iter().filter(|s| s.operation == "CloudFormation.CreateChangeSet").collect();
    let protection: Vec<_> =
        change_sets.iter().map(|s| form_parameter(&s.body, "EnableDeletionProtection").unwrap_or_default()).collect();
    assert_eq!(protection, ["false", "true"]);
    assert_eq!(rt.block_on(stack_parameters(&moto, stack))["EnableDeletionProtection"], "true");
    // And destroy refuses the protected stack.
    let destroy = xtask(&moto, &project, stack, &["destroy", "--yes"]);
    assert!(!destroy.status.success(), "{}", destroy.stderr);
    assert!(destroy.stderr.contains("EnableDeletionProtection"), "{}", destroy.stderr);
}

#[test]
fn the_environment_names_the_stack_parameter_and_two_names_are_refused() {
    let moto = Moto::start();
    let rt = rt();
    let stack = "notes-env";
    let distribution = rt.block_on(create_distribution(&moto));
    let (project, _) = Project::new(&distribution, "api v1", &site_v1());
    let before = moto.requests();
    let both = {
        let dist = project.path("dist");
        xtask(
            &moto,
            &project,
            stack,
            &[
                "--environment",
                "prod",
                "--allow-example-domains",
                "deploy",
                "--from-dist",
                &dist,
                "--parameter",
                "EnvironmentName=dev",
            ],
        )
    };
    assert!(!both.status.success(), "{}", both.stderr);
    assert!(both.stderr.contains(r#"the environment is "prod""#), "{}", both.stderr);
    assert_eq!(moto.requests(), before, "refused before any AWS call");

    let dist = project.path("dist");
    let prod = xtask(
        &moto,
        &project,
        stack,
        &["--environment", "prod", "--allow-example-domains", "deploy", "--from-dist", &dist],
    );
    assert!(prod.status.success(), "{}", prod.stderr);
    assert_eq!(rt.block_on(stack_parameters(&moto, stack))["EnvironmentName"], "prod");
}
