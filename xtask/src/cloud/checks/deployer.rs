//! The deployer policy (`cloud/deployer-policy.json`): valid identity-policy grammar, explicit
//! actions, sized for IAM managed policies, and covering what every resource type of the template
//! needs to be created, updated and deleted.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::consistency::{actions, is_wildcard_action};
use crate::cloud::Template;

/// IAM managed policies hold at most this many characters (whitespace not counted).
pub const MANAGED_POLICY_MAX_CHARS: usize = 6144;

/// `cloud/deployer-policy.json` is too large for one managed policy: statements `..SPLIT` go into
/// the first, `SPLIT..` into the second (cloud/README.md shows the commands).
pub const DEPLOYER_POLICY_SPLIT: usize = 12;

/// The actions a deployer needs at least to create, update and delete each resource type of the
/// template. A resource type missing here is itself a problem: add its actions when adding it.
pub const DEPLOYER_ACTIONS: &[(&str, &[&str])] = &[
    ("AWS::ApiGateway::Account", &["apigateway:GET", "apigateway:PATCH", "iam:PassRole"]),
    ("AWS::ApiGateway::Authorizer", &["apigateway:POST", "apigateway:DELETE"]),
    ("AWS::ApiGateway::BasePathMapping", &["apigateway:POST", "apigateway:DELETE"]),
    ("AWS::ApiGateway::Deployment", &["apigateway:POST", "apigateway:DELETE"]),
    ("AWS::ApiGateway::DomainName", &["apigateway:POST", "apigateway:DELETE", "acm:DescribeCertificate"]),
    ("AWS::ApiGateway::GatewayResponse", &["apigateway:PUT", "apigateway:DELETE"]),
    ("AWS::ApiGateway::Method", &["apigateway:PUT", "apigateway:DELETE"]),
    ("AWS::ApiGateway::Resource", &["apigateway:POST", "apigateway:DELETE"]),
    ("AWS::ApiGateway::RestApi", &["apigateway:POST", "apigateway:PATCH", "apigateway:DELETE"]),
    ("AWS::ApiGateway::Stage", &["apigateway:POST", "apigateway:PATCH", "apigateway:DELETE"]),
    (
        "AWS::CloudFront::Distribution",
        &[
            "cloudfront:CreateDistribution",
            "cloudfront:UpdateDistribution",
            "cloudfront:DeleteDistribution",
            "cloudfront:GetDistribution",
            "s3:PutBucketAcl",
        ],
    ),
    (
        "AWS::CloudFront::OriginAccessControl",
        &["cloudfront:CreateOriginAccessControl", "cloudfront:DeleteOriginAccessControl"],
    ),
    (
        "AWS::CloudFront::ResponseHeadersPolicy",
        &["cloudfront:CreateResponseHeadersPolicy", "cloudfront:DeleteResponseHeadersPolicy"],
    ),
    (
        "AWS::Cognito::UserPool",
        &["cognito-idp:CreateUserPool", "cognito-idp:UpdateUserPool", "cognito-idp:DeleteUserPool"],
    ),
    ("AWS::Cognito::UserPoolClient", &["cognito-idp:CreateUserPoolClient", "cognito-idp:DeleteUserPoolClient"]),
    ("AWS::Cognito::UserPoolDomain", &["cognito-idp:CreateUserPoolDomain", "cognito-idp:DeleteUserPoolDomain"]),
    (
        "AWS::DynamoDB::Table",
        &["dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateContinuousBackups", "dynamodb:DeleteTable"],
    ),
    ("AWS::EC2::EIP", &["ec2:AllocateAddress", "ec2:ReleaseAddress"]),
    ("AWS::EC2::FlowLog", &["ec2:CreateFlowLogs", "ec2:DeleteFlowLogs", "logs:CreateLogDelivery"]),
    ("AWS::EC2::InternetGateway", &["ec2:CreateInternetGateway", "ec2:DeleteInternetGateway"]),
    ("AWS::EC2::NatGateway", &["ec2:CreateNatGateway", "ec2:DeleteNatGateway"]),
    ("AWS::EC2::Route", &["ec2:CreateRoute", "ec2:DeleteRoute"]),
    ("AWS::EC2::RouteTable", &["ec2:CreateRouteTable", "ec2:DeleteRouteTable"]),
    (
        "AWS::EC2::SecurityGroup",
        &[
            "ec2:CreateSecurityGroup",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:DeleteSecurityGroup",
        ],
    ),
    ("AWS::EC2::SecurityGroupEgress", &["ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress"]),
    ("AWS::EC2::SecurityGroupIngress", &["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"]),
    ("AWS::EC2::Subnet", &["ec2:CreateSubnet", "ec2:DeleteSubnet"]),
    ("AWS::EC2::SubnetRouteTableAssociation", &["ec2:AssociateRouteTable", "ec2:DisassociateRouteTable"]),
    ("AWS::EC2::VPC", &["ec2:CreateVpc", "ec2:ModifyVpcAttribute", "ec2:DeleteVpc"]),
    ("AWS::EC2::VPCEndpoint", &["ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints"]),
    ("AWS::EC2::VPCGatewayAttachment", &["ec2:AttachInternetGateway", "ec2:DetachInternetGateway"]),
    (
        "AWS::ElastiCache::ReplicationGroup",
        &[
            "elasticache:CreateReplicationGroup",
            "elasticache:DescribeReplicationGroups",
            "elasticache:DeleteReplicationGroup",
        ],
    ),
    ("AWS::ElastiCache::SubnetGroup", &["elasticache:CreateCacheSubnetGroup", "elasticache:DeleteCacheSubnetGroup"]),
    ("AWS::ElastiCache::User", &["elasticache:CreateUser", "elasticache:DeleteUser"]),
    ("AWS::ElastiCache::UserGroup", &["elasticache:CreateUserGroup", "elasticache:DeleteUserGroup"]),
    ("AWS::IAM::ManagedPolicy", &["iam:CreatePolicy", "iam:DeletePolicy"]),
    (
        "AWS::IAM::Role",
        &[
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "iam:AttachRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:DetachRolePolicy",
            "iam:DeleteRole",
        ],
    ),
    ("AWS::KMS::Alias", &["kms:CreateAlias", "kms:DeleteAlias"]),
    ("AWS::KMS::Key", &["kms:CreateKey", "kms:PutKeyPolicy", "kms:EnableKeyRotation", "kms:ScheduleKeyDeletion"]),
    ("AWS::Lambda::EventSourceMapping", &["lambda:CreateEventSourceMapping", "lambda:DeleteEventSourceMapping"]),
    (
        "AWS::Lambda::Function",
        &[
            "lambda:CreateFunction",
            "lambda:UpdateFunctionCode",
            "lambda:PutFunctionConcurrency",
            "lambda:DeleteFunction",
            "iam:PassRole",
        ],
    ),
    ("AWS::Lambda::Permission", &["lambda:AddPermission", "lambda:RemovePermission"]),
    (
        "AWS::Logs::LogGroup",
        &["logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:AssociateKmsKey", "logs:DeleteLogGroup"],
    ),
    (
        "AWS::RDS::DBInstance",
        &[
            "rds:CreateDBInstance",
            "rds:ModifyDBInstance",
            "rds:DeleteDBInstance",
            "rds:CreateDBSnapshot",
            "secretsmanager:CreateSecret",
        ],
    ),
    (
        "AWS::RDS::DBParameterGroup",
        &["rds:CreateDBParameterGroup", "rds:ModifyDBParameterGroup", "rds:DeleteDBParameterGroup"],
    ),
    ("AWS::RDS::DBSubnetGroup", &["rds:CreateDBSubnetGroup", "rds:DeleteDBSubnetGroup"]),
    ("AWS::Route53::RecordSet", &["route53:ChangeResourceRecordSets", "route53:GetChange"]),
    (
        "AWS::S3::Bucket",
        &["s3:CreateBucket", "s3:PutEncryptionConfiguration", "s3:PutBucketPublicAccessBlock", "s3:DeleteBucket"],
    ),
    ("AWS::S3::BucketPolicy", &["s3:PutBucketPolicy", "s3:DeleteBucketPolicy"]),
    ("AWS::SQS::Queue", &["sqs:CreateQueue", "sqs:SetQueueAttributes", "sqs:DeleteQueue"]),
    ("AWS::SQS::QueuePolicy", &["sqs:SetQueueAttributes"]),
];

