//! `cargo xtask logs`: which log group a function writes to, the filter pattern for `--filter` and
//! `--request-id`, and each event printed readably — the functions' JSON lines (tracing's JSON
//! format with the invocation span) as `time level request-id message key=value...`, Lambda's own
//! `START`/`END`/`REPORT` lines with their request id — or raw with `--json`.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value as Json;

use crate::aws::Clients;
use crate::aws::logs::{self, LogEvent, Query};
use crate::cloud::StackOutputs;
use crate::error::Refusal;

/// `30s`, `15m`, `2h`, `1d` (a bare number is minutes).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 30s, 15m, 2h or 1d"))?;
    let seconds = match unit {
        "s" => n,
        "" | "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (s, m, h or d)")),
    };
    Ok(Duration::from_secs(seconds))
}

/// The FilterLogEvents pattern: `--filter` as given, and the request id as a quoted term. A JSON
/// (`{...}`) or space-delimited (`[...]`) pattern cannot take an extra term: the request id is then
/// matched here instead (the `bool`).
pub fn pattern(filter: Option<&str>, request_id: Option<&str>) -> (Option<String>, bool) {
    let quoted = request_id.map(|id| format!("\"{}\"", id.replace('"', "")));
    match (filter.map(str::trim).filter(|f| !f.is_empty()), quoted) {
        (None, None) => (None, false),
        (None, Some(q)) => (Some(q), false),
        (Some(f), None) => (Some(f.to_string()), false),
        (Some(f), Some(_)) if f.starts_with('{') || f.starts_with('[') => (Some(f.to_string()), true),
        (Some(f), Some(q)) => (Some(format!("{f} {q}")), false),
    }
}

/// The log group of function `function` (`api`, or a function name): the stack's
/// `<Name>LogGroupName` output, else the function's LoggingConfig (its `<Name>FunctionName` output
/// or the name itself), else Lambda's default group.
pub async fn log_group(c: &Clients, outputs: &StackOutputs, function: &str) -> anyhow::Result<String> {
    let pascal = |s: &str| {
        let mut chars = s.chars();
        chars.next().map(|f| f.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
    };
    if let Some(group) = outputs.all.get(&format!("{}LogGroupName", pascal(function))) {
        return Ok(group.clone());
    }
    let known = super::functions(outputs);
    let name = match known.iter().find(|(short, name)| short == function || name == function) {
        Some((_, name)) => name.clone(),
        None if known.is_empty() => function.to_string(),
        None => {
            return Err(Refusal::new(
                format!("the stack has no function {function}"),
                format!("pick one of: {}", known.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>().join(", ")),
            )
            .into());
        }
    };
    crate::aws::lambda::log_group(&c.lambda, &name).await
}

/// One event, readable: `2025-01-02 03:04:05.678 INFO  <request id> message key=value ...`.
pub fn render(event: &LogEvent) -> String {
    let time = time_of(event.timestamp_ms);
    let (level, request_id, message) = match serde_json::from_str::<Json>(&event.message) {
        Ok(Json::Object(line)) => {
            let fields = line.get("fields").and_then(Json::as_object);
            let text = |v: &Json| v.as_str().map_or_else(|| v.to_string(), String::from);
            let request_id = line
                .get("span")
                .and_then(|s| s.get("requestId"))
                .or_else(|| line.get("spans").and_then(|s| s.as_array()?.iter().find_map(|s| s.get("requestId"))))
                .or_else(|| fields.and_then(|f| f.get("request_id").or_else(|| f.get("requestId"))))
                .or_else(|| line.get("requestId"))
                .map(text)
                .unwrap_or_default();
            let mut message =
                fields.and_then(|f| f.get("message")).or_else(|| line.get("message")).map(text).unwrap_or_default();
            for (k, v) in fields.into_iter().flatten() {
                if k != "message" && k != "request_id" && k != "requestId" {
                    message.push_str(&format!(" {k}={}", text(v)));
                }
            }
            (line.get("level").map(text).unwrap_or_default(), request_id, message)
        }
        _ => {
            // Lambda's platform lines: `START RequestId: <id> Version: 7`, `END ...`, `REPORT ...`.
            let id = event
                .message
                .split_once("RequestId: ")
                .map(|(_, rest)| rest.split_whitespace().next().unwrap_or_default().to_string())
                .unwrap_or_default();
            let platform = ["START", "END", "REPORT", "INIT_START"].iter().any(|p| event.message.starts_with(p));
            (if platform { "LAMBDA".into() } else { String::new() }, id, event.message.replace('\t', " "))
        }
    };
    let id = if request_id.is_empty() { "-".to_string() } else { request_id };
    format!("{time} {level:<6} {id} {message}").trim_end().to_string()
}

/// `YYYY-MM-DD HH:MM:SS.mmm` (UTC) of milliseconds since the epoch.
pub fn time_of(ms: i64) -> String {
    let t = aws_smithy_types::DateTime::from_millis(ms);
    let iso = t.fmt(aws_smithy_types::date_time::Format::DateTime).unwrap_or_default();
    // 2025-01-02T03:04:05.678Z (or without fraction) -> 2025-01-02 03:04:05.678
    let iso = iso.trim_end_matches('Z').replacen('T', " ", 1);
    let (whole, fraction) = iso.split_once('.').unwrap_or((&iso, ""));
    format!("{whole}.{:0<3}", &fraction[..fraction.len().min(3)])
}

/// What `cargo xtask logs` asks for.
pub struct Request<'a> {
    pub group: &'a str,
    pub since: Duration,
    pub follow: bool,
    pub pattern: Option<&'a str>,
    /// Matched here (a JSON or space-delimited pattern cannot take the term).
    pub request_id_here: Option<&'a str>,
    pub json: bool,
}

