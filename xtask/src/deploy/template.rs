//! Local validation of the template and the parameters file, before any AWS call. The template
//! model and the per-value constraint checks are [`crate::template`]'s (shared with `lint`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::refuse_placeholder;
use crate::errors::Refusal;

/// What the deploy needs to know about a template.
#[derive(Debug)]
pub struct Template {
    pub body: String,
    pub sha256: String,
    pub model: crate::template::Template,
    /// Resources with `DeletionPolicy: Retain`/`Snapshot`/`RetainExceptOnCreate`: (logical id, type, policy).
    pub retained: Vec<(String, String, String)>,
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
        let model = crate::template::Template::parse(&body).map_err(|e| {
            Refusal::new(
                format!(
                    "{shown} is not a valid template: {}",
                    e.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
                ),
                "fix the template (`cargo xtask lint` checks it in full)",
            )
        })?;
        let retained = model
            .resources
            .iter()
            .filter_map(|(name, r)| {
                let policy = r.deletion_policy.as_deref()?;
                matches!(policy, "Retain" | "Snapshot" | "RetainExceptOnCreate")
                    .then(|| (name.clone(), r.kind.clone(), policy.to_string()))
            })
            .collect();
        let sha256 = hex::encode(Sha256::digest(body.as_bytes()));
        Ok(Template { body, sha256, model, retained })
    }

    pub fn declares(&self, parameter: &str) -> bool {
        self.model.parameters.contains_key(parameter)
    }

    pub fn parameter_names(&self) -> Vec<String> {
        self.model.parameters.keys().cloned().collect()
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
        if !template.declares(&p.parameter_key) {
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

/// Checks the effective parameters against the template: all required given, each value meets
/// its Parameter's constraints (AllowedValues, AllowedPattern, lengths, Number ranges).
pub fn check_effective(template: &Template, effective: &BTreeMap<String, String>, shown: &str) -> anyhow::Result<()> {
    for (name, spec) in &template.model.parameters {
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
        if let Err(why) = spec.check(value) {
            return Err(Refusal::new(
                format!("parameter {name}: {why}"),
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
        assert_eq!(t.parameter_names(), ["A", "B"]);
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
        assert!(check_effective(&t, &bad, "p.json").unwrap_err().to_string().contains("not one of AllowedValues"));
    }
}
