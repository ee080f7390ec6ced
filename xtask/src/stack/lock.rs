//! The deploy lock: one per stack, `locks/<stack>.json` in the artifact bucket, so that two runs
//! that write to one stack (deploy, sync, destroy) never interleave.
//!
//! - Taken with a conditional write (`If-None-Match: *`): of two runs, exactly one writes it.
//! - It holds who (the local user and host, as Terraform's lock records them: no STS call), the
//!   command, the commit, since when, and an expiry
//!   [`LEASE`] ahead that the holder moves forward every [`REFRESH`] while it runs: a long deploy
//!   keeps its lock, a crashed one loses it within [`LEASE`].
//! - Every call names the bucket's expected owner: S3 refuses (403) a write into a bucket another
//!   account owns before anything is written, so the lock's write is also the artifact bucket's
//!   ownership check.
//! - An expired lock is taken over with `If-Match` on the ETag that was read, so of two runs taking
//!   over the same dead lock only one wins.
//! - The holder removes it at the end, success or failure, with a conditional delete on the version
//!   it last wrote, and only if it is still its own.
//! - A run that finds it held waits up to `--lock-timeout`, then fails naming the holder;
//!   `--break-lock` deletes it first and says whose it was.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::artifacts::releases::rfc3339;
use crate::aws::Clients;
use crate::aws::s3::{self, Bucket, Precondition, Written};
use crate::error::Refusal;
use crate::report::Ui;

/// How long a lock outlives its last refresh.
pub const LEASE: Duration = Duration::from_secs(120);
/// How often the holder moves its expiry forward (a few refreshes may fail before it lapses).
pub const REFRESH: Duration = Duration::from_secs(30);

/// The flags of every command that takes the lock.
#[derive(clap::Args, Debug, Clone)]
pub struct LockArgs {
    /// Wait this long for another run's lock on the stack before giving up, e.g. 30s, 10m
    #[arg(long, value_name = "DURATION", value_parser = crate::aws::parse_duration, default_value = "10m")]
    pub lock_timeout: Duration,
    /// Delete the stack's lock first, whoever holds it (when that run is known to be dead), and say whose it was
    #[arg(long)]
    pub break_lock: bool,
}

/// What the lock object says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The holder's local user (`USER`); earlier xtasks wrote their STS caller ARN.
    pub who: String,
    pub host: String,
    /// The holder's process on `host`: a lock whose process is gone from this machine is dead.
    #[serde(default)]
    pub pid: u32,
    pub command: String,
    pub commit: String,
    /// Seconds since the Unix epoch.
    pub since: u64,
    pub expires: u64,
    /// This run's own mark, so that it removes only its own lock.
    pub token: String,
}

impl Record {
    /// Expired, or held by a process of this machine that no longer runs (killed, crashed).
    fn is_dead(&self) -> bool {
        self.expires <= now()
            || (self.host == host()
                && self.pid != 0
                && self.pid != std::process::id()
                && !std::path::Path::new(&format!("/proc/{}", self.pid)).exists())
    }

    /// `ci on host (deploy of abc123) since 2026-12-02T12:00:00Z`
    pub fn describe(&self) -> String {
        format!(
            "{} on {} ({} of commit {}) since {}",
            self.who,
            self.host,
            self.command,
            self.commit,
            rfc3339(self.since)
        )
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Where every stack's lock lives in the artifact bucket.
pub const PREFIX: &str = "locks/";

pub fn key(stack: &str) -> String {
    format!("{PREFIX}{stack}.json")
}

/// Who runs this, as the machine knows it (the lock is for people and pipelines to read).
fn user() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "unknown user".into())
}

fn host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".into())
}

/// A lock this run holds; [`Held::release`] it at the end.
pub struct Held {
    bucket: Bucket,
    key: String,
    token: String,
    /// The ETag of the version last written by this run (the refresher updates it).
    etag: Arc<Mutex<String>>,
    /// Set by the refresher when the lock stopped being ours (broken or taken over).
    lost: Arc<Mutex<Option<String>>>,
    refresher: tokio::task::JoinHandle<()>,
}

