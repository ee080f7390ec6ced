//! The template CloudFormation receives: `cloud/stack.yaml` with the logical ids of its
//! `AWS::Lambda::Version` and `AWS::ApiGateway::Deployment` resources suffixed with a hash of what
//! they capture, so that CloudFormation replaces each exactly when that changes (SAM's
//! `AutoPublishAlias` and CDK's hashed Deployment id do the same):
//!
//! - a **Version** captures its function's code and configuration: the hash covers the Version's
//!   and the function's declarations with the parameter values they use (the code key included), and
//!   what they reference only as far as it can change the referenced value (its create-only
//!   properties — a resource is replaced, and its name, ARN or endpoint changes, only when one of
//!   those changes — followed transitively). An unchanged function publishes nothing;
//! - a **Deployment** captures what the stage serves: the hash covers the Deployment and every API
//!   Gateway resource of its REST API (the API itself, resources, methods and their integrations,
//!   authorizers, gateway responses, models, validators), under the same rules.
//!
//! The transform is a pure function of the template text and the parameter values: the same inputs
//! give the same bytes, so the deploy's no-op check (the deployed template's sha256) stays
//! read-only when nothing changed. Ids are renamed in the text (every whole-word occurrence: the
//! resource, `Ref`, `GetAtt`, `Sub`, `DependsOn`, outputs), which keeps YAML, comments and line
//! numbers as they were.
//!
//! The deploy applies it after the parameters are known and before the stack phase:
//! `let template = transform::transform(&local.template, &effective)?;` then passes `&template` to
//! `stack::update::Request`. `cargo xtask lint` lints the transformed template too.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use anyhow::{Context, bail};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::Template;
use super::checks::model;

/// The create-only properties of each resource type (AWS's resource schemas, pinned).
static PINNED: LazyLock<Json> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../../cloud/aws/cfn-resource-permissions.json"))
        .expect("cloud/aws/cfn-resource-permissions.json is JSON")
});

/// The resource types whose logical id carries a hash, and what the hash covers.
pub const VERSION: &str = "AWS::Lambda::Version";
pub const DEPLOYMENT: &str = "AWS::ApiGateway::Deployment";

/// API Gateway types a stage serves through its deployment (the Stage itself is updated in place).
const API_TYPES: &[&str] = &[
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Authorizer",
    "AWS::ApiGateway::GatewayResponse",
    "AWS::ApiGateway::Model",
    "AWS::ApiGateway::RequestValidator",
    "AWS::ApiGateway::DocumentationPart",
];

/// Hex characters of the hash appended to a logical id.
pub const HASH_LEN: usize = 10;

/// The template with every Version and Deployment renamed `<LogicalId><hash>`; `parameters` are
/// the effective values (the template's Defaults fill the rest).
pub fn transform(template: &Template, parameters: &BTreeMap<String, String>) -> anyhow::Result<Template> {
    let renames = renames(template, parameters)?;
    if renames.is_empty() {
        return Ok(template.clone());
    }
    let mut body = template.body.clone();
    for (from, to) in &renames {
        let word = regex::Regex::new(&format!(r"\b{}\b", regex::escape(from))).expect("valid regex");
        body = word.replace_all(&body, to.as_str()).into_owned();
    }
    let out = Template::parse(&body).context("the transformed template does not parse")?;
    let want: BTreeSet<String> =
        template.resources.keys().map(|id| renames.get(id).cloned().unwrap_or_else(|| id.clone())).collect();
    let have: BTreeSet<String> = out.resources.keys().cloned().collect();
    if want != have {
        bail!("renaming {renames:?} changed more than those resources' ids");
    }
    Ok(out)
}

/// Old logical id → new one, for every Version and Deployment.
pub fn renames(template: &Template, parameters: &BTreeMap<String, String>) -> anyhow::Result<BTreeMap<String, String>> {
    let graph = Graph::new(template, parameters);
    let mut renames = BTreeMap::new();
    for (id, resource) in &template.resources {
        let roots: Vec<String> = match resource.kind.as_str() {
            VERSION => {
                let mut refs = Vec::new();
                model::references(resource.properties.get("FunctionName").unwrap_or(&Json::Null), &mut refs);
                std::iter::once(id.clone())
                    .chain(refs.into_iter().filter(|r| template.resources.contains_key(r)))
                    .collect()
            }
            DEPLOYMENT => {
                let mut api = Vec::new();
                model::references(resource.properties.get("RestApiId").unwrap_or(&Json::Null), &mut api);
                let mut roots = vec![id.clone()];
                for (other, r) in &template.resources {
                    let mut refs = Vec::new();
                    model::references(&r.properties, &mut refs);
                    let of_this_api = api.iter().any(|a| a == other) || refs.iter().any(|x| api.contains(x));
                    if API_TYPES.contains(&r.kind.as_str()) && of_this_api {
                        roots.push(other.clone());
                    }
                }
                roots
            }
            _ => continue,
        };
        let hash = graph.fingerprint(&roots);
        let new = format!("{id}{}", &hash[..HASH_LEN]);
        if template.resources.contains_key(&new) || template.parameters.contains_key(&new) {
            bail!("{id}: the hashed id {new} is taken");
        }
        renames.insert(id.clone(), new);
    }
    Ok(renames)
}

