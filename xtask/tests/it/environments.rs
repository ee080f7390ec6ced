//! Environments end to end on moto: `--env NAME` selects deploy.toml's `[env.NAME]` table (stack,
//! account, parameters overlay, a shared artifact bucket), and a deploy authenticated into another
//! account than the table's is refused before any write.

use std::collections::BTreeSet;

use crate::e2e::*;

/// moto's account (its default, 123456789012) is not the one `[env.prod]` names.
#[test]
fn a_deploy_into_the_wrong_account_is_refused_before_any_write() {
    let moto = Moto::start();
    let rt = rt();
    let distribution = rt.block_on(create_distribution(&moto));
    let project = two_environment_project(&distribution);
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

    // That deploy made its own artifact bucket; a bootstrap after it says so instead of failing
    // in CloudFormation on the taken name.
    let toml = format!("[github]\nrepository = \"octo-org/notes-app\"\n\n{toml}");
    std::fs::write(project.dir.path().join("deploy.toml"), toml).unwrap();
    let late = xtask_in(&moto, &project, &["--env", "prod", "bootstrap", "--json"]);
    assert_eq!(late.status.code(), Some(1), "{}", late.stderr);
    assert!(
        late.stderr.contains(
            "error: the artifact bucket s3://notes-prod-artifacts-123456789012-us-east-1 exists already (a deploy before any bootstrap made it)\n"
        ),
        "{}",
        late.stderr
    );
    assert_eq!(late.json["aws_write_calls"], 0);
}

/// A project for two environments: deploy.toml's `[env.dev]` and `[env.prod]` (moto's account),
/// prod's parameters overlay, and the repository's bootstrap template and deployer policies.
fn two_environment_project(distribution: &str) -> Project {
    let (project, _) = Project::new(distribution, "api v1", &site_v1());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cloud = project.dir.path().join("cloud");
    std::fs::copy(root.join("cloud/bootstrap.yaml"), cloud.join("bootstrap.yaml")).unwrap();
    std::fs::create_dir_all(cloud.join("deployer-policies")).unwrap();
    for entry in std::fs::read_dir(root.join("cloud/deployer-policies")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, cloud.join("deployer-policies").join(path.file_name().unwrap())).unwrap();
    }
    let toml = "[github]\nrepository = \"octo-org/notes-app\"\n\n\
                [env.dev]\nstack_name = \"notes-dev\"\naccount = \"123456789012\"\n\n\
                [env.prod]\nstack_name = \"notes-prod\"\naccount = \"123456789012\"\n";
    std::fs::write(project.dir.path().join("deploy.toml"), toml).unwrap();
    let overlay = r#"[{"ParameterKey": "WwwDomainName", "ParameterValue": "www.prod.example.com"}]"#;
    std::fs::write(cloud.join("parameters.prod.json"), overlay).unwrap();
    project
}

