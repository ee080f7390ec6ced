//! What the end-to-end tests share: moto (plain or behind the fault-injecting proxy), a minimal
//! project (the moto-friendly template, its parameters, a dist written with the one dist writer),
//! the real xtask binary run against them, and reading moto's state back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;
use testkit::faults::FaultProxy;
use xtask::artifacts::writer::DistWriter;

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// moto (the test kit's launcher), optionally behind the fault-injecting proxy, and the SDK
/// pointed at moto itself (the tests' own set-up and checks are never faulted).
pub struct Moto {
    inner: testkit::moto::Moto,
    /// What the xtask talks to: the proxy when there is one, else moto.
    pub url: String,
    pub faults: Option<FaultProxy>,
}

impl Moto {
    pub fn start() -> Moto {
        let inner = testkit::moto::Moto::start();
        Moto { url: inner.endpoint(), inner, faults: None }
    }

    /// moto behind a [`FaultProxy`] (see `faults()`).
    pub fn with_faults() -> Moto {
        let inner = testkit::moto::Moto::start();
        let proxy = FaultProxy::start(&inner.endpoint());
        Moto { url: proxy.endpoint(), inner, faults: Some(proxy) }
    }

    pub fn faults(&self) -> &FaultProxy {
        self.faults.as_ref().expect("started with Moto::with_faults")
    }

    /// The requests moto has served so far (access log), oldest first.
    pub fn request_log(&self) -> Vec<testkit::moto::Logged> {
        self.inner.access_log_since(0)
    }

    pub fn requests(&self) -> usize {
        self.request_log().len()
    }

    pub async fn sdk(&self) -> aws_config::SdkConfig {
        testkit::aws::sdk_config(&self.inner.endpoint())
    }

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        testkit::aws::s3_client(&self.sdk().await)
    }
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A site file of a dist directory: (content, content type, cache control, fingerprinted).
pub type SiteFile = (String, &'static str, &'static str, bool);
pub type Site = BTreeMap<String, SiteFile>;

/// A page that is not fingerprinted (revalidated on every view).
pub fn html(content: &str) -> SiteFile {
    (content.to_string(), "text/html; charset=utf-8", "no-cache", false)
}

pub fn site_v1() -> Site {
    let immutable = "public, max-age=31536000, immutable";
    let file = |key: &str, content: &str, ct, cc, fp| (key.to_string(), (content.to_string(), ct, cc, fp));
    BTreeMap::from([
        file("index.html", "<!doctype html><title>notes</title>v1", "text/html; charset=utf-8", "no-cache", false),
        file("assets/app.3f2a9c1b.js", "console.log('notes')", "text/javascript; charset=utf-8", immutable, true),
        file("assets/app.9b8c7d6e.css", "body{margin:0}", "text/css; charset=utf-8", immutable, true),
        file("robots.txt", "User-agent: *\n", "text/plain; charset=utf-8", "public, max-age=3600", false),
    ])
}

pub fn zip_of(content: &str) -> Vec<u8> {
    xtask::package::zip_bootstrap(content.as_bytes()).unwrap()
}

/// Writes a dist directory with the one dist writer; returns the api zip's key.
pub fn write_dist(dir: &Path, api: &str, site: &Site) -> String {
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
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(distribution_id: &str, api: &str, site: &Site) -> (Project, String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cloud")).unwrap();
        std::fs::copy(format!("{FIXTURES}/moto-stack.yaml"), dir.path().join("cloud/stack.yaml")).unwrap();
        let params = std::fs::read_to_string(format!("{FIXTURES}/moto-parameters.json")).unwrap();
        std::fs::write(dir.path().join("cloud/parameters.json"), params.replace("SET-BY-THE-TEST", distribution_id))
            .unwrap();
        let key = write_dist(&dir.path().join("dist"), api, site);
        (Project { dir }, key)
    }

    pub fn path(&self, rel: &str) -> String {
        self.dir.path().join(rel).display().to_string()
    }
}

pub struct Run {
    pub status: std::process::ExitStatus,
    pub stderr: String,
    pub json: Value,
}

