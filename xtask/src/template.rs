//! The CloudFormation template (`cloud/stack.yaml`) as data, and the consistency checks that
//! `cargo xtask lint` and `xtask/tests/template.rs` run on it.
//!
//! YAML short-form tags (`!Ref`, `!GetAtt A.B`, `!Sub`, `!If`, ...) arrive from `serde_norway` as
//! `Value::Tagged`; [`yaml_to_json`] rewrites them into the long form (`{"Ref": ..}`,
//! `{"Fn::GetAtt": ["A", "B"]}`, `{"Fn::Sub": ..}`), so every check sees one shape whichever form the
//! template uses.
//!
//! Each `check_*` function returns one readable line per problem (empty = fine).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use serde_norway::Value as Yaml;

/// Stack outputs that `cargo xtask deploy` and the site read. The template must declare each,
/// unconditionally.
pub const REQUIRED_OUTPUTS: &[&str] = &[
    "SiteBucketName",
    "DistributionId",
    "DistributionDomainName",
    "SiteUrl",
    "ApiUrl",
    "UserPoolId",
    "UserPoolClientId",
    "CognitoDomain",
    "NotesTableName",
    "AppDataBucketName",
    "ApiFunctionName",
    "ActivityFunctionName",
    "MigrateFunctionName",
    "Region",
];

/// Parameters that `cargo xtask deploy` always overrides (it uploads the Lambda zips first). They
/// still need an entry in parameters.json whose value passes the template's constraints.
pub const DEPLOY_INJECTED_PARAMETERS: &[&str] = &["ArtifactBucket", "ApiCodeKey", "ActivityCodeKey", "MigrateCodeKey"];

/// Resource types that hold data: each must state both `DeletionPolicy` and `UpdateReplacePolicy`.
pub const STATEFUL_TYPES: &[&str] = &[
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBCluster",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::ElastiCache::CacheCluster",
    "AWS::Logs::LogGroup",
    "AWS::SQS::Queue",
    "AWS::Cognito::UserPool",
    "AWS::KMS::Key",
    "AWS::SecretsManager::Secret",
    "AWS::EFS::FileSystem",
];

/// Resource types whose `UpdateReplacePolicy` must be `Snapshot` (a replacement keeps the old
/// data) and whose `DeletionPolicy` must be `Delete`. Not `Snapshot`: CloudFormation asks the RDS
/// handler for a final snapshot on every delete under that policy, the rollback of a failed first
/// create included, which would leave a snapshot of an empty database behind; and not `Retain` or
/// `RetainExceptOnCreate`: a retained instance keeps the subnets, security group and subnet group
/// that the rest of the stack deletion needs gone. A deliberate teardown snapshots first (destroy).
pub const SNAPSHOT_TYPES: &[&str] = &["AWS::RDS::DBInstance", "AWS::RDS::DBCluster"];

/// Deletion-protection properties: each must follow the `ProtectFromDeletion` condition (the
/// `EnableDeletionProtection` parameter), which the deploy tool sets to `false` for the first
/// create so that a failed create can roll back.
pub const DELETION_PROTECTION: &[(&str, &str)] = &[
    ("AWS::RDS::DBInstance", "DeletionProtection"),
    ("AWS::RDS::DBCluster", "DeletionProtection"),
    ("AWS::DynamoDB::Table", "DeletionProtectionEnabled"),
    ("AWS::Cognito::UserPool", "DeletionProtection"),
];

/// IAM managed policies hold at most this many characters (whitespace not counted).
pub const MANAGED_POLICY_MAX_CHARS: usize = 6144;

pub use crate::cloud::checks::deployer_files::{check_deployer_policies, check_deployer_policy, load_policy_dir};

/// Short-form tags CloudFormation understands (`!Ref`, `!Condition` and the `Fn::` family).
const INTRINSICS: &[&str] = &[
    "And",
    "Base64",
    "Cidr",
    "Contains",
    "EachMemberEquals",
    "EachMemberIn",
    "Equals",
    "FindInMap",
    "GetAZs",
    "GetAtt",
    "If",
    "ImportValue",
    "Join",
    "Length",
    "Not",
    "Or",
    "RefAll",
    "Select",
    "Split",
    "Sub",
    "ToJsonString",
    "Transform",
    "ValueOf",
    "ValueOfAll",
];

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

