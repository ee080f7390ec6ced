//! Local validation of the template and the parameters file, before any AWS call.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use serde_norway::Value;
use sha2::{Digest, Sha256};

use crate::config::refuse_placeholder;
use crate::errors::Refusal;

/// What the deploy needs to know about a template.
#[derive(Debug)]
pub struct Template {
    pub body: String,
    pub sha256: String,
    /// Declared parameters: name -> (has a default, allowed values, allowed pattern).
    pub parameters: BTreeMap<String, ParamSpec>,
    pub outputs: Vec<String>,
    /// Logical ids of resources with `DeletionPolicy: Retain` or `Snapshot`, with their type.
    pub retained: Vec<(String, String, String)>,
}

#[derive(Debug, Default, Clone)]
pub struct ParamSpec {
    pub default: Option<String>,
    pub allowed_values: Vec<String>,
    pub allowed_pattern: Option<String>,
    pub no_echo: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct FileParameter {
    parameter_key: String,
    parameter_value: String,
    #[serde(default)]
    #[allow(dead_code)]
    use_previous_value: Option<bool>,
}

/// `display` is how messages name the file (relative to the project when possible).
pub fn display(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Template {
    pub fn load(path: &Path, shown: &str) -> anyhow::Result<Template> {
        let body = std::fs::read_to_string(path).map_err(|e| {
            Refusal::new(
                format!("cannot read the template {shown}: {e}"),
                "pass --template FILE, or run from the project",
            )
        })?;
        Template::parse(body, shown)
    }

    /// Parses a template body (YAML or JSON, short-form tags allowed).
    pub fn parse(body: String, shown: &str) -> anyhow::Result<Template> {
        let doc: Value = serde_norway::from_str(&body).map_err(|e| {
            Refusal::new(
                format!("{shown} is not valid YAML: {e}"),
                "fix the template (cargo xtask lint checks it in full)",
            )
        })?;
        let resources = doc.get("Resources").and_then(Value::as_mapping);
        let Some(resources) = resources.filter(|r| !r.is_empty()) else {
            return Err(Refusal::new(
                format!("{shown} has no Resources"),
                "a CloudFormation template needs at least one resource",
            )
            .into());
        };
        let mut parameters = BTreeMap::new();
        if let Some(params) = doc.get("Parameters") {
            let params = params
                .as_mapping()
                .ok_or_else(|| Refusal::new(format!("{shown}: Parameters is not a mapping"), "fix the template"))?;
            for (name, spec) in params {
                let name = scalar(name).context("parameter name")?;
                let mut p = ParamSpec { default: spec.get("Default").and_then(scalar), ..ParamSpec::default() };
                if let Some(values) = spec.get("AllowedValues").and_then(Value::as_sequence) {
                    p.allowed_values = values.iter().filter_map(scalar).collect();
                }
                p.allowed_pattern = spec.get("AllowedPattern").and_then(scalar);
                p.no_echo = spec.get("NoEcho").and_then(scalar).is_some_and(|v| v == "true");
                parameters.insert(name, p);
            }
        }
        let outputs = doc
            .get("Outputs")
            .and_then(Value::as_mapping)
            .map(|m| m.keys().filter_map(scalar).collect())
            .unwrap_or_default();
        let mut retained = Vec::new();
        for (name, resource) in resources {
            let (Some(name), Some(policy)) = (scalar(name), resource.get("DeletionPolicy").and_then(scalar)) else {
                continue;
            };
            if policy == "Retain" || policy == "Snapshot" || policy == "RetainExceptOnCreate" {
                let kind = resource.get("Type").and_then(scalar).unwrap_or_default();
                retained.push((name, kind, policy));
            }
        }
        let sha256 = hex::encode(Sha256::digest(body.as_bytes()));
        Ok(Template { body, sha256, parameters, outputs, retained })
    }
}

/// Reads an AWS CLI parameters file, refusing unknown keys, duplicates and placeholders.
pub fn load_parameters(
    path: &Path,
    shown: &str,
    template: &Template,
    allow_example_domains: bool,
) -> anyhow::Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Refusal::new(
            format!("cannot read the parameters {shown}: {e}"),
            "pass --parameters FILE, or run from the project",
        )
    })?;
    let list: Vec<FileParameter> = serde_json::from_str(&text).map_err(|e| {
        Refusal::new(
            format!("{shown} is not an AWS CLI parameters file: {e}"),
            r#"expected [{"ParameterKey": "...", "ParameterValue": "..."}, ...]"#,
        )
    })?;
    let mut values = BTreeMap::new();
    for p in list {
        let origin = format!("{shown}: {}", p.parameter_key);
        if !template.parameters.contains_key(&p.parameter_key) {
            return Err(Refusal::new(
                format!("{origin} is not a parameter of the template"),
                "remove it, or declare it under Parameters in the template",
            )
            .into());
        }
        refuse_placeholder(&origin, &p.parameter_value, allow_example_domains)?;
        if values.insert(p.parameter_key.clone(), p.parameter_value).is_some() {
            return Err(Refusal::new(format!("{origin} is given twice"), "keep one entry per parameter").into());
        }
    }
    Ok(values)
}

