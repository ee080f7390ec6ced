//! Check 2, the tool's own calls: every AWS operation the xtask makes (deploy, sync, destroy,
//! repair, migrate, outputs; the table in [`crate::aws::permissions`], kept complete by tests) maps
//! to IAM actions, and the deployer policies allow each one on the resources it acts on, resolved
//! in the stand-in deployment (the stack, its buckets from the outputs, the artifact bucket, the
//! distribution, the migration function, the databases and their final snapshots).

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::CheckReport;
use super::model::Env;
use super::policy::{self, Statement};
use crate::artifacts::bucket::artifact_bucket_name;
use crate::aws::permissions::{Permission, Target};

pub const NAME: &str = "deployer calls";

/// The ARNs `target` stands for in `env` (empty when the template has no such resource).
fn arns(target: Target, template: &Json, env: &Env) -> Vec<String> {
    let output = |name: &str| template.pointer(&format!("/Outputs/{name}/Value")).and_then(|v| env.resolve(v));
    let bucket = |name: Option<String>| name.map(|b| format!("arn:{}:s3:::{b}", env.partition));
    let objects = |name: Option<String>| name.map(|b| format!("arn:{}:s3:::{b}/example-key", env.partition));
    let artifact = || Some(artifact_bucket_name(&env.stack_name, &env.account, &env.region));
    let of_type = |kind: &str| -> Vec<String> {
        template
            .get("Resources")
            .and_then(Json::as_object)
            .into_iter()
            .flatten()
            .filter(|(_, r)| r.get("Type").and_then(Json::as_str) == Some(kind))
            .map(|(logical, _)| logical.clone())
            .collect()
    };
    let outputs_ending = |suffix: &str| -> Vec<String> {
        template
            .get("Outputs")
            .and_then(Json::as_object)
            .into_iter()
            .flatten()
            .filter(|(name, _)| name.ends_with(suffix))
            .filter_map(|(_, o)| o.get("Value").and_then(|v| env.resolve(v)))
            .collect()
    };
    let regional =
        |service: &str, rest: String| format!("arn:{}:{service}:{}:{}:{rest}", env.partition, env.region, env.account);
    let application = output("CodeDeployApplicationName");
    let rds = |rest: String| format!("arn:{}:rds:{}:{}:{rest}", env.partition, env.region, env.account);
    match target {
        Target::Stack => vec![format!(
            "arn:{}:cloudformation:{}:{}:stack/{}/11111111-2222-3333-4444-555555555555",
            env.partition, env.region, env.account, env.stack_name
        )],
        Target::ArtifactBucket => bucket(artifact()).into_iter().collect(),
        Target::ArtifactObjects => objects(artifact()).into_iter().collect(),
        Target::SiteBucket => bucket(output("SiteBucketName")).into_iter().collect(),
        Target::SiteObjects => objects(output("SiteBucketName")).into_iter().collect(),
        Target::DataBucket => bucket(output("AppDataBucketName")).into_iter().collect(),
        Target::DataObjects => objects(output("AppDataBucketName")).into_iter().collect(),
        Target::Distribution => output("DistributionId")
            .map(|id| format!("arn:{}:cloudfront::{}:distribution/{id}", env.partition, env.account))
            .into_iter()
            .collect(),
        Target::MigrateFunction => output("MigrateFunctionName")
            .map(|name| format!("arn:{}:lambda:{}:{}:function:{name}", env.partition, env.region, env.account))
            .into_iter()
            .collect(),
        Target::Functions => {
            outputs_ending("FunctionName").into_iter().map(|f| regional("lambda", format!("function:{f}"))).collect()
        }
        Target::LogGroups => {
            outputs_ending("LogGroupName").into_iter().map(|g| regional("logs", format!("log-group:{g}"))).collect()
        }
        Target::CodeDeployApplication => {
            application.iter().map(|a| regional("codedeploy", format!("application:{a}"))).collect()
        }
        Target::DeploymentGroups => match &application {
            Some(app) => of_type("AWS::CodeDeploy::DeploymentGroup")
                .iter()
                .map(|g| regional("codedeploy", format!("deploymentgroup:{app}/{}", env.physical_id(g))))
                .collect(),
            None => Vec::new(),
        },
        Target::Alarms => of_type("AWS::CloudWatch::Alarm")
            .iter()
            .map(|a| regional("cloudwatch", format!("alarm:{}", env.physical_id(a))))
            .collect(),
        Target::Database => of_type("AWS::RDS::DBInstance")
            .iter()
            .map(|l| env.physical_id(l))
            .map(|db| rds(format!("db:{db}")))
            .collect(),
        Target::DatabaseSnapshot => of_type("AWS::RDS::DBInstance")
            .iter()
            .map(|l| rds(format!("snapshot:{}-final-20261202", env.physical_id(l))))
            .collect(),
        Target::Account => vec!["*".into()],
    }
}

