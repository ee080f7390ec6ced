//! What AWS would reject late, refused before the deploy writes anything: certificates in the
//! wrong region, a `DeploymentRegion` that is not the region in use, a name derived from the
//! parameters that a service refuses, reserved concurrency the account cannot give, and a function's
//! code key that still carries the all-zero placeholder.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::cloud::Template;
use crate::error::Refusal;

/// What the checks need beyond the template and the effective parameters.
pub struct Context<'a> {
    pub template: &'a Template,
    pub effective: &'a BTreeMap<String, String>,
    pub region: &'a str,
    pub account: &'a str,
    pub stack: &'a str,
    /// How messages name the parameters' source, e.g. `cloud/parameters.json`.
    pub shown: &'a str,
}

impl Context<'_> {
    fn value(&self, parameter: &str) -> Option<&str> {
        self.effective
            .get(parameter)
            .map(String::as_str)
            .or_else(|| self.template.parameters.get(parameter)?.default.as_deref())
    }

    fn refuse(&self, what: String, hint: String) -> anyhow::Error {
        Refusal::new(what, hint).into()
    }
}

/// Every check that needs no AWS call, in order; the first problem is refused.
pub fn check(ctx: &Context<'_>) -> anyhow::Result<()> {
    certificates(ctx)?;
    deployment_region(ctx)?;
    placeholder_code_keys(ctx)?;
    for (resource, property, name) in derived_names(ctx) {
        let kind = &ctx.template.resources[&resource].kind;
        if let Err(why) = name_rule(kind, &property, &name) {
            return Err(ctx.refuse(
                format!("{resource} ({kind}) {property} would be {name:?}, which {why}"),
                format!("choose other parameter values in {} (EnvironmentName feeds this name)", ctx.shown),
            ));
        }
    }
    Ok(())
}

/// `arn:aws:acm:REGION:ACCOUNT:certificate/ID` -> REGION.
fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

fn certificates(ctx: &Context<'_>) -> anyhow::Result<()> {
    for (parameter, want, why) in [
        ("WwwCertificateArn", "us-east-1", "CloudFront only uses certificates from us-east-1"),
        ("ApiCertificateArn", ctx.region, "a regional API Gateway domain needs a certificate in its own region"),
    ] {
        if let Some(arn) = ctx.value(parameter)
            && let Some(region) = arn_region(arn)
            && region != want
        {
            return Err(ctx.refuse(
                format!("{parameter} is a certificate in {region}, not in {want}: {why}"),
                format!("request or import the certificate in {want} and put its ARN in {}", ctx.shown),
            ));
        }
    }
    Ok(())
}

fn deployment_region(ctx: &Context<'_>) -> anyhow::Result<()> {
    if let Some(declared) = ctx.value("DeploymentRegion")
        && declared != ctx.region
    {
        return Err(ctx.refuse(
            format!("DeploymentRegion is {declared} but the deploy runs in {}", ctx.region),
            format!(
                "deploy to {declared} (--region, AWS_REGION or deploy.toml's stack.region), or set DeploymentRegion to {} in {}",
                ctx.region, ctx.shown
            ),
        ));
    }
    Ok(())
}

fn placeholder_code_keys(ctx: &Context<'_>) -> anyhow::Result<()> {
    let zeros = format!("/{}.zip", "0".repeat(64));
    for (name, value) in ctx.effective {
        if name.ends_with("CodeKey") && value.ends_with(&zeros) {
            return Err(ctx.refuse(
                format!("{name} would still be the placeholder {value}: no function of the dist fills it"),
                "build every function the template deploys (cargo xtask dist) or deploy the dist that has it"
                    .to_string(),
            ));
        }
    }
    Ok(())
}

/// Names the template builds from parameters with `!Sub` (the Cognito domain, the database, the
/// cache's users, log groups), resolved with the effective values: (resource, property, name).
pub fn derived_names(ctx: &Context<'_>) -> Vec<(String, String, String)> {
    let mut names = Vec::new();
    for (resource, r) in &ctx.template.resources {
        let Some(properties) = r.properties.as_object() else { continue };
        for (property, value) in properties {
            let Some(text) = value.get("Fn::Sub").and_then(Json::as_str) else { continue };
            if let Some(name) = substitute(ctx, text)
                && text.contains("${EnvironmentName}")
            {
                names.push((resource.clone(), property.clone(), name));
            }
        }
    }
    names
}