/// Checks the effective parameters against the template: all required given, allowed values/patterns.
pub fn check_effective(template: &Template, effective: &BTreeMap<String, String>, shown: &str) -> anyhow::Result<()> {
    for (name, spec) in &template.parameters {
        let value = match (effective.get(name), &spec.default) {
            (Some(v), _) => v,
            (None, Some(_)) => continue,
            (None, None) => {
                return Err(Refusal::new(
                    format!("template parameter {name} has no value and no default"),
                    format!("add it to {shown}, or pass --parameter {name}=VALUE"),
                )
                .into());
            }
        };
        if !spec.allowed_values.is_empty() && !spec.allowed_values.contains(value) {
            return Err(Refusal::new(
                format!("parameter {name} is {value:?}, not one of {:?}", spec.allowed_values),
                format!("fix it in {shown} or in --parameter"),
            )
            .into());
        }
        if let Some(pattern) = &spec.allowed_pattern
            && let Ok(re) = regex::Regex::new(&format!("^(?:{pattern})$"))
            && !re.is_match(value)
        {
            return Err(Refusal::new(
                format!("parameter {name} is {value:?}, which does not match AllowedPattern {pattern}"),
                format!("fix it in {shown} or in --parameter"),
            )
            .into());
        }
    }
    Ok(())
}

/// A stable hash of the effective parameters (the no-op check compares it with the stack's tag).
pub fn parameters_sha256(effective: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    for (k, v) in effective {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// `Key=Value` from the command line.
pub fn parse_override(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(yaml: &str) -> Template {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.yaml");
        std::fs::write(&path, yaml).unwrap();
        Template::load(&path, "t.yaml").unwrap()
    }

    const T: &str = "Parameters:\n  A: {Type: String}\n  B: {Type: String, Default: x, AllowedValues: [x, y]}\n\
                     Resources:\n  R:\n    Type: AWS::S3::Bucket\n    DeletionPolicy: Retain\n    Properties: {BucketName: !Ref A}\n\
                     Outputs:\n  O: {Value: !Ref R}\n";

    #[test]
    fn template_is_read_with_short_form_tags() {
        let t = template(T);
        assert_eq!(t.parameters.keys().collect::<Vec<_>>(), ["A", "B"]);
        assert_eq!(t.outputs, ["O"]);
        assert_eq!(t.retained, [("R".to_string(), "AWS::S3::Bucket".to_string(), "Retain".to_string())]);
    }

    #[test]
    fn parameters_are_checked_locally() {
        let t = template(T);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        let load = |text: &str| {
            std::fs::write(&path, text).unwrap();
            load_parameters(&path, "p.json", &t, false).map_err(|e| e.to_string())
        };
        assert_eq!(
            load(r#"[{"ParameterKey":"Z","ParameterValue":"1"}]"#).unwrap_err(),
            "p.json: Z is not a parameter of the template"
        );
        assert_eq!(
            load(r#"[{"ParameterKey":"A","ParameterValue":"www.example.com"}]"#).unwrap_err(),
            "p.json: A is www.example.com, an example domain"
        );
        let ok = load(r#"[{"ParameterKey":"A","ParameterValue":"a"}]"#).unwrap();
        assert!(check_effective(&t, &ok, "p.json").is_ok());
        let missing = BTreeMap::new();
        assert_eq!(
            check_effective(&t, &missing, "p.json").unwrap_err().to_string(),
            "template parameter A has no value and no default"
        );
        let bad = BTreeMap::from([("A".to_string(), "a".to_string()), ("B".to_string(), "z".to_string())]);
        assert!(check_effective(&t, &bad, "p.json").unwrap_err().to_string().contains("not one of"));
    }
}