/// The deployer policy is an identity policy in valid grammar, lists its actions explicitly, fits
/// into two managed policies, and allows at least [`DEPLOYER_ACTIONS`] of every resource type used.
pub fn check_deployer_policy(template: &Template, policy: &Json) -> Vec<String> {
    let mut problems = Vec::new();
    let file = "deployer-policy.json";
    let Some(doc) = policy.as_object() else {
        return vec![format!("{file}: not a JSON object")];
    };
    for key in doc.keys() {
        if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
            problems.push(format!("{file}: unexpected top-level key {key:?}"));
        }
    }
    if doc.get("Version").and_then(Json::as_str) != Some("2012-10-17") {
        problems.push(format!("{file}: Version must be \"2012-10-17\""));
    }
    let statements = match doc.get("Statement") {
        Some(Json::Array(s)) if !s.is_empty() => s.clone(),
        _ => {
            problems.push(format!("{file}: Statement must be a non-empty list"));
            Vec::new()
        }
    };
    let action_re = regex::Regex::new(r"^[a-z0-9-]+:[A-Za-z0-9*?]+$").expect("valid regex");
    let mut allowed = Vec::new();
    let mut sids = BTreeSet::new();
    for (index, statement) in statements.iter().enumerate() {
        let at = format!("{file}: statement {}", index + 1);
        let Some(statement) = statement.as_object() else {
            problems.push(format!("{at} is not an object"));
            continue;
        };
        for key in statement.keys() {
            if !matches!(
                key.as_str(),
                "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource" | "Condition"
            ) {
                problems.push(format!("{at}: key {key:?} does not belong in an identity policy statement"));
            }
        }
        if let Some(sid) = statement.get("Sid") {
            match sid.as_str() {
                Some(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()) => {
                    if !sids.insert(s.to_string()) {
                        problems.push(format!("{at}: duplicate Sid {s}"));
                    }
                }
                _ => problems.push(format!("{at}: Sid must be alphanumeric")),
            }
        }
        let effect = statement.get("Effect").and_then(Json::as_str);
        if !matches!(effect, Some("Allow" | "Deny")) {
            problems.push(format!("{at}: Effect must be Allow or Deny"));
        }
        match (statement.get("Action"), statement.get("NotAction")) {
            (Some(_), Some(_)) | (None, None) => {
                problems.push(format!("{at}: needs exactly one of Action and NotAction"));
            }
            (_, Some(_)) => problems.push(format!("{at}: NotAction is not least privilege")),
            (Some(value), None) => {
                let list = actions(Some(value));
                if list.is_empty() || !string_or_strings(value) {
                    problems.push(format!("{at}: Action must be a string or a non-empty list of strings"));
                }
                for action in &list {
                    if !action_re.is_match(action) {
                        problems.push(format!("{at}: {action:?} is not a service:Action name"));
                    } else if is_wildcard_action(action) {
                        problems.push(format!("{at}: wildcard action {action:?}"));
                    }
                }
                if effect == Some("Allow") {
                    allowed.extend(list);
                }
            }
        }
        match (statement.get("Resource"), statement.get("NotResource")) {
            (Some(value), None) if string_or_strings(value) => {}
            (Some(_), None) => problems.push(format!("{at}: Resource must be a string or a non-empty list of strings")),
            _ => problems.push(format!("{at}: needs Resource (and no NotResource)")),
        }
        if let Some(condition) = statement.get("Condition")
            && !condition.as_object().is_some_and(|c| c.values().all(Json::is_object))
        {
            problems.push(format!("{at}: Condition must map operators to {{key: value}} objects"));
        }
    }

    // Coverage: every resource type of the template, with the actions it needs at least.
    let kinds: BTreeSet<&str> = template.resources.values().map(|r| r.kind.as_str()).collect();
    for kind in kinds {
        let Some((_, needed)) = DEPLOYER_ACTIONS.iter().find(|(k, _)| *k == kind) else {
            problems.push(format!(
                "{kind} is used by the template but template::DEPLOYER_ACTIONS does not say which actions deploy it"
            ));
            continue;
        };
        for action in *needed {
            if !allowed.iter().any(|pattern| action_matches(pattern, action)) {
                problems.push(format!("{file} does not allow {action}, needed for {kind}"));
            }
        }
    }

    // Size: two managed policies, split at DEPLOYER_POLICY_SPLIT.
    if statements.len() > DEPLOYER_POLICY_SPLIT {
        for (part, slice) in [(1, &statements[..DEPLOYER_POLICY_SPLIT]), (2, &statements[DEPLOYER_POLICY_SPLIT..])] {
            let doc = serde_json::json!({"Version": "2012-10-17", "Statement": slice});
            let chars =
                serde_json::to_string(&doc).expect("serialisable").chars().filter(|c| !c.is_whitespace()).count();
            if chars > MANAGED_POLICY_MAX_CHARS {
                problems.push(format!(
                    "{file}: part {part} is {chars} characters; an IAM managed policy holds {MANAGED_POLICY_MAX_CHARS} (move DEPLOYER_POLICY_SPLIT or trim)"
                ));
            }
        }
    }
    problems
}

fn string_or_strings(value: &Json) -> bool {
    match value {
        Json::String(s) => !s.is_empty(),
        Json::Array(items) => !items.is_empty() && items.iter().all(|i| i.as_str().is_some_and(|s| !s.is_empty())),
        _ => false,
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
