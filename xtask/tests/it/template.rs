//! The CloudFormation template, its parameters file and the deployer policy agree with each other
//! and with the contract the deploy tool and the Lambdas rely on. Each check is one of
//! `xtask::cloud::checks`; the negative tests below prove each fails on a broken copy.

use std::path::{Path, PathBuf};

use serde_json::{Value as Json, json};
use xtask::cloud::checks::{consistency, deployer_files, external, files};
use xtask::cloud::{ParameterFile, StackOutputs, Template};
use xtask::lint::{self, Inputs};
use xtask::{Ctx, GlobalArgs};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").to_path_buf()
}

fn ctx() -> Ctx {
    Ctx::new(GlobalArgs { project_dir: Some(root()), ..GlobalArgs::default() }).expect("a context")
}

fn stack_path() -> PathBuf {
    root().join("cloud/stack.yaml")
}

fn params_path() -> PathBuf {
    root().join("cloud/parameters.json")
}

fn policy_dir() -> PathBuf {
    root().join("cloud/deployer-policies")
}

fn stack() -> Template {
    Template::load(&stack_path(), "cloud/stack.yaml").expect("cloud/stack.yaml parses")
}

fn params() -> ParameterFile {
    ParameterFile::load(&params_path(), "cloud/parameters.json", &stack()).expect("cloud/parameters.json loads")
}

fn policies() -> Vec<(String, Json)> {
    files::load_deployer_policies(&policy_dir()).expect("deployer policies are JSON")
}

/// Every problem the built-in checks find in these files.
fn problems_in(inputs: &Inputs) -> Vec<String> {
    let reports = lint::builtin(&ctx(), inputs).expect("files still parse");
    reports.into_iter().flat_map(|r| r.problems).collect()
}

/// Asserts a checker found nothing, showing every problem otherwise.
fn check(problems: &[String]) {
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

/// Asserts a checker found a problem mentioning `needle`.
fn check_fails(problems: &[String], needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem mentioning {needle:?}, got:\n{}",
        problems.join("\n")
    );
}

fn prop<'a>(t: &'a Template, resource: &str, pointer: &str) -> &'a Json {
    let r = t.resources.get(resource).unwrap_or_else(|| panic!("resource {resource} exists"));
    r.properties.pointer(pointer).unwrap_or_else(|| panic!("{resource} has {pointer}"))
}

/// A scratch copy of the three files, for breaking one of them.
struct Scratch {
    _dir: tempfile::TempDir,
    inputs: Inputs,
}

impl Scratch {
    fn new(edit_stack: impl FnOnce(String) -> String, edit_params: impl FnOnce(String) -> String) -> Scratch {
        let dir = tempfile::tempdir().expect("temp dir");
        let inputs = Inputs {
            template: dir.path().join("stack.yaml"),
            parameters: dir.path().join("parameters.json"),
            deployer_policies: dir.path().join("deployer-policies"),
            deployed: dir.path().join("stack.transformed.yaml"),
        };
        let original = std::fs::read_to_string(stack_path()).expect("readable");
        let edited = edit_stack(original);
        std::fs::write(&inputs.template, edited).expect("writable");
        std::fs::write(&inputs.parameters, edit_params(std::fs::read_to_string(params_path()).expect("readable")))
            .expect("writable");
        std::fs::create_dir(&inputs.deployer_policies).expect("creatable");
        for (name, doc) in policies() {
            let file = Path::new(&name).file_name().expect("a file name").to_owned();
            std::fs::write(inputs.deployer_policies.join(file), serde_json::to_string_pretty(&doc).expect("JSON"))
                .expect("writable");
        }
        Scratch { _dir: dir, inputs }
    }

    fn problems(&self) -> Vec<String> {
        problems_in(&self.inputs)
    }
}

fn unchanged(text: String) -> String {
    text
}

/// Inserts `yaml` (indented as a section entry) right after the top-level `section:` line.
fn insert_into_section(stack: &str, section: &str, yaml: &str) -> String {
    let header = format!("\n{section}:\n");
    let at = stack.find(&header).unwrap_or_else(|| panic!("top-level {section} section")) + header.len();
    format!("{}{yaml}{}", &stack[..at], &stack[at..])
}