/// A parsed CloudFormation template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub parameters: BTreeMap<String, Parameter>,
    pub conditions: BTreeMap<String, Json>,
    pub resources: BTreeMap<String, Resource>,
    /// Output name to its declaration (`Value`, `Description`, `Condition`, ...), long form.
    pub outputs: BTreeMap<String, Json>,
    /// The whole template in long form.
    pub document: Json,
}

impl Template {
    pub fn load(path: &Path) -> anyhow::Result<Template> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        Template::parse(&text).with_context(|| format!("cannot parse {}", path.display()))
    }

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

/// A scalar as CloudFormation sees it: strings as they are, numbers and booleans as text.
fn scalar(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Converts YAML to JSON, rewriting short-form tags into CloudFormation's long form:
/// `!Ref X` → `{"Ref": "X"}`, `!GetAtt A.B.C` → `{"Fn::GetAtt": ["A", "B.C"]}`, `!Sub s` →
/// `{"Fn::Sub": "s"}`, `!Condition C` → `{"Condition": "C"}`. Unknown tags are errors.
pub fn yaml_to_json(value: &Yaml) -> anyhow::Result<Json> {
    Ok(match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                n.as_f64().and_then(serde_json::Number::from_f64).map_or(Json::Null, Json::Number)
            }
        }
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => Json::Array(items.iter().map(yaml_to_json).collect::<anyhow::Result<_>>()?),
        Yaml::Mapping(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                let key = match key {
                    Yaml::String(s) => s.clone(),
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    other => bail!("unsupported mapping key {other:?}"),
                };
                out.insert(key, yaml_to_json(value)?);
            }
            Json::Object(out)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = yaml_to_json(&tagged.value)?;
            let (key, inner) = match name {
                "Ref" | "Condition" => (name.to_string(), inner),
                "GetAtt" => {
                    let inner = match inner {
                        Json::String(path) => match path.split_once('.') {
                            Some((resource, attribute)) => Json::from(vec![resource, attribute]),
                            None => bail!("!GetAtt {path:?} has no attribute (expected Resource.Attribute)"),
                        },
                        other => other,
                    };
                    ("Fn::GetAtt".to_string(), inner)
                }
                _ if INTRINSICS.contains(&name) => (format!("Fn::{name}"), inner),
                _ => bail!("unknown CloudFormation tag {tag}"),
            };
            Json::Object(Map::from_iter([(key, inner)]))
        }
    })
}

/// One entry of `parameters.json` (AWS CLI format).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ParameterValue {
    pub parameter_key: String,
    pub parameter_value: String,
}

pub fn load_parameter_file(path: &Path) -> anyhow::Result<Vec<ParameterValue>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!("{} is not a list of {{\"ParameterKey\": .., \"ParameterValue\": \"..\"}} entries", path.display())
    })
}

/// `values` with `overrides` applied (the deploy tool's injected artifact keys, for instance). An
/// override must name an entry that already exists, so a typo cannot add a stray parameter.
pub fn override_parameters(
    values: &[ParameterValue],
    overrides: &[(&str, &str)],
) -> anyhow::Result<Vec<ParameterValue>> {
    let mut out = values.to_vec();
    for (key, value) in overrides {
        let Some(entry) = out.iter_mut().find(|e| e.parameter_key == *key) else {
            bail!("cannot override {key}: parameters.json has no entry for it");
        };
        entry.parameter_value = (*value).to_string();
    }
    Ok(out)
}

