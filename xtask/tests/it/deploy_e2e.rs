//! `cargo xtask deploy` / `sync` / `destroy` end to end, against moto's server on a free loopback port.
//!
//! Drives the real binary (`CARGO_BIN_EXE_xtask`) with `AWS_ENDPOINT_URL`, a moto-friendly template
//! (tests/fixtures/moto-stack.yaml) and dist directories the tests write themselves, and asserts by
//! counting the SDK calls the binary reports (`--json`: its interceptor's table) and by reading moto's
//! state back with the SDK. moto runs through the test kit's launcher, whose wrapper finishes moto's
//! ExecuteChangeSet bookkeeping (outputs, parameters) the way CloudFormation does.

use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;

use crate::e2e::*;

#[test]
fn deploy_is_exact_and_minimal_then_destroy_leaves_nothing() {
    let moto = Moto::start();
    let rt = rt();
    let stack = "notes-e2e";
    let distribution = rt.block_on(create_distribution(&moto));
    let (project, api_key) = Project::new(&distribution, "api v1", &site_v1());
    let dist = project.path("dist");

    // Placeholders and example domains are refused before any AWS call.
    let before = moto.requests();
    let refused = xtask(&moto, &project, stack, &["deploy", "--from-dist", &dist]);
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("ApiDomainName is api.example.com, an example domain"), "{}", refused.stderr);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(moto.requests(), before, "no request may reach AWS before the local checks pass");

    // First deploy: bucket, zips, stack with injected keys, site with its headers, config.json.
    let deploy = ["--allow-example-domains", "deploy", "--from-dist", &dist, "--json"];
    let first = xtask(&moto, &project, stack, &deploy);
    assert!(first.status.success(), "{}", first.stderr);
    assert_eq!(first.calls("S3.CreateBucket"), 1);
    assert_eq!(first.calls("CloudFormation.CreateChangeSet"), 1);
    assert_eq!(first.calls("CloudFormation.ExecuteChangeSet"), 1);
    assert_eq!(first.json["artifacts"]["uploaded"], 2);
    // 2 zips + 4 site files + config.json + the site manifest twice (with the pending invalidation
    // before the uploads, with the new files once CloudFront took it) + the release record with
    // what a rollback needs (the template and the 4 site files, by content) + the lock (tried once
    // before the bucket existed, then taken).
    assert_eq!(first.calls("S3.PutObject"), 17, "{}", first.json["aws_calls"]);
    assert_eq!(first.calls("CloudFront.CreateInvalidation"), 1);
    assert!(first.stderr.contains("migrations skipped"), "the test stack has no migration function");
    let params = rt.block_on(stack_parameters(&moto, stack));
    assert_eq!(params["ApiCodeKey"], api_key);
    assert_eq!(params["ArtifactBucket"], "notes-e2e-artifacts-123456789012-us-east-1");
    assert_eq!(params["DistributionId"], distribution);
    let outs = rt.block_on(outputs(&moto, stack));
    let site_bucket = outs["SiteBucketName"].clone();
    let s3 = rt.block_on(moto.s3());
    for (key, (_, ct, cc, _)) in site_v1() {
        let head = rt.block_on(s3.head_object().bucket(&site_bucket).key(&key).send()).unwrap();
        assert_eq!((head.content_type().unwrap(), head.cache_control().unwrap()), (ct, cc), "{key}");
    }
    let config = rt.block_on(async {
        let out = s3.get_object().bucket(&site_bucket).key("config.json").send().await.unwrap();
        assert_eq!((out.content_type(), out.cache_control()), (Some("application/json"), Some("no-cache")));
        out.body.collect().await.unwrap().into_bytes()
    });
    let config: Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["apiUrl"], "https://api.example.com");
    assert_eq!(config["auth"]["mode"], "cognito");
    assert_eq!(config["auth"]["redirectUri"], "https://www.example.com/");
    assert!(first.stderr.contains("config.json written without CognitoDomain, UserPoolClientId"));

    // Nothing changed, from a fresh copy: no writes but the lock (taken, removed), a handful of reads.
    let (fresh, _) = Project::new(&distribution, "api v1", &site_v1());
    let dist = fresh.path("dist");
    let deploy = ["--allow-example-domains", "deploy", "--from-dist", &dist, "--json"];
    let before = moto.requests();
    let noop = xtask(&moto, &fresh, stack, &deploy);
    assert!(noop.status.success(), "{}", noop.stderr);
    // moto's own access log agrees with the SDK interceptor: same number of requests, no write
    // but the lock's.
    let served = moto.request_log()[before..].to_vec();
    assert_eq!(served.len() as u64, noop.json["aws_calls_total"].as_u64().unwrap(), "{served:#?}");
    let writes: Vec<_> = served.iter().filter(|l| l.method == "PUT" || l.method == "DELETE").collect();
    assert_eq!(writes.len(), 2, "{served:#?}");
    assert!(writes.iter().all(|l| l.path.contains("/locks/notes-e2e.json")), "{writes:#?}");
    assert_eq!(noop.calls("S3.PutObject"), 1);
    assert_eq!(noop.calls("CloudFormation.CreateChangeSet"), 0);
    assert_eq!(noop.calls("CloudFront.CreateInvalidation"), 0);
    assert_eq!(noop.json["aws_write_calls"], 2, "{}", noop.json["aws_calls"]);
    // DescribeStacks, GetTemplate, the artifact bucket's listing and its five settings, the site
    // bucket's listing and the site manifest (which holds the pending invalidation too).
    assert_eq!(noop.json["aws_read_calls"], 10, "{}", noop.json["aws_calls"]);

    // --dry-run of a change: computed, nothing written.
    let (changed, new_key) = Project::new(&distribution, "api v2", &site_v1());
    let dist = changed.path("dist");
    let dry = xtask(
        &moto,
        &changed,
        stack,
        &["--allow-example-domains", "deploy", "--from-dist", &dist, "--json", "--dry-run"],
    );
    assert!(dry.status.success(), "{}", dry.stderr);
    assert_eq!(dry.json["aws_write_calls"], 0, "{}", dry.json["aws_calls"]);
    assert_eq!(dry.json["artifacts"]["uploaded"], 1);

    // One function changed: one zip PUT, a change set touching only that function.
    let one = xtask(&moto, &changed, stack, &["--allow-example-domains", "deploy", "--from-dist", &dist, "--json"]);
    assert!(one.status.success(), "{}", one.stderr);
    // The zip, the release record and the lock.
    assert_eq!(one.calls("S3.PutObject"), 3, "{}", one.json["aws_calls"]);
    assert_eq!(one.json["artifacts"]["uploaded"], 1);
    assert_eq!(one.changes(), ["Modify ApiFunction"]);
    assert_eq!(one.calls("CloudFront.CreateInvalidation"), 0);
    assert_eq!(rt.block_on(stack_parameters(&moto, stack))["ApiCodeKey"], new_key);

    // One site file changed: that file, the manifest twice (with the pending invalidation, then
    // with the new file once CloudFront took it), the release record and the file's copy it keeps,
    // and the lock; one invalidation of at most 2 paths.
    let mut site = site_v1();
    site.insert("index.html".into(), html("<!doctype html><title>notes</title>v2"));
    let (edited, _) = Project::new(&distribution, "api v2", &site);
    let dist = edited.path("dist");
    let page = xtask(&moto, &edited, stack, &["--allow-example-domains", "deploy", "--from-dist", &dist, "--json"]);
    assert!(page.status.success(), "{}", page.stderr);
    assert_eq!(page.calls("S3.PutObject"), 6, "{}", page.json["aws_calls"]);
    assert_eq!(page.json["uploaded_keys"], serde_json::json!(["index.html"]));
    assert_eq!(page.calls("CloudFormation.CreateChangeSet"), 0);
    assert_eq!(page.calls("CloudFront.CreateInvalidation"), 1);
    let paths = page.json["invalidation_paths"].as_array().unwrap();
    assert!(!paths.is_empty() && paths.len() <= 2, "{paths:?}");

    // `sync` alone with the same files: nothing to do but take and remove the lock.
    let sync = xtask(&moto, &edited, stack, &["--allow-example-domains", "sync", "--from-dist", &dist, "--json"]);
    assert!(sync.status.success(), "{}", sync.stderr);
    assert_eq!(sync.json["aws_write_calls"], 2, "{}", sync.json["aws_calls"]);

    // `sync` of a release that drops robots.txt and renames an asset: new asset first, strays
    // deleted up to --max-delete and the rest on the next run (invalidated if not fingerprinted).
    let mut next = site.clone();
    next.remove("robots.txt");
    let js = next.remove("assets/app.3f2a9c1b.js").unwrap();
    next.insert("assets/app.77aa88bb.js".into(), js);
    let (renamed, _) = Project::new(&distribution, "api v2", &next);
    let dist = renamed.path("dist");
    let capped = xtask(
        &moto,
        &renamed,
        stack,
        &["--allow-example-domains", "sync", "--from-dist", &dist, "--json", "--max-delete", "1"],
    );
    assert!(capped.status.success(), "{}", capped.stderr);
    assert_eq!(capped.json["uploaded_keys"], serde_json::json!(["assets/app.77aa88bb.js"]));
    assert_eq!(capped.json["deleted_keys"], serde_json::json!(["assets/app.3f2a9c1b.js"]));
    assert!(capped.stderr.contains("1 stray files"), "{}", capped.stderr);
    assert_eq!(capped.calls("CloudFront.CreateInvalidation"), 0, "a new fingerprinted asset needs no invalidation");
    let cleaned = xtask(&moto, &renamed, stack, &["--allow-example-domains", "sync", "--from-dist", &dist, "--json"]);
    assert!(cleaned.status.success(), "{}", cleaned.stderr);
    assert_eq!(cleaned.json["deleted_keys"], serde_json::json!(["robots.txt"]));
    assert_eq!(cleaned.calls("S3.DeleteObjects"), 1);
    assert_eq!(cleaned.json["invalidation_paths"], serde_json::json!(["/robots.txt"]));
    let gone = rt.block_on(s3.head_object().bucket(&site_bucket).key("robots.txt").send());
    assert!(gone.is_err(), "robots.txt should be deleted");

    // destroy refuses without --yes when nobody can type the stack name.
    let refused = xtask(&moto, &edited, stack, &["destroy"]);
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(rt.block_on(outputs(&moto, stack)).contains_key("SiteBucketName"), "the stack must still exist");

    // destroy on versioned buckets with many versions: nothing left, stack deleted.
    let data_bucket = outs["AppDataBucketName"].clone();
    rt.block_on(fill_versions(&s3, &data_bucket, 1100));
    rt.block_on(fill_versions(&s3, &site_bucket, 40));
    // `--parallel 1`: rounds of one batch, so emptying the data bucket takes two listing rounds
    // (a listing that paged on across its own deletions once left versions behind on moto).
    let destroy = xtask(&moto, &edited, stack, &["destroy", "--yes", "--json", "--parallel", "1"]);
    assert!(destroy.status.success(), "{}", destroy.stderr);
    assert!(
        destroy.calls("S3.DeleteObjects") >= 3,
        "1,100+ versions need two batches, the site one: {}",
        destroy.json["aws_calls"]
    );
    assert_eq!(destroy.calls("S3.AbortMultipartUpload"), 2);
    for bucket in [&data_bucket, &site_bucket] {
        let gone = rt.block_on(s3.list_object_versions().bucket(bucket).send());
        assert!(gone.is_err(), "bucket {bucket} should be deleted with the stack");
    }
    let cfn = aws_sdk_cloudformation::Client::new(&rt.block_on(moto.sdk()));
    let described = rt.block_on(cfn.describe_stacks().stack_name(stack).send());
    assert!(described.is_err(), "the stack should be gone");

    // A second destroy of a deleted stack succeeds.
    let again = xtask(&moto, &edited, stack, &["destroy", "--yes", "--json"]);
    assert!(again.status.success(), "{}", again.stderr);
    assert!(again.stderr.contains("nothing to destroy"));
}

