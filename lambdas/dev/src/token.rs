//! Dev sign-in: HMAC-signed ID tokens shaped like Cognito's, and the request context API Gateway
//! builds from them.
//!
//! The token is a JWT (`HS256`) whose claims look like a Cognito user-pool ID token: `sub` (a UUID
//! derived from the user name, so stable across restarts and machines), `cognito:username`,
//! `email`, `email_verified`, `token_use: "id"`, `iss`, `aud`, `auth_time`, `iat`, `exp`. The key
//! is 32 random bytes created once per machine in `<target dir>/dev/token-key` (never in the
//! repository), so `cargo xtask dev token NAME` and a running dev server agree on it.
//!
//! [`request_context`] is what API Gateway's Cognito authorizer hands to the Lambda: the REST
//! request context with `authorizer.claims`, every claim a string (API Gateway renders the
//! numeric ones as dates). It is deserialized from that JSON shape with the very type and serde
//! code lambda_http uses on Lambda, so the API sees exactly what it sees in AWS.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
use ring::hmac;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// Lifetime of a dev token, in seconds (Cognito's default ID token lifetime).
pub const TTL_SECS: u64 = 3600;
/// The `iss` of dev tokens.
pub const ISSUER: &str = "cargo-xtask-dev";
/// The `aud` of dev tokens (Cognito puts the app client id there).
pub const AUDIENCE: &str = "notes-dev-client";

/// Where the signing key lives.
pub fn key_path(target_dir: &Path) -> PathBuf {
    target_dir.join("dev/token-key")
}

/// Signs and verifies dev tokens.
#[derive(Clone)]
pub struct Signer {
    key: hmac::Key,
}