// ---- the real files ---------------------------------------------------------------------------

#[test]
fn all_checks_pass_on_the_committed_files() {
    check(&problems_in(&Inputs::of(&ctx())));
}

#[test]
fn parameters_file_has_one_valid_entry_per_template_parameter() {
    check(&params().completeness_problems(&stack()));
}

#[test]
fn every_parameter_has_a_description_and_constraints() {
    check(&consistency::check_parameter_declarations(&stack()));
}

#[test]
fn every_output_the_deploy_tool_reads_exists() {
    check(&consistency::check_outputs(&stack()));
    assert_eq!(StackOutputs::names().count(), 16);
}

#[test]
fn every_stateful_resource_has_both_deletion_policies() {
    let t = stack();
    check(&consistency::check_deletion_policies(&t));
    // The checker must have had something to check.
    for kind in ["AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::RDS::DBInstance", "AWS::KMS::Key", "AWS::SQS::Queue"]
    {
        assert!(t.resources_of_type(kind).next().is_some(), "the template has a {kind}");
    }
    // A failed first create leaves nothing: Delete for RDS (its handler snapshots even on rollback
    // under Snapshot), RetainExceptOnCreate where data is kept.
    assert_eq!(t.resources["Database"].deletion_policy.as_deref(), Some("Delete"));
    assert_eq!(t.resources["Database"].update_replace_policy.as_deref(), Some("Snapshot"));
    for name in ["DataKey", "NotesTable", "UserPool", "AppDataBucket", "LogBucket", "ApiGatewayCloudWatchRole"] {
        assert_eq!(t.resources[name].deletion_policy.as_deref(), Some("RetainExceptOnCreate"), "{name}");
    }
    assert!(t.resources.values().all(|r| r.deletion_policy.as_deref() != Some("Retain")));
}

#[test]
fn every_deletion_protection_follows_the_one_parameter() {
    let t = stack();
    check(&consistency::check_deletion_protection(&t));
    let mut broken = t;
    broken.resources.get_mut("NotesTable").expect("table").properties["DeletionProtectionEnabled"] = json!(true);
    check_fails(
        &consistency::check_deletion_protection(&broken),
        "NotesTable (AWS::DynamoDB::Table): DeletionProtectionEnabled must be !If [ProtectFromDeletion, ...]",
    );
}

#[test]
fn environment_name_is_valid_for_every_service_that_uses_it() {
    let env = &stack().parameters["EnvironmentName"];
    for good in ["dev", "prod", "team-a", "a1-b2-c3"] {
        assert_eq!(env.check(good), Ok(()), "{good}");
    }
    // ElastiCache user ids and RDS identifiers: no trailing or double hyphen; Cognito domain
    // prefixes: no aws, amazon or cognito.
    for bad in ["dev-", "a--b", "-dev", "1dev", "myaws", "amazon1", "cognito", "Dev", "d", "a234567890123456x"] {
        assert!(env.check(bad).is_err(), "{bad} must be refused");
    }
}

#[test]
fn deployment_region_excludes_opt_in_regions() {
    let region = &stack().parameters["DeploymentRegion"];
    assert_eq!(region.check("eu-west-1"), Ok(()));
    for opt_in in ["af-south-1", "ap-east-1", "eu-south-1", "me-south-1", "il-central-1", "ca-west-1"] {
        assert!(region.check(opt_in).is_err(), "{opt_in}: CloudFront standard logs cannot be delivered there");
    }
}

#[test]
fn no_iam_statement_has_a_wildcard_action() {
    check(&consistency::check_no_wildcard_actions(&stack()));
}

#[test]
fn deployer_policy_files_are_valid_grammar_and_each_fits_a_managed_policy() {
    check(&deployer_files::check_deployer_policies(&policies()));
    assert!(policies().len() >= 2, "split into several managed policies");
}

