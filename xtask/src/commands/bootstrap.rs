//! `cargo xtask bootstrap [--env NAME]`: the environment's bootstrap stack
//! (`cloud/bootstrap.yaml`, rendered by `cloud::bootstrap`): the artifact bucket, GitHub's OIDC
//! provider unless the account has one, and the deploy role trusting exactly
//! `repo:<owner>/<repo>:environment:<env>`. An administrator runs it once per environment (the
//! deploy role cannot create itself); a rerun is read-only; `--destroy` empties the bucket and
//! deletes the stack. `destroy` never touches this stack.

use std::collections::BTreeMap;

use crate::Ctx;
use crate::artifacts::bucket::artifact_bucket_name;
use crate::aws::cfn::{self, StackState};
use crate::aws::s3::{self, Bucket};
use crate::aws::{Aws, Clients, TimeoutArgs, block_on};
use crate::cloud::bootstrap::{self as template, GITHUB_OIDC_HOST};
use crate::cloud::{Template, parameters};
use crate::error::Refusal;
use crate::report::{Ui, human_bytes};
use crate::settings::{Setting, Source, refuse_placeholder};
use crate::stack::update;

/// Deploy the environment's bootstrap stack: artifact bucket, GitHub OIDC provider, deploy role
#[derive(clap::Args, Debug)]
pub struct Bootstrap {
    /// GitHub repository whose environment may assume the deploy role [deploy.toml: github.repository]
    #[arg(long, value_name = "OWNER/REPO")]
    pub github_repo: Option<String>,
    /// Delete the bootstrap stack instead: empty the artifact bucket (every version), then delete it
    #[arg(long)]
    pub destroy: bool,
    /// With --destroy: do not ask for the stack name
    #[arg(long)]
    pub yes: bool,
    /// Print the summary as JSON on stdout (progress stays on stderr)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub timeout: TimeoutArgs,
}

/// What the preflight established without touching AWS.
struct Local {
    /// The main stack (names the bucket) and its bootstrap stack.
    stack: String,
    bootstrap: String,
    /// The GitHub environment: `--env`'s name, else the environment setting.
    environment: String,
}

