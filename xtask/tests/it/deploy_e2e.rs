//! `cargo xtask deploy` / `sync` / `destroy` end to end, against moto's server on a free loopback port.
//!
//! Drives the real binary (`CARGO_BIN_EXE_xtask`) with `AWS_ENDPOINT_URL`, a moto-friendly template
//! (tests/fixtures/moto-stack.yaml) and dist directories the tests write themselves, and asserts by
//! counting the SDK calls the binary reports (`--json`: its interceptor's table) and by reading moto's
//! state back with the SDK. moto runs through the test kit's launcher, whose wrapper finishes moto's
//! ExecuteChangeSet bookkeeping (outputs, parameters) the way CloudFormation does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;
use xtask::artifacts::writer::DistWriter;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// moto (the test kit's launcher) and the SDK pointed at it, counting requests by its access log.
struct Moto {
    inner: testkit::moto::Moto,
    url: String,
}

impl Moto {
    fn start() -> Moto {
        let inner = testkit::moto::Moto::start();
        Moto { url: inner.endpoint(), inner }
    }

    /// The requests moto has served so far (access log), oldest first.
    fn request_log(&self) -> Vec<testkit::moto::Logged> {
        self.inner.access_log_since(0)
    }

    fn requests(&self) -> usize {
        self.request_log().len()
    }

    async fn sdk(&self) -> aws_config::SdkConfig {
        testkit::aws::sdk_config(&self.url)
    }

    async fn s3(&self) -> aws_sdk_s3::Client {
        testkit::aws::s3_client(&self.sdk().await)
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A site file of a dist directory: (content, content type, cache control, fingerprinted).
type SiteFile = (&'static str, &'static str, &'static str, bool);

fn site_v1() -> BTreeMap<&'static str, SiteFile> {
    let immutable = "public, max-age=31536000, immutable";
    BTreeMap::from([
        ("index.html", ("<!doctype html><title>notes</title>v1", "text/html; charset=utf-8", "no-cache", false)),
        ("assets/app.3f2a9c1b.js", ("console.log('notes')", "text/javascript; charset=utf-8", immutable, true)),
        ("assets/app.9b8c7d6e.css", ("body{margin:0}", "text/css; charset=utf-8", immutable, true)),
        ("robots.txt", ("User-agent: *\n", "text/plain; charset=utf-8", "public, max-age=3600", false)),
    ])
}

fn zip_of(content: &str) -> Vec<u8> {
    xtask::package::zip_bootstrap(content.as_bytes()).unwrap()
}

/// Writes a dist directory with the one dist writer; returns the api zip's key.
fn write_dist(dir: &Path, api: &str, site: &BTreeMap<&str, SiteFile>) -> String {
    let mut dist = DistWriter::create(dir).unwrap();
    let api_key = dist.add_function("api", "ApiCodeKey", &zip_of(api)).unwrap();
    dist.add_function("activity", "ActivityCodeKey", &zip_of("activity v1")).unwrap();
    for (key, (content, ct, cc, fp)) in site {
        dist.add_site_file(key, content.as_bytes(), ct, cc, *fp).unwrap();
    }
    dist.finish("e2e".into(), BTreeMap::new()).unwrap().commit().unwrap();
    api_key
}

/// A fresh copy of a minimal project: cloud/stack.yaml, cloud/parameters.json, dist/.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(distribution_id: &str, api: &str, site: &BTreeMap<&str, SiteFile>) -> (Project, String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cloud")).unwrap();
        std::fs::copy(format!("{FIXTURES}/moto-stack.yaml"), dir.path().join("cloud/stack.yaml")).unwrap();
        let params = std::fs::read_to_string(format!("{FIXTURES}/moto-parameters.json")).unwrap();
        std::fs::write(dir.path().join("cloud/parameters.json"), params.replace("SET-BY-THE-TEST", distribution_id))
            .unwrap();
        let key = write_dist(&dir.path().join("dist"), api, site);
        (Project { dir }, key)
    }

    fn path(&self, rel: &str) -> String {
        self.dir.path().join(rel).display().to_string()
    }
}

struct Run {
    status: std::process::ExitStatus,
    stderr: String,
    json: Value,
}

impl Run {
    fn calls(&self, op: &str) -> u64 {
        self.json["aws_calls"][op].as_u64().unwrap_or(0)
    }
}

