//! Which workspace packages are Lambda functions: `[package.metadata.xtask.lambda]` in
//! `cargo metadata` output.

use std::path::PathBuf;

use anyhow::Context;
use serde::Deserialize;

use super::LambdaFunction;
use crate::error::Refusal;

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<MetaPackage>,
}

#[derive(Deserialize)]
struct MetaPackage {
    name: String,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
    targets: Vec<MetaTarget>,
    manifest_path: PathBuf,
}

#[derive(Deserialize)]
struct MetaTarget {
    name: String,
    kind: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct LambdaMeta {
    function: String,
    code_key_parameter: String,
}

/// The Lambda functions in `cargo metadata --no-deps --format-version 1` output.
pub fn discover_in_metadata(json: &[u8]) -> anyhow::Result<Vec<LambdaFunction>> {
    let metadata: Metadata = serde_json::from_slice(json).context("cannot parse `cargo metadata` output")?;
    let mut functions: Vec<LambdaFunction> = Vec::new();
    for package in metadata.packages {
        let manifest = package.manifest_path.display();
        let Some(value) = package.metadata.as_ref().and_then(|m| m.get("xtask")).and_then(|x| x.get("lambda")) else {
            if package.metadata.as_ref().is_some_and(|m| m.get("lambda").is_some()) {
                eprintln!(
                    "    warning: {manifest} has [package.metadata.lambda] (cargo-lambda's own settings) but no \
                     [package.metadata.xtask.lambda]: it is not built or deployed as a function"
                );
            }
            continue;
        };
        let meta: LambdaMeta = serde_json::from_value(value.clone()).map_err(|e| {
            Refusal::new(
                format!("{manifest}: bad [package.metadata.xtask.lambda]: {e}"),
                "it takes exactly: function = \"api\", code-key-parameter = \"ApiCodeKey\"",
            )
        })?;
        // What cloud/stack.yaml accepts: keys match ^lambdas/[a-z0-9-]+/<sha256>.zip$, and parameter
        // names are alphanumeric.
        let function_ok = !meta.function.is_empty()
            && meta.function.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let parameter_ok =
            !meta.code_key_parameter.is_empty() && meta.code_key_parameter.chars().all(|c| c.is_ascii_alphanumeric());
        if !function_ok || !parameter_ok {
            return Err(Refusal::new(
                format!("{manifest}: function must be [a-z0-9-]+ and code-key-parameter [A-Za-z0-9]+"),
                "the function name is an S3 key segment, the parameter a CloudFormation parameter name",
            )
            .into());
        }
        let has_bin = package.targets.iter().any(|t| t.name == meta.function && t.kind.iter().any(|k| k == "bin"));
        if !has_bin {
            return Err(Refusal::new(
                format!(
                    "{manifest}: declares Lambda function {} but has no [[bin]] named {}",
                    meta.function, meta.function
                ),
                format!("add [[bin]] name = \"{}\" (the binary becomes the function's bootstrap)", meta.function),
            )
            .into());
        }
        if let Some(other) =
            functions.iter().find(|f| f.function == meta.function || f.code_key_parameter == meta.code_key_parameter)
        {
            return Err(Refusal::new(
                format!(
                    "packages {} and {} both declare function {} / {}",
                    other.package, package.name, meta.function, meta.code_key_parameter
                ),
                "each Lambda function needs its own name and code-key-parameter",
            )
            .into());
        }
        functions.push(LambdaFunction {
            function: meta.function,
            package: package.name,
            code_key_parameter: meta.code_key_parameter,
        });
    }
    functions.sort_by(|a, b| a.function.cmp(&b.function));
    Ok(functions)
}
