//! The deploy lock on moto: two deploys of one stack never run at once, a dead holder's lock is
//! taken over, `--break-lock` says whose lock it broke, and no run leaves its lock behind.
//!
//! moto (5.2.5) honours both conditions the lock is built on, `If-None-Match: *` and `If-Match` on
//! PutObject and on DeleteObject, so nothing is emulated in the test proxy.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::primitives::ByteStream;

use crate::e2e::*;

const ARTIFACTS: &str = "-artifacts-123456789012-us-east-1";

fn deploy_args(dist: &str) -> Vec<String> {
    ["--allow-example-domains", "deploy", "--from-dist", dist, "--json"].map(String::from).to_vec()
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Writes a lock as another machine's run would have left it.
fn plant_lock(moto: &Moto, stack: &str, host: &str, expires: u64) {
    let lock = serde_json::json!({
        "who": "arn:aws:sts::123456789012:assumed-role/deploy/ci",
        "host": host,
        "pid": 4242,
        "command": "deploy",
        "commit": "abc1234",
        "since": 1_796_102_913u64,
        "expires": expires,
        "token": "planted",
    });
    let rt = rt();
    let s3 = rt.block_on(moto.s3());
    rt.block_on(
        s3.put_object()
            .bucket(format!("{stack}{ARTIFACTS}"))
            .key(format!("locks/{stack}.json"))
            .body(ByteStream::from(lock.to_string().into_bytes()))
            .send(),
    )
    .unwrap();
}

fn lock_exists(moto: &Moto, stack: &str) -> bool {
    let rt = rt();
    let s3 = rt.block_on(moto.s3());
    rt.block_on(s3.head_object().bucket(format!("{stack}{ARTIFACTS}")).key(format!("locks/{stack}.json")).send())
        .is_ok()
}

fn error_line(run: &Run) -> String {
    run.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default().to_string()
}

#[test]
fn two_deploys_of_one_stack_never_run_at_once() {
    let moto = Moto::with_faults();
    let rt = rt();
    let stack = "notes-lock";
    let distribution = rt.block_on(create_distribution(&moto));
    let (project, _) = Project::new(&distribution, "api v1", &site_v1());
    let first = xtask(
        &moto,
        &project,
        stack,
        &deploy_args(&project.path("dist")).iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    );
    assert!(first.status.success(), "{}", first.stderr);
    assert!(!lock_exists(&moto, stack), "the holder removes its lock");

    // Two deploys of a new release at once: one holds the lock through its stack update (made
    // to take 4 s: only the holder gets that far), the other waits a second for it and gives up
    // naming the holder.
    moto.faults().fail("CloudFormation.CreateChangeSet", testkit::faults::Fault::Delay(Duration::from_secs(4)), 1);
    let (next, _) = Project::new(&distribution, "api v2", &site_v1());
    let dist = next.path("dist");
    let mut args = deploy_args(&dist);
    args.extend(["--lock-timeout", "1s"].map(String::from));
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let runs: Vec<Run> = std::thread::scope(|s| {
        let both: Vec<_> = (0..2).map(|_| s.spawn(|| xtask(&moto, &next, stack, &args))).collect();
        both.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let (won, lost): (Vec<&Run>, Vec<&Run>) = runs.iter().partition(|r| r.status.success());
    assert_eq!((won.len(), lost.len()), (1, 1), "{}\n----\n{}", runs[0].stderr, runs[1].stderr);
    let error = error_line(lost[0]);
    // Named by local user and host, as Terraform's lock does: taking the lock costs no STS call.
    let holder =
        format!("stack notes-lock is locked by {} on ", std::env::var("USER").unwrap_or("unknown user".into()));
    assert!(error.contains(&holder), "{}", lost[0].stderr);
    assert_eq!(lost[0].calls("STS.GetCallerIdentity"), 0, "{}", lost[0].json["aws_calls"]);
    assert!(error.contains("(deploy of commit e2e) since 20"), "{error}");
    assert!(lost[0].stderr.contains("hint: wait for that run to end"), "{}", lost[0].stderr);
    // The loser wrote nothing to the stack.
    assert_eq!(lost[0].calls("CloudFormation.CreateChangeSet"), 0, "{}", lost[0].json["aws_calls"]);
    assert_eq!(won[0].calls("CloudFormation.ExecuteChangeSet"), 1, "{}", won[0].json["aws_calls"]);
    assert!(!lock_exists(&moto, stack));
}

#[test]
fn a_dead_lock_is_taken_over_and_break_lock_says_whose_it_broke() {
    let moto = Moto::start();
    let rt = rt();
    let stack = "notes-dead-lock";
    let distribution = rt.block_on(create_distribution(&moto));
    let (project, _) = Project::new(&distribution, "api v1", &site_v1());
    let args = deploy_args(&project.path("dist"));
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    assert!(xtask(&moto, &project, stack, &args).status.success());

    // A run on another machine died an hour ago: its lock has expired, the next run takes it over.
    plant_lock(&moto, stack, "ci-runner-7", now() - 3600);
    let taken = xtask(&moto, &project, stack, &args);
    assert!(taken.status.success(), "{}", taken.stderr);
    assert!(
        taken.stderr.contains("note: took over the dead lock of arn:aws:sts::123456789012:assumed-role/deploy/ci on ci-runner-7 (deploy of commit abc1234) since 2026-12-01T05:28:33Z"),
        "{}",
        taken.stderr
    );
    assert!(!lock_exists(&moto, stack));

    // A live lock: waited for, then refused with who holds it since when; nothing written.
    plant_lock(&moto, stack, "ci-runner-8", now() + 3600);
    let mut waiting = args.clone();
    waiting.extend(["--lock-timeout", "2s"]);
    let refused = xtask(&moto, &project, stack, &waiting);
    assert!(!refused.status.success(), "{}", refused.stderr);
    expect_test::expect![[r#"error: stack notes-dead-lock is locked by arn:aws:sts::123456789012:assumed-role/deploy/ci on ci-runner-8 (deploy of commit abc1234) since 2026-12-01T05:28:33Z"#]]
    .assert_eq(&error_line(&refused));
    assert!(refused.stderr.contains("waiting up to 2s for the lock of"), "{}", refused.stderr);
    assert!(lock_exists(&moto, stack), "a run that did not get the lock leaves it alone");

    // --break-lock: broken, said so, and the deploy proceeds and cleans up after itself.
    let mut breaking = args.clone();
    breaking.push("--break-lock");
    let broke = xtask(&moto, &project, stack, &breaking);
    assert!(broke.status.success(), "{}", broke.stderr);
    assert!(
        broke.stderr.contains("note: --break-lock: broke the lock of arn:aws:sts::123456789012:assumed-role/deploy/ci on ci-runner-8 (deploy of commit abc1234) since 2026-12-01T05:28:33Z on stack notes-dead-lock"),
        "{}",
        broke.stderr
    );
    assert!(!lock_exists(&moto, stack));

    // Read-only commands never lock: `outputs` runs while someone holds it.
    plant_lock(&moto, stack, "ci-runner-9", now() + 3600);
    let outputs = xtask(&moto, &project, stack, &["outputs"]);
    assert!(outputs.status.success(), "{}", outputs.stderr);
}
