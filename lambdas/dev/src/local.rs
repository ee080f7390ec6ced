//! `cargo xtask dev --backends local`: the API on real servers instead of in-memory stores —
//! PostgreSQL on the server of `DATABASE_URL` (in a database of its own, [`DATABASE`], created
//! when missing, so the tests' database is never touched), Redis at `REDIS_URL`, and moto (the
//! pinned one from `xtask/python-tools.txt`) for DynamoDB and S3, started here on a free loopback
//! port and stopped with the dev server (or after [`MOTO_LIFETIME`] at the latest, or when this
//! process dies).
//!
//! Set-up: the notes table (with its stream and its index) and the attachments bucket (with CORS
//! for the site origin) are created in moto, the SQL migrations are applied, and the activity
//! consumer runs as Lambda's event source mapping would run it: it polls the table's stream every
//! second, hands each batch to `notes_activity::handle` (activity, search index, cache
//! invalidations) and, on a reported batch item failure, retries from that record. Each poll asks
//! for a fresh iterator after the last sequence number it delivered: moto's iterators go blind
//! after a failed transaction (a conditional delete of a missing note, say), so an iterator is
//! never kept from one poll to the next.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use notes_core::ports::{Activity, Cache, Search};
use serde_json::{Value, json};
use testkit::moto::{Moto, MotoOptions};

use super::api::Api;
use crate::Refusal;

/// Upper bound of moto's life, even if this process is killed without a chance to stop it.
pub const MOTO_LIFETIME: Duration = Duration::from_secs(12 * 3600);
const TABLE: &str = "notes-dev";
/// The dev server's own database, on the server of `DATABASE_URL`.
pub const DATABASE: &str = "notes_dev";
const BUCKET: &str = "notes-dev-app-data";

/// What keeps the local backends alive: moto and the stream poller.
pub struct Backends {
    /// Where presigned URLs point (moto): the site's CSP must allow it.
    pub blob_origin: String,
    _moto: Moto,
    poller: tokio::task::JoinHandle<()>,
}

impl Drop for Backends {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

/// moto from the test kit's launcher: the pinned one when `cargo xtask dev` set `MOTO_PYTHON`.
fn start_moto() -> anyhow::Result<Moto> {
    let options = MotoOptions { lifetime: MOTO_LIFETIME, ..MotoOptions::default() };
    Moto::launch(&options).map_err(|e| {
        Refusal::new(e, "run it through `cargo xtask dev --backends local`, which installs the pinned moto").into()
    })
}

/// Starts moto, creates the table and bucket, migrates PostgreSQL, and builds the API on them.
pub async fn start(site_origin: &str, site_alias: &str) -> anyhow::Result<(Api, Backends)> {
    let require = |s: &testkit::services::Service| s.check().map_err(|e| Refusal::new(e.what, e.hint));
    let server_url = require(&testkit::services::POSTGRES)?;
    let database_url = testkit::pg::ensure_database(&server_url, DATABASE)
        .await
        .map_err(|e| Refusal::new(e, "check DATABASE_URL: the dev server creates its own database on that server"))?;
    let redis_url = require(&testkit::services::REDIS)?;
    let moto = tokio::task::block_in_place(start_moto)?;
    let endpoint = moto.endpoint();
    eprintln!("    moto (DynamoDB, S3) at {endpoint}; PostgreSQL at {database_url}; Redis at {redis_url}");

    let sdk = testkit::aws::sdk_config(&endpoint);
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    notes_core::dynamo_setup::create_table(&dynamodb, TABLE)
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the notes table in moto: {e}"))?;
    s3.create_bucket().bucket(BUCKET).send().await.context("cannot create the attachments bucket in moto")?;
    // One rule naming both spellings of the site origin: moto applies every rule and refuses the
    // request when any rule's origins do not match.
    let rule = aws_sdk_s3::types::CorsRule::builder()
        .allowed_origins(site_origin)
        .allowed_origins(site_alias)
        .allowed_methods("GET")
        .allowed_methods("HEAD")
        .allowed_methods("PUT")
        .allowed_headers("*")
        .expose_headers("ETag")
        .max_age_seconds(600)
        .build()?;
    let cors = aws_sdk_s3::types::CorsConfiguration::builder().cors_rules(rule).build()?;
    s3.put_bucket_cors()
        .bucket(BUCKET)
        .cors_configuration(cors)
        .send()
        .await
        .context("cannot set the bucket's CORS")?;
    let report = notes_migrate::run_url(&database_url).await.map_err(|e| {
        Refusal::new(format!("cannot migrate {database_url}: {e}"), "check DATABASE_URL and that the database exists")
    })?;
    eprintln!("    migrations: {} applied, {} already there", report.applied.len(), report.known.len());

    let pg = Arc::new(notes_core::postgres::Pg::new(notes_core::postgres::PgTarget::Url(database_url)));
    let activity: Arc<dyn Activity> = Arc::new(notes_core::postgres::PgActivity::new(pg.clone()));
    let search: Arc<dyn Search> = Arc::new(notes_core::search::PgSearch::new(pg));
    let cache = notes_core::cache::RedisCache::new(&redis_url).map_err(|e| anyhow::anyhow!("{e}"))?;
    // The consumer's own connection, which retries as soon as Redis answers again.
    let consumer_cache: Arc<dyn Cache> = Arc::new(
        notes_core::cache::RedisCache::new(&redis_url)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .with_backoff(Duration::ZERO),
    );
    let state = notes_api::AppState {
        notes: Arc::new(notes_core::dynamo::DynamoNotes::new(dynamodb.clone(), TABLE)),
        activity: activity.clone(),
        search: search.clone(),
        blobs: Arc::new(notes_core::blobs::S3Blobs::new(s3, BUCKET)),
        cache: Some(Arc::new(cache)),
        site_origin: Some(site_origin.to_string()),
    };
    let stream_arn = dynamodb
        .describe_table()
        .table_name(TABLE)
        .send()
        .await
        .context("cannot describe the notes table")?
        .table
        .and_then(|t| t.latest_stream_arn)
        .context("the notes table has no stream")?;
    let consumer = Consumer { activity, search, cache: consumer_cache };
    let poller = tokio::spawn(poll_stream(endpoint.clone(), stream_arn, consumer));
    // Presigned URLs point at moto, which serves them: no blob routes on the dev server.
    Ok((Api { router: notes_api::router(state), blobs: None }, Backends { blob_origin: endpoint, _moto: moto, poller }))
}

/// One DynamoDB Streams JSON call to moto (moto routes `DynamoDBStreams_*` targets to its streams
/// backend; it does not check signatures).
async fn streams_call(endpoint: &str, action: &str, body: Value) -> anyhow::Result<Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = endpoint.trim_start_matches("http://");
    let body = body.to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: DynamoDBStreams_20120810.{action}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/{}/dynamodb/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\n\r\n{body}",
        testkit::aws::REGION,
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw)).await??;
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").context("no HTTP response head")?;
    let status = String::from_utf8_lossy(&raw[..end]).split(' ').nth(1).unwrap_or("").to_string();
    let value: Value = serde_json::from_slice(&raw[end + 4..]).context("not JSON")?;
    anyhow::ensure!(status == "200", "{action} answered {status}: {value}");
    Ok(value)
}

