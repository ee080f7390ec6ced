//! The IAM actions behind every AWS operation the xtask makes, and the deployment's resources each
//! acts on: the input of lint's check of the deployer policies against the tool's own calls
//! (`cloud/checks/deployer_calls.rs`).
//!
//! The table cannot drift from the code: a tidy test finds every SDK operation named under
//! `xtask/src` and requires an entry here (and no entry the code no longer calls), and every
//! end-to-end run checks the operations its call counter saw against this table.

/// A resource of the deployment, resolved to an ARN by the check's stand-in deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The stack (change sets are authorized on their stack).
    Stack,
    /// The artifact bucket `<stack>-artifacts-<account>-<region>`, and objects in it.
    ArtifactBucket,
    ArtifactObjects,
    /// The `SiteBucketName` output's bucket, and objects in it.
    SiteBucket,
    SiteObjects,
    /// The `AppDataBucketName` output's bucket (destroy empties it), and objects in it.
    DataBucket,
    DataObjects,
    /// The `DistributionId` output's distribution.
    Distribution,
    /// The `MigrateFunctionName` output's function.
    MigrateFunction,
    /// Every `AWS::RDS::DBInstance` of the template, and its final snapshot.
    Database,
    DatabaseSnapshot,
    /// The functions of the `*FunctionName` outputs (their aliases are authorized on them).
    Functions,
    /// The log groups of the `*LogGroupName` outputs (`logs`).
    LogGroups,
    /// The `CodeDeployApplicationName` output's application, and its deployment groups.
    CodeDeployApplication,
    DeploymentGroups,
    /// Every `AWS::CloudWatch::Alarm` of the template (`status`, a rollback's cause).
    Alarms,
    /// Actions that take no resource (`Resource: "*"`).
    Account,
}

/// One operation: `Service.Operation` as the call counter names it, and each IAM action it needs
/// with the resources it needs it on.
#[derive(Debug, Clone, Copy)]
pub struct Permission {
    pub operation: &'static str,
    pub needs: &'static [(&'static str, &'static [Target])],
    /// Why, where it is not obvious.
    pub note: &'static str,
}

/// An operation that needs one action.
macro_rules! p {
    ($operation:literal, $action:literal, $on:expr) => {
        Permission { operation: $operation, needs: &[($action, $on)], note: "" }
    };
}

use Target::*;

const BUCKETS: &[Target] = &[ArtifactBucket, SiteBucket, DataBucket];
const OBJECTS: &[Target] = &[ArtifactObjects, SiteObjects, DataObjects];

