//! The CloudFormation template as data: the one model of `cloud/stack.yaml` (and of any template
//! passed with `--template`) that deploy, destroy and lint read. Short-form tags arrive in long
//! form ([`super::yaml`]), so every reader sees one shape.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::Value as Json;
use serde_norway::Value as Yaml;
use sha2::{Digest, Sha256};

use super::yaml::yaml_to_json;
use crate::error::Refusal;

/// A template Parameter with the constraints a value must meet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parameter {
    /// `Type` (String, Number, AWS::EC2::VPC::Id, ...).
    pub kind: String,
    pub description: Option<String>,
    pub default: Option<String>,
    pub allowed_values: Option<Vec<String>>,
    pub allowed_pattern: Option<String>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
}

impl Parameter {
    /// Whether the Parameter constrains its values at all (beyond its type).
    pub fn is_constrained(&self) -> bool {
        self.allowed_values.is_some()
            || self.allowed_pattern.is_some()
            || self.min_length.is_some()
            || self.max_length.is_some()
            || self.min_value.is_some()
            || self.max_value.is_some()
            || self.kind.starts_with("AWS::")
    }

    /// Checks `value` the way CloudFormation does; the error says which constraint failed.
    pub fn check(&self, value: &str) -> Result<(), String> {
        if self.kind == "Number" {
            let number: f64 = value.trim().parse().map_err(|_| format!("{value:?} is not a Number"))?;
            if let Some(min) = self.min_value
                && number < min
            {
                return Err(format!("{value} is below MinValue {min}"));
            }
            if let Some(max) = self.max_value
                && number > max
            {
                return Err(format!("{value} is above MaxValue {max}"));
            }
            if let Some(allowed) = &self.allowed_values
                && !allowed.iter().any(|a| a.parse::<f64>().is_ok_and(|a| a == number))
            {
                return Err(format!("{value} is not one of AllowedValues {allowed:?}"));
            }
            return Ok(());
        }
        if let Some(allowed) = &self.allowed_values
            && !allowed.iter().any(|a| a == value)
        {
            return Err(format!("{value:?} is not one of AllowedValues {allowed:?}"));
        }
        let chars = value.chars().count() as u64;
        if let Some(min) = self.min_length
            && chars < min
        {
            return Err(format!("{value:?} is shorter than MinLength {min}"));
        }
        if let Some(max) = self.max_length
            && chars > max
        {
            return Err(format!("{value:?} is longer than MaxLength {max}"));
        }
        if let Some(pattern) = &self.allowed_pattern {
            // CloudFormation matches the whole value against AllowedPattern, a Java regex:
            // lookarounds such as EnvironmentName's `(?!.*aws)` need fancy_regex.
            let re = fancy_regex::Regex::new(&format!("^(?:{pattern})$"))
                .map_err(|e| format!("AllowedPattern {pattern:?} cannot be checked here: {e}"))?;
            if !re.is_match(value).map_err(|e| format!("AllowedPattern {pattern:?} cannot be checked here: {e}"))? {
                return Err(format!("{value:?} does not match AllowedPattern {pattern:?}"));
            }
        }
        Ok(())
    }
}

/// A template resource; `properties` and `metadata` are in long form (see [`yaml_to_json`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// `Type`, e.g. `AWS::S3::Bucket`.
    pub kind: String,
    pub condition: Option<String>,
    pub deletion_policy: Option<String>,
    pub update_replace_policy: Option<String>,
    pub depends_on: Vec<String>,
    pub metadata: Json,
    pub properties: Json,
}

/// A parsed CloudFormation template: the one model deploy, destroy and lint read.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The text as submitted to CloudFormation, and its sha256 (the no-op check compares it with
    /// what the stack reports).
    pub body: String,
    pub sha256: String,
    pub parameters: BTreeMap<String, Parameter>,
    pub conditions: BTreeMap<String, Json>,
    pub resources: BTreeMap<String, Resource>,
    /// Output name to its declaration (`Value`, `Description`, `Condition`, ...), long form.
    pub outputs: BTreeMap<String, Json>,
    /// The whole template in long form.
    pub document: Json,
}

