//! The moto side of the AWS scenarios (sync, noop-deploy, destroy): a minimal project (the deploy
//! end-to-end tests' moto-friendly template and parameters), dist directories in `cargo xtask dist`'s
//! format written by the bench, and the real xtask binary driven against moto with `--json`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use serde_json::Value;

use super::Env;
use super::moto::Moto;
use super::proc::{self, Run};
use crate::Ctx;
use crate::artifacts::writer::DistWriter;

pub const STACK: &str = "notes-bench";

/// A fresh copy of a minimal project (cloud/stack.yaml, cloud/parameters.json) in a temp dir.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(ctx: &Ctx, distribution_id: &str) -> anyhow::Result<Project> {
        let fixtures = ctx.root.join("xtask/tests/fixtures");
        let template = fixtures.join("moto-stack.yaml");
        let parameters = fixtures.join("moto-parameters.json");
        if !template.is_file() || !parameters.is_file() {
            anyhow::bail!(
                "{} and moto-parameters.json are missing (they come with the deploy end-to-end tests, issue #6)",
                template.display()
            );
        }
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("cloud"))?;
        std::fs::copy(&template, dir.path().join("cloud/stack.yaml"))?;
        let params = std::fs::read_to_string(&parameters)?;
        std::fs::write(dir.path().join("cloud/parameters.json"), params.replace("SET-BY-THE-TEST", distribution_id))?;
        Ok(Project { dir })
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

/// The content of a site: relative path -> bytes.
pub type Site = BTreeMap<String, Vec<u8>>;

/// A generated site of `n` text files: one HTML page in ten, the rest scripts, styles and SVGs in a
/// few directories, 200 B to ~4 KiB each. Deterministic.
pub fn generated_site(n: usize) -> Site {
    let mut site = Site::new();
    for i in 0..n {
        let (path, kind) = match i % 10 {
            0 => (format!("docs/section-{:02}/page-{i:04}.html", i % 37), "html"),
            1..=4 => (format!("assets/js/module-{i:04}.js"), "js"),
            5..=7 => (format!("assets/css/part-{i:04}.css"), "css"),
            _ => (format!("assets/img/icon-{i:04}.svg"), "svg"),
        };
        let filler = "lorem ipsum dolor sit amet ".repeat(8 + (i * 7919) % 150);
        let body = match kind {
            "html" => format!("<!doctype html><title>page {i}</title><main>{filler}</main>\n"),
            "js" => format!("export const m{i} = {filler:?};\n"),
            "css" => format!(".c{i} {{ content: {filler:?}; }}\n"),
            _ => format!("<svg xmlns=\"http://www.w3.org/2000/svg\"><desc>{filler}</desc></svg>\n"),
        };
        site.insert(path, body.into_bytes());
    }
    site
}

/// Changes `k` files of `site` (spread evenly, a different subset per `generation`); returns their paths.
pub fn change_files(site: &mut Site, k: usize, generation: usize) -> Vec<String> {
    let keys: Vec<String> = site.keys().cloned().collect();
    let mut changed = Vec::new();
    for j in 0..k {
        let index = (generation * 131 + j * keys.len() / k.max(1)) % keys.len();
        let key = &keys[index];
        let content = site.get_mut(key).expect("key from the map");
        content.extend_from_slice(format!("\n/* generation {generation} */\n").as_bytes());
        changed.push(key.clone());
    }
    changed
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// Writes `site` as plain files under `dir` with every mtime set to now (a fresh checkout).
pub fn write_plain(dir: &Path, site: &Site) -> anyhow::Result<()> {
    let now = SystemTime::now();
    for (rel, bytes) in site {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("relative path has a parent"))?;
        let mut file = std::fs::File::create(&path)?;
        file.write_all(bytes)?;
        file.set_modified(now)?;
    }
    Ok(())
}

/// Writes a dist directory with the one dist writer, holding `site` and two stand-in functions.
pub fn write_dist(dir: &Path, site: &Site) -> anyhow::Result<()> {
    write_dist_of(dir, site, 1)
}

/// The zip of a stand-in function, exactly as `dist` zips a real bootstrap; `version` changes its bytes.
pub fn stand_in_zip(name: &str, version: u32) -> anyhow::Result<Vec<u8>> {
    let suffix = if version > 1 { format!(" v{version}") } else { String::new() };
    crate::package::zip_bootstrap(format!("#!/bin/sh\necho {name}{suffix}\n").as_bytes())
}

/// [`write_dist`] with the api function at `api_version`.
pub fn write_dist_of(dir: &Path, site: &Site, api_version: u32) -> anyhow::Result<()> {
    write_dist_zips(dir, site, &stand_in_zip("api", api_version)?)
}

