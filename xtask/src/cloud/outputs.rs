//! The stack's outputs as a typed struct: the one reader of what the template promises the tool
//! (deploy, sync, destroy, outputs and the site's config.json read these fields, never strings).
//! Lint checks that the template declares every one of them, unconditionally.

use std::collections::BTreeMap;

/// What DescribeStacks reports as outputs. A field is `None` when the stack does not declare it
/// (the moto test stack, say); each reader says what it skips without it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackOutputs {
    pub site_bucket_name: Option<String>,
    pub distribution_id: Option<String>,
    pub distribution_domain_name: Option<String>,
    pub site_url: Option<String>,
    pub api_url: Option<String>,
    pub user_pool_id: Option<String>,
    pub user_pool_client_id: Option<String>,
    pub cognito_domain: Option<String>,
    pub notes_table_name: Option<String>,
    pub app_data_bucket_name: Option<String>,
    pub api_function_name: Option<String>,
    pub activity_function_name: Option<String>,
    pub migrate_function_name: Option<String>,
    /// The migrate function's `live` alias (ARN): what the deploy invokes.
    pub migrate_function_alias: Option<String>,
    /// The CodeDeploy application whose traffic shifts the deploy follows.
    pub codedeploy_application_name: Option<String>,
    pub region: Option<String>,
    /// Every output by name, those above included (`cargo xtask outputs` prints them all).
    pub all: BTreeMap<String, String>,
}

type Field = fn(&mut StackOutputs) -> &mut Option<String>;

/// Output name -> field. The single list of the outputs the tool relies on.
const FIELDS: &[(&str, Field)] = &[
    ("SiteBucketName", |o| &mut o.site_bucket_name),
    ("DistributionId", |o| &mut o.distribution_id),
    ("DistributionDomainName", |o| &mut o.distribution_domain_name),
    ("SiteUrl", |o| &mut o.site_url),
    ("ApiUrl", |o| &mut o.api_url),
    ("UserPoolId", |o| &mut o.user_pool_id),
    ("UserPoolClientId", |o| &mut o.user_pool_client_id),
    ("CognitoDomain", |o| &mut o.cognito_domain),
    ("NotesTableName", |o| &mut o.notes_table_name),
    ("AppDataBucketName", |o| &mut o.app_data_bucket_name),
    ("ApiFunctionName", |o| &mut o.api_function_name),
    ("ActivityFunctionName", |o| &mut o.activity_function_name),
    ("MigrateFunctionName", |o| &mut o.migrate_function_name),
    ("MigrateFunctionAlias", |o| &mut o.migrate_function_alias),
    ("CodeDeployApplicationName", |o| &mut o.codedeploy_application_name),
    ("Region", |o| &mut o.region),
];

impl StackOutputs {
    pub fn from_map(all: BTreeMap<String, String>) -> StackOutputs {
        let mut outputs = StackOutputs::default();
        for (name, field) in FIELDS {
            *field(&mut outputs) = all.get(*name).cloned();
        }
        outputs.all = all;
        outputs
    }

    /// The output names the tool reads: the template must declare each.
    pub fn names() -> impl Iterator<Item = &'static str> {
        FIELDS.iter().map(|(name, _)| *name)
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_read_by_name_and_kept_whole() {
        let all = BTreeMap::from([
            ("SiteBucketName".to_string(), "site".to_string()),
            ("Extra".to_string(), "x".to_string()),
        ]);
        let outputs = StackOutputs::from_map(all.clone());
        assert_eq!(outputs.site_bucket_name.as_deref(), Some("site"));
        assert_eq!(outputs.distribution_id, None);
        assert_eq!(outputs.all, all);
        assert_eq!(StackOutputs::names().count(), 16);
    }
}