#[test]
fn deploy_injected_parameters_have_placeholder_entries_that_pass() {
    let t = stack();
    let values = params();
    let functions = xtask::compile::discover(&root()).expect("cargo metadata");
    assert_eq!(functions.len(), 3, "{functions:?}");
    check(&xtask::cloud::injected::check(&t, &values, &functions));
    for f in &functions {
        let name = &f.code_key_parameter;
        assert!(values.values[name].ends_with(&format!("/{}.zip", "0".repeat(64))), "{name}: {}", values.values[name]);
        // A real key of the deploy tool's shape passes too.
        let real = xtask::artifacts::function_key(&f.function, &"ab12".repeat(16));
        assert_eq!(t.parameters[name].check(&real), Ok(()));
        assert!(t.parameters[name].check("lambdas/api/latest.zip").is_err());
    }
}

#[test]
fn a_code_key_parameter_with_another_pattern_fails() {
    let scratch = Scratch::new(|s| s.replacen("[0-9a-f]{64}\\\\.zip$", "[0-9a-f]+\\\\.zip$", 1), unchanged);
    check_fails(&scratch.problems(), "AllowedPattern must be");
}

#[test]
fn domain_and_certificate_placeholders_are_accepted_and_www_certificate_must_be_us_east_1() {
    let t = stack();
    let values = params();
    let value = |key: &str| values.values[key].clone();
    assert_eq!(value("WwwDomainName"), "www.example.com");
    assert_eq!(value("ApiDomainName"), "api.example.com");
    assert!(value("WwwCertificateArn").contains("YOUR_WWW_CERTIFICATE_ID_HERE"));
    assert!(value("ApiCertificateArn").contains("YOUR_API_CERTIFICATE_ID_HERE"));
    let www_cert = &t.parameters["WwwCertificateArn"];
    assert!(
        www_cert.check("arn:aws:acm:eu-west-1:111111111111:certificate/abc").is_err(),
        "CloudFront needs us-east-1"
    );
    assert_eq!(www_cert.check("arn:aws:acm:us-east-1:111111111111:certificate/0a1b-2c3d"), Ok(()));
}

#[test]
fn short_form_tags_become_long_form() {
    let t = stack();
    assert_eq!(prop(&t, "ApiFunction", "/Code/S3Key"), &json!({"Ref": "ApiCodeKey"}));
    assert_eq!(prop(&t, "ApiFunction", "/Role"), &json!({"Fn::GetAtt": ["ApiRole", "Arn"]}));
    // `!GetAtt A.B.C` keeps the dotted attribute whole.
    assert_eq!(
        prop(&t, "MigrateFunction", "/Environment/Variables/DB_MASTER_SECRET_ARN"),
        &json!({"Fn::GetAtt": ["Database", "MasterUserSecret.SecretArn"]})
    );
    assert_eq!(prop(&t, "PrivateSubnet2", "/AvailabilityZone"), &json!({"Fn::Select": [1, {"Fn::GetAZs": ""}]}));
    assert!(prop(&t, "UserPool", "/DeletionProtection").get("Fn::If").is_some());
    let err = Template::parse("Resources:\n  X:\n    Type: AWS::SQS::Queue\n    Properties:\n      A: !Reff B\n")
        .unwrap_err();
    assert!(format!("{err:#}").contains("unknown CloudFormation tag !Reff"), "{err:#}");
}

