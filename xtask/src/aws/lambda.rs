//! Lambda operations: a synchronous invoke, aliases (where `live` points, traffic weights during
//! a shift), a published version's details, and a function's log group.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

/// Invokes `function` with `payload` and waits for it: (the `FunctionError` kind if the function
/// failed, the response payload as text).
pub async fn invoke(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    payload: &serde_json::Value,
) -> anyhow::Result<(Option<String>, String)> {
    let out = lambda
        .invoke()
        .function_name(function)
        .invocation_type(InvocationType::RequestResponse)
        .payload(Blob::new(serde_json::to_vec(payload)?))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot invoke the function {function}: {}", super::error_line(&e)))?;
    let body = out.payload().map(|p| String::from_utf8_lossy(p.as_ref()).into_owned()).unwrap_or_default();
    Ok((out.function_error().map(String::from), body))
}

/// Where a function's alias points: its version and, during a gradual shift, the extra versions
/// with their share of the traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasState {
    pub alias: String,
    pub version: String,
    /// (version, weight 0..1) of the routing configuration; empty outside a shift.
    pub weights: Vec<(String, f64)>,
}

impl AliasState {
    /// The share of the traffic each version gets, main version first: `[("7", 0.9), ("8", 0.1)]`.
    pub fn shares(&self) -> Vec<(String, f64)> {
        let extra: f64 = self.weights.iter().map(|(_, w)| w).sum();
        let mut shares = vec![(self.version.clone(), (1.0 - extra).max(0.0))];
        shares.extend(self.weights.iter().cloned());
        shares
    }
}

/// The alias `alias` of `function` (None when it does not exist).
pub async fn alias(lambda: &aws_sdk_lambda::Client, function: &str, alias: &str) -> anyhow::Result<Option<AliasState>> {
    match lambda.get_alias().function_name(function).name(alias).send().await {
        Ok(out) => Ok(Some(AliasState {
            alias: out.name().unwrap_or(alias).to_string(),
            version: out.function_version().unwrap_or_default().to_string(),
            weights: out
                .routing_config()
                .and_then(|r| r.additional_version_weights())
                .map(|w| {
                    let mut w: Vec<(String, f64)> = w.iter().map(|(v, f)| (v.clone(), *f)).collect();
                    w.sort_by(|a, b| a.0.cmp(&b.0));
                    w
                })
                .unwrap_or_default(),
        })),
        Err(err) if super::error_code(&err) == Some("ResourceNotFoundException") => Ok(None),
        Err(err) => Err(anyhow::anyhow!("cannot read the alias {alias} of {function}: {}", super::error_line(&err))),
    }
}

/// A published version's description and publication time (GetFunctionConfiguration).
pub async fn version_info(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    version: &str,
) -> anyhow::Result<(String, String)> {
    let out = lambda
        .get_function_configuration()
        .function_name(function)
        .qualifier(version)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read version {version} of {function}: {}", super::error_line(&e)))?;
    Ok((out.description().unwrap_or_default().to_string(), out.last_modified().unwrap_or_default().to_string()))
}

/// A function's log group: its `LoggingConfig.LogGroup`, else Lambda's default `/aws/lambda/<name>`.
pub async fn log_group(lambda: &aws_sdk_lambda::Client, function: &str) -> anyhow::Result<String> {
    let out = lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the function {function}: {}", super::error_line(&e)))?;
    let name = out.function_name().unwrap_or(function);
    Ok(out.logging_config().and_then(|l| l.log_group()).map_or_else(|| format!("/aws/lambda/{name}"), String::from))
}