impl Signer {
    /// Reads the machine's key, creating it (32 random bytes, mode 0600) the first time.
    pub fn load_or_create(target_dir: &Path) -> anyhow::Result<Signer> {
        let path = key_path(target_dir);
        if let Ok(text) = std::fs::read_to_string(&path)
            && let Ok(bytes) = hex::decode(text.trim())
            && bytes.len() >= 32
        {
            return Ok(Signer::from_bytes(&bytes));
        }
        let mut bytes = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
            .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
        let dir = path.parent().expect("key path has a parent");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        // Write under a temporary name, then rename: two processes starting at once end up with one key.
        let tmp = dir.join(format!("token-key.{}", std::process::id()));
        write_private(&tmp, hex::encode(bytes).as_bytes())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        if path.exists() {
            let _ = std::fs::remove_file(&tmp);
            return Signer::load_or_create(target_dir);
        }
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Signer::from_bytes(&bytes))
    }

    pub fn from_bytes(key: &[u8]) -> Signer {
        Signer { key: hmac::Key::new(hmac::HMAC_SHA256, key) }
    }

    /// A signed ID token for `username`, valid for `ttl` seconds from now.
    pub fn issue(&self, username: &str, ttl: u64) -> String {
        self.issue_at(username, unix_now(), ttl)
    }

    fn issue_at(&self, username: &str, now: u64, ttl: u64) -> String {
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": "dev"});
        let claims = claims(username, now, ttl);
        let signing_input =
            format!("{}.{}", B64.encode(header.to_string()), B64.encode(Value::Object(claims).to_string()));
        let tag = hmac::sign(&self.key, signing_input.as_bytes());
        format!("{signing_input}.{}", B64.encode(tag.as_ref()))
    }

    /// The claims of a token this key signed, if it is well formed, an ID token, and not expired.
    pub fn verify(&self, token: &str) -> Option<Map<String, Value>> {
        self.verify_at(token, unix_now())
    }

    fn verify_at(&self, token: &str, now: u64) -> Option<Map<String, Value>> {
        let (signing_input, signature) = token.rsplit_once('.')?;
        let (header, payload) = signing_input.split_once('.')?;
        let signature = B64.decode(signature).ok()?;
        hmac::verify(&self.key, signing_input.as_bytes(), &signature).ok()?;
        let header: Value = serde_json::from_slice(&B64.decode(header).ok()?).ok()?;
        if header.get("alg")? != "HS256" {
            return None;
        }
        let Value::Object(claims) = serde_json::from_slice(&B64.decode(payload).ok()?).ok()? else {
            return None;
        };
        let exp = claims.get("exp")?.as_u64()?;
        let fresh = now < exp;
        let id_token = claims.get("token_use")? == "id";
        let ours = claims.get("iss")? == ISSUER;
        (fresh && id_token && ours).then_some(claims)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Whether `name` is an acceptable dev user name: 1–64 of letters, digits, `.`, `_`, `-`.
pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The stable `sub` of a dev user: a UUID (version 8, RFC 9562) from sha256 of the name.
pub fn sub_for(username: &str) -> String {
    let digest = Sha256::digest(format!("notes-dev-user:{username}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// Claims shaped like a Cognito user-pool ID token.
fn claims(username: &str, now: u64, ttl: u64) -> Map<String, Value> {
    let Value::Object(map) = json!({
        "sub": sub_for(username),
        "cognito:username": username,
        "email": format!("{username}@dev.localhost"),
        "email_verified": true,
        "token_use": "id",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "auth_time": now,
        "iat": now,
        "exp": now + ttl,
        "event_id": "dev",
    }) else {
        unreachable!("a JSON object literal")
    };
    map
}

/// The REST API request context of a request, as API Gateway sends it to the Lambda: with the
/// Cognito authorizer's `claims` when `claims` is `Some`, without an authorizer otherwise.
pub fn request_context(
    method: &http::Method,
    path: &str,
    claims: Option<&Map<String, Value>>,
) -> ApiGatewayProxyRequestContext {
    let now = unix_now();
    let mut context = json!({
        "accountId": "000000000000",
        "apiId": "devlocal",
        "domainName": "127.0.0.1",
        "domainPrefix": "127",
        "httpMethod": method.as_str(),
        "identity": {"sourceIp": "127.0.0.1"},
        "path": path,
        "protocol": "HTTP/1.1",
        "requestId": request_id(),
        "requestTime": apigw_time(now),
        "requestTimeEpoch": now * 1000,
        "resourcePath": "/{proxy+}",
        "stage": STAGE,
    });
    if let Some(claims) = claims {
        // API Gateway passes every claim as a string; numeric dates become "Thu Nov 27 08:30:00 UTC 2026".
        let strings: Map<String, Value> = claims
            .iter()
            .map(|(k, v)| {
                let text = match (k.as_str(), v) {
                    ("exp" | "iat" | "auth_time", Value::Number(n)) => apigw_time(n.as_u64().unwrap_or(0)),
                    (_, Value::String(s)) => s.clone(),
                    (_, other) => other.to_string(),
                };
                (k.clone(), Value::String(text))
            })
            .collect();
        context["authorizer"] = json!({"claims": strings});
    }
    serde_json::from_value(context).expect("the request context JSON matches aws_lambda_events' type")
}

/// The stage name the dev server reports in the request context. Paths reach the router without a
/// stage prefix, as they do behind API Gateway's custom domain mapping.
pub const STAGE: &str = "dev";

fn request_id() -> String {
    let mut bytes = [0u8; 16];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    hex::encode(bytes)
}

/// `Thu Nov 27 08:30:00 UTC 2026`, the format API Gateway uses for date claims.
pub fn apigw_time(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {year}",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_tampering_expiry_and_other_keys() {
        let signer = Signer::from_bytes(&[7; 32]);
        let token = signer.issue_at("alice", 1_000, 60);
        let claims = signer.verify_at(&token, 1_030).expect("valid");
        assert_eq!(claims["cognito:username"], "alice");
        assert_eq!(claims["token_use"], "id");
        assert_eq!(claims["sub"], sub_for("alice"));
        assert_eq!(claims["exp"], 1_060);
        assert!(signer.verify_at(&token, 1_060).is_none(), "expired");
        assert!(Signer::from_bytes(&[8; 32]).verify_at(&token, 1_030).is_none(), "another key");
        let (head, rest) = token.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let forged = format!(
            "{head}.{}.{sig}",
            B64.encode(r#"{"sub":"x","token_use":"id","iss":"cargo-xtask-dev","exp":9999999999}"#)
        );
        assert!(signer.verify_at(&forged, 1_030).is_none(), "forged payload");
        assert!(signer.verify_at("not.a.token", 1_030).is_none());
        assert!(signer.verify_at("", 1_030).is_none());
    }

    #[test]
    fn subs_are_stable_uuids_per_user() {
        assert_eq!(sub_for("alice"), sub_for("alice"));
        assert_ne!(sub_for("alice"), sub_for("bob"));
        let sub = sub_for("alice");
        assert_eq!(sub.len(), 36);
        assert_eq!(&sub[14..15], "8");
    }

    #[test]
    fn user_names() {
        assert!(valid_username("alice"));
        assert!(valid_username("a.b-c_d9"));
        assert!(!valid_username(""));
        assert!(!valid_username("a b"));
        assert!(!valid_username(&"x".repeat(65)));
    }

    #[test]
    fn api_gateway_dates() {
        assert_eq!(apigw_time(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(apigw_time(1_795_768_200), "Fri Nov 27 08:30:00 UTC 2026");
        assert_eq!(apigw_time(951_782_400), "Tue Feb 29 00:00:00 UTC 2000");
    }

    #[test]
    fn request_context_carries_claims_where_api_gateway_puts_them() {
        let signer = Signer::from_bytes(&[1; 32]);
        let claims = signer.verify(&signer.issue("bob", 60)).unwrap();
        let ctx = request_context(&http::Method::GET, "/v1/notes", Some(&claims));
        let claims = ctx.authorizer.fields["claims"].as_object().unwrap();
        assert_eq!(claims["sub"], Value::String(sub_for("bob")));
        assert_eq!(claims["cognito:username"], "bob");
        assert_eq!(claims["email_verified"], "true");
        assert!(claims["exp"].as_str().unwrap().ends_with(&format!("UTC {}", &apigw_time(unix_now())[24..])));
        assert_eq!(ctx.stage.as_deref(), Some(STAGE));
        let anonymous = request_context(&http::Method::GET, "/v1/health", None);
        assert!(anonymous.authorizer.fields.is_empty());
        // The JSON form is what API Gateway sends: requestContext.authorizer.claims.sub.
        let json = serde_json::to_value(&ctx).unwrap();
        assert_eq!(json["authorizer"]["claims"]["sub"], Value::String(sub_for("bob")));
    }
}
