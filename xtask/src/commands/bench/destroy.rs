//! Scenario `destroy`: `cargo xtask destroy --yes` on the bench stack after N object versions were
//! written to its versioned app-data bucket; the calls that emptied that bucket (moto's access log)
//! against the floor of ⌈N/1000⌉ listings plus ⌈N/1000⌉ batched deletes, as a growth curve over
//! N = 1,000, 10,000 and 100,000 (the larger two in the full run only).

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;

use super::Env;
use super::chart::{Chart, Series};
use super::moto::Moto;
use super::report::{Section, Table};
use super::stack::{self, Project, generated_site, write_dist};
use super::stats::{Summary, ratio, thousands};

const LIMIT: Duration = Duration::from_secs(1800);
/// Concurrent PUTs while filling the bucket (setup, not measured).
const FILL_PARALLEL: usize = 16;

struct Sample {
    wall: f64,
    empty_phase: Option<f64>,
    lists: u64,
    deletes: u64,
    other: u64,
    sdk_deletes: u64,
    /// Object versions still in the data bucket after destroy (None: the bucket is gone).
    left: Option<usize>,
}

/// The sizes of the curve, and the runs at each.
fn sizes(quick: bool) -> &'static [(usize, usize)] {
    if quick { &[(1_000, 1)] } else { &[(1_000, 3), (10_000, 3), (100_000, 1)] }
}

/// `reps` destroys of a stack whose data bucket holds `n` versions, each on a new moto.
fn measure(b: &Env<'_>, n: usize, reps: usize) -> anyhow::Result<(Vec<Sample>, Vec<f64>)> {
    let mut samples = Vec::new();
    let mut fill_secs = Vec::new();
    for rep in 0..reps {
        // A new moto per repetition: the same starting state every time.
        let moto = Moto::start(b.tools)?;
        let scratch = tempfile::tempdir()?;
        let distribution = stack::create_distribution(&moto, scratch.path())?;
        let project = Project::new(b.ctx, &distribution)?;
        let dist = project.path("dist");
        write_dist(&dist, &generated_site(20))?;
        let dist_arg = dist.display().to_string();
        stack::xtask(b, &moto, &project, &["deploy", "--from-dist", &dist_arg, "--json"], LIMIT)?;
        let data_bucket = stack::outputs(&moto, scratch.path())?
            .remove("AppDataBucketName")
            .ok_or_else(|| anyhow::anyhow!("the bench stack has no AppDataBucketName output"))?;
        let start = Instant::now();
        crate::aws::block_on(fill(&moto, &data_bucket, n))?;
        fill_secs.push(start.elapsed().as_secs_f64());
        eprintln!("    run {}: {n} versions written in {:.1} s", rep + 1, start.elapsed().as_secs_f64());

        let mark = moto.mark();
        let run = stack::xtask(b, &moto, &project, &["destroy", "--yes", "--json"], LIMIT)?;
        let requests = moto.since(mark);
        let left = crate::aws::block_on(versions_left(&moto, &data_bucket))?;
        let on_bucket: Vec<_> = requests
            .iter()
            .filter(|r| {
                r.path == format!("/{data_bucket}")
                    || r.path.starts_with(&format!("/{data_bucket}?"))
                    || r.path.starts_with(&format!("/{data_bucket}/"))
            })
            .collect();
        let lists = on_bucket.iter().filter(|r| r.method == "GET" && r.path.contains("versions")).count() as u64;
        let deletes = on_bucket.iter().filter(|r| r.method == "POST" && r.path.contains("delete")).count() as u64;
        let other = on_bucket.len() as u64 - lists - deletes;
        samples.push(Sample {
            wall: run.run.wall.as_secs_f64(),
            empty_phase: run.phase("empty buckets"),
            lists,
            deletes,
            other,
            sdk_deletes: run.call("S3.DeleteObjects"),
            left,
        });
    }
    Ok((samples, fill_secs))
}