/// [`write_dist`] with `api_zip` as the api function's zip.
pub fn write_dist_zips(dir: &Path, site: &Site, api_zip: &[u8]) -> anyhow::Result<()> {
    let mut dist = DistWriter::create(dir)?;
    for (name, param) in [("api", "ApiCodeKey"), ("activity", "ActivityCodeKey")] {
        let zip = if name == "api" { api_zip.to_vec() } else { stand_in_zip(name, 1)? };
        dist.add_function(name, param, &zip)?;
    }
    for (rel, bytes) in site {
        let cache_control = if rel.ends_with(".html") { "no-cache" } else { "public, max-age=3600" };
        dist.add_site_file(rel, bytes, content_type(rel), cache_control, false)?;
    }
    dist.finish("bench".into(), BTreeMap::new())?.commit()?;
    Ok(())
}

/// One run of the xtask binary with `--json`: its summary and wall time.
pub struct XtaskRun {
    pub run: Run,
    pub json: Value,
}

impl XtaskRun {
    /// `aws_calls` from the summary: `Service.Operation` -> count.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.json["aws_calls"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0))).collect())
            .unwrap_or_default()
    }

    pub fn call(&self, op: &str) -> u64 {
        self.json["aws_calls"][op].as_u64().unwrap_or(0)
    }

    /// Artifact plus site bytes uploaded, per the summary.
    pub fn uploaded_bytes(&self) -> u64 {
        let get = |part: &str| self.json[part]["uploaded_bytes"].as_u64().unwrap_or(0);
        get("artifacts") + get("site")
    }

    /// The summary's time of one phase, in seconds.
    pub fn phase(&self, name: &str) -> Option<f64> {
        self.json["phases"].as_array()?.iter().find(|p| p["phase"] == name)?["seconds"].as_f64()
    }
}

/// Runs the xtask binary (this very executable) against moto for `project` and the bench stack.
pub fn xtask(b: &Env<'_>, moto: &Moto, project: &Project, args: &[&str], limit: Duration) -> anyhow::Result<XtaskRun> {
    let mut cmd = Command::new(&b.xtask_exe);
    cmd.arg("--project-dir")
        .arg(project.dir.path())
        .args(["--stack-name", STACK, "--allow-example-domains"])
        .arg("--template")
        .arg(project.path("cloud/stack.yaml"))
        .arg("--parameters")
        .arg(project.path("cloud/parameters.json"))
        .args(args);
    moto.env(&mut cmd, project.dir.path());
    let what = format!("cargo xtask {}", args.first().copied().unwrap_or(""));
    let run = proc::run(cmd, limit)?.check(&what)?;
    let json = serde_json::from_slice(&run.output.stdout)
        .with_context(|| format!("{what} --json printed no JSON summary: {}", run.stdout()))?;
    Ok(XtaskRun { run, json })
}

/// A CloudFront distribution through moto's API (the test stack takes its id as a parameter).
pub fn create_distribution(moto: &Moto, scratch: &Path) -> anyhow::Result<String> {
    let config = serde_json::json!({
        "CallerReference": "bench",
        "Comment": "",
        "Enabled": true,
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "site", "DomainName": "site.s3.us-east-1.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": ""}
        }]},
        "DefaultCacheBehavior": {
            "TargetOriginId": "site",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"
        }
    });
    let file = scratch.join("distribution.json");
    std::fs::write(&file, config.to_string())?;
    let mut cmd = Command::new("aws");
    cmd.args(["cloudfront", "create-distribution", "--output", "json", "--endpoint-url", &moto.url])
        .arg("--distribution-config")
        .arg(format!("file://{}", file.display()));
    moto.env(&mut cmd, scratch);
    let run = proc::run(cmd, Duration::from_secs(120))?.check("aws cloudfront create-distribution")?;
    let out: Value = serde_json::from_slice(&run.output.stdout)?;
    out["Distribution"]["Id"].as_str().map(String::from).context("create-distribution returned no id")
}

/// The outputs of the bench stack, through the AWS CLI.
pub fn outputs(moto: &Moto, scratch: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut cmd = Command::new("aws");
    cmd.args([
        "cloudformation",
        "describe-stacks",
        "--stack-name",
        STACK,
        "--output",
        "json",
        "--endpoint-url",
        &moto.url,
    ]);
    moto.env(&mut cmd, scratch);
    let run = proc::run(cmd, Duration::from_secs(120))?.check("aws cloudformation describe-stacks")?;
    let out: Value = serde_json::from_slice(&run.output.stdout)?;
    let mut map = BTreeMap::new();
    for o in out["Stacks"][0]["Outputs"].as_array().into_iter().flatten() {
        if let (Some(k), Some(v)) = (o["OutputKey"].as_str(), o["OutputValue"].as_str()) {
            map.insert(k.to_string(), v.to_string());
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    #[test]
    fn changes_are_spread_and_counted() {
        let mut site = super::generated_site(1000);
        assert_eq!(site.len(), 1000);
        let before = site.clone();
        let changed = super::change_files(&mut site, 50, 3);
        let differing = site.iter().filter(|(k, v)| before[*k] != **v).count();
        assert_eq!((changed.len(), differing), (50, 50));
    }
}
