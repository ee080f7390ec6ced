//! What every command gets: a shell rooted at the project, the project root, the global flags, and
//! the paths derived from them (target dir, template, parameters).

use std::path::{Path, PathBuf};

use clap::Args;
use xshell::Shell;

use crate::error::Refusal;
use crate::settings::Settings;

/// Options every command understands. Each overrides the matching environment variable, `.env`
/// entry and `deploy.toml` key (see `cargo xtask config`).
#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// CloudFormation stack name [env: STACK_NAME] [deploy.toml: stack.name]
    #[arg(long, global = true, value_name = "NAME")]
    pub stack_name: Option<String>,
    /// AWS region [env: AWS_REGION] [deploy.toml: stack.region]
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// AWS shared-config profile [env: AWS_PROFILE]
    #[arg(long, global = true, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Environment: selects deploy.toml's [env.NAME] table (stack, region, account, parameters
    /// overlay) [env: APP_ENV]
    #[arg(long = "env", global = true, value_name = "NAME")]
    pub env: Option<String>,
    /// Deployment environment label, e.g. dev or prod [env: APP_ENVIRONMENT] [deploy.toml: stack.environment]
    #[arg(long, global = true, value_name = "ENV")]
    pub environment: Option<String>,
    /// Non-secret settings file [default: deploy.toml in the project directory]
    #[arg(long = "config", global = true, value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// CloudFormation template [default: cloud/stack.yaml]
    #[arg(long, global = true, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Stack parameters in AWS CLI JSON format [default: cloud/parameters.json]
    #[arg(long, global = true, value_name = "FILE")]
    pub parameters: Option<PathBuf>,
    /// Accept example.com domains (for local emulators such as moto; never for a real account)
    #[arg(long, global = true)]
    pub allow_example_domains: bool,
    /// Project directory [default: the workspace containing the current directory]
    #[arg(long, global = true, value_name = "DIR")]
    pub project_dir: Option<PathBuf>,
}

pub struct Ctx {
    pub sh: Shell,
    pub root: PathBuf,
    pub global: GlobalArgs,
}

impl Ctx {
    pub fn new(global: GlobalArgs) -> anyhow::Result<Ctx> {
        let root = match &global.project_dir {
            Some(dir) => std::path::absolute(dir)?,
            None => project_root()?,
        };
        let sh = Shell::new()?;
        sh.change_dir(&root);
        Ok(Ctx { sh, root, global })
    }

    /// Effective settings (flag > env > .env > deploy.toml); see [`crate::settings`].
    pub fn settings(&self) -> anyhow::Result<Settings> {
        Settings::load(self)
    }

    pub fn template_path(&self) -> PathBuf {
        self.resolve(self.global.template.as_deref(), "cloud/stack.yaml")
    }

    pub fn parameters_path(&self) -> PathBuf {
        self.resolve(self.global.parameters.as_deref(), "cloud/parameters.json")
    }

    /// The parameters files of this run, base first: `parameters_path`, then the selected
    /// environment's overlay (its table's `parameters`, which must exist, else
    /// `parameters.<env>.json` next to the base file when there is one). Later files win. Each
    /// path comes with how messages name it.
    pub fn parameter_files(&self, settings: &Settings) -> anyhow::Result<Vec<(PathBuf, String)>> {
        let base = self.parameters_path();
        let mut files = vec![base.clone()];
        if let Some(overlay) = &settings.parameters_overlay {
            let path = self.root.join(&overlay.value);
            if !path.is_file() {
                return Err(Refusal::new(
                    format!("{} is {}, which does not exist", overlay.source, overlay.value),
                    "give the overlay's path relative to the project, or remove the key",
                )
                .into());
            }
            files.push(path);
        } else if let Some(env) = &settings.env {
            let stem = base.file_stem().map_or("parameters".into(), |s| s.to_string_lossy().into_owned());
            let path = base.with_file_name(format!("{stem}.{}.json", env.value));
            if path.is_file() {
                files.push(path);
            }
        }
        Ok(files.into_iter().map(|path| (path.clone(), self.shown(&path))).collect())
    }

    /// Cargo's target directory: `CARGO_TARGET_DIR` when set (CI shares one outside the clone).
    pub fn target_dir(&self) -> PathBuf {
        match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => self.root.join(dir),
            None => self.root.join("target"),
        }
    }

    /// How messages name a file: relative to the project when it is inside it.
    pub fn shown(&self, path: &Path) -> String {
        path.strip_prefix(&self.root).unwrap_or(path).display().to_string()
    }

    fn resolve(&self, flag: Option<&Path>, default: &str) -> PathBuf {
        match flag {
            Some(path) => std::env::current_dir().map(|cwd| cwd.join(path)).unwrap_or(path.into()),
            None => self.root.join(default),
        }
    }
}

/// The workspace root: the nearest ancestor of the current directory whose Cargo.toml declares a
/// `[workspace]` and which has an `xtask/` directory. Found at run time (not baked in at compile
/// time) so one binary serves any checkout, which the end-to-end tests rely on.
fn project_root() -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    for dir in cwd.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if dir.join("xtask").is_dir()
            && std::fs::read_to_string(&manifest).is_ok_and(|text| text.contains("[workspace]"))
        {
            return Ok(dir.to_path_buf());
        }
    }
    Err(Refusal::new(
        format!("{} is not inside the project", cwd.display()),
        "run cargo xtask from the repository, or pass --project-dir DIR",
    )
    .into())
}
