//! The transform's contract: which logical ids change for which edit, on a small template and on
//! `cloud/stack.yaml` itself.

use std::collections::BTreeMap;

use super::*;

const SMALL: &str = r#"
Parameters:
  CodeKey: {Type: String}
  Unrelated: {Type: String, Default: a}
  Memory: {Type: Number, Default: 128}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties: {AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: []}}
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Role: !GetAtt Role.Arn
      MemorySize: !Ref Memory
      Code: {S3Bucket: b, S3Key: !Ref CodeKey}
  FnVersion:
    Type: AWS::Lambda::Version
    Properties:
      FunctionName: !Ref Fn
  FnAlias:
    Type: AWS::Lambda::Alias
    Properties: {Name: live, FunctionName: !Ref Fn, FunctionVersion: !GetAtt FnVersion.Version}
  Bucket:
    Type: AWS::S3::Bucket
    Properties: {Tags: [{Key: k, Value: !Ref Unrelated}]}
Outputs:
  Version: {Value: !GetAtt FnVersion.Version}
"#;

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn ids(text: &str, p: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    renames(&Template::parse(text).expect("parses"), p).expect("renames")
}

#[test]
fn a_version_is_renamed_exactly_when_its_code_or_configuration_changes() {
    let base = params(&[("CodeKey", "lambdas/fn/1.zip")]);
    let first = ids(SMALL, &base);
    assert_eq!(first.len(), 1);
    assert!(first["FnVersion"].starts_with("FnVersion") && first["FnVersion"].len() == "FnVersion".len() + HASH_LEN);
    // Same inputs, same ids: the no-op deploy sees the same template bytes.
    assert_eq!(ids(SMALL, &base), first);
    let t = Template::parse(SMALL).unwrap();
    assert_eq!(transform(&t, &base).unwrap().body, transform(&t, &base).unwrap().body);
    // A parameter the function does not use: same version.
    assert_eq!(ids(SMALL, &params(&[("CodeKey", "lambdas/fn/1.zip"), ("Unrelated", "b")])), first);
    // New code, new configuration (through a parameter or in the template): a new version.
    assert_ne!(ids(SMALL, &params(&[("CodeKey", "lambdas/fn/2.zip")])), first);
    assert_ne!(ids(SMALL, &params(&[("CodeKey", "lambdas/fn/1.zip"), ("Memory", "256")])), first);
    assert_ne!(ids(&SMALL.replace("S3Bucket: b", "S3Bucket: c"), &base), first);
    // A change to a referenced resource that cannot change the referenced value (the role's
    // policies are not create-only): same version. One that replaces it (RoleName): a new one.
    let policies = SMALL.replace("Statement: []}}", "Statement: []}, Description: x}");
    assert_eq!(ids(&policies, &base), first);
    let renamed_role = SMALL.replace("Statement: []}}", "Statement: []}, RoleName: r}");
    assert_ne!(ids(&renamed_role, &base), first);
}

#[test]
fn every_reference_follows_the_rename() {
    let t = Template::parse(SMALL).unwrap();
    let out = transform(&t, &params(&[("CodeKey", "k")])).unwrap();
    let new = &renames(&t, &params(&[("CodeKey", "k")])).unwrap()["FnVersion"];
    assert!(!regex::Regex::new(r"\bFnVersion\b").unwrap().is_match(&out.body), "{}", out.body);
    assert_eq!(
        out.resources["FnAlias"].properties["FunctionVersion"],
        serde_json::json!({"Fn::GetAtt": [new, "Version"]})
    );
    assert_eq!(out.outputs["Version"]["Value"], serde_json::json!({"Fn::GetAtt": [new, "Version"]}));
    assert_eq!(out.body.lines().count(), t.body.lines().count());
    // Nothing to rename: the template as it is.
    let plain = Template::parse("Resources:\n  B: {Type: AWS::S3::Bucket}\n").unwrap();
    assert_eq!(transform(&plain, &BTreeMap::new()).unwrap(), plain);
}

fn stack() -> (Template, BTreeMap<String, String>) {
    let inputs = crate::cloud::checks::files::repo_root();
    let text = std::fs::read_to_string(inputs.join("cloud/stack.yaml")).expect("cloud/stack.yaml");
    let template = Template::parse(&text).expect("parses");
    let file =
        crate::cloud::ParameterFile::load(&inputs.join("cloud/parameters.json"), "cloud/parameters.json", &template)
            .expect("parameters");
    (template, file.values)
}

/// The ids that differ between two rename maps.
fn changed(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    a.iter().filter(|(k, v)| b.get(*k) != Some(v)).map(|(k, _)| k.clone()).collect()
}

#[test]
fn on_the_stack_an_api_edit_makes_a_new_deployment_and_an_unrelated_edit_does_not() {
    let (t, p) = stack();
    let base = renames(&t, &p).unwrap();
    assert_eq!(
        base.keys().collect::<Vec<_>>(),
        ["ActivityFunctionVersion", "ApiDeployment", "ApiFunctionVersion", "MigrateFunctionVersion"]
    );
    let edit = |from: &str, to: &str| {
        assert!(t.body.contains(from), "{from}");
        renames(&Template::parse(&t.body.replacen(from, to, 1)).unwrap(), &p).unwrap()
    };
    // API edits: a method, an integration, a gateway response.
    assert_eq!(changed(&base, &edit("HttpMethod: GET\n", "HttpMethod: POST\n")), ["ApiDeployment"]);
    assert_eq!(
        changed(&base, &edit("'Authorization,Content-Type,If-Match'", "'Authorization,Content-Type'")),
        ["ApiDeployment"]
    );
    assert_eq!(changed(&base, &edit("ResponseType: DEFAULT_5XX", "ResponseType: DEFAULT_4XX")), ["ApiDeployment"]);
    // Unrelated edits: the stage's throttling, the database, an alarm: nothing is republished.
    let mut other = p.clone();
    other.insert("ApiThrottleRateLimit".into(), "70".into());
    other.insert("DbBackupRetentionDays".into(), "14".into());
    other.insert("TrafficShifting".into(), "Canary10Percent5Minutes".into());
    assert_eq!(renames(&t, &other).unwrap(), base);
    assert!(changed(&base, &edit("MaximumBatchingWindowInSeconds: 5", "MaximumBatchingWindowInSeconds: 6")).is_empty());
    // New code for one function: that function's version only.
    let mut code = p.clone();
    code.insert("ApiCodeKey".into(), format!("lambdas/api/{}.zip", "1".repeat(64)));
    assert_eq!(changed(&base, &renames(&t, &code).unwrap()), ["ApiFunctionVersion"]);
    // Configuration of one function (its memory), and of all (a parameter each one reads).
    assert_eq!(
        changed(&base, &edit("      MemorySize: 256\n      Timeout: 60", "      MemorySize: 512\n      Timeout: 60")),
        ["ActivityFunctionVersion"]
    );
    let mut origin = p.clone();
    origin.insert("WwwDomainName".into(), "www.example.org".into());
    // The site origin is in every function's environment and in the API's CORS answers.
    assert_eq!(changed(&base, &renames(&t, &origin).unwrap()).len(), 4);
    // A replaced database has a new endpoint in every function's environment: new versions.
    let mut db = p.clone();
    db.insert("DbName".into(), "notes2".into());
    assert_eq!(
        changed(&base, &renames(&t, &db).unwrap()),
        ["ActivityFunctionVersion", "ApiFunctionVersion", "MigrateFunctionVersion"]
    );
    // What CloudFormation receives is deterministic.
    assert_eq!(transform(&t, &p).unwrap().sha256, transform(&t, &p).unwrap().sha256);
}
