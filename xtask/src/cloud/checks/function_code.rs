//! The input of check 3, read off the functions' code: which AWS operations each function's
//! binary can make, as IAM actions, and what the platform does with its role because of how the
//! template configures the function (logs, VPC, tracing, an event source, a failure destination).
//!
//! A function's code is its crate's `src/` and the modules of the core crate (`lambdas/core`) it
//! names (`notes_core::<module>`), with the core modules those name (`crate::<module>`). In those
//! files, a fluent SDK call (`.get_item()` followed by its builder) counts for the services the file
//! names (`aws_sdk_dynamodb`); the locally signed connect tokens count where the function asks for them
//! (`pg_target` for RDS IAM authentication, `redis_target` for ElastiCache's). The operation →
//! action table is [`SDK_OPERATIONS`]; a test scans the SDK crates and fails on an operation the
//! lambdas call that the table lacks, so the scan cannot miss a call by not knowing its name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value as Json;

/// One SDK operation the lambdas call: the SDK crate's service (`aws_sdk_<service>`), the fluent
/// method, and the IAM actions it needs.
#[derive(Debug, Clone, Copy)]
pub struct SdkOperation {
    pub service: &'static str,
    pub method: &'static str,
    pub actions: &'static [&'static str],
}

const fn op(service: &'static str, method: &'static str, actions: &'static [&'static str]) -> SdkOperation {
    SdkOperation { service, method, actions }
}

/// Every SDK operation the lambdas call (a test keeps it complete). Presigned requests are
/// authorized when the browser sends them, with the signing role's permissions.
pub const SDK_OPERATIONS: &[SdkOperation] = &[
    op("dynamodb", "get_item", &["dynamodb:GetItem"]),
    op("dynamodb", "put_item", &["dynamodb:PutItem"]),
    op("dynamodb", "update_item", &["dynamodb:UpdateItem"]),
    op("dynamodb", "delete_item", &["dynamodb:DeleteItem"]),
    op("dynamodb", "query", &["dynamodb:Query"]),
    op("dynamodb", "batch_get_item", &["dynamodb:BatchGetItem"]),
    // A transaction needs the action of each kind of item it holds; the notes store's hold puts,
    // updates, deletes and condition checks.
    op(
        "dynamodb",
        "transact_write_items",
        &["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"],
    ),
    op("dynamodb", "describe_table", &["dynamodb:DescribeTable"]),
    op("s3", "put_object", &["s3:PutObject"]),
    op("s3", "get_object", &["s3:GetObject"]),
    op("s3", "head_object", &["s3:GetObject"]),
    op("s3", "delete_object", &["s3:DeleteObject"]),
    op("s3", "head_bucket", &["s3:ListBucket"]),
    op("secretsmanager", "get_secret_value", &["secretsmanager:GetSecretValue"]),
];

/// Connect tokens signed in the function (no SDK call): the function that names the symbol
/// connects with the action.
const SIGNED_TOKENS: &[(&str, &str)] = &[("pg_target", "rds-db:connect"), ("redis_target", "elasticache:Connect")];

const CORE_CRATE: &str = "notes_core";
const CORE_SRC: &str = "lambdas/core/src";

/// One function's needs: the action and where it comes from (a file, or the template's setting).
pub type Needs = BTreeMap<String, String>;

/// The files of a function's code: its crate's sources `src` and the core modules they name,
/// transitively.
pub fn function_files(root: &Path, src: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = rust_files(src)?;
    let core_src = root.join(CORE_SRC);
    let mut modules: BTreeSet<String> = BTreeSet::new();
    let mut pending: Vec<String> = named_modules(&files, &format!("{CORE_CRATE}::"), &core_src)?;
    while let Some(module) = pending.pop() {
        if !modules.insert(module.clone()) {
            continue;
        }
        let file = core_src.join(format!("{module}.rs"));
        pending.extend(named_modules(std::slice::from_ref(&file), "crate::", &core_src)?);
        files.push(file);
    }
    Ok(files)
}

