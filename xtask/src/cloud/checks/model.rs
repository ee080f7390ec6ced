//! A stand-in deployment of the template: plausible physical names, ids and ARNs for every
//! resource, and intrinsics (`Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, ...) resolved to strings,
//! so that policies can be compared with the ARNs they will meet (and read by IAM tools).
//!
//! Names follow CloudFormation's generated form `<stack>-<LogicalId>-<RANDOM>` (lowercased where
//! the service lowercases), unless the template sets the name property.

use std::collections::BTreeMap;

use serde_json::Value as Json;

/// The account, region and stack the stand-in deployment lives in, and the parameter values.
#[derive(Debug, Clone)]
pub struct Env {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub stack_name: String,
    parameters: BTreeMap<String, String>,
    resources: BTreeMap<String, (String, Json)>,
}

/// The stand-in account id (documentation's example account).
pub const ACCOUNT: &str = "123456789012";
const RANDOM: &str = "EXAMPLE1A2B3C";

impl Env {
    /// `doc` is the template in long form; parameter values override the template's Defaults.
    pub fn new(doc: &Json, stack_name: &str, region: &str, parameter_values: &[(String, String)]) -> Env {
        let mut parameters = BTreeMap::new();
        if let Some(decls) = doc.get("Parameters").and_then(Json::as_object) {
            for (name, decl) in decls {
                let default = match decl.get("Default") {
                    Some(Json::String(s)) => s.clone(),
                    Some(other @ (Json::Number(_) | Json::Bool(_))) => other.to_string(),
                    _ => format!("{name}-EXAMPLE"),
                };
                parameters.insert(name.clone(), default);
            }
        }
        for (key, value) in parameter_values {
            parameters.insert(key.clone(), value.clone());
        }
        let resources = doc
            .get("Resources")
            .and_then(Json::as_object)
            .map(|r| {
                r.iter()
                    .map(|(name, decl)| {
                        let kind = decl.get("Type").and_then(Json::as_str).unwrap_or_default().to_string();
                        (name.clone(), (kind, decl.get("Properties").cloned().unwrap_or(Json::Null)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Env {
            partition: "aws".into(),
            region: region.into(),
            account: ACCOUNT.into(),
            stack_name: stack_name.into(),
            parameters,
            resources,
        }
    }

    /// The resource's type, if it exists.
    pub fn kind(&self, logical: &str) -> Option<&str> {
        self.resources.get(logical).map(|(k, _)| k.as_str())
    }

    fn prop(&self, logical: &str, name: &str) -> Option<String> {
        let (_, props) = self.resources.get(logical)?;
        self.resolve(props.get(name)?)
    }

    /// CloudFormation's generated name, or the name property when the template sets one.
    fn name(&self, logical: &str, property: &str, lowercase: bool) -> String {
        if let Some(name) = self.prop(logical, property) {
            return name;
        }
        let generated = format!("{}-{logical}-{RANDOM}", self.stack_name);
        if lowercase { generated.to_ascii_lowercase() } else { generated }
    }

    fn arn(&self, service: &str, rest: &str) -> String {
        format!("arn:{}:{service}:{}:{}:{rest}", self.partition, self.region, self.account)
    }

    /// What `Ref` returns for the resource.
    pub fn physical_id(&self, logical: &str) -> String {
        let short = logical.to_ascii_lowercase();
        match self.kind(logical).unwrap_or_default() {
            "AWS::S3::Bucket" => self.name(logical, "BucketName", true),
            "AWS::Lambda::Function" => self.name(logical, "FunctionName", false),
            "AWS::DynamoDB::Table" => self.name(logical, "TableName", false),
            "AWS::SQS::Queue" => format!(
                "https://sqs.{}.amazonaws.com/{}/{}",
                self.region,
                self.account,
                self.name(logical, "QueueName", false)
            ),
            "AWS::IAM::Role" => self.name(logical, "RoleName", false),
            "AWS::Logs::LogGroup" => self.name(logical, "LogGroupName", false),
            "AWS::RDS::DBInstance" => self.name(logical, "DBInstanceIdentifier", true).to_ascii_lowercase(),
            "AWS::RDS::DBParameterGroup" => self.name(logical, "DBParameterGroupName", true),
            "AWS::RDS::DBSubnetGroup" => self.name(logical, "DBSubnetGroupName", true),
            "AWS::ElastiCache::ReplicationGroup" => self.name(logical, "ReplicationGroupId", true),
            "AWS::ElastiCache::User" => self.name(logical, "UserId", true),
            "AWS::ElastiCache::UserGroup" => self.name(logical, "UserGroupId", true),
            "AWS::ElastiCache::SubnetGroup" => self.name(logical, "CacheSubnetGroupName", true),
            "AWS::KMS::Key" => "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            "AWS::KMS::Alias" => self.name(logical, "AliasName", false),
            "AWS::Cognito::UserPool" => format!("{}_EXAMPLE1", self.region),
            "AWS::Cognito::UserPoolDomain" => self.name(logical, "Domain", true),
            "AWS::ApiGateway::Stage" => self.name(logical, "StageName", false),
            "AWS::ApiGateway::DomainName" => self.name(logical, "DomainName", true),
            "AWS::EC2::VPC" => "vpc-0example".into(),
            "AWS::EC2::Subnet" => format!("subnet-0{short}"),
            "AWS::EC2::SecurityGroup" => format!("sg-0{short}"),
            "AWS::EC2::RouteTable" => format!("rtb-0{short}"),
            "AWS::EC2::InternetGateway" => format!("igw-0{short}"),
            "AWS::EC2::NatGateway" => format!("nat-0{short}"),
            "AWS::EC2::VPCEndpoint" => format!("vpce-0{short}"),
            "AWS::EC2::EIP" => "192.0.2.10".into(),
            "AWS::EC2::FlowLog" => format!("fl-0{short}"),
            "AWS::Lambda::EventSourceMapping" => "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE".into(),
            "AWS::IAM::ManagedPolicy" | "AWS::SNS::Topic" | "AWS::Lambda::Version" | "AWS::Lambda::Alias" => {
                self.own_arns(logical).into_iter().next().unwrap_or_default()
            }
            "AWS::SNS::Subscription" | "AWS::IAM::OIDCProvider" => {
                self.own_arns(logical).into_iter().next().unwrap_or_default()
            }
            "AWS::CloudWatch::Alarm" => self.name(logical, "AlarmName", false),
            "AWS::CloudWatch::Dashboard" => self.name(logical, "DashboardName", false),
            "AWS::CodeDeploy::Application" => self.name(logical, "ApplicationName", false),
            "AWS::CodeDeploy::DeploymentGroup" => self.name(logical, "DeploymentGroupName", false),
            _ => format!("{short}example"),
        }
    }

    /// The ARNs a handler's calls for this resource are authorized on (its own, and for
    /// sub-resources without an ARN of their own, their parent's). Empty when unknown.
    pub fn own_arns(&self, logical: &str) -> Vec<String> {
        let id = || self.physical_id(logical);
        let parent = |property: &str| self.resources.get(logical).and_then(|(_, p)| p.get(property));
        let parent_arns = |property: &str| -> Vec<String> {
            match parent(property) {
                Some(Json::Array(items)) => items.iter().flat_map(|i| self.arns_of(i)).collect(),
                Some(value) => self.arns_of(value),
                None => Vec::new(),
            }
        };
        let p = &self.partition;
        let (r, a) = (&self.region, &self.account);
        let ec2 = |what: &str, id: String| self.arn("ec2", &format!("{what}/{id}"));
        match self.kind(logical).unwrap_or_default() {
            "AWS::S3::Bucket" => vec![format!("arn:{p}:s3:::{}", id())],
            "AWS::S3::BucketPolicy" => parent_arns("Bucket"),
            "AWS::Lambda::Function" => vec![self.arn("lambda", &format!("function:{}", id()))],
            "AWS::Lambda::Permission" => parent_arns("FunctionName"),
            "AWS::Lambda::EventSourceMapping" => vec![self.arn("lambda", &format!("event-source-mapping:{}", id()))],
            "AWS::Lambda::Version" => parent_arns("FunctionName").into_iter().map(|f| format!("{f}:1")).collect(),
            "AWS::Lambda::Alias" => {
                let name = self.prop(logical, "Name").unwrap_or_else(|| "live".into());
                parent_arns("FunctionName").into_iter().map(|f| format!("{f}:{name}")).collect()
            }
            "AWS::DynamoDB::Table" => vec![self.arn("dynamodb", &format!("table/{}", id()))],
            "AWS::SQS::Queue" => vec![self.arn("sqs", &self.name(logical, "QueueName", false))],
            "AWS::SQS::QueuePolicy" => parent_arns("Queues"),
            "AWS::SNS::Topic" => vec![self.arn("sns", &self.name(logical, "TopicName", false))],
            "AWS::SNS::TopicPolicy" => parent_arns("Topics"),
            "AWS::SNS::Subscription" => parent_arns("TopicArn"),
            "AWS::Logs::LogGroup" => vec![self.arn("logs", &format!("log-group:{}", id()))],
            "AWS::IAM::Role" => vec![format!("arn:{p}:iam::{a}:role/{}", id())],
            "AWS::IAM::ManagedPolicy" => {
                vec![format!("arn:{p}:iam::{a}:policy/{}", self.name(logical, "ManagedPolicyName", false))]
            }
            "AWS::IAM::OIDCProvider" => {
                let url = self.prop(logical, "Url").unwrap_or_else(|| "https://token.example".into());
                vec![format!("arn:{p}:iam::{a}:oidc-provider/{}", url.trim_start_matches("https://"))]
            }
            "AWS::KMS::Key" => vec![self.arn("kms", &format!("key/{}", id()))],
            "AWS::KMS::Alias" => {
                let mut arns = vec![self.arn("kms", &id())];
                arns.extend(parent_arns("TargetKeyId"));
                arns
            }
            "AWS::EC2::VPC" => vec![ec2("vpc", id())],
            "AWS::EC2::Subnet" => vec![ec2("subnet", id())],
            "AWS::EC2::SecurityGroup" => vec![ec2("security-group", id())],
            "AWS::EC2::RouteTable" => vec![ec2("route-table", id())],
            "AWS::EC2::InternetGateway" => vec![ec2("internet-gateway", id())],
            "AWS::EC2::NatGateway" => vec![ec2("natgateway", id())],
            "AWS::EC2::VPCEndpoint" => vec![ec2("vpc-endpoint", id())],
            "AWS::EC2::EIP" => vec![ec2("elastic-ip", format!("eipalloc-0{}", logical.to_ascii_lowercase()))],
            "AWS::EC2::FlowLog" => vec![ec2("vpc-flow-log", id())],
            "AWS::EC2::SecurityGroupEgress" | "AWS::EC2::SecurityGroupIngress" => parent_arns("GroupId"),
            "AWS::EC2::Route" => parent_arns("RouteTableId"),
            "AWS::EC2::SubnetRouteTableAssociation" => {
                parent_arns("RouteTableId").into_iter().chain(parent_arns("SubnetId")).collect()
            }
            "AWS::EC2::VPCGatewayAttachment" => {
                parent_arns("VpcId").into_iter().chain(parent_arns("InternetGatewayId")).collect()
            }
            "AWS::ElastiCache::ReplicationGroup" => {
                vec![self.arn("elasticache", &format!("replicationgroup:{}", id()))]
            }
            "AWS::ElastiCache::User" => vec![self.arn("elasticache", &format!("user:{}", id()))],
            "AWS::ElastiCache::UserGroup" => vec![self.arn("elasticache", &format!("usergroup:{}", id()))],
            "AWS::ElastiCache::SubnetGroup" => vec![self.arn("elasticache", &format!("subnetgroup:{}", id()))],
            "AWS::RDS::DBInstance" => vec![self.arn("rds", &format!("db:{}", id()))],
            "AWS::RDS::DBParameterGroup" => vec![self.arn("rds", &format!("pg:{}", id()))],
            "AWS::RDS::DBSubnetGroup" => vec![self.arn("rds", &format!("subgrp:{}", id()))],
            "AWS::Cognito::UserPool" => vec![self.arn("cognito-idp", &format!("userpool/{}", id()))],
            "AWS::Cognito::UserPoolClient" | "AWS::Cognito::UserPoolDomain" => parent_arns("UserPoolId"),
            "AWS::CloudFront::Distribution" => vec![format!("arn:{p}:cloudfront::{a}:distribution/E2EXAMPLE")],
            "AWS::CloudFront::OriginAccessControl" => {
                vec![format!("arn:{p}:cloudfront::{a}:origin-access-control/E3EXAMPLE")]
            }
            "AWS::CloudFront::ResponseHeadersPolicy" => {
                vec![format!("arn:{p}:cloudfront::{a}:response-headers-policy/{}", id())]
            }
            "AWS::ApiGateway::RestApi" => vec![format!("arn:{p}:apigateway:{r}::/restapis/{}", id())],
            "AWS::ApiGateway::Resource"
            | "AWS::ApiGateway::Method"
            | "AWS::ApiGateway::Deployment"
            | "AWS::ApiGateway::Stage"
            | "AWS::ApiGateway::Authorizer"
            | "AWS::ApiGateway::GatewayResponse" => {
                let sub = match self.kind(logical).unwrap_or_default() {
                    "AWS::ApiGateway::Resource" => format!("resources/{}", id()),
                    "AWS::ApiGateway::Method" => format!("resources/rootid/methods/{}", id()),
                    "AWS::ApiGateway::Deployment" => format!("deployments/{}", id()),
                    "AWS::ApiGateway::Stage" => format!("stages/{}", id()),
                    "AWS::ApiGateway::Authorizer" => format!("authorizers/{}", id()),
                    _ => format!("gatewayresponses/{}", id()),
                };
                parent("RestApiId")
                    .and_then(|v| self.resolve(v))
                    .map(|api| vec![format!("arn:{p}:apigateway:{r}::/restapis/{api}/{sub}")])
                    .unwrap_or_default()
            }
            "AWS::ApiGateway::DomainName" => vec![format!("arn:{p}:apigateway:{r}::/domainnames/{}", id())],
            "AWS::ApiGateway::BasePathMapping" => parent("DomainName")
                .and_then(|v| self.resolve(v))
                .map(|d| vec![format!("arn:{p}:apigateway:{r}::/domainnames/{d}/basepathmappings/(none)")])
                .unwrap_or_default(),
            "AWS::ApiGateway::Account" => vec![format!("arn:{p}:apigateway:{r}::/account")],
            "AWS::Route53::RecordSet" => parent("HostedZoneId")
                .and_then(|v| self.resolve(v))
                .map(|z| vec![format!("arn:{p}:route53:::hostedzone/{z}")])
                .unwrap_or_default(),
            "AWS::CloudWatch::Alarm" => vec![self.arn("cloudwatch", &format!("alarm:{}", id()))],
            "AWS::CloudWatch::Dashboard" => vec![format!("arn:{p}:cloudwatch::{a}:dashboard/{}", id())],
            "AWS::CodeDeploy::Application" => vec![self.arn("codedeploy", &format!("application:{}", id()))],
            "AWS::CodeDeploy::DeploymentGroup" => {
                let app = parent("ApplicationName").and_then(|v| self.resolve(v)).unwrap_or_default();
                vec![self.arn("codedeploy", &format!("deploymentgroup:{app}/{}", id()))]
            }
            _ => Vec::new(),
        }
    }

    /// The ARNs a value points at: a `Ref`/`Fn::GetAtt` to a resource, or a literal ARN.
    fn arns_of(&self, value: &Json) -> Vec<String> {
        let target = match value {
            Json::Object(map) => match (map.get("Ref"), map.get("Fn::GetAtt")) {
                (Some(Json::String(r)), _) => Some(r.as_str()),
                (_, Some(Json::Array(parts))) => parts.first().and_then(Json::as_str),
                _ => None,
            },
            _ => None,
        };
        match target {
            Some(logical) if self.resources.contains_key(logical) => self.own_arns(logical),
            _ => self.resolve(value).filter(|s| s.starts_with("arn:")).into_iter().collect(),
        }
    }

    /// What `Fn::GetAtt` returns.
    pub fn get_att(&self, logical: &str, attribute: &str) -> String {
        let kind = self.kind(logical).unwrap_or_default();
        let id = self.physical_id(logical);
        match (kind, attribute) {
            ("AWS::Logs::LogGroup", "Arn") => format!("{}:*", self.own_arns(logical).join("")),
            (_, "Arn") => self.own_arns(logical).into_iter().next().unwrap_or_else(|| format!("arn:{id}")),
            ("AWS::DynamoDB::Table", "StreamArn") => {
                // A real label is a timestamp with colons (2024-01-01T00:00:00.000); parliament splits
                // ARNs on ':' and would misread it, so the stand-in has none.
                format!("{}/stream/2024-01-01T000000.000", self.own_arns(logical).join(""))
            }
            ("AWS::RDS::DBInstance", "DbiResourceId") => "db-EXAMPLEDBIRESOURCEID".into(),
            ("AWS::RDS::DBInstance", "MasterUserSecret.SecretArn") => {
                self.arn("secretsmanager", &format!("secret:rds!db-{id}-AbCdEf"))
            }
            ("AWS::RDS::DBInstance", "Endpoint.Address") => format!("{id}.example.{}.rds.amazonaws.com", self.region),
            ("AWS::RDS::DBInstance", "Endpoint.Port") => "5432".into(),
            ("AWS::ElastiCache::ReplicationGroup", "PrimaryEndPoint.Port") => "6379".into(),
            ("AWS::S3::Bucket", "RegionalDomainName") => format!("{id}.s3.{}.amazonaws.com", self.region),
            ("AWS::S3::Bucket", "DomainName") => format!("{id}.s3.amazonaws.com"),
            ("AWS::EC2::SecurityGroup", "GroupId") => id,
            ("AWS::KMS::Key", "KeyId") => id,
            _ => {
                format!("{}-{}.example", logical.to_ascii_lowercase(), attribute.to_ascii_lowercase().replace('.', "-"))
            }
        }
    }

    /// A pseudo parameter, template parameter or resource reference, as `Ref` resolves it.
    pub fn reference(&self, name: &str) -> Option<String> {
        Some(match name {
            "AWS::Partition" => self.partition.clone(),
            "AWS::Region" => self.region.clone(),
            "AWS::AccountId" => self.account.clone(),
            "AWS::StackName" => self.stack_name.clone(),
            "AWS::StackId" => self.arn("cloudformation", &format!("stack/{}/EXAMPLE", self.stack_name)),
            "AWS::URLSuffix" => "amazonaws.com".into(),
            "AWS::NoValue" => return None,
            _ if self.parameters.contains_key(name) => self.parameters[name].clone(),
            _ if self.resources.contains_key(name) => self.physical_id(name),
            _ => return None,
        })
    }

    /// A value resolved to one string (`None` for lists, `AWS::NoValue` and unknown names).
    pub fn resolve(&self, value: &Json) -> Option<String> {
        match self.resolve_deep(value) {
            Json::String(s) => Some(s),
            Json::Number(n) => Some(n.to_string()),
            Json::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The whole value with every intrinsic replaced by what it resolves to (`Fn::If` takes its
    /// first branch, conditions are not evaluated).
    pub fn resolve_deep(&self, value: &Json) -> Json {
        let Json::Object(map) = value else {
            return match value {
                Json::Array(items) => Json::Array(items.iter().map(|i| self.resolve_deep(i)).collect()),
                other => other.clone(),
            };
        };
        if map.len() == 1 {
            let (key, arg) = map.iter().next().expect("one entry");
            let text = |v: &Json| self.resolve(v).unwrap_or_default();
            match key.as_str() {
                "Ref" => return arg.as_str().and_then(|n| self.reference(n)).map_or(Json::Null, Json::String),
                "Fn::GetAtt" => {
                    let parts: Vec<String> = match arg {
                        Json::Array(p) => p.iter().map(text).collect(),
                        Json::String(s) => s.splitn(2, '.').map(String::from).collect(),
                        _ => Vec::new(),
                    };
                    if let [logical, attribute] = parts.as_slice() {
                        return Json::String(self.get_att(logical, attribute));
                    }
                    return Json::Null;
                }
                "Fn::Sub" => {
                    let (template, vars) = match arg {
                        Json::Array(p) => (p.first().and_then(Json::as_str).unwrap_or_default(), p.get(1)),
                        Json::String(s) => (s.as_str(), None),
                        _ => ("", None),
                    };
                    return Json::String(self.substitute(template, vars));
                }
                "Fn::Join" => {
                    if let Json::Array(p) = arg
                        && let (Some(sep), Json::Array(items)) =
                            (p.first().and_then(Json::as_str), self.resolve_deep(p.get(1).unwrap_or(&Json::Null)))
                    {
                        let parts: Vec<String> = items.iter().map(text).collect();
                        return Json::String(parts.join(sep));
                    }
                    return Json::Null;
                }
                "Fn::If" => return arg.get(1).map_or(Json::Null, |v| self.resolve_deep(v)),
                "Fn::Select" => {
                    let index = arg.get(0).and_then(|i| text(i).parse::<usize>().ok()).unwrap_or(0);
                    return match self.resolve_deep(arg.get(1).unwrap_or(&Json::Null)) {
                        Json::Array(items) => items.get(index).cloned().unwrap_or(Json::Null),
                        _ => Json::Null,
                    };
                }
                "Fn::GetAZs" => {
                    return Json::Array(
                        ["a", "b", "c"].iter().map(|z| Json::String(format!("{}{z}", self.region))).collect(),
                    );
                }
                "Fn::ImportValue" | "Fn::Base64" | "Fn::FindInMap" | "Fn::Cidr" | "Fn::Split" => {
                    return Json::String(format!("{}-EXAMPLE", key.trim_start_matches("Fn::")));
                }
                _ => {}
            }
        }
        Json::Object(map.iter().map(|(k, v)| (k.clone(), self.resolve_deep(v))).collect())
    }

    fn substitute(&self, template: &str, vars: Option<&Json>) -> String {
        let re = regex::Regex::new(r"\$\{(!?)([A-Za-z0-9_:.]+)\}").expect("valid regex");
        re.replace_all(template, |caps: &regex::Captures<'_>| {
            let name = &caps[2];
            if &caps[1] == "!" {
                return format!("${{{name}}}");
            }
            if let Some(value) = vars.and_then(|v| v.get(name)) {
                return self.resolve(value).unwrap_or_default();
            }
            if let Some(value) = self.reference(name) {
                return value;
            }
            match name.split_once('.') {
                Some((logical, attribute)) if self.resources.contains_key(logical) => self.get_att(logical, attribute),
                _ => format!("{name}-EXAMPLE"),
            }
        })
        .into_owned()
    }
}

/// Every resource name that `value` references (`Ref`, `Fn::GetAtt`, `${X}` / `${X.Attr}` in `Fn::Sub`).
pub fn references(value: &Json, out: &mut Vec<String>) {
    let sub_names = regex::Regex::new(r"\$\{([A-Za-z0-9_]+)(\.[A-Za-z0-9_.]+)?\}").expect("valid regex");
    collect_references(value, &sub_names, out);
}

fn collect_references(value: &Json, sub_names: &regex::Regex, out: &mut Vec<String>) {
    match value {
        Json::Object(map) => {
            for (key, arg) in map {
                match (key.as_str(), arg) {
                    ("Ref", Json::String(name)) => out.push(name.clone()),
                    ("Fn::GetAtt", Json::Array(parts)) => {
                        out.extend(parts.first().and_then(Json::as_str).map(String::from));
                    }
                    ("Fn::Sub", sub) => {
                        let template = match sub {
                            Json::Array(p) => p.first().and_then(Json::as_str).unwrap_or_default(),
                            Json::String(s) => s,
                            _ => "",
                        };
                        out.extend(sub_names.captures_iter(template).map(|c| c[1].to_string()));
                        if let Json::Array(p) = sub {
                            p.iter().skip(1).for_each(|v| collect_references(v, sub_names, out));
                        }
                    }
                    _ => collect_references(arg, sub_names, out),
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|i| collect_references(i, sub_names, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::Template;

    fn env() -> Env {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../cloud/stack.yaml")).expect("stack");
        Env::new(&Template::parse(&text).expect("parses").document, "notes-app-dev", "us-east-1", &[])
    }

    #[test]
    fn names_ids_and_arns_look_like_a_real_deployment() {
        let env = env();
        assert_eq!(env.own_arns("SiteBucket"), ["arn:aws:s3:::notes-app-dev-sitebucket-example1a2b3c"]);
        assert_eq!(
            env.own_arns("ApiFunction"),
            ["arn:aws:lambda:us-east-1:123456789012:function:notes-app-dev-ApiFunction-EXAMPLE1A2B3C"]
        );
        // API Gateway invokes the live alias, so the permission is on the alias.
        assert_eq!(env.own_arns("ApiInvokePermission"), env.own_arns("ApiFunctionAlias"));
        assert_eq!(env.own_arns("ApiFunctionAlias"), [format!("{}:live", env.own_arns("ApiFunction")[0])]);
        assert_eq!(
            env.own_arns("ApiLogGroup"),
            ["arn:aws:logs:us-east-1:123456789012:log-group:/notes/notes-app-dev/lambda/api"]
        );
        assert_eq!(
            env.resolve(&serde_json::json!({"Fn::Sub": "${NotesTable.Arn}/index/*"})).as_deref(),
            Some("arn:aws:dynamodb:us-east-1:123456789012:table/notes-app-dev-NotesTable-EXAMPLE1A2B3C/index/*")
        );
        let alias = env.own_arns("DataKeyAlias");
        assert_eq!(alias[0], "arn:aws:kms:us-east-1:123456789012:alias/notes-app-dev-data");
        assert_eq!(alias[1], env.own_arns("DataKey")[0]);
        let mut refs = Vec::new();
        references(&serde_json::json!({"Fn::Sub": ["${A.Arn}/${B}${!C}", {"X": {"Ref": "D"}}]}), &mut refs);
        assert_eq!(refs, ["A", "B", "D"]);
    }
}