/// `%3A` and friends back to characters (IAM returns policy documents URL-encoded).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = text.get(i + 1..i + 3).and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Bootstrap two environments (the account already has GitHub's OIDC provider: moto's
/// CloudFormation has no model of AWS::IAM::OIDCProvider, so the create-it path cannot run here),
/// rerun one (read-only), deploy one dist to both through `--env` (each its own stack, overlay and
/// bootstrap bucket), destroy one main stack (its bootstrap stays), then `bootstrap --destroy`.
#[test]
fn two_environments_are_bootstrapped_deployed_and_the_bootstrap_destroyed() {
    let moto = Moto::start();
    let rt = rt();
    let sdk = rt.block_on(moto.sdk());
    let iam = aws_sdk_iam::Client::new(&sdk);
    let provider = rt.block_on(
        iam.create_open_id_connect_provider()
            .url("https://token.actions.githubusercontent.com")
            .client_id_list("sts.amazonaws.com")
            .send(),
    );
    provider.unwrap();
    let distribution = rt.block_on(create_distribution(&moto));
    let project = two_environment_project(&distribution);
    let s3 = rt.block_on(moto.s3());

    for env in ["dev", "prod"] {
        let run = xtask_in(&moto, &project, &["--env", env, "bootstrap", "--json"]);
        assert!(run.status.success(), "{}", run.stderr);
        assert_eq!(run.calls("IAM.ListOpenIDConnectProviders"), 1);
        assert_eq!(run.calls("CloudFormation.ExecuteChangeSet"), 1);
        assert!(
            run.stderr.contains("token.actions.githubusercontent.com exists in the account: reused"),
            "{}",
            run.stderr
        );
        let params = rt.block_on(stack_parameters(&moto, &format!("bootstrap-notes-{env}")));
        assert_eq!(params["CreateOidcProvider"], "false");
        let bucket = format!("notes-{env}-artifacts-123456789012-us-east-1");
        assert_eq!(rt.block_on(outputs(&moto, &format!("bootstrap-notes-{env}")))["ArtifactBucketName"], bucket);
        // moto's CloudFormation applies a bucket's encryption and tags only (the other settings of
        // the template are lint's to check, and the deploy's settings check puts them on here).
        let encryption = rt.block_on(s3.get_bucket_encryption().bucket(&bucket).send()).unwrap();
        let rules = encryption.server_side_encryption_configuration().unwrap().rules();
        let default = rules[0].apply_server_side_encryption_by_default().unwrap();
        assert_eq!(default.sse_algorithm().as_str(), "AES256");
        let role = rt.block_on(iam.get_role().role_name(format!("notes-deploy-{env}")).send()).unwrap();
        let trust = percent_decoded(role.role().unwrap().assume_role_policy_document().unwrap());
        let trust: serde_json::Value = serde_json::from_str(&trust).unwrap();
        let condition = &trust["Statement"][0]["Condition"]["StringEquals"];
        assert_eq!(
            condition["token.actions.githubusercontent.com:sub"],
            format!("repo:octo-org/notes-app:environment:{env}")
        );
        assert_eq!(condition["token.actions.githubusercontent.com:aud"], "sts.amazonaws.com");
        // moto's CloudFormation ignores a role's ManagedPolicyArns: the template it was given shows
        // each deployer policy file as a managed policy attached to the role.
        let cfn = aws_sdk_cloudformation::Client::new(&sdk);
        let body = rt.block_on(cfn.get_template().stack_name(format!("bootstrap-notes-{env}")).send()).unwrap();
        let submitted: serde_json::Value = serde_json::from_str(body.template_body().unwrap()).unwrap();
        let attached = submitted["Resources"]["DeployRole"]["Properties"]["ManagedPolicyArns"].as_array().unwrap();
        let dir = project.dir.path().join("cloud/deployer-policies");
        let files = xtask::cloud::checks::files::load_deployer_policies(&dir).unwrap();
        assert_eq!(attached.len(), files.len(), "every deployer policy is attached");
        for (arn, (file, document)) in attached.iter().zip(&files) {
            let id = arn["Ref"].as_str().unwrap();
            assert_eq!(&submitted["Resources"][id]["Properties"]["PolicyDocument"], document, "{file}");
        }
    }

    // A rerun changes nothing and writes nothing.
    let rerun = xtask_in(&moto, &project, &["--env", "dev", "bootstrap", "--json"]);
    assert!(rerun.status.success(), "{}", rerun.stderr);
    assert_eq!(rerun.json["aws_write_calls"], 0, "{}", rerun.json["aws_calls"]);

    // One dist to both: each deploy uses its bootstrap's bucket (none created) and its own stack.
    let dist = project.path("dist");
    for env in ["dev", "prod"] {
        let args = ["--allow-example-domains", "--env", env, "deploy", "--from-dist", &dist, "--json"];
        let run = xtask_in(&moto, &project, &args);
        assert!(run.status.success(), "{}", run.stderr);
        assert_eq!(run.calls("S3.CreateBucket"), 0, "the bootstrap made the bucket");
        // Each environment has its own bucket (one bootstrap per environment), so prod uploads too.
        assert_eq!(run.json["artifacts"]["uploaded"], 2);
        let params = rt.block_on(stack_parameters(&moto, &format!("notes-{env}")));
        assert_eq!(params["ArtifactBucket"], format!("notes-{env}-artifacts-123456789012-us-east-1"));
        assert_eq!(params["EnvironmentName"], env);
    }
    let www = |env: &str| rt.block_on(stack_parameters(&moto, &format!("notes-{env}")))["WwwDomainName"].clone();
    assert_eq!((www("dev"), www("prod")), ("www.example.com".to_string(), "www.prod.example.com".to_string()));

    // destroy never touches the bootstrap stack.
    let destroyed = xtask_in(&moto, &project, &["--env", "prod", "destroy", "--yes", "--json"]);
    assert!(destroyed.status.success(), "{}", destroyed.stderr);
    assert!(rt.block_on(outputs(&moto, "bootstrap-notes-prod")).contains_key("DeployRoleArn"));

    // bootstrap --destroy empties the bucket (every version) and deletes the stack.
    let gone = xtask_in(&moto, &project, &["--env", "dev", "bootstrap", "--destroy", "--yes", "--json"]);
    assert!(gone.status.success(), "{}", gone.stderr);
    assert!(gone.calls("S3.DeleteObjects") >= 1, "{}", gone.json["aws_calls"]);
    let bucket = rt.block_on(s3.head_bucket().bucket("notes-dev-artifacts-123456789012-us-east-1").send());
    assert!(bucket.is_err(), "the dev artifact bucket is deleted");
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    let left = rt.block_on(cfn.describe_stacks().stack_name("bootstrap-notes-dev").send());
    assert!(left.map_or(true, |s| s.stacks().iter().all(|s| s.stack_status().unwrap().as_str() == "DELETE_COMPLETE")));
    assert!(rt.block_on(iam.get_role().role_name("notes-deploy-prod").send()).is_ok(), "prod's bootstrap is untouched");
}

