//! Lambda operations: a synchronous invoke.

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