impl Template {
    /// Reads and parses the template at `path`; `shown` is how messages name it.
    pub fn load(path: &Path, shown: &str) -> anyhow::Result<Template> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Refusal::new(
                format!("cannot read the template {shown}: {e}"),
                "pass --template FILE, or run from the project",
            )
        })?;
        Template::parse(&text).map_err(|e| {
            Refusal::new(
                format!("{shown} is not a valid template: {}", crate::error::chain_line(&e)),
                "fix the template (`cargo xtask lint` checks it in full)",
            )
            .into()
        })
    }

    /// Parses a template body (YAML or JSON, short-form tags allowed).
    pub fn parse(text: &str) -> anyhow::Result<Template> {
        let yaml: Yaml = serde_norway::from_str(text)?;
        let document = yaml_to_json(&yaml)?;
        let Some(top) = document.as_object() else { bail!("the template is not a mapping") };
        let section = |name: &str| top.get(name).and_then(Json::as_object).cloned().unwrap_or_default();

        let mut parameters = BTreeMap::new();
        for (name, decl) in section("Parameters") {
            parameters.insert(name.clone(), parse_parameter(&decl).with_context(|| format!("parameter {name}"))?);
        }
        let mut resources = BTreeMap::new();
        for (name, decl) in section("Resources") {
            resources.insert(name.clone(), parse_resource(&decl).with_context(|| format!("resource {name}"))?);
        }
        if resources.is_empty() {
            bail!("the template declares no Resources");
        }
        Ok(Template {
            body: text.to_string(),
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
            parameters,
            conditions: section("Conditions").into_iter().collect(),
            resources,
            outputs: section("Outputs").into_iter().collect(),
            document,
        })
    }

    /// Resource names of the given type.
    pub fn resources_of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a String, &'a Resource)> + 'a {
        self.resources.iter().filter(move |(_, r)| r.kind == kind)
    }

    pub fn declares(&self, parameter: &str) -> bool {
        self.parameters.contains_key(parameter)
    }

    pub fn parameter_names(&self) -> Vec<String> {
        self.parameters.keys().cloned().collect()
    }

    /// Whether a parameter is `NoEcho` (DescribeStacks then reports `****` for it).
    pub fn is_no_echo(&self, parameter: &str) -> bool {
        self.document.pointer(&format!("/Parameters/{parameter}/NoEcho")).is_some_and(|v| v == true || v == "true")
    }

    /// The sha256 of the template's canonical form: the long-form document with sorted keys, so two
    /// texts that differ only in comments, formatting, key order or short-form tags hash the same.
    pub fn canonical_sha256(&self) -> String {
        let mut text = String::new();
        canonical_json(&self.document, &mut text);
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    /// Resources that outlive their deletion: `DeletionPolicy` `Retain`, `Snapshot` or
    /// `RetainExceptOnCreate`, as (logical id, type, policy).
    pub fn retained(&self) -> Vec<(String, String, String)> {
        self.resources
            .iter()
            .filter_map(|(name, r)| {
                let policy = r.deletion_policy.as_deref()?;
                matches!(policy, "Retain" | "Snapshot" | "RetainExceptOnCreate")
                    .then(|| (name.clone(), r.kind.clone(), policy.to_string()))
            })
            .collect()
    }
}