/// What the stream feeds, as the activity function has it in AWS.
struct Consumer {
    activity: Arc<dyn Activity>,
    search: Arc<dyn Search>,
    cache: Arc<dyn Cache>,
}

/// Lambda's event source mapping, locally: every shard from the start, batches of up to 100,
/// retry from the first failed record.
async fn poll_stream(endpoint: String, stream_arn: String, consumer: Consumer) {
    let mut positions: Vec<(String, Option<String>)> = Vec::new(); // (shard id, last delivered sequence number)
    loop {
        if let Err(err) = poll_once(&endpoint, &stream_arn, &consumer, &mut positions).await {
            eprintln!("    activity consumer: {err:#} (retrying)");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A fresh iterator for `shard`: after `last` (the last record delivered), or from the start.
async fn iterator(endpoint: &str, stream_arn: &str, shard: &str, last: Option<&str>) -> anyhow::Result<Option<String>> {
    let request = match last {
        Some(seq) => {
            json!({"StreamArn": stream_arn, "ShardId": shard, "ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": seq})
        }
        None => json!({"StreamArn": stream_arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
    };
    let it = streams_call(endpoint, "GetShardIterator", request).await?;
    Ok(it["ShardIterator"].as_str().map(str::to_string))
}

async fn poll_once(
    endpoint: &str,
    stream_arn: &str,
    consumer: &Consumer,
    positions: &mut Vec<(String, Option<String>)>,
) -> anyhow::Result<()> {
    let description = streams_call(endpoint, "DescribeStream", json!({"StreamArn": stream_arn})).await?;
    let shards = description["StreamDescription"]["Shards"].as_array().cloned().unwrap_or_default();
    for shard in shards {
        let Some(id) = shard["ShardId"].as_str() else { continue };
        if !positions.iter().any(|(s, _)| s == id) {
            positions.push((id.to_string(), None));
        }
    }
    let sinks = notes_activity::Sinks {
        activity: consumer.activity.as_ref(),
        search: consumer.search.as_ref(),
        cache: Some(consumer.cache.as_ref()),
        invalidation_budget: Duration::from_secs(30),
    };
    for (shard, last) in positions.iter_mut() {
        let Some(current) = iterator(endpoint, stream_arn, shard, last.as_deref()).await? else { continue };
        let page = streams_call(endpoint, "GetRecords", json!({"ShardIterator": current, "Limit": 100})).await?;
        let event: aws_lambda_events::event::dynamodb::Event =
            serde_json::from_value(page.clone()).context("stream records do not parse as a Lambda event")?;
        if event.records.is_empty() {
            continue;
        }
        let sequences: Vec<Option<String>> = event.records.iter().map(|r| r.change.sequence_number.clone()).collect();
        let response = notes_activity::handle(&sinks, event).await;
        match response.batch_item_failures.first().and_then(|f| f.item_identifier.clone()) {
            None => {
                if let Some(seq) = sequences.into_iter().flatten().last() {
                    *last = Some(seq);
                }
            }
            Some(failed) => {
                // Delivered: everything before the failed record; the next poll starts at it.
                let delivered = sequences.iter().flatten().take_while(|s| **s != failed).last().cloned();
                if delivered.is_some() {
                    *last = delivered;
                }
                anyhow::bail!("a record could not be handled (is PostgreSQL up?); will retry from it");
            }
        }
    }
    Ok(())
}
