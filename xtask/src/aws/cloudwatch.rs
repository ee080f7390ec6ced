//! CloudWatch operations: the stack's alarms (by name prefix, by name), as `status` and the
//! deploy's rollback report read them.

use aws_sdk_cloudwatch::types::StateValue;

/// One metric alarm, as DescribeAlarms reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub reason: String,
    /// When the state last changed (ISO 8601), empty when unknown.
    pub since: String,
    pub description: String,
}

fn to_alarm(a: &aws_sdk_cloudwatch::types::MetricAlarm) -> Alarm {
    Alarm {
        name: a.alarm_name().unwrap_or_default().to_string(),
        state: a.state_value().map(|s| s.as_str().to_string()).unwrap_or_default(),
        reason: a.state_reason().unwrap_or_default().to_string(),
        since: a.state_updated_timestamp().map(super::codedeploy::iso).unwrap_or_default(),
        description: a.alarm_description().unwrap_or_default().to_string(),
    }
}

/// The alarms whose name starts with `prefix` and that are in ALARM now.
pub async fn in_alarm(cw: &aws_sdk_cloudwatch::Client, prefix: &str) -> anyhow::Result<Vec<Alarm>> {
    let mut alarms = Vec::new();
    let mut token = None;
    loop {
        let out = cw
            .describe_alarms()
            .alarm_name_prefix(prefix)
            .state_value(StateValue::Alarm)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the alarms {prefix}*: {}", super::error_line(&e)))?;
        // Filtered here too: an emulator may ignore StateValue.
        alarms.extend(out.metric_alarms().iter().map(to_alarm).filter(|a| a.state == "ALARM"));
        token = out.next_token().filter(|t| !t.is_empty() && Some(*t) != token.as_deref()).map(String::from);
        if token.is_none() {
            break;
        }
    }
    alarms.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(alarms)
}

/// The alarms with these names (those that exist), in the order given.
pub async fn named(cw: &aws_sdk_cloudwatch::Client, names: &[String]) -> anyhow::Result<Vec<Alarm>> {
    let mut alarms = Vec::new();
    for chunk in names.chunks(100) {
        let out =
            cw.describe_alarms().set_alarm_names(Some(chunk.to_vec())).send().await.map_err(|e| {
                anyhow::anyhow!("cannot read the alarms {}: {}", chunk.join(", "), super::error_line(&e))
            })?;
        alarms.extend(out.metric_alarms().iter().map(to_alarm));
    }
    alarms.sort_by_key(|a| names.iter().position(|n| *n == a.name));
    Ok(alarms)
}