/// In an account without GitHub's provider the stack owns one, and keeps it on a rerun (a rerun
/// that found the provider, its own, and dropped it would delete it). moto's CloudFormation has no
/// model of AWS::IAM::OIDCProvider and skips the resource: what this proves is the detection and
/// the parameter, not the provider's creation.
#[test]
fn an_account_without_the_provider_gets_one_from_the_stack_and_keeps_it() {
    let moto = Moto::start();
    let rt = rt();
    let distribution = rt.block_on(create_distribution(&moto));
    let project = two_environment_project(&distribution);
    let first = xtask_in(&moto, &project, &["--env", "dev", "bootstrap", "--json"]);
    assert!(first.status.success(), "{}", first.stderr);
    assert!(first.stderr.contains("none for token.actions.githubusercontent.com in the account: the stack creates it"));
    let create = || rt.block_on(stack_parameters(&moto, "bootstrap-notes-dev"))["CreateOidcProvider"].clone();
    assert_eq!(create(), "true");
    let rerun = xtask_in(&moto, &project, &["--env", "dev", "bootstrap", "--json"]);
    assert!(rerun.status.success(), "{}", rerun.stderr);
    assert!(rerun.stderr.contains("created by this stack, kept"), "{}", rerun.stderr);
    assert_eq!(rerun.calls("IAM.ListOpenIDConnectProviders"), 0, "the stack's own parameter decides");
    assert_eq!(rerun.json["aws_write_calls"], 0);
    assert_eq!(create(), "true");
}

