//! Day-2 operations on a deployed stack: a function's logs, readable ([`logs`]), and the stack's
//! state for whoever is on call — aliases and traffic weights, alarms in ALARM, the last release
//! ([`status`]). Both read through [`crate::aws`] and never write.

pub mod logs;
pub mod smoke;
pub mod status;

/// A function's short name (`api`) from its stack output (`ApiFunctionName`): every output named
/// `<Name>FunctionName`, as (short name, output value), sorted.
pub fn functions(outputs: &crate::cloud::StackOutputs) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = outputs
        .all
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_suffix("FunctionName").filter(|n| !n.is_empty())?;
            Some((name.to_ascii_lowercase(), v.clone()))
        })
        .collect();
    found.sort();
    found
}

/// The alias every function's traffic goes through (cloud/stack.yaml's `AWS::Lambda::Alias` Name).
pub const LIVE_ALIAS: &str = "live";