#[test]
fn lambdas_follow_the_runtime_and_environment_contract() {
    let t = stack();
    let common = [
        "NOTES_TABLE",
        "APP_DATA_BUCKET",
        "DB_HOST",
        "DB_PORT",
        "DB_NAME",
        "DB_USER",
        "REDIS_HOST",
        "REDIS_PORT",
        "REDIS_USER",
        "SITE_ORIGIN",
        "RUST_LOG",
    ];
    let functions: Vec<_> = t.resources_of_type("AWS::Lambda::Function").map(|(n, _)| n.clone()).collect();
    assert_eq!(functions, ["ActivityFunction", "ApiFunction", "MigrateFunction"]);
    for name in &functions {
        assert_eq!(prop(&t, name, "/Runtime"), "provided.al2023", "{name}");
        assert_eq!(prop(&t, name, "/Architectures"), &json!(["arm64"]), "{name}");
        assert_eq!(prop(&t, name, "/Handler"), "bootstrap", "{name}");
        assert!(
            prop(&t, name, "/ReservedConcurrentExecutions").is_number()
                || prop(&t, name, "/ReservedConcurrentExecutions").is_object()
        );
        assert_eq!(prop(&t, name, "/TracingConfig/Mode"), "Active", "{name}");
        let vars = prop(&t, name, "/Environment/Variables").as_object().expect("variables");
        for var in common {
            assert!(vars.contains_key(var), "{name} lacks {var}");
        }
        for (var, value) in vars {
            let upper = var.to_ascii_uppercase();
            assert!(
                !["PASSWORD", "SECRET_VALUE", "TOKEN", "AUTH"].iter().any(|s| upper.contains(s)),
                "{name}: {var} looks like a secret ({value})"
            );
        }
    }
}

#[test]
fn stream_consumer_reports_partial_failures_with_bounded_retries_and_a_destination() {
    let t = stack();
    assert_eq!(prop(&t, "ActivityStreamMapping", "/FunctionResponseTypes"), &json!(["ReportBatchItemFailures"]));
    assert!(prop(&t, "ActivityStreamMapping", "/MaximumRetryAttempts").as_u64().is_some_and(|n| n <= 10));
    assert_eq!(
        prop(&t, "ActivityStreamMapping", "/DestinationConfig/OnFailure/Destination"),
        &json!({"Fn::GetAtt": ["ActivityFailureQueue", "Arn"]})
    );
    assert!(prop(&t, "ActivityFailureQueue", "/KmsMasterKeyId").is_object());
}

// ---- the checkers bite -------------------------------------------------------------------------

#[test]
fn a_parameter_added_without_a_parameters_json_entry_fails_the_consistency_check() {
    let scratch = Scratch::new(
        |s| {
            insert_into_section(
                &s,
                "Parameters",
                "  ExtraSetting:\n    Description: added by the test\n    Type: String\n    AllowedValues: [a, b]\n",
            )
        },
        unchanged,
    );
    let problems = scratch.problems();
    check_fails(&problems, "no entry for template Parameter ExtraSetting");
    assert_eq!(problems.len(), 1, "{problems:?}");
}

#[test]
fn a_parameters_json_entry_without_a_parameter_fails() {
    let scratch = Scratch::new(|s| s.replace("  HostedZoneId:\n", "  HostedZoneIdRenamed:\n"), unchanged);
    let problems = scratch.problems();
    check_fails(&problems, "parameters.json: HostedZoneId is not a parameter of the template");
}

#[test]
fn a_parameters_json_entry_with_a_bad_value_fails() {
    let scratch =
        Scratch::new(unchanged, |p| p.replace("certificate/YOUR_WWW_CERTIFICATE_ID_HERE", "certificate/has spaces"));
    check_fails(
        &scratch.problems(),
        "parameters.json: WwwCertificateArn: \"arn:aws:acm:us-east-1:111111111111:certificate/has spaces\" does not match AllowedPattern",
    );
}