/// The actions the code under `src` calls (see the module docs), with a file that calls each.
pub fn code_actions(root: &Path, src: &Path) -> anyhow::Result<Needs> {
    let files = function_files(root, src)?;
    // A fluent SDK call is always followed by its builder's methods (`.table_name(..)`, `.send()`),
    // which tells `client.query()` from `uri.query()`. That follower is looked at, not matched, so
    // `self.client().put_object()` yields both calls.
    let call = regex::Regex::new(r"\.([a-z][a-z0-9_]*)\(\)").expect("valid regex");
    let chained = |end: usize, text: &str| {
        let rest = text[end..].trim_start();
        rest.starts_with('.') && rest[1..].starts_with(|c: char| c.is_ascii_lowercase())
    };
    let mut needs = Needs::new();
    for file in &files {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        let shown = file.strip_prefix(root).unwrap_or(file).display().to_string();
        for m in call.captures_iter(&text).filter(|m| chained(m.get(0).expect("whole match").end(), &text)) {
            for sdk in SDK_OPERATIONS.iter().filter(|o| o.method == &m[1]) {
                if text.contains(&format!("aws_sdk_{}", sdk.service)) {
                    for action in sdk.actions {
                        needs.entry((*action).to_string()).or_insert_with(|| shown.clone());
                    }
                }
            }
        }
        // Only the function's own crate decides which connections it makes.
        if file.starts_with(src) {
            for (symbol, action) in SIGNED_TOKENS {
                if text.contains(&format!("{symbol}(")) {
                    needs.entry((*action).to_string()).or_insert_with(|| shown.clone());
                }
            }
        }
    }
    Ok(needs)
}

fn rust_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        if entry.path().extension().is_some_and(|e| e == "rs") {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// The core modules `files` name with `prefix` (`notes_core::dynamo`, `crate::config`), including
/// those in a `use prefix{a, b::c}` list.
fn named_modules(files: &[PathBuf], prefix: &str, core_src: &Path) -> anyhow::Result<Vec<String>> {
    let word = regex::Regex::new(r"[a-z_][a-z0-9_]*").expect("valid regex");
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        for (at, _) in text.match_indices(prefix) {
            let rest = &text[at + prefix.len()..];
            let names: Vec<&str> = if let Some(list) = rest.strip_prefix('{') {
                let list = &list[..list.find('}').unwrap_or(list.len())];
                list.split(',').filter_map(|item| word.find(item.trim()).map(|m| m.as_str())).collect()
            } else {
                word.find(rest).filter(|m| m.start() == 0).map(|m| m.as_str()).into_iter().collect()
            };
            out.extend(names.into_iter().filter(|n| core_src.join(format!("{n}.rs")).is_file()).map(str::to_string));
        }
    }
    Ok(out)
}

/// What the platform does with a function's role because of how the template configures the
/// function `logical_id`: writes its logs, manages its ENIs, sends its traces, reads its event
/// sources and sends to their failure destinations.
pub fn platform_actions(template: &Json, logical_id: &str) -> Needs {
    let empty = serde_json::Map::new();
    let resources = template.get("Resources").and_then(Json::as_object).unwrap_or(&empty);
    let mut needs = Needs::new();
    let mut add = |actions: &[&str], why: String| {
        for action in actions {
            needs.entry((*action).to_string()).or_insert_with(|| why.clone());
        }
    };
    let Some(properties) = resources.get(logical_id).and_then(|r| r.get("Properties")) else { return needs };
    add(&["logs:CreateLogStream", "logs:PutLogEvents"], format!("{logical_id}: Lambda writes its logs"));
    if properties.get("VpcConfig").is_some() {
        add(
            &["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface"],
            format!("{logical_id}: VpcConfig (Lambda manages its network interfaces)"),
        );
    }
    if properties.pointer("/TracingConfig/Mode").and_then(Json::as_str) == Some("Active") {
        add(&["xray:PutTraceSegments", "xray:PutTelemetryRecords"], format!("{logical_id}: TracingConfig Active"));
    }
    for (name, resource) in resources {
        if resource.get("Type").and_then(Json::as_str) != Some("AWS::Lambda::EventSourceMapping") {
            continue;
        }
        let Some(mapping) = resource.get("Properties") else { continue };
        if !refers_to_function(resources, mapping.get("FunctionName"), logical_id) {
            continue;
        }
        let source = mapping.pointer("/EventSourceArn/Fn::GetAtt/1").and_then(Json::as_str);
        if source == Some("StreamArn") {
            add(
                &[
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                ],
                format!("{name}: reads a DynamoDB stream for {logical_id}"),
            );
        }
        if let Some(target) =
            mapping.pointer("/DestinationConfig/OnFailure/Destination/Fn::GetAtt/0").and_then(Json::as_str)
        {
            match resources.get(target).and_then(|r| r.get("Type")).and_then(Json::as_str) {
                Some("AWS::SQS::Queue") => add(&["sqs:SendMessage"], format!("{name}: failure destination {target}")),
                Some("AWS::SNS::Topic") => add(&["sns:Publish"], format!("{name}: failure destination {target}")),
                _ => {}
            }
        }
    }
    needs
}