/// The template as the hash reads it: declarations, parameter values, conditions.
struct Graph<'a> {
    template: &'a Template,
    parameters: BTreeMap<String, String>,
}

impl<'a> Graph<'a> {
    fn new(template: &'a Template, given: &BTreeMap<String, String>) -> Graph<'a> {
        let mut parameters: BTreeMap<String, String> =
            template.parameters.iter().filter_map(|(k, p)| Some((k.clone(), p.default.clone()?))).collect();
        parameters.extend(given.iter().filter(|(k, _)| template.declares(k)).map(|(k, v)| (k.clone(), v.clone())));
        Graph { template, parameters }
    }

    /// The whole declaration of a root; only the create-only properties (and condition) of a
    /// resource reached through a reference.
    fn part(&self, id: &str, whole: bool) -> Json {
        let Some(resource) = self.template.document.pointer(&format!("/Resources/{}", pointer_escape(id))) else {
            return Json::Null;
        };
        if whole {
            return resource.clone();
        }
        let kind = resource.get("Type").and_then(Json::as_str).unwrap_or_default();
        let create_only = PINNED
            .pointer(&format!("/types/{}/createOnlyProperties", pointer_escape(kind)))
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        let mut out = serde_json::Map::new();
        out.insert("Type".into(), Json::String(kind.to_string()));
        if let Some(c) = resource.get("Condition") {
            out.insert("Condition".into(), c.clone());
        }
        for path in create_only.iter().filter_map(Json::as_str) {
            let Some(rest) = path.strip_prefix("/properties") else { continue };
            if let Some(value) = resource.pointer(&format!("/Properties{rest}")) {
                out.insert(format!("Properties{rest}"), value.clone());
            }
        }
        Json::Object(out)
    }

    /// sha256 (hex) over the roots' closure, canonical (keys sorted).
    fn fingerprint(&self, roots: &[String]) -> String {
        let mut parts: BTreeMap<String, Json> = BTreeMap::new();
        let mut params: BTreeMap<String, String> = BTreeMap::new();
        let mut conditions: BTreeMap<String, Json> = BTreeMap::new();
        let mut queue: Vec<(String, bool)> = roots.iter().map(|r| (r.clone(), true)).collect();
        while let Some((id, whole)) = queue.pop() {
            let key = format!("{id}{}", if whole { "" } else { "~" });
            if parts.contains_key(&key) || (!whole && parts.contains_key(&id)) {
                continue;
            }
            let part = self.part(&id, whole);
            let mut refs = Vec::new();
            model::references(&part, &mut refs);
            let mut names = Vec::new();
            condition_names(&part, &mut names);
            parts.insert(key, part);
            while let Some(name) = names.pop() {
                if conditions.contains_key(&name) {
                    continue;
                }
                let expr = self.template.conditions.get(&name).cloned().unwrap_or(Json::Null);
                model::references(&expr, &mut refs);
                condition_names(&expr, &mut names);
                conditions.insert(name, expr);
            }
            for r in refs {
                if let Some(v) = self.parameters.get(&r) {
                    params.insert(r, v.clone());
                } else if self.template.resources.contains_key(&r) {
                    queue.push((r, false));
                }
            }
        }
        let doc = serde_json::json!({"resources": parts, "parameters": params, "conditions": conditions});
        let mut canonical = String::new();
        super::template::canonical_json(&doc, &mut canonical);
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }
}

/// Condition names used by `Fn::If`, `Condition` keys and `{"Condition": X}` references.
fn condition_names(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("Condition", Json::String(name)) => out.push(name.clone()),
                    ("Fn::If", Json::Array(args)) => {
                        out.extend(args.first().and_then(Json::as_str).map(String::from));
                        args.iter().skip(1).for_each(|a| condition_names(a, out));
                    }
                    _ => condition_names(v, out),
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|i| condition_names(i, out)),
        _ => {}
    }
}

fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests;