impl Run {
    pub fn calls(&self, op: &str) -> u64 {
        self.json["aws_calls"][op].as_u64().unwrap_or(0)
    }

    /// The change set's resource changes as `Action LogicalId`.
    pub fn changes(&self) -> Vec<String> {
        let changes = self.json["resource_changes"].as_array().cloned().unwrap_or_default();
        changes
            .iter()
            .map(|c| format!("{} {}", c["action"].as_str().unwrap(), c["logical_id"].as_str().unwrap()))
            .collect()
    }
}

/// The binary under test: `XTASK_BIN` when set, else the one cargo built for this test. Copied
/// once into a private directory: a target dir shared by several checkouts may replace the
/// original while the tests run.
pub fn binary() -> &'static Path {
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

/// The xtask binary set up for `project` and `stack` against `moto`, with an environment that
/// reaches moto and nothing of the developer's own AWS set-up.
pub fn xtask_command(moto: &Moto, project: &Project, stack: &str, args: &[&str]) -> Command {
    let mut all = vec!["--stack-name", stack];
    all.extend_from_slice(args);
    xtask_command_in(moto, project, &all)
}

/// As [`xtask_command`], with the stack name left to the project's deploy.toml (`--env`).
pub fn xtask_command_in(moto: &Moto, project: &Project, args: &[&str]) -> Command {
    let mut cmd = Command::new(binary());
    cmd.arg("--project-dir")
        .arg(project.dir.path())
        .args(["--template", &project.path("cloud/stack.yaml")])
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
        .env_remove("APP_ENV")
        .env_remove("APP_ENVIRONMENT")
        .env("AWS_CONFIG_FILE", project.path("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", project.path("no-aws-credentials"))
        .stdin(Stdio::null());
    cmd
}

pub fn xtask(moto: &Moto, project: &Project, stack: &str, args: &[&str]) -> Run {
    run(xtask_command(moto, project, stack, args), args)
}

/// As [`xtask`], with the stack name left to the project's deploy.toml (`--env`).
pub fn xtask_in(moto: &Moto, project: &Project, args: &[&str]) -> Run {
    run(xtask_command_in(moto, project, args), args)
}

/// Runs a command made by [`xtask_command`] (`args` for the log) and reads its result.
pub fn run(mut cmd: Command, args: &[&str]) -> Run {
    let Output { status, stdout, stderr } = cmd.output().expect("cannot run the xtask binary");
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    let json = serde_json::from_slice(&stdout).unwrap_or(Value::Null);
    eprintln!("---- xtask {}\n{stderr}", args.join(" "));
    // Every operation this run made has its IAM actions in the table lint checks the deployer
    // policies against.
    for op in json["aws_calls"].as_object().into_iter().flatten().map(|(op, _)| op) {
        assert!(
            xtask::aws::permissions::of(op).is_some(),
            "{op} is not in xtask/src/aws/permissions.rs (the deployer policies are not checked for it)"
        );
    }
    Run { status, stderr, json }
}

pub async fn create_distribution(moto: &Moto) -> String {
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

pub async fn outputs(moto: &Moto, stack: &str) -> BTreeMap<String, String> {
    let cfn = aws_sdk_cloudformation::Client::new(&moto.sdk().await);
    let out = cfn.describe_stacks().stack_name(stack).send().await.unwrap();
    out.stacks()[0]
        .outputs()
        .iter()
        .map(|o| (o.output_key().unwrap().to_string(), o.output_value().unwrap().to_string()))
        .collect()
}

pub async fn stack_parameters(moto: &Moto, stack: &str) -> BTreeMap<String, String> {
    let cfn = aws_sdk_cloudformation::Client::new(&moto.sdk().await);
    let out = cfn.describe_stacks().stack_name(stack).send().await.unwrap();
    out.stacks()[0]
        .parameters()
        .iter()
        .map(|p| (p.parameter_key().unwrap().to_string(), p.parameter_value().unwrap().to_string()))
        .collect()
}

/// Writes `n` versions of a few keys, plus delete markers and an unfinished multipart upload.
pub async fn fill_versions(s3: &aws_sdk_s3::Client, bucket: &str, n: usize) {
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