/// parameters.json has exactly one entry per template Parameter, and each value meets the
/// Parameter's constraints.
pub fn check_parameters(template: &Template, values: &[ParameterValue]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for entry in values {
        let key = &entry.parameter_key;
        if !seen.insert(key.as_str()) {
            problems.push(format!("parameters.json: {key} appears more than once"));
        }
        match template.parameters.get(key) {
            None => problems.push(format!("parameters.json: {key} is not a Parameter of the template")),
            Some(parameter) => {
                if let Err(why) = parameter.check(&entry.parameter_value) {
                    problems.push(format!("parameters.json: {key}: {why}"));
                }
            }
        }
    }
    for name in template.parameters.keys() {
        if !seen.contains(name.as_str()) {
            problems.push(format!("parameters.json: no entry for template Parameter {name}"));
        }
    }
    problems
}

/// Every Parameter has a Description and a constraint, and its Default (if any) meets it.
pub fn check_parameter_declarations(template: &Template) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, parameter) in &template.parameters {
        if parameter.description.as_deref().is_none_or(|d| d.trim().is_empty()) {
            problems.push(format!("Parameter {name} has no Description"));
        }
        if !parameter.is_constrained() {
            problems.push(format!("Parameter {name} has no AllowedValues, AllowedPattern or length/value bounds"));
        }
        if let Some(default) = &parameter.default
            && let Err(why) = parameter.check(default)
        {
            problems.push(format!("Parameter {name}: Default {why}"));
        }
    }
    problems
}

/// Every output in [`REQUIRED_OUTPUTS`] exists and is unconditional.
pub fn check_outputs(template: &Template) -> Vec<String> {
    let mut problems = Vec::new();
    for name in REQUIRED_OUTPUTS {
        match template.outputs.get(*name) {
            None => problems.push(format!("Output {name} is missing (cargo xtask deploy and the site read it)")),
            Some(output) if output.get("Condition").is_some() => {
                problems.push(format!("Output {name} is conditional; the deploy tool needs it in every stack"));
            }
            Some(output) if output.get("Value").is_none() => problems.push(format!("Output {name} has no Value")),
            Some(_) => {}
        }
    }
    problems
}

/// Every stateful resource states both deletion policies. `DeletionPolicy: Retain` is refused
/// (`RetainExceptOnCreate` keeps the data just as well, and a failed first create then leaves
/// nothing behind); [`SNAPSHOT_TYPES`] are `Delete` + `UpdateReplacePolicy: Snapshot`.
pub fn check_deletion_policies(template: &Template) -> Vec<String> {
    const DELETION: &[&str] = &["Delete", "Retain", "RetainExceptOnCreate", "Snapshot"];
    const UPDATE_REPLACE: &[&str] = &["Delete", "Retain", "Snapshot"];
    let mut problems = Vec::new();
    for (name, resource) in &template.resources {
        if !STATEFUL_TYPES.contains(&resource.kind.as_str()) {
            continue;
        }
        let snapshot_type = SNAPSHOT_TYPES.contains(&resource.kind.as_str());
        for (key, policy, valid, want) in [
            ("DeletionPolicy", &resource.deletion_policy, DELETION, "Delete"),
            ("UpdateReplacePolicy", &resource.update_replace_policy, UPDATE_REPLACE, "Snapshot"),
        ] {
            match policy.as_deref() {
                None => problems.push(format!("{name} ({}) has no {key}", resource.kind)),
                Some(p) if !valid.contains(&p) => problems.push(format!("{name}: {key} {p:?} is not one of {valid:?}")),
                Some(p) if snapshot_type && p != want => {
                    problems.push(format!("{name} ({}): {key} is {p}, expected {want}", resource.kind));
                }
                Some("Retain") if key == "DeletionPolicy" => problems.push(format!(
                    "{name} ({}): DeletionPolicy is Retain; use RetainExceptOnCreate so that a failed first create leaves nothing behind",
                    resource.kind
                )),
                Some(_) => {}
            }
        }
    }
    problems
}

