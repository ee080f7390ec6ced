//! The smoke test of a deployed stack, from its outputs: the API's health endpoint, the site root,
//! the site's `config.json` (pointing at this stack's API), and an API call without a token
//! answering 401. One [`Check`] per line; the first failing one names itself.
//!
//! Requests go through `curl` (TLS, redirects off, a time limit per request): the xtask's only
//! HTTP stack is the AWS SDK's, which sends signed SDK operations, not plain GETs, and one more
//! client library is not worth four requests.

use std::time::Duration;

use xshell::{Shell, cmd};

use crate::cloud::StackOutputs;

/// One HTTP answer: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// What one check asked and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub url: String,
    /// `Ok(what was found)` or `Err(why it failed)`.
    pub result: Result<String, String>,
}

impl Check {
    pub fn line(&self) -> String {
        match &self.result {
            Ok(found) => format!("ok    {:<12} {} {found}", self.name, self.url),
            Err(why) => format!("FAIL  {:<12} {} {why}", self.name, self.url),
        }
    }
}

/// Where the checks send their requests: the stack's `ApiUrl` and `SiteUrl`, unless overridden
/// (a local stand-in in the tests, whose emulator serves neither URL).
pub struct Targets {
    pub api: String,
    pub site: String,
    /// The `ApiUrl` output, which `config.json` must name whatever serves it.
    pub api_output: String,
}

impl Targets {
    pub fn of(outputs: &StackOutputs, api: Option<&str>, site: Option<&str>) -> Result<Targets, String> {
        let missing = |name: &str| format!("the stack has no {name} output");
        let api_output = outputs.api_url.clone().ok_or_else(|| missing("ApiUrl"))?;
        let site_output = outputs.site_url.clone().ok_or_else(|| missing("SiteUrl"));
        let trim = |u: &str| u.trim_end_matches('/').to_string();
        Ok(Targets {
            api: trim(api.unwrap_or(&api_output)),
            site: trim(match site {
                Some(site) => site,
                None => site_output.as_deref()?,
            }),
            api_output: trim(&api_output),
        })
    }
}

/// The four checks, in order, each with what `get` answered.
pub fn run(targets: &Targets, get: &dyn Fn(&str) -> Result<Answer, String>) -> Vec<Check> {
    let check = |name, url: String, judge: &dyn Fn(Answer) -> Result<String, String>| {
        let result = get(&url).and_then(judge);
        Check { name, url, result }
    };
    let status = |want: u16| {
        move |a: Answer| {
            if a.status == want {
                Ok(format!("{want}"))
            } else {
                Err(format!("answered {}, expected {want}", a.status))
            }
        }
    };
    vec![
        check("api health", format!("{}/v1/health", targets.api), &status(200)),
        check("site root", format!("{}/", targets.site), &|a| {
            status(200)(a.clone())?;
            if a.body.to_ascii_lowercase().contains("<html") || a.body.to_ascii_lowercase().contains("<!doctype html") {
                Ok("200, HTML".into())
            } else {
                Err("answered 200 without an HTML page".into())
            }
        }),
        check("config.json", format!("{}/config.json", targets.site), &|a| {
            status(200)(a.clone())?;
            let json: serde_json::Value = serde_json::from_str(&a.body).map_err(|e| format!("is not JSON: {e}"))?;
            match json.get("apiUrl").and_then(|v| v.as_str()).map(|u| u.trim_end_matches('/')) {
                Some(url) if url == targets.api_output => Ok(format!("200, apiUrl {url}")),
                Some(url) => Err(format!("names apiUrl {url}, the stack's ApiUrl is {}", targets.api_output)),
                None => Err("has no apiUrl".into()),
            }
        }),
        check("api auth", format!("{}/v1/notes", targets.api), &|a| match a.status {
            401 => Ok("401 without a token".into()),
            other => Err(format!("answered {other} without a token, expected 401")),
        }),
    ]
}

/// GET with curl: no redirects followed (a redirect is an answer), `timeout` per request.
pub fn curl(sh: &Shell, url: &str, timeout: Duration) -> Result<Answer, String> {
    let seconds = timeout.as_secs().max(1).to_string();
    let marker = "\n--xtask-smoke-status:";
    let format = format!("{marker}%{{http_code}}");
    let out = cmd!(sh, "curl --silent --show-error --max-time {seconds} --write-out {format} -- {url}")
        .quiet()
        .ignore_status()
        .output()
        .map_err(|e| format!("cannot run curl: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some((body, code)) = stdout.rsplit_once(marker) else {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    };
    match code.trim().parse::<u16>() {
        Ok(0) | Err(_) => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        Ok(status) => Ok(Answer { status, body: body.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(health: u16, config: &str) -> impl Fn(&str) -> Result<Answer, String> {
        let config = config.to_string();
        move |url: &str| {
            let answer = |status, body: &str| Ok(Answer { status, body: body.to_string() });
            match url.rsplit_once('/').map(|(_, p)| p) {
                Some("health") => answer(health, "{}"),
                Some("") => answer(200, "<!doctype html><title>notes</title>"),
                Some("config.json") => answer(200, &config),
                Some("notes") => answer(401, "{}"),
                _ => Err("connection refused".into()),
            }
        }
    }

    fn lines(health: u16, config: &str) -> String {
        let targets = Targets {
            api: "https://api.x.test".into(),
            site: "https://www.x.test".into(),
            api_output: "https://api.x.test".into(),
        };
        run(&targets, &answers(health, config)).iter().map(Check::line).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn each_check_says_what_it_found() {
        expect_test::expect![[r#"
            ok    api health   https://api.x.test/v1/health 200
            ok    site root    https://www.x.test/ 200, HTML
            ok    config.json  https://www.x.test/config.json 200, apiUrl https://api.x.test
            ok    api auth     https://api.x.test/v1/notes 401 without a token"#]]
        .assert_eq(&lines(200, r#"{"apiUrl": "https://api.x.test/"}"#));
        expect_test::expect![[r#"
            FAIL  api health   https://api.x.test/v1/health answered 503, expected 200
            ok    site root    https://www.x.test/ 200, HTML
            FAIL  config.json  https://www.x.test/config.json names apiUrl https://api.other.test, the stack's ApiUrl is https://api.x.test
            ok    api auth     https://api.x.test/v1/notes 401 without a token"#]]
        .assert_eq(&lines(503, r#"{"apiUrl": "https://api.other.test"}"#));
    }
}
