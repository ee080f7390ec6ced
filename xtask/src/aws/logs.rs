//! CloudWatch Logs operations: the events of one log group in a time window, optionally filtered
//! with a CloudWatch Logs filter pattern (FilterLogEvents, every page).

use crate::error::Refusal;

/// One log event as CloudWatch Logs stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Milliseconds since the epoch (when the function wrote it).
    pub timestamp_ms: i64,
    pub stream: String,
    pub message: String,
    /// Unique per event: following by polling uses it to print each event once.
    pub event_id: String,
}

/// Which events to read.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    pub group: &'a str,
    /// Inclusive start, in milliseconds since the epoch.
    pub start_ms: i64,
    pub pattern: Option<&'a str>,
}

/// The events of `q`, oldest first, at most `limit` (paging through FilterLogEvents).
pub async fn filter_events(
    logs: &aws_sdk_cloudwatchlogs::Client,
    q: &Query<'_>,
    limit: usize,
) -> anyhow::Result<Vec<LogEvent>> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = logs
            .filter_log_events()
            .log_group_name(q.group)
            .start_time(q.start_ms)
            .set_filter_pattern(q.pattern.map(String::from))
            .set_next_token(token.clone())
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(err) if super::error_code(&err) == Some("ResourceNotFoundException") => {
                return Err(Refusal::new(
                    format!("the log group {} does not exist", q.group),
                    "the function has not logged yet, or the stack was deployed without it: check `cargo xtask outputs`",
                )
                .into());
            }
            Err(err) => {
                return Err(anyhow::anyhow!("cannot read the log group {}: {}", q.group, super::error_line(&err)));
            }
        };
        for e in out.events() {
            events.push(LogEvent {
                timestamp_ms: e.timestamp().unwrap_or_default(),
                stream: e.log_stream_name().unwrap_or_default().to_string(),
                message: e.message().unwrap_or_default().trim_end().to_string(),
                event_id: e.event_id().unwrap_or_default().to_string(),
            });
        }
        // FilterLogEvents may return an empty page with a token while it searches: keep going.
        token = out.next_token().map(String::from).filter(|t| Some(t) != token.as_ref());
        if token.is_none() || events.len() >= limit {
            break;
        }
    }
    events.sort_by(|a, b| (a.timestamp_ms, &a.event_id).cmp(&(b.timestamp_ms, &b.event_id)));
    events.truncate(limit);
    Ok(events)
}