/// Every deletion-protection property of [`DELETION_PROTECTION`] is set and follows the
/// `ProtectFromDeletion` condition, so that one parameter switches them all.
pub fn check_deletion_protection(template: &Template) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, resource) in &template.resources {
        for (kind, property) in DELETION_PROTECTION {
            if resource.kind != *kind {
                continue;
            }
            let follows = resource
                .properties
                .get(*property)
                .and_then(|v| v.get("Fn::If"))
                .and_then(|v| v.get(0))
                .and_then(Json::as_str)
                == Some("ProtectFromDeletion");
            if !follows {
                problems.push(format!(
                    "{name} ({kind}): {property} must be !If [ProtectFromDeletion, ...] (EnableDeletionProtection)"
                ));
            }
        }
    }
    problems
}

/// Every IAM policy statement (role policies, managed policies, key, bucket, queue and endpoint
/// policies) lists its actions: no `*`, no `service:*`, no `NotAction`.
pub fn check_no_wildcard_actions(template: &Template) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, resource) in &template.resources {
        for_each_statement(&resource.properties, &mut |statement| {
            let sid = statement.get("Sid").and_then(Json::as_str).unwrap_or("(no Sid)");
            if statement.get("NotAction").is_some() {
                problems.push(format!("{name}: statement {sid} uses NotAction"));
            }
            for action in actions(statement.get("Action")) {
                if is_wildcard_action(&action) {
                    problems.push(format!("{name}: statement {sid} allows the wildcard action {action:?}"));
                }
            }
        });
    }
    problems
}

/// `*` or `service:*`.
pub fn is_wildcard_action(action: &str) -> bool {
    action == "*" || action.split_once(':').is_some_and(|(_, verb)| verb == "*")
}

/// Calls `f` on every policy statement found anywhere under `value` (any `Statement` key).
pub fn for_each_statement(value: &Json, f: &mut dyn FnMut(&Map<String, Json>)) {
    match value {
        Json::Object(map) => {
            for (key, child) in map {
                if key == "Statement" {
                    match child {
                        Json::Array(statements) => statements.iter().filter_map(Json::as_object).for_each(&mut *f),
                        Json::Object(statement) => f(statement),
                        _ => {}
                    }
                } else {
                    for_each_statement(child, f);
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|item| for_each_statement(item, f)),
        _ => {}
    }
}

/// The literal actions of an `Action` value (string or list); intrinsics are skipped.
fn actions(value: Option<&Json>) -> Vec<String> {
    match value {
        Some(Json::String(a)) => vec![a.clone()],
        Some(Json::Array(items)) => items.iter().filter_map(Json::as_str).map(String::from).collect(),
        _ => Vec::new(),
    }
}

/// IAM action matching: case-insensitive, `*` and `?` wildcards.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    fn glob(p: &[u8], s: &[u8]) -> bool {
        match (p.split_first(), s.split_first()) {
            (None, None) => true,
            (Some((b'*', rest)), _) => glob(rest, s) || (!s.is_empty() && glob(p, &s[1..])),
            (Some((b'?', rest)), Some((_, tail))) => glob(rest, tail),
            (Some((a, rest)), Some((b, tail))) => a.eq_ignore_ascii_case(b) && glob(rest, tail),
            _ => false,
        }
    }
    glob(pattern.as_bytes(), action.as_bytes())
}

/// Every check on the template, the parameters file and the deployer policy files in
/// `deployer_policies` (a directory of `NN-topic.json`), one line per problem. Errors only when a
/// file cannot be read or parsed at all.
pub fn check_files(template: &Path, parameters: &Path, deployer_policies: &Path) -> anyhow::Result<Vec<String>> {
    let parsed = Template::load(template)?;
    let values = load_parameter_file(parameters)?;
    let policies = load_policy_dir(deployer_policies)?;
    let mut problems = Vec::new();
    problems.extend(check_parameter_declarations(&parsed));
    problems.extend(check_parameters(&parsed, &values));
    problems.extend(check_outputs(&parsed));
    problems.extend(check_deletion_policies(&parsed));
    problems.extend(check_deletion_protection(&parsed));
    problems.extend(check_no_wildcard_actions(&parsed));
    problems.extend(check_deployer_policies(&policies));
    Ok(problems)
}