pub const PERMISSIONS: &[Permission] = &[
    p!("CloudFormation.DescribeStacks", "cloudformation:DescribeStacks", &[Stack]),
    p!("CloudFormation.DescribeStackEvents", "cloudformation:DescribeStackEvents", &[Stack]),
    p!("CloudFormation.GetTemplate", "cloudformation:GetTemplate", &[Stack]),
    p!("CloudFormation.ListStackResources", "cloudformation:ListStackResources", &[Stack]),
    Permission {
        operation: "CloudFormation.CreateChangeSet",
        needs: &[("cloudformation:CreateChangeSet", &[Stack]), ("s3:GetObject", &[ArtifactObjects])],
        note: "a template over 51,200 bytes goes by TemplateURL, which CloudFormation reads with the caller's permissions",
    },
    p!("CloudFormation.DescribeChangeSet", "cloudformation:DescribeChangeSet", &[Stack]),
    p!("CloudFormation.ExecuteChangeSet", "cloudformation:ExecuteChangeSet", &[Stack]),
    p!("CloudFormation.DeleteChangeSet", "cloudformation:DeleteChangeSet", &[Stack]),
    p!("CloudFormation.DeleteStack", "cloudformation:DeleteStack", &[Stack]),
    p!("CloudFormation.ContinueUpdateRollback", "cloudformation:ContinueUpdateRollback", &[Stack]),
    p!("CloudFront.CreateInvalidation", "cloudfront:CreateInvalidation", &[Distribution]),
    p!("CloudFront.GetInvalidation", "cloudfront:GetInvalidation", &[Distribution]),
    p!("Lambda.Invoke", "lambda:InvokeFunction", &[MigrateFunction]),
    p!("Lambda.GetAlias", "lambda:GetAlias", &[Functions]),
    p!("Lambda.GetFunctionConfiguration", "lambda:GetFunctionConfiguration", &[Functions]),
    p!("CloudWatchLogs.FilterLogEvents", "logs:FilterLogEvents", &[LogGroups]),
    p!("CodeDeploy.ListDeploymentGroups", "codedeploy:ListDeploymentGroups", &[CodeDeployApplication]),
    p!("CodeDeploy.GetDeploymentGroup", "codedeploy:GetDeploymentGroup", &[DeploymentGroups]),
    p!("CodeDeploy.ListDeployments", "codedeploy:ListDeployments", &[DeploymentGroups]),
    p!("CodeDeploy.BatchGetDeployments", "codedeploy:BatchGetDeployments", &[DeploymentGroups]),
    p!("CloudWatch.DescribeAlarms", "cloudwatch:DescribeAlarms", &[Alarms]),
    p!("Lambda.GetAccountSettings", "lambda:GetAccountSettings", &[Account]),
    Permission {
        operation: "IAM.ListOpenIDConnectProviders",
        needs: &[("iam:ListOpenIDConnectProviders", &[Account])],
        note: "bootstrap (an administrator runs it): is GitHub's provider there already",
    },
    p!("RDS.CreateDBSnapshot", "rds:CreateDBSnapshot", &[Database, DatabaseSnapshot]),
    p!("RDS.DescribeDBSnapshots", "rds:DescribeDBSnapshots", &[DatabaseSnapshot]),
    Permission { operation: "STS.GetCallerIdentity", needs: &[], note: "needs no permission: IAM cannot deny it" },
    p!("S3.CreateBucket", "s3:CreateBucket", &[ArtifactBucket]),
    p!("S3.GetBucketEncryption", "s3:GetEncryptionConfiguration", &[ArtifactBucket]),
    p!("S3.PutBucketEncryption", "s3:PutEncryptionConfiguration", &[ArtifactBucket]),
    p!("S3.GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration", &[ArtifactBucket]),
    p!("S3.PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration", &[ArtifactBucket]),
    p!("S3.GetBucketVersioning", "s3:GetBucketVersioning", &[ArtifactBucket]),
    p!("S3.PutBucketVersioning", "s3:PutBucketVersioning", &[ArtifactBucket]),
    p!("S3.GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock", &[ArtifactBucket]),
    p!("S3.PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock", &[ArtifactBucket]),
    Permission {
        operation: "S3.GetBucketPolicy",
        needs: &[("s3:GetBucketPolicy", BUCKETS)],
        note: "the artifact bucket's TLS-only policy; destroy's write denial on the site and data buckets",
    },
    p!("S3.PutBucketPolicy", "s3:PutBucketPolicy", BUCKETS),
    p!("S3.ListObjectsV2", "s3:ListBucket", &[ArtifactBucket, SiteBucket]),
    p!("S3.HeadObject", "s3:GetObject", &[ArtifactObjects, SiteObjects]),
    p!("S3.GetObject", "s3:GetObject", &[ArtifactObjects]),
    p!("S3.PutObject", "s3:PutObject", &[ArtifactObjects, SiteObjects]),
    Permission {
        operation: "S3.DeleteObjects",
        needs: &[("s3:DeleteObject", OBJECTS), ("s3:DeleteObjectVersion", OBJECTS)],
        note: "one action per key deleted; with version ids (emptying a versioned bucket) DeleteObjectVersion",
    },
    Permission {
        operation: "S3.DeleteObject",
        needs: &[("s3:DeleteObject", &[ArtifactObjects])],
        note: "the deploy lock's conditional removal (If-Match), by its holder or --break-lock",
    },
    p!("S3.ListObjectVersions", "s3:ListBucketVersions", &[SiteBucket, DataBucket]),
    p!("S3.ListMultipartUploads", "s3:ListBucketMultipartUploads", &[SiteBucket, DataBucket]),
    p!("S3.AbortMultipartUpload", "s3:AbortMultipartUpload", &[SiteObjects, DataObjects]),
];

/// The entry for `operation` (`Service.Operation`), if there is one.
pub fn of(operation: &str) -> Option<&'static Permission> {
    PERMISSIONS.iter().find(|p| p.operation == operation)
}
