//! Stack parameters: the one loader of a parameters file (AWS CLI format, one set of rules for
//! deploy and lint alike), the checks on the effective values (file + injected + `--parameter`),
//! and the comparison with what a deployed stack reports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Template;
use crate::error::Refusal;
use crate::settings::refuse_placeholder;

/// One entry of a parameters file, as the AWS CLI writes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Entry {
    parameter_key: String,
    #[serde(default)]
    parameter_value: Option<String>,
    #[serde(default)]
    use_previous_value: Option<bool>,
}

/// A parameters file that follows the rules: a JSON list of `{"ParameterKey", "ParameterValue"}`,
/// each key a Parameter of the template and given once, every value spelled out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterFile {
    /// How messages name the file, e.g. `cloud/parameters.json`.
    pub shown: String,
    pub values: BTreeMap<String, String>,
    /// The file each value came from (an environment's overlay wins over the base file).
    pub origins: BTreeMap<String, String>,
}

impl ParameterFile {
    pub fn load(path: &Path, shown: &str, template: &Template) -> anyhow::Result<ParameterFile> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Refusal::new(
                format!("cannot read the parameters {shown}: {e}"),
                "pass --parameters FILE, or run from the project",
            )
        })?;
        ParameterFile::parse(&text, shown, template)
    }

    /// The base file with each overlay on top, in order (see `Ctx::parameter_files`): an
    /// overlay's value wins, and every value remembers its file.
    pub fn load_layers(files: &[(PathBuf, String)], template: &Template) -> anyhow::Result<ParameterFile> {
        let mut merged: Option<ParameterFile> = None;
        for (path, shown) in files {
            let layer = ParameterFile::load(path, shown, template)?;
            merged = Some(match merged {
                None => layer,
                Some(mut below) => {
                    below.shown = format!("{} + {}", below.shown, layer.shown);
                    below.values.extend(layer.values);
                    below.origins.extend(layer.origins);
                    below
                }
            });
        }
        merged.ok_or_else(|| anyhow::anyhow!("no parameters file given"))
    }

    pub fn parse(text: &str, shown: &str, template: &Template) -> anyhow::Result<ParameterFile> {
        let list: Vec<Entry> = serde_json::from_str(text).map_err(|e| {
            Refusal::new(
                format!("{shown} is not an AWS CLI parameters file: {e}"),
                r#"expected [{"ParameterKey": "...", "ParameterValue": "..."}, ...]"#,
            )
        })?;
        let mut values = BTreeMap::new();
        for entry in list {
            let origin = format!("{shown}: {}", entry.parameter_key);
            if !template.declares(&entry.parameter_key) {
                return Err(Refusal::new(
                    format!("{origin} is not a parameter of the template"),
                    "remove it, or declare it under Parameters in the template",
                )
                .into());
            }
            // A deploy must reach exactly what the files say, whatever the stack ran before.
            let value = match (entry.parameter_value, entry.use_previous_value) {
                (_, Some(true)) => {
                    return Err(Refusal::new(
                        format!("{origin} uses UsePreviousValue"),
                        "give the value itself: a deploy converges on the files, not on what the stack ran before",
                    )
                    .into());
                }
                (Some(value), _) => value,
                (None, _) => {
                    return Err(Refusal::new(format!("{origin} has no ParameterValue"), "give it a value").into());
                }
            };
            if values.insert(entry.parameter_key, value).is_some() {
                return Err(Refusal::new(format!("{origin} is given twice"), "keep one entry per parameter").into());
            }
        }
        let origins = values.keys().map(|k| (k.clone(), shown.to_string())).collect();
        Ok(ParameterFile { shown: shown.to_string(), values, origins })
    }

    /// The guard before any AWS call: no `YOUR_*_HERE` value, no example domain unless allowed.
    pub fn refuse_placeholders(&self, allow_example_domains: bool) -> anyhow::Result<()> {
        for (key, value) in &self.values {
            let file = self.origins.get(key).unwrap_or(&self.shown);
            refuse_placeholder(&format!("{file}: {key}"), value, allow_example_domains)?;
        }
        Ok(())
    }

    /// What lint asks beyond the loading rules: an entry for every template Parameter, each value
    /// meeting its Parameter's constraints (placeholders included: they must pass the patterns).
    pub fn completeness_problems(&self, template: &Template) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, parameter) in &template.parameters {
            match self.values.get(name) {
                None => problems.push(format!("{}: no entry for template Parameter {name}", self.shown)),
                Some(value) => {
                    if let Err(why) = parameter.check(value) {
                        let file = self.origins.get(name).unwrap_or(&self.shown);
                        problems.push(format!("{file}: {name}: {why}"));
                    }
                }
            }
        }
        problems
    }
}