fn parse_parameter(decl: &Json) -> anyhow::Result<Parameter> {
    let Some(decl) = decl.as_object() else { bail!("not a mapping") };
    let Some(kind) = decl.get("Type").and_then(Json::as_str) else { bail!("no Type") };
    let number = |key: &str| decl.get(key).and_then(|v| scalar(v)?.parse::<f64>().ok());
    let length = |key: &str| decl.get(key).and_then(|v| scalar(v)?.parse::<u64>().ok());
    Ok(Parameter {
        kind: kind.to_string(),
        description: decl.get("Description").and_then(scalar),
        default: decl.get("Default").and_then(scalar),
        allowed_values: match decl.get("AllowedValues") {
            Some(Json::Array(values)) => Some(values.iter().filter_map(scalar).collect()),
            Some(_) => bail!("AllowedValues is not a list"),
            None => None,
        },
        allowed_pattern: decl.get("AllowedPattern").and_then(scalar),
        min_length: length("MinLength"),
        max_length: length("MaxLength"),
        min_value: number("MinValue"),
        max_value: number("MaxValue"),
    })
}

fn parse_resource(decl: &Json) -> anyhow::Result<Resource> {
    let Some(decl) = decl.as_object() else { bail!("not a mapping") };
    let Some(kind) = decl.get("Type").and_then(Json::as_str) else { bail!("no Type") };
    let text = |key: &str| decl.get(key).and_then(Json::as_str).map(String::from);
    let depends_on = match decl.get("DependsOn") {
        Some(Json::String(one)) => vec![one.clone()],
        Some(Json::Array(many)) => many.iter().filter_map(Json::as_str).map(String::from).collect(),
        _ => Vec::new(),
    };
    Ok(Resource {
        kind: kind.to_string(),
        condition: text("Condition"),
        deletion_policy: text("DeletionPolicy"),
        update_replace_policy: text("UpdateReplacePolicy"),
        depends_on,
        metadata: decl.get("Metadata").cloned().unwrap_or(Json::Null),
        properties: decl.get("Properties").cloned().unwrap_or(Json::Null),
    })
}

/// `value` as JSON with every object's keys sorted (whatever order the map type keeps them in): the
/// form the template's hash and the transform's hashes are taken of.
pub(crate) fn canonical_json(value: &Json, out: &mut String) {
    match value {
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Json::String(key.clone()).to_string());
                out.push(':');
                canonical_json(&map[key], out);
            }
            out.push('}');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A scalar as CloudFormation sees it: strings as they are, numbers and booleans as text.
fn scalar(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "Parameters:\n  A: {Type: String}\n  B: {Type: String, Default: x, AllowedValues: [x, y]}\n\
                     Resources:\n  R:\n    Type: AWS::S3::Bucket\n    DeletionPolicy: Retain\n    Properties: {BucketName: !Ref A}\n\
                     Outputs:\n  O: {Value: !Ref R}\n";

    #[test]
    fn template_is_read_with_short_form_tags() {
        let t = Template::parse(T).unwrap();
        assert_eq!(t.parameter_names(), ["A", "B"]);
        assert_eq!(t.retained(), [("R".to_string(), "AWS::S3::Bucket".to_string(), "Retain".to_string())]);
        assert_eq!(t.resources["R"].properties, serde_json::json!({"BucketName": {"Ref": "A"}}));
        assert_eq!(t.sha256, hex::encode(Sha256::digest(T.as_bytes())));
    }

    #[test]
    fn the_canonical_form_ignores_comments_formatting_order_and_short_forms() {
        let base = Template::parse(T).unwrap();
        let same = "# a comment\nOutputs:\n  O:\n    Value: {Ref: R}\nResources:\n  R: {Type: AWS::S3::Bucket, DeletionPolicy: Retain, Properties: {BucketName: {Ref: A}}}\nParameters:\n  B: {AllowedValues: [x, y], Default: x, Type: String}\n  A: {Type: String}\n";
        let same = Template::parse(same).unwrap();
        assert_ne!(same.sha256, base.sha256);
        assert_eq!(same.canonical_sha256(), base.canonical_sha256());
        let other = Template::parse(&T.replace("BucketName: !Ref A", "BucketName: fixed")).unwrap();
        assert_ne!(other.canonical_sha256(), base.canonical_sha256());
    }
}
