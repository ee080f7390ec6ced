//! The site: the bundle of `static/` (the bundler is the `site-bundle` crate, shared with the dev
//! server), its `config.json` from the stack outputs, and publishing both to the site bucket
//! ([`publish`], deciding with [`xtask_formats::site_plan`], remembering with [`state`]) and CloudFront
//! ([`invalidation`]).

pub mod invalidation;
pub mod publish;
pub mod state;

use std::path::Path;

pub use site_bundle::config::{Auth, SiteConfig};
pub use site_bundle::{Bundle, BundleError, SiteFile, fingerprinted_name};

use crate::cloud::StackOutputs;
use crate::error::Refusal;

/// Bundles `static_dir` into `out` (fingerprinted names, rewritten references); a bundler error
/// becomes a [`Refusal`] with its hint.
pub fn bundle(static_dir: &Path, out: &Path) -> anyhow::Result<Bundle> {
    site_bundle::bundle(static_dir, out).map_err(|e| Refusal::new(e.what, e.hint).into())
}

/// `config.json` for the deployed site, from the stack outputs; also the outputs it had to leave out.
pub fn config_from_outputs(outputs: &StackOutputs) -> (SiteConfig, Vec<&'static str>) {
    let mut missing = Vec::new();
    let mut get = |name: &'static str, value: &Option<String>| {
        if value.is_none() {
            missing.push(name);
        }
        value.clone()
    };
    let api_url = get("ApiUrl", &outputs.api_url);
    let domain = get("CognitoDomain", &outputs.cognito_domain);
    let client_id = get("UserPoolClientId", &outputs.user_pool_client_id);
    let site = get("SiteUrl", &outputs.site_url).map(|s| format!("{}/", s.trim_end_matches('/')));
    let auth = Auth::Cognito { domain, client_id, redirect_uri: site.clone(), logout_uri: site };
    (SiteConfig { api_url, auth }, missing)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn config_json_from_outputs() {
        let outputs = StackOutputs::from_map(BTreeMap::from([
            ("ApiUrl".to_string(), "https://api.example.com".to_string()),
            ("SiteUrl".to_string(), "https://www.example.com".to_string()),
        ]));
        let (config, missing) = config_from_outputs(&outputs);
        let v: serde_json::Value = serde_json::from_slice(&config.to_bytes()).unwrap();
        assert_eq!(v["apiUrl"], "https://api.example.com");
        assert_eq!(v["auth"]["redirectUri"], "https://www.example.com/");
        assert_eq!(missing, ["CognitoDomain", "UserPoolClientId"]);
    }
}
