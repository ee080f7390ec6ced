//! YAML to JSON with CloudFormation's short-form tags rewritten into their long form:
//! `serde_norway` hands `!Ref`, `!GetAtt A.B`, `!Sub`, `!If`, ... over as `Value::Tagged`.

use anyhow::bail;
use serde_json::{Map, Value as Json};
use serde_norway::Value as Yaml;

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
