//! `cargo xtask config`: every effective setting and where it came from, and the stack
//! parameters of the selected environment (base file + overlay) with the file of each value.

use crate::Ctx;
use crate::cloud::{ParameterFile, Template};
use crate::settings::{PLACEHOLDER, Setting};

/// Print each effective setting and where it came from (flag, environment, .env, deploy.toml)
#[derive(clap::Args, Debug)]
pub struct Config {
    /// Print as JSON (setting -> {value, source}); secrets are masked either way
    #[arg(long)]
    pub json: bool,
}

impl Config {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let settings = ctx.settings()?;
        let shown = |name: &str, s: &Setting| -> String {
            if name.contains("secret") || name.contains("token") || name.contains("key id") {
                mask(&s.value)
            } else {
                s.value.clone()
            }
        };
        // The parameters as a deploy would read them; a broken file is shown, not fatal here.
        let parameters = ctx.parameter_files(&settings).and_then(|files| {
            let template_path = ctx.template_path();
            let template = Template::load(&template_path, &ctx.shown(&template_path))?;
            ParameterFile::load_layers(&files, &template)
        });
        if self.json {
            let mut map = serde_json::Map::new();
            for (name, setting) in settings.all() {
                let value = setting.map_or(
                    serde_json::Value::Null,
                    |s| serde_json::json!({ "value": shown(name, s), "source": s.source.to_string() }),
                );
                map.insert(name.to_string(), value);
            }
            let params = match &parameters {
                Ok(file) => serde_json::Value::Object(
                    file.values
                        .iter()
                        .map(|(k, v)| (k.clone(), serde_json::json!({ "value": v, "source": file.origins[k] })))
                        .collect(),
                ),
                Err(err) => serde_json::json!({ "error": format!("{err:#}") }),
            };
            map.insert("parameters".into(), params);
            println!("{}", serde_json::to_string_pretty(&map)?);
            return Ok(());
        }
        for (name, setting) in settings.all() {
            match setting {
                Some(s) => println!("{name:<18} {:<40} ({})", shown(name, s), s.source),
                None => println!("{name:<18} -"),
            }
        }
        println!("{:<18} {}", "credentials", settings.credentials());
        println!("{:<18} {}", "template", ctx.shown(&ctx.template_path()));
        match &parameters {
            Ok(file) => {
                println!("{:<18} {}", "parameters", file.shown);
                for (key, value) in &file.values {
                    println!("  {key:<28} {value:<40} ({})", file.origins[key]);
                }
            }
            Err(err) => println!("{:<18} cannot be read: {err:#}", "parameters"),
        }
        Ok(())
    }
}

/// Shows a placeholder in full (so the user sees it is one) and real secrets only by their tail.
fn mask(value: &str) -> String {
    if PLACEHOLDER.is_match(value) || value.len() <= 4 {
        return value.to_string();
    }
    format!("****{}", &value[value.len() - 4..])
}