/// Whether `value` (a `FunctionName`) names the function, directly or through an alias or version.
fn refers_to_function(resources: &serde_json::Map<String, Json>, value: Option<&Json>, function: &str) -> bool {
    let Some(target) = value.and_then(|v| v.get("Ref")).and_then(Json::as_str) else { return false };
    if target == function {
        return true;
    }
    let Some(properties) = resources.get(target).and_then(|r| r.get("Properties")) else { return false };
    refers_to_function(resources, properties.get("FunctionName"), function)
}

/// The `AWS::Lambda::Function` whose code key is the parameter `code_key_parameter`, and the
/// logical id of its role (`Role: !GetAtt <role>.Arn`).
pub fn function_and_role<'a>(template: &'a Json, code_key_parameter: &str) -> Option<(&'a str, &'a str)> {
    let resources = template.get("Resources")?.as_object()?;
    resources.iter().find_map(|(name, resource)| {
        let properties = resource.get("Properties")?;
        (resource.get("Type")?.as_str()? == "AWS::Lambda::Function"
            && properties.pointer("/Code/S3Key/Ref")?.as_str()? == code_key_parameter)
            .then_some(())?;
        let role = properties.pointer("/Role/Fn::GetAtt/0")?.as_str()?;
        Some((name.as_str(), role))
    })
}