/// Checks the effective parameters against the template: all required given, each value meets
/// its Parameter's constraints (AllowedValues, AllowedPattern, lengths, Number ranges).
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

/// Whether the stack already runs with these parameters: every template parameter's effective
/// value (or its default) equals what DescribeStacks reports. A `NoEcho` parameter comes back as
/// `****`, so a template with one never counts as unchanged here (its change set decides).
pub fn deployed_parameters_match(
    template: &Template,
    effective: &BTreeMap<String, String>,
    deployed: &BTreeMap<String, String>,
) -> bool {
    template.parameters.iter().all(|(name, spec)| {
        let expected = effective.get(name).or(spec.default.as_ref());
        !template.is_no_echo(name) && expected.is_some() && expected == deployed.get(name)
    })
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

    const T: &str = "Parameters:\n  A: {Type: String}\n  B: {Type: String, Default: x, AllowedValues: [x, y]}\n\
                     Resources:\n  R:\n    Type: AWS::S3::Bucket\n    Properties: {BucketName: !Ref A}\n";

    fn check(text: &str, expect: &str) {
        let t = Template::parse(T).unwrap();
        let got = match ParameterFile::parse(text, "p.json", &t) {
            Ok(file) => match file.refuse_placeholders(false) {
                Ok(()) => format!("ok {:?} | lint: {:?}", file.values, file.completeness_problems(&t)),
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn one_set_of_rules_for_parameter_files() {
        check(r#"[{"ParameterKey":"Z","ParameterValue":"1"}]"#, "p.json: Z is not a parameter of the template");
        check(
            r#"[{"ParameterKey":"A","ParameterValue":"www.example.com"}]"#,
            "p.json: A is www.example.com, an example domain",
        );
        check(r#"[{"ParameterKey":"A","UsePreviousValue":true}]"#, "p.json: A uses UsePreviousValue");
        check(
            r#"[{"ParameterKey":"A","ParameterValue":"a"},{"ParameterKey":"A","ParameterValue":"b"}]"#,
            "p.json: A is given twice",
        );
        check(
            r#"[{"ParameterKey":"A","ParameterValue":"a"}]"#,
            r#"ok {"A": "a"} | lint: ["p.json: no entry for template Parameter B"]"#,
        );
        check(
            r#"[{"ParameterKey":"A","ParameterValue":"a"},{"ParameterKey":"B","ParameterValue":"z"}]"#,
            r#"ok {"A": "a", "B": "z"} | lint: ["p.json: B: \"z\" is not one of AllowedValues [\"x\", \"y\"]"]"#,
        );
    }

    #[test]
    fn effective_values_meet_the_constraints() {
        let t = Template::parse(T).unwrap();
        let ok = BTreeMap::from([("A".to_string(), "a".to_string())]);
        assert!(check_effective(&t, &ok, "p.json").is_ok());
        assert_eq!(
            check_effective(&t, &BTreeMap::new(), "p.json").unwrap_err().to_string(),
            "template parameter A has no value and no default"
        );
        let bad = BTreeMap::from([("A".to_string(), "a".to_string()), ("B".to_string(), "z".to_string())]);
        assert!(check_effective(&t, &bad, "p.json").unwrap_err().to_string().contains("not one of AllowedValues"));
    }

    #[test]
    fn deployed_parameters_are_compared_with_defaults_filled_in() {
        let t = Template::parse(T).unwrap();
        let effective = BTreeMap::from([("A".to_string(), "a".to_string())]);
        let deployed = |b: &str| BTreeMap::from([("A".to_string(), "a".to_string()), ("B".to_string(), b.to_string())]);
        assert!(deployed_parameters_match(&t, &effective, &deployed("x")));
        assert!(!deployed_parameters_match(&t, &effective, &deployed("y")));
        assert!(!deployed_parameters_match(&t, &effective, &BTreeMap::new()));
        let secret = Template::parse(&T.replace("A: {Type: String}", "A: {Type: String, NoEcho: true}")).unwrap();
        assert!(!deployed_parameters_match(&secret, &effective, &deployed("x")), "NoEcho values read back as ****");
    }
}