/// Where and for what the lock is taken.
pub struct Request<'a> {
    pub bucket: &'a Bucket,
    pub stack: &'a str,
    pub command: &'a str,
    pub commit: &'a str,
}

/// Takes the lock of `req.stack`, waiting as `args` say. None when the artifact bucket does not
/// exist (nothing can be locked in it yet). The `String` is the phase's detail line.
pub async fn acquire(
    c: &Clients,
    req: &Request<'_>,
    args: &LockArgs,
    ui: &Ui,
) -> anyhow::Result<(Option<Held>, String)> {
    let key = key(req.stack);
    let who = user();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let token = format!("{}-{}-{nanos}", std::process::id(), now());
    let record = |since: u64| Record {
        who: who.clone(),
        host: host(),
        pid: std::process::id(),
        command: req.command.to_string(),
        commit: req.commit.to_string(),
        since,
        expires: now() + LEASE.as_secs(),
        token: token.clone(),
    };
    let mut broke = String::new();
    if args.break_lock {
        broke = match s3::get_with_etag(c, req.bucket, &key).await? {
            Some((bytes, etag)) => {
                s3::delete_if_match(c, req.bucket, &key, &etag).await?;
                let what = serde_json::from_slice::<Record>(&bytes)
                    .map_or_else(|_| "an unreadable lock".to_string(), |r| format!("the lock of {}", r.describe()));
                ui.note(format!("--break-lock: broke {what} on stack {}", req.stack));
                format!("; broke {what}")
            }
            None => {
                ui.note(format!("--break-lock: stack {} was not locked", req.stack));
                "; --break-lock found no lock".into()
            }
        };
    }
    let started = Instant::now();
    let mut told = false;
    let since = now();
    loop {
        let body = serde_json::to_vec_pretty(&record(since))?;
        let etag =
            match s3::put_conditional(c, req.bucket, &key, body, "application/json", Precondition::Absent).await? {
                Written::Yes(etag) => Some(etag),
                Written::NoBucket => return Ok((None, format!("{} does not exist yet: nothing to lock", req.bucket))),
                Written::Refused => None,
            };
        if let Some(etag) = etag {
            let held = Held::start(c, req.bucket, &key, record(since), etag);
            return Ok((Some(held), format!("{key} taken{broke}")));
        }
        // Held by someone: ours once it has expired, else wait.
        let Some((bytes, etag)) = s3::get_with_etag(c, req.bucket, &key).await? else { continue };
        // An unreadable lock has no expiry to wait for: it counts as expired.
        let holder = serde_json::from_slice::<Record>(&bytes).ok();
        let expired = holder.as_ref().is_none_or(Record::is_dead);
        if expired {
            let body = serde_json::to_vec_pretty(&record(since))?;
            if let Written::Yes(new) =
                s3::put_conditional(c, req.bucket, &key, body, "application/json", Precondition::Matches(&etag)).await?
            {
                let was = holder.map_or("an unreadable lock".into(), |h| {
                    format!("the dead lock of {} (expiring {})", h.describe(), rfc3339(h.expires))
                });
                ui.note(format!("took over {was}"));
                let held = Held::start(c, req.bucket, &key, record(since), new);
                return Ok((Some(held), format!("{key} taken over from {was}{broke}")));
            }
            // Another run took it over first: it holds it now.
            continue;
        }
        let holder = holder.expect("an unexpired lock was readable");
        let waited = started.elapsed();
        if waited >= args.lock_timeout {
            return Err(Refusal::new(
                format!("stack {} is locked by {}", req.stack, holder.describe()),
                format!(
                    "wait for that run to end (a dead one's lock expires {}), raise --lock-timeout, or pass --break-lock if it is dead",
                    rfc3339(holder.expires)
                ),
            )
            .into());
        }
        if !told {
            ui.line(format!(
                "    waiting up to {}s for the lock of {}",
                args.lock_timeout.as_secs(),
                holder.describe()
            ));
            told = true;
        }
        c.deadline.check("waiting for the lock")?;
        c.deadline.sleep((args.lock_timeout - waited).min(Duration::from_secs(2))).await;
    }
}