#[test]
fn an_environment_overlay_is_checked_merged_over_parameters_json() {
    let scratch = Scratch::new(unchanged, unchanged);
    let overlay = scratch.inputs.parameters.with_file_name("parameters.qa.json");
    let write = |text: &str| std::fs::write(&overlay, text).expect("writable");
    write(r#"[{"ParameterKey": "TrafficShifting", "ParameterValue": "Slowly"}]"#);
    check_fails(&scratch.problems(), "parameters.qa.json: TrafficShifting: \"Slowly\" is not one of");
    write(r#"[{"ParameterKey": "NoSuchParameter", "ParameterValue": "x"}]"#);
    check_fails(&scratch.problems(), "parameters.qa.json: NoSuchParameter is not a parameter of the template");
    write(r#"[{"ParameterKey": "TrafficShifting", "ParameterValue": "AllAtOnce"}]"#);
    check(&scratch.problems());
}

#[test]
fn a_missing_output_fails() {
    let scratch = Scratch::new(|s| s.replace("  CognitoDomain:\n", "  CognitoDomainUrl:\n"), unchanged);
    check_fails(&scratch.problems(), "Output CognitoDomain is missing");
}

#[test]
fn a_stateful_resource_without_deletion_policies_fails() {
    let scratch = Scratch::new(
        |s| {
            s.replace(
                "  ActivityFailureQueue:\n    Type: AWS::SQS::Queue\n    # Holds only pointers to stream batches that failed; nothing to keep after teardown.\n    DeletionPolicy: Delete\n    UpdateReplacePolicy: Delete\n",
                "  ActivityFailureQueue:\n    Type: AWS::SQS::Queue\n",
            )
            .replace("    DeletionPolicy: Delete\n    UpdateReplacePolicy: Snapshot\n", "    DeletionPolicy: Snapshot\n    UpdateReplacePolicy: Snapshot\n")
            .replacen("    DeletionPolicy: RetainExceptOnCreate\n", "    DeletionPolicy: Retain\n", 1)
        },
        unchanged,
    );
    let problems = scratch.problems();
    check_fails(&problems, "ActivityFailureQueue (AWS::SQS::Queue) has no DeletionPolicy");
    check_fails(&problems, "ActivityFailureQueue (AWS::SQS::Queue) has no UpdateReplacePolicy");
    check_fails(&problems, "Database (AWS::RDS::DBInstance): DeletionPolicy is Snapshot, expected Delete");
    check_fails(&problems, "DataKey (AWS::KMS::Key): DeletionPolicy is Retain; use RetainExceptOnCreate");
}

#[test]
fn a_wildcard_action_fails() {
    let scratch = Scratch::new(
        |s| s.replacen("                Action: sqs:SendMessage\n", "                Action: sqs:*\n", 1),
        unchanged,
    );
    check_fails(&scratch.problems(), "ActivityRole: statement FailureDestination allows the wildcard action \"sqs:*\"");
    assert!(consistency::is_wildcard_action("*"));
    assert!(!consistency::is_wildcard_action("s3:GetObject"));
}

#[test]
fn a_deployer_policy_file_that_breaks_grammar_or_size_fails() {
    let (name, mut broken) = policies().into_iter().next().expect("a file");
    let statements = broken["Statement"].as_array_mut().expect("list");
    statements.push(json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"}));
    let problems = deployer_files::check_deployer_policy(&name, &broken);
    check_fails(&problems, "wildcard action \"s3:*\"");
    check_fails(&problems, "key \"Principal\" does not belong");

    let problems = deployer_files::check_deployer_policy("x.json", &json!({"Version": "2008-10-17", "Statement": []}));
    check_fails(&problems, "Version must be \"2012-10-17\"");
    check_fails(&problems, "Statement must be a non-empty list");

    // Everything in one file no longer fits one managed policy.
    let all: Vec<Json> =
        policies().into_iter().flat_map(|(_, d)| d["Statement"].as_array().cloned().unwrap_or_default()).collect();
    let one = json!({"Version": "2012-10-17", "Statement": all});
    check_fails(&deployer_files::check_deployer_policy("all.json", &one), "an IAM managed policy holds 6144");

    let mut twice = policies();
    twice.push(("99-copy.json".into(), twice[0].1.clone()));
    check_fails(&deployer_files::check_deployer_policies(&twice), "is also used in");
}

#[test]
fn action_patterns_match_like_iam() {
    use xtask::cloud::checks::policy::action_matches;
    assert!(action_matches("ec2:Describe*", "ec2:DescribeVpcs"));
    assert!(action_matches("EC2:describevpcs", "ec2:DescribeVpcs"));
    assert!(!action_matches("ec2:Describe*", "ec2:DeleteVpc"));
    assert!(!action_matches("s3:Get", "s3:GetObject"));
}

#[test]
fn lint_output_parsers_make_one_line_per_finding() {
    let out = "/x/stack.yaml:10:3:10:9:W2001:Parameter X not used.\n\
               /x/stack.yaml:10:3:10:9:W2001:Parameter X not used.\n\
               /x/stack.yaml:5:1:5:2:E3012:a: b: c\n";
    assert_eq!(
        external::parse_cfn_lint(out, "cloud/stack.yaml"),
        ["cfn-lint W2001 cloud/stack.yaml:10:3: Parameter X not used.", "cfn-lint E3012 cloud/stack.yaml:5:1: a: b: c"]
    );
    let report = json!({
        "results": {"failed_checks": [{"check_id": "CKV_AWS_1", "resource": "AWS::S3::Bucket.B", "check_name": "name", "file_line_range": [3, 9]}]},
        "summary": {"passed": 1, "failed": 1, "parsing_errors": 0}
    });
    assert_eq!(
        external::parse_checkov(&report, "cloud/stack.yaml"),
        ["checkov CKV_AWS_1 cloud/stack.yaml:3-9 AWS::S3::Bucket.B: name"]
    );
    let nothing = json!({"results": {"failed_checks": []}, "summary": {"passed": 0, "failed": 0, "parsing_errors": 0}});
    check_fails(&external::parse_checkov(&nothing, "s.yaml"), "checkov ran no check");
}

/// cloud/bootstrap.yaml as `bootstrap` submits it: a bucket the deploy's settings check accepts as
/// it is (or every deploy would rewrite what the stack owns), and a role only one GitHub
/// environment of one repository can assume, with every deployer policy attached.
#[test]
fn the_bootstrap_bucket_is_what_the_deploy_expects_and_its_role_trusts_one_environment() {
    use xtask::artifacts::bucket::{NONCURRENT_DAYS, tls_only_policy};
    let rendered = xtask::cloud::bootstrap::render(&root()).expect("cloud/bootstrap.yaml renders");
    let resources = &rendered.document["Resources"];
    let bucket = &resources["ArtifactBucket"]["Properties"];
    assert_eq!(bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"], "BucketOwnerEnforced");
    assert_eq!(bucket["VersioningConfiguration"]["Status"], "Enabled");
    let block = &bucket["PublicAccessBlockConfiguration"];
    for key in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(block[key], true, "{key}");
    }
    let sse = &bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"];
    assert_eq!(sse["SSEAlgorithm"], "AES256");
    let rule = &bucket["LifecycleConfiguration"]["Rules"][0];
    assert_eq!(
        (rule["Status"].as_str(), rule["NoncurrentVersionExpiration"]["NoncurrentDays"].as_i64()),
        (Some("Enabled"), Some(NONCURRENT_DAYS.into()))
    );
    // The policy, its Subs resolved for a bucket name, is the deploy's TLS-only document.
    let name = "notes-app-dev-artifacts-123456789012-us-east-1";
    let mut policy = resources["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"].clone();
    for arn in policy["Statement"][0]["Resource"].as_array_mut().unwrap() {
        let sub =
            arn["Fn::Sub"].as_str().unwrap().replace("${AWS::Partition}", "aws").replace("${ArtifactBucket}", name);
        *arn = serde_json::Value::String(sub);
    }
    assert_eq!(policy, tls_only_policy(name));

    let role = &resources["DeployRole"]["Properties"];
    let statements = role["AssumeRolePolicyDocument"]["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Action"], "sts:AssumeRoleWithWebIdentity");
    let condition = statements[0]["Condition"].as_object().unwrap();
    assert_eq!(condition.keys().collect::<Vec<_>>(), ["StringEquals"], "exact matches only, no StringLike");
    assert_eq!(
        condition["StringEquals"],
        serde_json::json!({
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": {"Fn::Sub": "repo:${GitHubRepository}:environment:${GitHubEnvironment}"},
        })
    );
    let role_name = role["RoleName"]["Fn::Sub"].as_str().unwrap();
    assert!(!role_name.starts_with("notes-app-"), "the deploy role could rewrite its own trust: {role_name}");
    let policies = files::load_deployer_policies(&root().join("cloud/deployer-policies")).unwrap();
    assert_eq!(role["ManagedPolicyArns"].as_array().unwrap().len(), policies.len());
}
