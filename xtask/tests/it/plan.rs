//! `cargo xtask plan` on moto: the markdown of a change that replaces the table (called out first),
//! changes the api's code and a page; nothing is written but the change set, which is deleted
//! again. moto reports no replacement flags: the test kit's moto wrapper computes them from the
//! resource schemas' create-only properties (its addition 7).

use crate::e2e::*;

#[test]
fn the_plan_of_a_table_replacement_says_so_first_and_writes_nothing() {
    let moto = Moto::start();
    let rt = rt();
    let stack = "notes-plan";
    let distribution = rt.block_on(create_distribution(&moto));
    let (project, v1_key) = Project::new(&distribution, "api v1", &site_v1());
    let dist = project.path("dist");
    // Before the stack exists: every resource of the template is an addition, and nothing is
    // written (a create change set would leave a REVIEW_IN_PROGRESS stack behind).
    let out = project.path("plan-new.md");
    let new = xtask(
        &moto,
        &project,
        stack,
        &["--allow-example-domains", "plan", "--from-dist", &dist, "--out", &out, "--json"],
    );
    assert!(new.status.success(), "{}", new.stderr);
    assert_eq!(new.json["aws_write_calls"], 0, "{}", new.json["aws_calls"]);
    assert_eq!(new.changes().len(), 6, "{:?}", new.changes());
    assert!(new.changes().iter().all(|c| c.starts_with("Add ")), "{:?}", new.changes());
    let md = std::fs::read_to_string(&out).unwrap();
    assert!(md.contains("**Stack:** would create the stack"), "{md}");
    assert!(md.contains("| api | (new) |"), "{md}");
    let first = xtask(&moto, &project, stack, &["--allow-example-domains", "deploy", "--from-dist", &dist]);
    assert!(first.status.success(), "{}", first.stderr);

    // A new table name (create-only: the table is replaced), new api code, a changed page.
    let template = project.dir.path().join("cloud/stack.yaml");
    let body = std::fs::read_to_string(&template).unwrap();
    let renamed = body.replace(
        "      BillingMode: PAY_PER_REQUEST\n",
        "      BillingMode: PAY_PER_REQUEST\n      TableName: notes-v2\n",
    );
    assert_ne!(renamed, body);
    std::fs::write(&template, renamed).unwrap();
    let mut site = site_v1();
    site.insert("index.html".into(), html("<!doctype html><title>notes</title>v2"));
    write_dist(&project.dir.path().join("dist2"), "api v2", &site);
    let dist2 = project.path("dist2");
    let out = project.path("plan.md");
    let args = ["--allow-example-domains", "plan", "--from-dist", &dist2, "--out", &out, "--json"];
    let plan = xtask(&moto, &project, stack, &args);
    assert!(plan.status.success(), "{}", plan.stderr);
    let md = std::fs::read_to_string(&out).unwrap();
    expect_test::expect_file!["../fixtures/plan-table-replacement.md"].assert_eq(&md);

    // Read-only but for the change set, which is gone again; the stack runs release 1 still.
    assert_eq!(plan.json["aws_write_calls"], 2, "{}", plan.json["aws_calls"]);
    assert_eq!(plan.calls("CloudFormation.CreateChangeSet"), 1);
    assert_eq!(plan.calls("CloudFormation.DeleteChangeSet"), 1);
    let cfn = aws_sdk_cloudformation::Client::new(&rt.block_on(moto.sdk()));
    let sets = rt.block_on(cfn.list_change_sets().stack_name(stack).send()).unwrap();
    // moto keeps the executed change set of the first deploy (AWS removes it); no other is left.
    let left: Vec<_> = sets
        .summaries()
        .iter()
        .filter(|s| s.execution_status() != Some(&aws_sdk_cloudformation::types::ExecutionStatus::ExecuteComplete))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(rt.block_on(stack_parameters(&moto, stack))["ApiCodeKey"], v1_key);
}