impl Held {
    fn start(c: &Clients, bucket: &Bucket, key: &str, record: Record, etag: String) -> Held {
        let etag = Arc::new(Mutex::new(etag));
        let lost = Arc::new(Mutex::new(None));
        let refresher = tokio::spawn(refresh(
            c.clone(),
            bucket.clone(),
            key.to_string(),
            record.clone(),
            etag.clone(),
            lost.clone(),
        ));
        Held { bucket: bucket.clone(), key: key.to_string(), token: record.token, etag, lost, refresher }
    }

    /// Removes the lock if it is still this run's. An error when it stopped being ours during the
    /// run (broken or taken over): then another run may have written to the stack meanwhile, and
    /// this run's outcome is not what it says.
    pub async fn release(self, c: &Clients, ui: &Ui) -> anyhow::Result<()> {
        self.refresher.abort();
        let _ = self.refresher.await;
        if let Some(taken) = self.lost.lock().expect("lock state poisoned").clone() {
            return Err(Refusal::new(
                format!("the lock {} stopped being this run's while it ran: {taken}", self.key),
                "another run may have changed the stack meanwhile: check it (`cargo xtask status`) and run again",
            )
            .into());
        }
        let last = self.etag.lock().expect("lock state poisoned").clone();
        match s3::delete_if_match(c, &self.bucket, &self.key, &last).await {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(err) => {
                ui.note(format!("cannot remove the lock {} ({err:#}); it expires by itself", self.key));
                return Ok(());
            }
        }
        // Not the version we know: a refresh may have landed as it was aborted. Ours still?
        let mine = match s3::get_with_etag(c, &self.bucket, &self.key).await? {
            Some((bytes, etag)) => {
                serde_json::from_slice::<Record>(&bytes).ok().filter(|r| r.token == self.token).map(|_| etag)
            }
            None => None,
        };
        let Some(etag) = mine else {
            return Err(Refusal::new(
                format!("the lock {} was broken or taken over while this run held it", self.key),
                "another run may have changed the stack meanwhile: check it (`cargo xtask status`) and run again",
            )
            .into());
        };
        if let Err(err) = s3::delete_if_match(c, &self.bucket, &self.key, &etag).await {
            ui.note(format!("cannot remove the lock {} ({err:#}); it expires by itself", self.key));
        }
        Ok(())
    }
}

/// A locked run's result with its lock's release: the run's own error first (a lost lock then a
/// note), else the release's.
pub fn released<T>(result: anyhow::Result<T>, released: anyhow::Result<()>, ui: &Ui) -> anyhow::Result<T> {
    match (result, released) {
        (Err(err), Err(lost)) => {
            ui.note(format!("{lost:#}"));
            Err(err)
        }
        (result, released) => released.and(result),
    }
}

/// Moves the expiry forward every [`REFRESH`], each write conditional on the version this run
/// wrote last; stops (and says why) when the lock is no longer ours.
async fn refresh(
    c: Clients,
    bucket: Bucket,
    key: String,
    mut record: Record,
    etag: Arc<Mutex<String>>,
    lost: Arc<Mutex<Option<String>>>,
) {
    loop {
        tokio::time::sleep(REFRESH).await;
        record.expires = now() + LEASE.as_secs();
        let Ok(body) = serde_json::to_vec_pretty(&record) else { return };
        let last = etag.lock().expect("lock state poisoned").clone();
        match s3::put_conditional(&c, &bucket, &key, body, "application/json", Precondition::Matches(&last)).await {
            Ok(Written::Yes(new)) => *etag.lock().expect("lock state poisoned") = new,
            Ok(Written::Refused | Written::NoBucket) => {
                *lost.lock().expect("lock state poisoned") = Some("it was broken or taken over".into());
                return;
            }
            // A failed refresh is retried at the next tick; the lease leaves room for a few.
            Err(_) => {}
        }
    }
}