impl Bootstrap {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let ui = Ui::new("bootstrap", false);
        let (local, aws) = ui.preflight(|| {
            let settings = ctx.settings()?;
            settings.refuse_placeholders()?;
            let stack = settings.stack_name()?.to_string();
            let environment = settings.env.as_ref().unwrap_or(&settings.environment).value.clone();
            let bootstrap = template::stack_name(&stack);
            let local = Local { stack, bootstrap, environment };
            let detail = format!("stack {} for {} (environment {})", local.bootstrap, local.stack, local.environment);
            Ok(((local, Aws::connect(ctx)?), detail))
        })?;
        ui.with(|s| {
            s.stack = Some(local.bootstrap.clone());
            s.region = aws.region().to_string();
        });
        let result = if self.destroy {
            block_on(self.destroy(&aws, &local, &ui))
        } else {
            let repository = self.repository(ctx)?;
            let rendered = template::render(&ctx.root)?;
            block_on(self.deploy(&aws, &local, &repository, &rendered, &ui))
        };
        ui.conclude(result, self.json)
    }

    /// `--github-repo`, else deploy.toml's `[github].repository`; `owner/repo`, no placeholder.
    fn repository(&self, ctx: &Ctx) -> anyhow::Result<Setting> {
        let setting = match &self.github_repo {
            Some(value) => Some(Setting { value: value.clone(), source: Source::Flag("--github-repo") }),
            None => ctx.settings()?.github_repository,
        };
        let Some(setting) = setting else {
            return Err(Refusal::new(
                "no GitHub repository is configured: the deploy role trusts one repository's environment",
                "pass --github-repo OWNER/REPO, or set repository = \"OWNER/REPO\" under [github] in deploy.toml",
            )
            .into());
        };
        refuse_placeholder(&setting.source.to_string(), &setting.value, true)?;
        let valid = setting.value.split_once('/').is_some_and(|(owner, repo)| {
            let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            ok(owner) && ok(repo)
        });
        if !valid {
            return Err(Refusal::new(
                format!("{} is {:?}, not OWNER/REPO", setting.source, setting.value),
                "give the repository as GitHub shows it in its URL, e.g. octo-org/notes-app",
            )
            .into());
        }
        Ok(setting)
    }

    async fn deploy(
        &self,
        aws: &Aws,
        local: &Local,
        repository: &Setting,
        rendered: &Template,
        ui: &Ui,
    ) -> anyhow::Result<()> {
        let c = Clients::new(aws, self.timeout.deadline());
        let (account, state) = credentials(&c, local, ui).await?;
        let bucket = Bucket::new(artifact_bucket_name(&local.stack, &account, aws.region()), &account);
        if state.is_none() && s3::list_keys(&c, &bucket, "").await?.is_some() {
            // CloudFormation cannot create a bucket whose name is taken, and would roll back.
            return Err(Refusal::new(
                format!("the artifact bucket {bucket} exists already (a deploy before any bootstrap made it)"),
                format!(
                    "bootstrap creates it in its own stack: remove it first (aws s3 rb s3://{} --force; the next deploy uploads the zips again), then rerun",
                    bucket.name
                ),
            )
            .into());
        }
        let create_oidc = ui
            .phase("oidc provider", async {
                let create = create_oidc_provider(&c, state.as_ref()).await?;
                let detail = match create {
                    true if state.is_some() => "created by this stack, kept".to_string(),
                    true => format!("none for {GITHUB_OIDC_HOST} in the account: the stack creates it"),
                    false => format!("{GITHUB_OIDC_HOST} exists in the account: reused"),
                };
                Ok((create, detail))
            })
            .await?;
        let effective = BTreeMap::from([
            (template::BUCKET_PARAMETER.to_string(), bucket.name.clone()),
            (template::REPOSITORY_PARAMETER.to_string(), repository.value.clone()),
            (template::ENVIRONMENT_PARAMETER.to_string(), local.environment.clone()),
            (template::CREATE_OIDC_PARAMETER.to_string(), create_oidc.to_string()),
        ]);
        parameters::check_effective(rendered, &effective, template::TEMPLATE_FILE)?;
        let request = update::Request {
            stack_name: &local.bootstrap,
            template: rendered,
            effective: &effective,
            state: state.as_ref(),
            artifact_bucket: &bucket,
            mode: update::Mode::Deploy,
            confirm: false,
        };
        let outcome = ui.phase("stack", update::run(&c, &request, ui)).await?;
        let output = |name: &str| outcome.outputs.all.get(name).cloned().unwrap_or_else(|| "-".into());
        ui.note(format!("artifact bucket: {}", output(template::BUCKET_OUTPUT)));
        ui.note(format!(
            "deploy role: {} (trusts repo:{}:environment:{})",
            output(template::ROLE_OUTPUT),
            repository.value,
            local.environment
        ));
        Ok(())
    }

    async fn destroy(&self, aws: &Aws, local: &Local, ui: &Ui) -> anyhow::Result<()> {
        let c = Clients::new(aws, self.timeout.deadline());
        let (account, state) = credentials(&c, local, ui).await?;
        let Some(state) = state else {
            ui.note(format!("{} does not exist: nothing to delete", local.bootstrap));
            return Ok(());
        };
        let name = state.outputs.all.get(template::BUCKET_OUTPUT).cloned();
        let name = name.unwrap_or_else(|| artifact_bucket_name(&local.stack, &account, aws.region()));
        let bucket = Bucket::new(name, &account);
        if !self.yes {
            eprintln!(
                "This deletes {} and empties {bucket} (every artifact, release record and version).",
                local.bootstrap
            );
            let typed = ui.ask("Type the bootstrap stack name to confirm:", "pass --yes to delete without asking")?;
            if typed != local.bootstrap {
                return Err(Refusal::new(
                    "bootstrap --destroy cancelled: the name typed is not the stack name",
                    "type it exactly, or pass --yes",
                )
                .into());
            }
        }
        ui.phase("empty bucket", async {
            let detail = match s3::empty_bucket(&c, &bucket, 16).await? {
                Some(e) => format!(
                    "{bucket}: {} versions ({}), {} delete markers removed",
                    e.versions,
                    human_bytes(e.bytes),
                    e.delete_markers
                ),
                None => format!("{bucket}: already gone"),
            };
            Ok(((), detail))
        })
        .await?;
        ui.phase("delete stack", async {
            cfn::delete_and_wait(&c.cfn, &state.id, &[], ui, &c.deadline).await?;
            ui.with(|s| s.stack_action = "DELETE_COMPLETE".into());
            Ok(((), "DELETE_COMPLETE (GitHub's OIDC provider is kept: other roles may trust it)".into()))
        })
        .await
    }
}

/// The bootstrap stack, and the account (refused when it is not the environment's) before any write.
async fn credentials(c: &Clients, local: &Local, ui: &Ui) -> anyhow::Result<(String, Option<StackState>)> {
    ui.phase("credentials", async {
        let state = cfn::describe(&c.cfn, &local.bootstrap).await?;
        let account = crate::aws::account(c, state.as_ref()).await?;
        let status = state.as_ref().map_or("does not exist yet".to_string(), |s| format!("is {}", s.status));
        let detail = format!("account {account}, region {}, stack {} {status}", c.region, local.bootstrap);
        Ok(((account, state), detail))
    })
    .await
}

/// Whether the stack should own the provider: yes when it already does (a rerun must not drop
/// it), else only when the account has none (ListOpenIDConnectProviders).
async fn create_oidc_provider(c: &Clients, state: Option<&StackState>) -> anyhow::Result<bool> {
    if state.and_then(|s| s.parameters.get(template::CREATE_OIDC_PARAMETER)).is_some_and(|v| v == "true") {
        return Ok(true);
    }
    let listed = c.iam.list_open_id_connect_providers().send().await.map_err(|e| {
        Refusal::new(
            format!("cannot list the account's OIDC providers: {}", crate::aws::error_line(&e)),
            "bootstrap needs an administrator of the account (iam:ListOpenIDConnectProviders, and IAM to create the role)",
        )
    })?;
    let suffix = format!(":oidc-provider/{GITHUB_OIDC_HOST}");
    Ok(!listed.open_id_connect_provider_list().iter().any(|p| p.arn().is_some_and(|arn| arn.ends_with(&suffix))))
}
