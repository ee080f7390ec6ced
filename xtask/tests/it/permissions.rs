//! The table of the xtask's AWS operations and their IAM actions (`xtask::aws::permissions`, the
//! input of lint's check of the deployer policies) is derived from the code: every SDK operation
//! named under `xtask/src` has an entry, and every entry is still called. (The end-to-end runs add
//! the other half: each operation their call counter saw has an entry, see `e2e::xtask`.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::aws::permissions::PERMISSIONS;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `Operation` → `operation`: lowercase letters and digits only, so `CreateDBSnapshot` and the
/// SDK's `create_db_snapshot` meet.
fn normal(name: &str) -> String {
    name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// For each AWS SDK crate the xtask depends on: its service (normalized) and its operations'
/// fluent method names (`src/operation/<name>/`).
fn sdk_operations() -> BTreeMap<String, BTreeSet<String>> {
    sdk_operations_of(&["xtask"])
}

/// The same for the AWS SDK crates `packages` depend on.
fn sdk_operations_of(packages_of_interest: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let mut out = BTreeMap::new();
    for of_interest in packages_of_interest {
        let xtask = packages.iter().find(|p| p["name"] == *of_interest).unwrap();
        for dep in xtask["dependencies"].as_array().unwrap() {
            let name = dep["name"].as_str().unwrap();
            let Some(service) = name.strip_prefix("aws-sdk-") else { continue };
            if dep["kind"].as_str().is_some_and(|k| k == "dev") {
                continue;
            }
            // The version cargo resolved for the xtask (the lock may hold several).
            let node = meta["resolve"]["nodes"].as_array().unwrap().iter().find(|n| n["id"] == xtask["id"]).unwrap();
            let id =
                node["deps"].as_array().unwrap().iter().find(|d| d["name"] == name.replace('-', "_")).unwrap()["pkg"]
                    .clone();
            let package = packages.iter().find(|p| p["id"] == id).unwrap();
            let dir = Path::new(package["manifest_path"].as_str().unwrap()).parent().unwrap().join("src/operation");
            let ops = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            out.insert(normal(service), ops);
        }
    }
    out
}

/// `(service, operation)` (normalized) of every SDK operation `sdks` knows that `files` call, with a
/// file that calls it; with `named_services`, a call counts only for the services its file names
/// (`aws_sdk_dynamodb`), as the functions' code names them.
fn sdk_calls_in(
    files: impl IntoIterator<Item = PathBuf>,
    sdks: &BTreeMap<String, BTreeSet<String>>,
    named_services: bool,
) -> BTreeMap<(String, String), String> {
    let call = regex::Regex::new(r"\.([a-z][a-z0-9_]*)\(\)").unwrap();
    let mut called = BTreeMap::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.strip_prefix(root()).unwrap().display().to_string();
        for m in call.captures_iter(&text) {
            for (service, ops) in sdks {
                if ops.contains(&m[1]) && (!named_services || text.contains(&format!("aws_sdk_{service}"))) {
                    called.entry((service.clone(), normal(&m[1]))).or_insert_with(|| file.clone());
                }
            }
        }
    }
    called
}

/// Every SDK operation called under `xtask/src`, with a file that calls it.
fn called_operations() -> BTreeMap<(String, String), String> {
    let files = walkdir::WalkDir::new(root().join("xtask/src"))
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"));
    sdk_calls_in(files, &sdk_operations(), false)
}

fn table() -> BTreeSet<(String, String)> {
    PERMISSIONS
        .iter()
        .map(|p| {
            let (service, op) = p.operation.split_once('.').expect("Service.Operation");
            (normal(service), normal(op))
        })
        .collect()
}

#[test]
fn every_aws_operation_the_xtask_calls_has_its_iam_actions_and_no_entry_is_stale() {
    let called = called_operations();
    let table = table();
    // An operation name several SDKs share is called on one of them: any one entry suffices.
    let mut by_operation: BTreeMap<&str, Vec<(&String, &String)>> = BTreeMap::new();
    for ((service, op), file) in &called {
        by_operation.entry(op).or_default().push((service, file));
    }
    let missing: Vec<String> = by_operation
        .iter()
        .filter(|(op, calls)| !calls.iter().any(|(service, _)| table.contains(&((*service).clone(), op.to_string()))))
        .map(|(op, calls)| format!("{op} (called in {})", calls[0].1))
        .collect();
    assert!(
        missing.is_empty(),
        "add these operations and their IAM actions to xtask/src/aws/permissions.rs: {missing:?}"
    );
    let stale: Vec<&(String, String)> = table.iter().filter(|entry| !called.contains_key(*entry)).collect();
    assert!(stale.is_empty(), "xtask/src/aws/permissions.rs lists operations nothing calls: {stale:?}");
    assert!(called.len() > 30, "the scan found too little to be right: {called:?}");
}

/// The same for the functions' side (lint's check 3): every SDK operation called in a function's
/// code (its crate and the core modules it names, as the check reads them) is in the table the
/// check reads the code with, and no entry is stale. The scan here matches any `.operation()`, not
/// only the fluent calls the check counts, so it cannot share the check's blind spots.
#[test]
fn every_aws_operation_the_functions_call_is_known_to_check_3_and_no_entry_is_stale() {
    use xtask::cloud::checks::function_code::{self, SDK_OPERATIONS};
    let functions = xtask::compile::discover(&root()).unwrap();
    let packages: Vec<&str> = functions.iter().map(|f| f.package.as_str()).chain(["notes-core"]).collect();
    let sdks = sdk_operations_of(&packages);
    let mut called = BTreeMap::new();
    for function in &functions {
        let src = function_code::package_src(&root(), &function.package).unwrap();
        called.extend(sdk_calls_in(function_code::function_files(&root(), &src).unwrap(), &sdks, true));
    }
    let table: BTreeSet<(String, String)> =
        SDK_OPERATIONS.iter().map(|o| (normal(o.service), normal(o.method))).collect();
    let missing: Vec<String> = called
        .iter()
        .filter(|(key, _)| !table.contains(*key))
        .map(|((s, o), file)| format!("{s}.{o} ({file})"))
        .collect();
    assert!(
        missing.is_empty(),
        "add these operations and their IAM actions to xtask/src/cloud/checks/function_code.rs: {missing:?}"
    );
    let stale: Vec<&(String, String)> = table.iter().filter(|entry| !called.contains_key(*entry)).collect();
    assert!(stale.is_empty(), "xtask/src/cloud/checks/function_code.rs lists operations nothing calls: {stale:?}");
}