/// Whether the statements allow `action` on `arn`: an Allow that matches both (conditions are not
/// evaluated: a conditional grant counts) and no unconditional Deny.
fn allowed(statements: &[Statement<'_>], action: &str, arn: &str) -> bool {
    let covers = |s: &Statement<'_>| policy::resource_matches(s, arn);
    let denied = statements.iter().any(|s| {
        !s.allow && !s.has_condition && s.actions.iter().any(|p| policy::action_matches(p, action)) && covers(s)
    });
    !denied && policy::granting(statements, action).into_iter().any(covers)
}

/// Check 2. `policies` are the deployer policy files (name, document).
pub fn deployer_calls(
    template: &Json,
    policies: &[(String, Json)],
    permissions: &[Permission],
    env: &Env,
) -> CheckReport {
    let statements: Vec<Statement<'_>> =
        policies.iter().flat_map(|(name, doc)| policy::statements(name, doc)).collect();
    let mut problems = Vec::new();
    let mut actions = BTreeSet::new();
    for permission in permissions {
        for (action, on) in permission.needs {
            actions.insert(*action);
            for target in *on {
                for arn in arns(*target, template, env) {
                    if !allowed(&statements, action, &arn) {
                        problems.push(format!(
                            "{} ({target:?}): no deployer policy allows {action} on {arn}",
                            permission.operation
                        ));
                    }
                }
            }
        }
    }
    CheckReport {
        name: NAME,
        compared: format!(
            "{} operations of the xtask, {} actions vs {} deployer policies",
            permissions.len(),
            actions.len(),
            policies.len()
        ),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::aws::permissions::PERMISSIONS;
    use crate::cloud::checks::files::Inputs;

    #[allow(clippy::needless_pass_by_value)] // expect![] builds the value at each call
    fn check(inputs: &Inputs, expect: expect_test::Expect) {
        let report = deployer_calls(&inputs.template, &inputs.deployer_policies, PERMISSIONS, &inputs.env);
        expect.assert_eq(&report.render());
    }

    /// The deployer policies with `action` taken out of every statement.
    fn without(action: &str) -> Inputs {
        let mut inputs = Inputs::load_repo();
        for (_, doc) in &mut inputs.deployer_policies {
            for statement in doc["Statement"].as_array_mut().into_iter().flatten() {
                if let Some(list) = statement["Action"].as_array_mut() {
                    list.retain(|a| a != action);
                }
            }
        }
        inputs
    }

    #[test]
    fn the_deployer_policies_allow_every_call_of_the_tool() {
        check(
            &Inputs::load_repo(),
            expect!["deployer calls: 46 operations of the xtask, 44 actions vs 5 deployer policies: 0 missing"],
        );
    }

    #[test]
    fn every_target_stands_for_resources_of_the_repositorys_template() {
        // A target resolving to nothing would pass the check without checking anything.
        let inputs = Inputs::load_repo();
        for permission in PERMISSIONS {
            for (action, on) in permission.needs {
                for target in *on {
                    let found = arns(*target, &inputs.template, &inputs.env);
                    assert!(!found.is_empty(), "{} {action}: {target:?} resolves to no ARN", permission.operation);
                }
            }
        }
    }

    #[test]
    fn todays_defects_are_named_with_the_operation_and_the_resource() {
        check(
            &without("s3:ListBucketMultipartUploads"),
            expect![[r#"
                deployer calls: 46 operations of the xtask, 44 actions vs 5 deployer policies: 2 missing
                  S3.ListMultipartUploads (SiteBucket): no deployer policy allows s3:ListBucketMultipartUploads on arn:aws:s3:::notes-app-dev-sitebucket-example1a2b3c
                  S3.ListMultipartUploads (DataBucket): no deployer policy allows s3:ListBucketMultipartUploads on arn:aws:s3:::notes-app-dev-appdatabucket-example1a2b3c"#]],
        );
        check(
            &without("cloudformation:ContinueUpdateRollback"),
            expect![[r#"
                deployer calls: 46 operations of the xtask, 44 actions vs 5 deployer policies: 1 missing
                  CloudFormation.ContinueUpdateRollback (Stack): no deployer policy allows cloudformation:ContinueUpdateRollback on arn:aws:cloudformation:us-east-1:123456789012:stack/notes-app-dev/11111111-2222-3333-4444-555555555555"#]],
        );
    }

    #[test]
    fn a_grant_on_the_wrong_resources_is_missing_too() {
        let mut inputs = Inputs::load_repo();
        // The object statement scoped to another prefix: the site sync's PutObject is no longer covered.
        for (_, doc) in &mut inputs.deployer_policies {
            for statement in doc["Statement"].as_array_mut().into_iter().flatten() {
                if statement["Sid"] == "S3SiteSyncArtifactsAndEmptying" {
                    statement["Resource"] = serde_json::json!(["arn:aws:s3:::other-*/*"]);
                }
            }
        }
        let report = deployer_calls(&inputs.template, &inputs.deployer_policies, PERMISSIONS, &inputs.env);
        assert!(
            report.problems.iter().any(|p| p.starts_with("S3.PutObject (SiteObjects): no deployer policy allows s3:PutObject on arn:aws:s3:::notes-app-dev-sitebucket")),
            "{}",
            report.render()
        );
    }
}
