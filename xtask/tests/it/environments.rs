//! Environments end to end on moto: `--env NAME` selects deploy.toml's `[env.NAME]` table (stack,
//! account, parameters overlay), and a deploy authenticated into another account than the table's
//! is refused before any write.

use std::collections::BTreeSet;

use crate::e2e::*;

/// moto's account (its default, 123456789012) is not the one `[env.prod]` names.
#[test]
fn a_deploy_into_the_wrong_account_is_refused_before_any_write() {
    let moto = Moto::start();
    let rt = rt();
    let distribution = rt.block_on(create_distribution(&moto));
    let (project, _) = Project::new(&distribution, "api v1", &site_v1());
    let toml = "[env.prod]\nstack_name = \"notes-prod\"\naccount = \"210987654321\"\n";
    std::fs::write(project.dir.path().join("deploy.toml"), toml).unwrap();
    let dist = project.path("dist");
    let args = ["--allow-example-domains", "--env", "prod", "deploy", "--from-dist", &dist, "--json"];
    let run = xtask_in(&moto, &project, &args);
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "error: the credentials are for account 123456789012, but deploy.toml: env.prod.account is 210987654321\n"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: sign in to that environment's account"), "{}", run.stderr);
    // Only what finding out the account takes: the stack lookup and STS.
    let calls: BTreeSet<&str> = run.json["aws_calls"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(calls, BTreeSet::from(["CloudFormation.DescribeStacks", "STS.GetCallerIdentity"]));
    assert_eq!(run.json["aws_write_calls"], 0);
    // The right account passes the same check.
    let toml = "[env.prod]\nstack_name = \"notes-prod\"\naccount = \"123456789012\"\n";
    std::fs::write(project.dir.path().join("deploy.toml"), toml).unwrap();
    let run = xtask_in(&moto, &project, &args);
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(rt.block_on(stack_parameters(&moto, "notes-prod"))["EnvironmentName"], "prod");
}