/// `text` with `${X}` replaced by parameters and pseudo parameters; None when a reference cannot be
/// resolved locally (an attribute of a resource, say).
fn substitute(ctx: &Context<'_>, text: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let name = &rest[start + 2..end];
        let value = match name {
            "AWS::AccountId" => ctx.account,
            "AWS::Region" => ctx.region,
            "AWS::StackName" => ctx.stack,
            "AWS::Partition" => "aws",
            "AWS::URLSuffix" => "amazonaws.com",
            other => ctx.value(other)?,
        };
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// A name AWS requires to start with a letter, hold only letters, digits and hyphens, and have no
/// two hyphens in a row and none at the end (RDS instances, ElastiCache users and groups).
fn identifier(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() || name.len() > max {
        return Err(format!("must be 1 to {max} characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("must start with a letter".into());
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err("may hold only letters, digits and hyphens".into());
    }
    if name.contains("--") || name.ends_with('-') {
        return Err("may not hold two hyphens in a row or end with one".into());
    }
    Ok(())
}

/// The service's rule for `kind`.`property`, for the names this template builds.
pub fn name_rule(kind: &str, property: &str, name: &str) -> Result<(), String> {
    match (kind, property) {
        ("AWS::Cognito::UserPoolDomain", "Domain") => {
            let ok = (1..=63).contains(&name.len())
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !name.starts_with('-')
                && !name.ends_with('-');
            if !ok {
                return Err(
                    "Cognito refuses: a domain prefix is 1 to 63 lowercase letters, digits and inner hyphens".into()
                );
            }
            match ["aws", "amazon", "cognito"].iter().find(|w| name.contains(*w)) {
                Some(word) => Err(format!("Cognito refuses: a domain prefix may not contain {word:?}")),
                None => Ok(()),
            }
        }
        ("AWS::RDS::DBInstance", "DBInstanceIdentifier") => {
            identifier(name, 63).map_err(|e| format!("RDS refuses: it {e}"))
        }
        ("AWS::ElastiCache::User", "UserId") | ("AWS::ElastiCache::UserGroup", "UserGroupId") => {
            identifier(name, 40).map_err(|e| format!("ElastiCache refuses: it {e}"))
        }
        ("AWS::ElastiCache::User", "UserName") => {
            identifier(name, 120).map_err(|e| format!("ElastiCache refuses: it {e}"))
        }
        ("AWS::Logs::LogGroup", "LogGroupName") => {
            let ok = (1..=512).contains(&name.len())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c));
            if ok { Ok(()) } else { Err("CloudWatch Logs refuses: 1 to 512 of letters, digits and ._-/#".into()) }
        }
        _ => Ok(()),
    }
}

/// The reserved concurrency the template's functions ask for in total (a `!Ref` resolved, an
/// `!If` counted at its larger branch).
pub fn reserved_concurrency(template: &Template, effective: &BTreeMap<String, String>) -> u64 {
    fn value(v: &Json, template: &Template, effective: &BTreeMap<String, String>) -> u64 {
        match v {
            Json::Number(n) => n.as_u64().unwrap_or(0),
            Json::String(s) => s.parse().unwrap_or(0),
            Json::Object(o) => {
                if let Some(name) = o.get("Ref").and_then(Json::as_str) {
                    let given = effective.get(name).cloned().or_else(|| template.parameters.get(name)?.default.clone());
                    return given.and_then(|g| g.parse().ok()).unwrap_or(0);
                }
                if let Some(Json::Array(branches)) = o.get("Fn::If") {
                    return branches.iter().skip(1).map(|b| value(b, template, effective)).max().unwrap_or(0);
                }
                0
            }
            _ => 0,
        }
    }
    template
        .resources_of_type("AWS::Lambda::Function")
        .filter_map(|(_, r)| r.properties.get("ReservedConcurrentExecutions"))
        .map(|v| value(v, template, effective))
        .sum()
}

/// Lambda keeps at least this much of the account's concurrency unreserved.
pub const UNRESERVED_MINIMUM: i64 = 100;

/// Whether the account can reserve `wanted` more (from GetAccountSettings' unreserved pool).
pub fn concurrency_fits(wanted: u64, unreserved: i64, limit: i64) -> Result<(), String> {
    if wanted as i64 <= unreserved - UNRESERVED_MINIMUM {
        return Ok(());
    }
    Err(format!(
        "the functions reserve {wanted} concurrent executions but the account has {unreserved} unreserved of {limit}, and Lambda keeps {UNRESERVED_MINIMUM} unreserved"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "Parameters:\n  EnvironmentName: {Type: String, Default: dev}\n  DeploymentRegion: {Type: String, Default: us-east-1}\n  WwwCertificateArn: {Type: String}\n  ApiCertificateArn: {Type: String}\n  Concurrency: {Type: Number, Default: 10}\n  ApiCodeKey: {Type: String}\nResources:\n  Domain:\n    Type: AWS::Cognito::UserPoolDomain\n    Properties: {Domain: !Sub 'notes-${EnvironmentName}-${AWS::AccountId}'}\n  Db:\n    Type: AWS::RDS::DBInstance\n    Properties: {DBInstanceIdentifier: !Sub 'notes-${EnvironmentName}'}\n  User:\n    Type: AWS::ElastiCache::User\n    Properties: {UserId: !Sub 'notes-${EnvironmentName}-app'}\n  Api:\n    Type: AWS::Lambda::Function\n    Properties: {ReservedConcurrentExecutions: !Ref Concurrency}\n  Worker:\n    Type: AWS::Lambda::Function\n    Properties: {ReservedConcurrentExecutions: 2}\n";

    fn check_with(parameters: &[(&str, &str)], region: &str) -> String {
        let template = Template::parse(T).unwrap();
        let mut effective: BTreeMap<String, String> = BTreeMap::from([
            ("WwwCertificateArn".to_string(), "arn:aws:acm:us-east-1:111111111111:certificate/a".to_string()),
            ("ApiCertificateArn".to_string(), format!("arn:aws:acm:{region}:111111111111:certificate/b")),
            ("DeploymentRegion".to_string(), region.to_string()),
            ("ApiCodeKey".to_string(), format!("lambdas/api/{}.zip", "a".repeat(64))),
        ]);
        for (k, v) in parameters {
            effective.insert(k.to_string(), v.to_string());
        }
        let ctx = Context {
            template: &template,
            effective: &effective,
            region,
            account: "123456789012",
            stack: "s",
            shown: "p.json",
        };
        match check(&ctx) {
            Ok(()) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn what_aws_would_refuse_late_is_refused_first() {
        assert_eq!(check_with(&[], "eu-west-1"), "ok");
        assert_eq!(
            check_with(&[("WwwCertificateArn", "arn:aws:acm:eu-west-1:1:certificate/x")], "eu-west-1"),
            "WwwCertificateArn is a certificate in eu-west-1, not in us-east-1: CloudFront only uses certificates from us-east-1"
        );
        assert_eq!(
            check_with(&[("ApiCertificateArn", "arn:aws:acm:us-east-1:1:certificate/x")], "eu-west-1"),
            "ApiCertificateArn is a certificate in us-east-1, not in eu-west-1: a regional API Gateway domain needs a certificate in its own region"
        );
        assert_eq!(
            check_with(&[("DeploymentRegion", "us-east-1")], "eu-west-1"),
            "DeploymentRegion is us-east-1 but the deploy runs in eu-west-1"
        );
        assert_eq!(
            check_with(&[("ApiCodeKey", &format!("lambdas/api/{}.zip", "0".repeat(64)))], "eu-west-1"),
            format!(
                "ApiCodeKey would still be the placeholder lambdas/api/{}.zip: no function of the dist fills it",
                "0".repeat(64)
            )
        );
        assert_eq!(
            check_with(&[("EnvironmentName", "my-aws")], "eu-west-1"),
            "Domain (AWS::Cognito::UserPoolDomain) Domain would be \"notes-my-aws-123456789012\", which Cognito refuses: a domain prefix may not contain \"aws\""
        );
        assert_eq!(
            check_with(&[("EnvironmentName", "dev-")], "eu-west-1"),
            "Db (AWS::RDS::DBInstance) DBInstanceIdentifier would be \"notes-dev-\", which RDS refuses: it may not hold two hyphens in a row or end with one"
        );
        assert_eq!(
            check_with(&[("EnvironmentName", "a-very-long-environment-name-xy")], "eu-west-1"),
            "User (AWS::ElastiCache::User) UserId would be \"notes-a-very-long-environment-name-xy-app\", which ElastiCache refuses: it must be 1 to 40 characters"
        );
    }

    #[test]
    fn reserved_concurrency_must_leave_the_unreserved_minimum() {
        let template = Template::parse(T).unwrap();
        let effective = BTreeMap::from([("Concurrency".to_string(), "20".to_string())]);
        assert_eq!(reserved_concurrency(&template, &effective), 22);
        assert_eq!(reserved_concurrency(&template, &BTreeMap::new()), 12);
        assert_eq!(concurrency_fits(22, 1000, 1000), Ok(()));
        assert_eq!(
            concurrency_fits(22, 10, 10),
            Err("the functions reserve 22 concurrent executions but the account has 10 unreserved of 10, and Lambda keeps 100 unreserved".into())
        );
    }
}