/// Prints the events since `since` and, with `follow`, polls for new ones every two seconds until
/// interrupted. Each event is printed once (by event id).
pub async fn print(c: &Clients, req: &Request<'_>, out: &mut dyn FnMut(String)) -> anyhow::Result<usize> {
    const PAGE: usize = 10_000;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let mut start = now - req.since.as_millis() as i64;
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut printed = 0;
    loop {
        let events =
            logs::filter_events(&c.logs, &Query { group: req.group, start_ms: start, pattern: req.pattern }, PAGE)
                .await?;
        for e in &events {
            if !seen.insert(e.event_id.clone()) {
                continue;
            }
            if req.request_id_here.is_some_and(|id| !e.message.contains(id)) {
                continue;
            }
            out(if req.json { e.message.clone() } else { render(e) });
            printed += 1;
        }
        if !req.follow {
            return Ok(printed);
        }
        // Late events can carry an earlier timestamp than the newest seen: look back a little.
        if let Some(newest) = events.iter().map(|e| e.timestamp_ms).max() {
            start = start.max(newest - 10_000);
        }
        if seen.len() > 100_000 {
            seen.clear();
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(message: &str) -> LogEvent {
        LogEvent { timestamp_ms: 1_735_787_045_678, stream: "s".into(), message: message.into(), event_id: "1".into() }
    }

    #[test]
    fn durations_and_patterns() {
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5w").is_err());
        assert_eq!(pattern(None, None), (None, false));
        assert_eq!(pattern(Some("ERROR"), None), (Some("ERROR".into()), false));
        assert_eq!(pattern(None, Some("abc")), (Some("\"abc\"".into()), false));
        assert_eq!(pattern(Some("ERROR"), Some("abc")), (Some("ERROR \"abc\"".into()), false));
        assert_eq!(
            pattern(Some("{ $.level = \"ERROR\" }"), Some("abc")),
            (Some("{ $.level = \"ERROR\" }".into()), true)
        );
    }

    #[test]
    fn json_lines_and_platform_lines_read_well() {
        let json = r#"{"level":"INFO","fields":{"message":"request","method":"GET","path":"/v1/notes","status":200},"span":{"requestId":"8476a536-e9f4-11e8-9739-2dfe598c3fcd","xrayTraceId":"1-x","name":"Lambda runtime invoke"}}"#;
        assert_eq!(
            render(&ev(json)),
            "2025-01-02 03:04:05.678 INFO   8476a536-e9f4-11e8-9739-2dfe598c3fcd request method=GET path=/v1/notes status=200"
        );
        assert_eq!(
            render(&ev(r#"{"level":"ERROR","fields":{"message":"store down","request_id":"r-1"}}"#)),
            "2025-01-02 03:04:05.678 ERROR  r-1 store down"
        );
        assert_eq!(
            render(&ev("REPORT RequestId: r-2\tDuration: 3.2 ms\tBilled Duration: 4 ms")),
            "2025-01-02 03:04:05.678 LAMBDA r-2 REPORT RequestId: r-2 Duration: 3.2 ms Billed Duration: 4 ms"
        );
        assert_eq!(render(&ev("plain text")), "2025-01-02 03:04:05.678        - plain text");
        assert_eq!(time_of(0), "1970-01-01 00:00:00.000");
    }
}