pub fn run(b: &Env<'_>) -> anyhow::Result<Section> {
    let mut table = Table::new(
        "Versions N in the app-data bucket; each run on a fresh moto",
        &[
            "N",
            "runs",
            "ListObjectVersions",
            "DeleteObjects",
            "list + delete",
            "floor ⌈N/1000⌉×2",
            "ratio to the floor",
            "other requests on the bucket",
            "data bucket after destroy",
            "destroy wall",
            "`empty buckets` phase",
            "(setup) writing N versions",
        ],
    );
    let mut notes = Vec::new();
    let (mut calls, mut floors) = (Vec::new(), Vec::new());
    for &(n, reps) in sizes(b.quick) {
        let (samples, fill_secs) = measure(b, n, reps)?;
        let floor = n.div_ceil(1000) * 2;
        let col = |f: fn(&Sample) -> f64| Summary::of(&samples.iter().map(f).collect::<Vec<_>>()).expect("reps > 0");
        let (lists, deletes) = (col(|s| s.lists as f64), col(|s| s.deletes as f64));
        let total = lists.median + deletes.median;
        calls.push((n as f64, total));
        floors.push((n as f64, floor as f64));
        let left: Vec<String> =
            samples.iter().map(|s| s.left.map_or("deleted".to_string(), |n| format!("{n} versions left"))).collect();
        let phases: Vec<f64> = samples.iter().filter_map(|s| s.empty_phase).collect();
        table.row([
            thousands(n as u64),
            reps.to_string(),
            lists.count(),
            deletes.count(),
            thousands(total as u64),
            thousands(floor as u64),
            ratio(total, floor as f64),
            col(|s| s.other as f64).count(),
            left.join(", "),
            col(|s| s.wall).secs(),
            Summary::of(&phases).map_or("-".into(), |p| p.secs()),
            Summary::of(&fill_secs).map_or("-".into(), |f| f.secs()),
        ]);
        if samples.iter().any(|s| s.left.is_some_and(|n| n > 0)) || total < floor as f64 {
            notes.push(format!(
                "N = {n}: fewer list + delete calls than the floor, or versions left ({}): destroy did not list and \
                 delete every version",
                left.join(", ")
            ));
        }
        let sdk = col(|s| s.sdk_deletes as f64);
        if sdk.median < deletes.median {
            notes.push(format!("N = {n}: the interceptor counted fewer DeleteObjects than moto's log"));
        }
    }
    Ok(Section {
        method: "moto's server, the deploy tests' moto-friendly stack deployed by `cargo xtask deploy --from-dist`; \
                 its versioned app-data bucket then gets N object versions (at most 1,000 keys, overwritten) through \
                 the SDK, 16 PUTs in flight. `cargo xtask destroy --yes --json` (the xtask binary run directly) \
                 empties both buckets and deletes the stack. Requests on the app-data bucket are counted in moto's \
                 access log: `GET ?versions` (ListObjectVersions) and `POST ?delete` (DeleteObjects, up to 1,000 \
                 keys each)."
            .into(),
        tables: vec![table],
        notes,
        charts: vec![Chart {
            file: "destroy-calls".into(),
            title: "List + delete calls to empty a versioned bucket".into(),
            x_label: "object versions (log scale)".into(),
            y_label: "calls (median)".into(),
            series: vec![
                Series { name: "xtask destroy".into(), points: calls },
                Series { name: "floor ⌈N/1000⌉×2".into(), points: floors },
            ],
        }],
    })
}

/// Object versions left in `bucket`, or `None` when the bucket no longer exists. Any other error
/// is the bench's: a count it could not take is not reported as zero.
async fn versions_left(moto: &Moto, bucket: &str) -> anyhow::Result<Option<usize>> {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    let s3 = moto.s3().await;
    let (mut count, mut key_marker, mut version_marker) = (0usize, None, None);
    loop {
        let out = match s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.code() == Some("NoSuchBucket") => return Ok(None),
            Err(e) => anyhow::bail!("cannot list the versions left in s3://{bucket}: {}", crate::aws::error_line(&e)),
        };
        count += out.versions().len() + out.delete_markers().len();
        if out.is_truncated() != Some(true) {
            return Ok(Some(count));
        }
        key_marker = out.next_key_marker().map(String::from);
        version_marker = out.next_version_id_marker().map(String::from);
    }
}

/// Writes `n` object versions: `min(n, 1000)` keys, each overwritten until `n` versions exist.
async fn fill(moto: &Moto, bucket: &str, n: usize) -> anyhow::Result<()> {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let s3 = moto.s3().await;
    // The template asks for versioning; moto's CloudFormation does not apply it, so turn it on here.
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot enable versioning on s3://{bucket}: {e}"))?;
    let keys = n.min(1000);
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..FILL_PARALLEL {
        let s3 = s3.clone();
        let bucket = bucket.to_string();
        workers.spawn(async move {
            let mut version_ids = Vec::new();
            for i in (w..n).step_by(FILL_PARALLEL) {
                let put = s3
                    .put_object()
                    .bucket(&bucket)
                    .key(format!("data/{:04}.json", i % keys))
                    .body(ByteStream::from(format!("{{\"version\":{i}}}").into_bytes()))
                    .send()
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot write a version to s3://{bucket}: {e}"))?;
                version_ids.extend(put.version_id().map(String::from));
            }
            anyhow::Ok(version_ids)
        });
    }
    let mut version_ids = std::collections::HashSet::new();
    while let Some(result) = workers.join_next().await {
        version_ids.extend(result??);
    }
    // Check the setup: n versions before destroy runs, each PUT answered with a version of its
    // own. Not by listing them: moto copies every version of the bucket for each page it lists,
    // so counting 100,000 versions that way takes longer than the destroy being measured.
    let count = version_ids.len();
    anyhow::ensure!(count == n, "s3://{bucket} answered {count} distinct version ids to {n} PUTs");
    Ok(())
}