/// The source dir of the workspace package `package` under `lambdas/`.
pub fn package_src(root: &Path, package: &str) -> anyhow::Result<PathBuf> {
    for entry in std::fs::read_dir(root.join("lambdas")).context("cannot list lambdas/")? {
        let dir = entry?.path();
        let Ok(text) = std::fs::read_to_string(dir.join("Cargo.toml")) else { continue };
        let manifest: toml::Table = toml::from_str(&text).with_context(|| format!("{}/Cargo.toml", dir.display()))?;
        if manifest.get("package").and_then(|p| p.get("name")).and_then(toml::Value::as_str) == Some(package) {
            return Ok(dir.join("src"));
        }
    }
    anyhow::bail!("no package {package} under lambdas/")
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::cloud::checks::files::{Inputs, repo_root};

    /// What check 3 reads off this checkout, one line per function and action: the review sees a
    /// new call here before lint compares it with the role.
    #[test]
    fn what_each_function_needs_is_read_off_its_code_and_the_template() {
        let root = repo_root();
        let template = Inputs::load_repo().template;
        let mut out = String::new();
        for function in crate::compile::discover(&root).unwrap() {
            let (logical_id, role) = function_and_role(&template, &function.code_key_parameter).unwrap();
            out.push_str(&format!("{} ({logical_id}, {role})\n", function.function));
            let code = code_actions(&root, &package_src(&root, &function.package).unwrap()).unwrap();
            for (action, why) in code.iter().chain(&platform_actions(&template, logical_id)) {
                out.push_str(&format!("  {action:<32} {why}\n"));
            }
        }
        expect![[r#"
            activity (ActivityFunction, ActivityRole)
              elasticache:Connect              lambdas/activity/src/main.rs
              rds-db:connect                   lambdas/activity/src/main.rs
              dynamodb:DescribeStream          ActivityStreamMapping: reads a DynamoDB stream for ActivityFunction
              dynamodb:GetRecords              ActivityStreamMapping: reads a DynamoDB stream for ActivityFunction
              dynamodb:GetShardIterator        ActivityStreamMapping: reads a DynamoDB stream for ActivityFunction
              dynamodb:ListStreams             ActivityStreamMapping: reads a DynamoDB stream for ActivityFunction
              ec2:CreateNetworkInterface       ActivityFunction: VpcConfig (Lambda manages its network interfaces)
              ec2:DeleteNetworkInterface       ActivityFunction: VpcConfig (Lambda manages its network interfaces)
              ec2:DescribeNetworkInterfaces    ActivityFunction: VpcConfig (Lambda manages its network interfaces)
              logs:CreateLogStream             ActivityFunction: Lambda writes its logs
              logs:PutLogEvents                ActivityFunction: Lambda writes its logs
              sqs:SendMessage                  ActivityStreamMapping: failure destination ActivityFailureQueue
              xray:PutTelemetryRecords         ActivityFunction: TracingConfig Active
              xray:PutTraceSegments            ActivityFunction: TracingConfig Active
            api (ApiFunction, ApiRole)
              dynamodb:BatchGetItem            lambdas/core/src/dynamo.rs
              dynamodb:ConditionCheckItem      lambdas/core/src/dynamo.rs
              dynamodb:DeleteItem              lambdas/core/src/dynamo.rs
              dynamodb:DescribeTable           lambdas/core/src/dynamo.rs
              dynamodb:GetItem                 lambdas/core/src/dynamo.rs
              dynamodb:PutItem                 lambdas/core/src/dynamo.rs
              dynamodb:Query                   lambdas/core/src/dynamo.rs
              dynamodb:UpdateItem              lambdas/core/src/dynamo.rs
              elasticache:Connect              lambdas/api/src/lib.rs
              rds-db:connect                   lambdas/api/src/lib.rs
              s3:DeleteObject                  lambdas/core/src/blobs.rs
              s3:GetObject                     lambdas/core/src/blobs.rs
              s3:ListBucket                    lambdas/core/src/blobs.rs
              s3:PutObject                     lambdas/core/src/blobs.rs
              ec2:CreateNetworkInterface       ApiFunction: VpcConfig (Lambda manages its network interfaces)
              ec2:DeleteNetworkInterface       ApiFunction: VpcConfig (Lambda manages its network interfaces)
              ec2:DescribeNetworkInterfaces    ApiFunction: VpcConfig (Lambda manages its network interfaces)
              logs:CreateLogStream             ApiFunction: Lambda writes its logs
              logs:PutLogEvents                ApiFunction: Lambda writes its logs
              xray:PutTelemetryRecords         ApiFunction: TracingConfig Active
              xray:PutTraceSegments            ApiFunction: TracingConfig Active
            migrate (MigrateFunction, MigrateRole)
              rds-db:connect                   lambdas/migrate/src/lib.rs
              secretsmanager:GetSecretValue    lambdas/migrate/src/lib.rs
              ec2:CreateNetworkInterface       MigrateFunction: VpcConfig (Lambda manages its network interfaces)
              ec2:DeleteNetworkInterface       MigrateFunction: VpcConfig (Lambda manages its network interfaces)
              ec2:DescribeNetworkInterfaces    MigrateFunction: VpcConfig (Lambda manages its network interfaces)
              logs:CreateLogStream             MigrateFunction: Lambda writes its logs
              logs:PutLogEvents                MigrateFunction: Lambda writes its logs
              xray:PutTelemetryRecords         MigrateFunction: TracingConfig Active
              xray:PutTraceSegments            MigrateFunction: TracingConfig Active
        "#]]
        .assert_eq(&out);
    }

    #[test]
    fn a_use_list_names_modules_and_only_the_files_services_count() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("lambdas/f/src");
        let core = dir.path().join(CORE_SRC);
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(&core).unwrap();
        std::fs::write(
            src.join("main.rs"),
            "use notes_core::{store::Store, cache};\nfn main() { let t = config::pg_target(&sdk); url.query(); }",
        )
        .unwrap();
        std::fs::write(core.join("store.rs"), "use aws_sdk_dynamodb::Client;\nuse crate::keys;\nasync fn f(c: &Client) { c.get_item()\n  .key(k).send().await; if let Some(q) = uri.query() {} }").unwrap();
        std::fs::write(
            core.join("keys.rs"),
            "use aws_sdk_s3::Client;\nfn f(c: &Client) { c.put_object().bucket(b); c.query().send(); }",
        )
        .unwrap();
        std::fs::write(core.join("cache.rs"), "fn redis_target() {}").unwrap();
        std::fs::write(
            core.join("unused.rs"),
            "use aws_sdk_dynamodb::Client;\nfn f(c: &Client) { c.delete_item().send(); }",
        )
        .unwrap();
        let needs = code_actions(dir.path(), &src).unwrap();
        expect![[r#"
            {
                "dynamodb:GetItem": "lambdas/core/src/store.rs",
                "rds-db:connect": "lambdas/f/src/main.rs",
                "s3:PutObject": "lambdas/core/src/keys.rs",
            }
        "#]]
        .assert_debug_eq(&needs);
    }
}