#[test]
fn failing_deploy_exits_non_zero_with_the_root_cause_first() {
    let moto = Moto::start();
    let rt = rt();
    let distribution = rt.block_on(create_distribution(&moto));
    let s3 = rt.block_on(moto.s3());
    rt.block_on(s3.create_bucket().bucket("someone-elses-data").send()).unwrap();
    let (project, _) = Project::new(&distribution, "api v1", &site_v1());
    let dist = project.path("dist");
    let run = xtask(
        &moto,
        &project,
        "notes-broken",
        &[
            "--allow-example-domains",
            "deploy",
            "--from-dist",
            &dist,
            "--parameter",
            "DataBucketName=someone-elses-data",
        ],
    );
    assert!(!run.status.success(), "{}", run.stderr);
    let first_failure = run.stderr.lines().find(|l| l.starts_with("FAILED") || l.starts_with("error")).unwrap();
    assert!(first_failure.contains("BucketAlreadyExists"), "{first_failure}");
    let error = run.stderr.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(error.contains("BucketAlreadyExists"), "{error}");
    assert!(run.stderr.contains("\nhint: "), "{}", run.stderr);
    // Nothing after the stack phase ran: no site upload.
    assert!(!run.stderr.contains("==> site"), "{}", run.stderr);
}

#[test]
fn large_template_protected_stack_and_keep_data() {
    let moto = Moto::start();
    let rt = rt();
    let distribution = rt.block_on(create_distribution(&moto));
    let (project, _) = Project::new(&distribution, "api v1", &site_v1());
    let dist = project.path("dist");
    let stack = "notes-protected";
    // Past CloudFormation's 51,200-byte TemplateBody limit (as cloud/stack.yaml is), the template
    // goes through the artifact bucket as a TemplateURL.
    let mut template = std::fs::read_to_string(project.path("cloud/stack.yaml")).unwrap();
    for i in 0..1200 {
        template.push_str(&format!("# padding line {i:04}: the real template is past the inline limit too\n"));
    }
    assert!(template.len() > 51_200);
    std::fs::write(project.path("cloud/stack.yaml"), template).unwrap();
    let args = [
        "--allow-example-domains",
        "deploy",
        "--from-dist",
        &dist,
        "--json",
        "--parameter",
        "EnableDeletionProtection=true",
    ];
    let deployed = xtask(&moto, &project, stack, &args);
    assert!(deployed.status.success(), "{}", deployed.stderr);
    // 2 zips + the template (once for both change sets and the release record: the transform
    // leaves this one as it is) + 4 site files + config.json + the site manifest twice (with the
    // pending invalidation, then with the files) + the release record and its 4 site files + the
    // lock (tried once before the bucket existed, then taken).
    assert_eq!(deployed.calls("S3.PutObject"), 17, "{}", deployed.json["aws_calls"]);
    // The first create ran with deletion protection off, the update right after it turned it on.
    assert_eq!(deployed.calls("CloudFormation.CreateChangeSet"), 2, "{}", deployed.json["aws_calls"]);
    assert_eq!(rt.block_on(stack_parameters(&moto, stack))["EnableDeletionProtection"], "true");
    let site_bucket = rt.block_on(outputs(&moto, stack))["SiteBucketName"].clone();
    let destroy = xtask(&moto, &project, stack, &["destroy", "--yes", "--json"]);
    assert!(!destroy.status.success());
    assert!(destroy.stderr.contains("EnableDeletionProtection=false"), "{}", destroy.stderr);
    let s3 = rt.block_on(moto.s3());
    let left = rt.block_on(s3.list_objects_v2().bucket(&site_bucket).send()).unwrap();
    assert!(left.key_count().unwrap_or(0) > 0, "the site bucket must not be emptied");

    // Unprotected, then destroyed with --keep-data: the user's uploads stay, the site goes.
    let args = [
        "--allow-example-domains",
        "deploy",
        "--from-dist",
        &dist,
        "--json",
        "--parameter",
        "EnableDeletionProtection=false",
    ];
    let unprotected = xtask(&moto, &project, stack, &args);
    assert!(unprotected.status.success(), "{}", unprotected.stderr);
    assert_eq!(unprotected.changes(), ["Modify SiteBucket"]);
    let data_bucket = rt.block_on(outputs(&moto, stack))["AppDataBucketName"].clone();
    rt.block_on(
        s3.put_object().bucket(&data_bucket).key("users/1/photo.jpg").body(ByteStream::from_static(b"jpg")).send(),
    )
    .unwrap();
    let destroy = xtask(&moto, &project, stack, &["destroy", "--yes", "--keep-data", "--json"]);
    assert!(destroy.status.success(), "{}", destroy.stderr);
    assert_eq!(destroy.json["emptied_buckets"], serde_json::json!([site_bucket]));
    let kept = rt.block_on(s3.list_objects_v2().bucket(&data_bucket).send()).unwrap();
    assert_eq!(kept.contents().first().and_then(|o| o.key()), Some("users/1/photo.jpg"));
    assert!(destroy.stderr.contains("(--keep-data)"), "{}", destroy.stderr);
}