/// The binary under test: `XTASK_BIN` when set, else the one cargo built for this test. Copied
/// once into a private directory: a target dir shared by several checkouts may replace the
/// original while the tests run.
fn binary() -> &'static Path {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let source = std::env::var("XTASK_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_xtask").to_string());
        let dir = std::env::temp_dir().join(format!("xtask-e2e-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let copy = dir.join("xtask");
        std::fs::copy(&source, &copy).unwrap();
        let help = Command::new(&copy).args(["deploy", "--help"]).output().unwrap();
        assert!(
            String::from_utf8_lossy(&help.stdout).contains("--from-dist"),
            "{source} is not this checkout's xtask (another checkout sharing CARGO_TARGET_DIR rebuilt it?): rerun"
        );
        copy
    })
}

fn xtask(moto: &Moto, project: &Project, stack: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(binary());
    cmd.arg("--project-dir")
        .arg(project.dir.path())
        .args(["--stack-name", stack, "--template", &project.path("cloud/stack.yaml")])
        .args(["--parameters", &project.path("cloud/parameters.json")])
        .args(args)
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("STACK_NAME")
        .env("AWS_CONFIG_FILE", project.path("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", project.path("no-aws-credentials"))
        .stdin(Stdio::null());
    let Output { status, stdout, stderr } = cmd.output().expect("cannot run the xtask binary");
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    let json = serde_json::from_slice(&stdout).unwrap_or(Value::Null);
    eprintln!("---- xtask {}\n{stderr}", args.join(" "));
    Run { status, stderr, json }
}

async fn create_distribution(moto: &Moto) -> String {
    use aws_sdk_cloudfront::types::*;
    let cf = aws_sdk_cloudfront::Client::new(&moto.sdk().await);
    let origin = Origin::builder()
        .id("site")
        .domain_name("site.s3.us-east-1.amazonaws.com")
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .unwrap();
    let config = DistributionConfig::builder()
        .caller_reference("e2e")
        .comment("")
        .enabled(true)
        .origins(Origins::builder().quantity(1).items(origin).build().unwrap())
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("site")
                .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                .cache_policy_id("658327ea-f89d-4fab-a63d-7e88639e58f6")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let out = cf.create_distribution().distribution_config(config).send().await.unwrap();
    out.distribution().unwrap().id().to_string()
}

async fn outputs(moto: &Moto, stack: &str) -> BTreeMap<String, String> {
    let cfn = aws_sdk_cloudformation::Client::new(&moto.sdk().await);
    let out = cfn.describe_stacks().stack_name(stack).send().await.unwrap();
    out.stacks()[0]
        .outputs()
        .iter()
        .map(|o| (o.output_key().unwrap().to_string(), o.output_value().unwrap().to_string()))
        .collect()
}

async fn stack_parameters(moto: &Moto, stack: &str) -> BTreeMap<String, String> {
    let cfn = aws_sdk_cloudformation::Client::new(&moto.sdk().await);
    let out = cfn.describe_stacks().stack_name(stack).send().await.unwrap();
    out.stacks()[0]
        .parameters()
        .iter()
        .map(|p| (p.parameter_key().unwrap().to_string(), p.parameter_value().unwrap().to_string()))
        .collect()
}

/// Writes `n` versions of a few keys, plus delete markers and an unfinished multipart upload.
async fn fill_versions(s3: &aws_sdk_s3::Client, bucket: &str, n: usize) {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    use futures::StreamExt;
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .unwrap();
    futures::stream::iter((0..n).map(|i| {
        let s3 = s3.clone();
        async move {
            let key = format!("data/{}.json", i % 7);
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(format!("{i}").into_bytes()))
                .send()
                .await
                .unwrap();
        }
    }))
    .buffer_unordered(16)
    .collect::<Vec<_>>()
    .await;
    for i in 0..3 {
        s3.delete_object().bucket(bucket).key(format!("data/{i}.json")).send().await.unwrap();
    }
    s3.create_multipart_upload().bucket(bucket).key("big.bin").send().await.unwrap();
}

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
    // 2 zips + 4 site files + config.json + the site manifest.
    assert_eq!(first.calls("S3.PutObject"), 8);
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
        let head = rt.block_on(s3.head_object().bucket(&site_bucket).key(key).send()).unwrap();
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

    // Nothing changed, from a fresh copy: no writes at all, a handful of reads.
    let (fresh, _) = Project::new(&distribution, "api v1", &site_v1());
    let dist = fresh.path("dist");
    let deploy = ["--allow-example-domains", "deploy", "--from-dist", &dist, "--json"];
    let before = moto.requests();
    let noop = xtask(&moto, &fresh, stack, &deploy);
    assert!(noop.status.success(), "{}", noop.stderr);
    // moto's own access log agrees with the SDK interceptor: same number of requests, none a write.
    let served = moto.request_log()[before..].to_vec();
    assert_eq!(served.len() as u64, noop.json["aws_calls_total"].as_u64().unwrap(), "{served:#?}");
    assert!(!served.iter().any(|l| l.method == "PUT" || l.method == "DELETE"), "{served:#?}");
    assert_eq!(noop.calls("S3.PutObject"), 0);
    assert_eq!(noop.calls("CloudFormation.CreateChangeSet"), 0);
    assert_eq!(noop.calls("CloudFront.CreateInvalidation"), 0);
    assert_eq!(noop.json["aws_write_calls"], 0, "{}", noop.json["aws_calls"]);
    assert!(noop.json["aws_read_calls"].as_u64().unwrap() <= 5, "{}", noop.json["aws_calls"]);

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
    assert_eq!(one.calls("S3.PutObject"), 1, "{}", one.json["aws_calls"]);
    assert_eq!(one.json["artifacts"]["uploaded"], 1);
    assert_eq!(one.json["change_set_changes"], serde_json::json!(["Modify ApiFunction"]));
    assert_eq!(one.calls("CloudFront.CreateInvalidation"), 0);
    assert_eq!(rt.block_on(stack_parameters(&moto, stack))["ApiCodeKey"], new_key);

    // One site file changed: that file plus the manifest, one invalidation of at most 2 paths.
    let mut site = site_v1();
    site.insert("index.html", ("<!doctype html><title>notes</title>v2", "text/html; charset=utf-8", "no-cache", false));
    let (edited, _) = Project::new(&distribution, "api v2", &site);
    let dist = edited.path("dist");
    let page = xtask(&moto, &edited, stack, &["--allow-example-domains", "deploy", "--from-dist", &dist, "--json"]);
    assert!(page.status.success(), "{}", page.stderr);
    assert_eq!(page.calls("S3.PutObject"), 2, "{}", page.json["aws_calls"]);
    assert_eq!(page.json["uploaded_keys"], serde_json::json!(["index.html"]));
    assert_eq!(page.calls("CloudFormation.CreateChangeSet"), 0);
    assert_eq!(page.calls("CloudFront.CreateInvalidation"), 1);
    let paths = page.json["invalidation_paths"].as_array().unwrap();
    assert!(!paths.is_empty() && paths.len() <= 2, "{paths:?}");

    // `sync` alone with the same files: nothing to do.
    let sync = xtask(&moto, &edited, stack, &["--allow-example-domains", "sync", "--from-dist", &dist, "--json"]);
    assert!(sync.status.success(), "{}", sync.stderr);
    assert_eq!(sync.json["aws_write_calls"], 0, "{}", sync.json["aws_calls"]);

    // `sync` of a release that drops robots.txt and renames an asset: new asset first, stale files
    // kept while over --max-delete, deleted (and invalidated if not fingerprinted) once allowed.
    let mut next = site.clone();
    next.remove("robots.txt");
    let js = next.remove("assets/app.3f2a9c1b.js").unwrap();
    next.insert("assets/app.77aa88bb.js", js);
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
    assert_eq!(capped.calls("S3.DeleteObjects"), 0);
    assert!(capped.stderr.contains("2 stale files"), "{}", capped.stderr);
    assert_eq!(capped.calls("CloudFront.CreateInvalidation"), 0, "a new fingerprinted asset needs no invalidation");
    let cleaned = xtask(&moto, &renamed, stack, &["--allow-example-domains", "sync", "--from-dist", &dist, "--json"]);
    assert!(cleaned.status.success(), "{}", cleaned.stderr);
    assert_eq!(cleaned.json["deleted_keys"], serde_json::json!(["assets/app.3f2a9c1b.js", "robots.txt"]));
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
    // 2 zips + the template + 4 site files + config.json + the site manifest.
    assert_eq!(deployed.calls("S3.PutObject"), 9, "{}", deployed.json["aws_calls"]);
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
    assert_eq!(
        unprotected.json["change_set_changes"],
        serde_json::json!([]),
        "a parameter no resource uses changes none"
    );
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
