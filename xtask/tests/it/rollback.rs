//! `cargo xtask rollback` on moto: an earlier release is redeployed from the artifact bucket alone
//! (no build, no dist, no local template), through the deploy's phases and no-op rules; a release
//! whose artifacts were pruned is refused before any write.

use std::collections::BTreeMap;

use crate::e2e::*;

fn site_v2() -> Site {
    let mut site = site_v1();
    site.insert("index.html".into(), html("<!doctype html><title>notes</title>v2"));
    site.insert("about.html".into(), html("<!doctype html><title>about</title>"));
    site.remove("robots.txt");
    site
}

/// The site bucket's keys and bytes.
fn site_files(moto: &Moto, bucket: &str) -> BTreeMap<String, String> {
    let rt = rt();
    let s3 = rt.block_on(moto.s3());
    rt.block_on(async {
        let listing = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
        let mut files = BTreeMap::new();
        for o in listing.contents() {
            let key = o.key().unwrap();
            let body = s3.get_object().bucket(bucket).key(key).send().await.unwrap().body.collect().await.unwrap();
            files.insert(key.to_string(), String::from_utf8(body.to_vec()).unwrap());
        }
        files
    })
}

fn releases(moto: &Moto, project: &Project, stack: &str) -> Vec<serde_json::Value> {
    let listed = xtask(moto, project, stack, &["releases", "--json"]);
    assert!(listed.status.success(), "{}", listed.stderr);
    listed.json.as_array().unwrap().clone()
}

#[test]
fn a_rollback_redeploys_an_earlier_release_from_the_artifact_bucket_alone() {
    let moto = Moto::start();
    let rt = rt();
    let stack = "notes-rollback";
    let distribution = rt.block_on(create_distribution(&moto));
    let (project, v1_key) = Project::new(&distribution, "api v1", &site_v1());
    let deploy = |dir: &str| {
        let dist = project.path(dir);
        let run = xtask(&moto, &project, stack, &["--allow-example-domains", "deploy", "--from-dist", &dist, "--json"]);
        assert!(run.status.success(), "{}", run.stderr);
        run
    };
    deploy("dist");
    let site_bucket = rt.block_on(outputs(&moto, stack))["SiteBucketName"].clone();
    let v1_site = site_files(&moto, &site_bucket);
    let v2_key = write_dist(&project.dir.path().join("dist2"), "api v2", &site_v2());
    deploy("dist2");
    assert_eq!(rt.block_on(stack_parameters(&moto, stack))["ApiCodeKey"], v2_key);
    assert_ne!(site_files(&moto, &site_bucket), v1_site);

    // No dist, no template, nothing to build from: the rollback reads only the artifact bucket.
    for gone in ["dist", "dist2", "cloud/stack.yaml"] {
        let path = project.dir.path().join(gone);
        if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) }.unwrap();
    }
    let back = xtask(&moto, &project, stack, &["rollback", "--json"]);
    assert!(back.status.success(), "{}", back.stderr);
    assert!(back.stderr.contains("release 1 (commit e2e"), "{}", back.stderr);
    assert_eq!(back.json["artifacts"]["uploaded"], 0, "the zips are in the bucket already");
    assert_eq!(back.json["artifacts"]["skipped"], 2);
    assert_eq!(back.changes(), ["Modify ApiFunction"]);
    assert_eq!(rt.block_on(stack_parameters(&moto, stack))["ApiCodeKey"], v1_key);
    assert_eq!(site_files(&moto, &site_bucket), v1_site, "the site is release 1's again, byte for byte");
    assert_eq!(back.json["site"]["deleted"], 1, "release 2's about.html");

    let listed = releases(&moto, &project, stack);
    assert_eq!(listed.len(), 3);
    assert_eq!(
        (&listed[0]["number"], &listed[0]["rollback_of"], &listed[0]["live"]),
        (&3.into(), &1.into(), &true.into())
    );

    // The same rules as deploy: back to what already runs is a no-op, with no new record.
    let again = xtask(&moto, &project, stack, &["rollback", "--to", "3", "--json"]);
    assert!(again.status.success(), "{}", again.stderr);
    assert_eq!(again.json["stack_action"], "unchanged");
    assert_eq!(again.json["site"]["uploaded"], 0);
    assert_eq!(again.calls("CloudFormation.CreateChangeSet"), 0);
    assert_eq!(releases(&moto, &project, stack).len(), 3);

    // Back to release 2 by number, then keep only the newest release's artifacts: release 1's
    // zip and site files are pruned, and a rollback to it is refused before any write.
    let forward = xtask(&moto, &project, stack, &["rollback", "--to", "2", "--keep-releases", "1", "--json"]);
    assert!(forward.status.success(), "{}", forward.stderr);
    assert_eq!(rt.block_on(stack_parameters(&moto, stack))["ApiCodeKey"], v2_key);
    let refused = xtask(&moto, &project, stack, &["rollback", "--to", "1", "--json"]);
    assert_eq!(refused.status.code(), Some(1), "{}", refused.stderr);
    let error = refused.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
    assert!(error.starts_with("error: release 1 is no longer complete in s3://notes-rollback-artifacts-"), "{error}");
    assert!(
        refused.stderr.contains("hint: roll back to a newer release, or deploy that commit's dist"),
        "{}",
        refused.stderr
    );
    assert_eq!(refused.json["aws_write_calls"], 0);
    let unknown = xtask(&moto, &project, stack, &["rollback", "--to", "9"]);
    assert!(unknown.stderr.contains("error: stack notes-rollback has no release 9 in s3://"), "{}", unknown.stderr);
}