/// Two environments in one account and region may share one artifact bucket (`artifact_bucket` in
/// the second one's table): a dist promoted from the first to the second uploads no artifact byte
/// again, each stack keeps its own release records and lock in it, and destroying one leaves the
/// other's code in place.
#[test]
fn environments_sharing_a_bucket_upload_a_promoted_dist_once() {
    let moto = Moto::start();
    let rt = rt();
    let distribution = rt.block_on(create_distribution(&moto));
    let (project, api_key) = Project::new(&distribution, "api v1", &site_v1());
    let shared = "notes-dev-artifacts-123456789012-us-east-1";
    let toml = format!(
        "[env.dev]\nstack_name = \"notes-dev\"\naccount = \"123456789012\"\n\n\
         [env.staging]\nstack_name = \"notes-staging\"\naccount = \"123456789012\"\nartifact_bucket = \"{shared}\"\n"
    );
    std::fs::write(project.dir.path().join("deploy.toml"), toml).unwrap();
    let dist = project.path("dist");
    let deploy = |env: &str| {
        let run = xtask_in(
            &moto,
            &project,
            &["--allow-example-domains", "--env", env, "deploy", "--from-dist", &dist, "--json"],
        );
        assert!(run.status.success(), "{}", run.stderr);
        run
    };
    let dev = deploy("dev");
    assert_eq!(dev.json["artifacts"]["uploaded"], 2);
    let staging = deploy("staging");
    assert_eq!(staging.json["artifacts"]["uploaded"], 0, "the same bytes, already in the shared bucket");
    assert_eq!(staging.json["artifacts"]["uploaded_bytes"], 0);
    assert_eq!(staging.calls("S3.CreateBucket"), 0);
    let params = rt.block_on(stack_parameters(&moto, "notes-staging"));
    assert_eq!((params["ArtifactBucket"].as_str(), params["ApiCodeKey"].as_str()), (shared, api_key.as_str()));

    for env in ["dev", "staging"] {
        let listed = xtask_in(&moto, &project, &["--env", env, "releases", "--json"]);
        assert!(listed.status.success(), "{}", listed.stderr);
        assert_eq!(listed.json.as_array().unwrap().len(), 1, "{env} has its own record");
    }
    // Pruning waits while another stack's deploy holds its lock in the shared bucket: that deploy's
    // new zips have no release record yet. A stray zip no release refers to shows it.
    let s3 = rt.block_on(moto.s3());
    let stray = format!("lambdas/api/{}.zip", "0".repeat(64));
    let put = |key: &str, body: &'static [u8]| {
        let body = aws_sdk_s3::primitives::ByteStream::from_static(body);
        rt.block_on(s3.put_object().bucket(shared).key(key).body(body).send()).unwrap();
    };
    put(&stray, b"old zip");
    put("locks/notes-dev.json", b"{}");
    let release = |n: u32| {
        let dir = project.dir.path().join(format!("dist-v{n}"));
        write_dist(&dir, &format!("api v{n}"), &site_v1());
        let dist = dir.display().to_string();
        let args =
            ["--allow-example-domains", "--env", "staging", "deploy", "--from-dist", &dist, "--keep-releases", "1"];
        let run = xtask_in(&moto, &project, &args);
        assert!(run.status.success(), "{}", run.stderr);
        run
    };
    let exists = |key: &str| rt.block_on(s3.head_object().bucket(shared).key(key).send()).is_ok();
    let waiting = release(2);
    assert!(waiting.stderr.contains("pruning left for later (locks/notes-dev.json is held"), "{}", waiting.stderr);
    assert!(exists(&stray));
    rt.block_on(s3.delete_object().bucket(shared).key("locks/notes-dev.json").send()).unwrap();
    release(3);
    assert!(!exists(&stray), "pruned once no other deploy holds a lock");
    assert!(exists(&api_key), "dev's live code is never pruned");

    let destroyed = xtask_in(&moto, &project, &["--env", "staging", "destroy", "--yes"]);
    assert!(destroyed.status.success(), "{}", destroyed.stderr);
    assert!(rt.block_on(s3.head_object().bucket(shared).key(&api_key).send()).is_ok(), "dev's code stays");
    assert!(rt.block_on(s3.head_object().bucket(shared).key("locks/notes-staging.json").send()).is_err());
}
