//! Precedence, environments, the placeholder guard, credentials and `.env` parsing.

use super::*;

/// Resolves the stack name from the given layers and renders "value (source)".
fn check(flag: Option<&str>, env: Option<&str>, dotenv: Option<&str>, file: Option<&str>, expect: &str) {
    let flags = GlobalArgs { stack_name: flag.map(String::from), ..GlobalArgs::default() };
    let env_value = env.map(String::from);
    let env = move |var: &str| (var == "STACK_NAME").then(|| env_value.clone()).flatten();
    let dotenv = dotenv.map(|v| (PathBuf::from(".env"), BTreeMap::from([("STACK_NAME".to_string(), v.to_string())])));
    let file = file.map(|v| {
        let stack = StackSection { name: Some(v.to_string()), ..StackSection::default() };
        (PathBuf::from("deploy.toml"), ConfigFile { stack, ..ConfigFile::default() })
    });
    let settings = Inputs { flags: &flags, env: &env, dotenv, file }.settings().unwrap();
    let got = settings.stack_name.map_or("none".to_string(), |s| format!("{} ({})", s.value, s.source));
    assert_eq!(got, expect);
}

#[test]
fn precedence_is_flag_then_env_then_dotenv_then_file() {
    check(Some("f"), Some("e"), Some("d"), Some("c"), "f (flag --stack-name)");
    check(None, Some("e"), Some("d"), Some("c"), "e (environment variable STACK_NAME)");
    check(None, None, Some("d"), Some("c"), "d (.env: STACK_NAME)");
    check(None, None, None, Some("c"), "c (deploy.toml: stack.name)");
    check(None, None, None, None, "none");
    // An empty environment variable does not hide lower layers.
    check(None, Some(""), Some("d"), None, "d (.env: STACK_NAME)");
}

/// Every deploy.toml-backed setting for `--env` / `APP_ENV` against a file with two environments.
fn env_settings(flags: &GlobalArgs, env: &[(&str, &str)]) -> String {
    let toml = r#"
        [stack]
        name = "notes-app-dev"
        region = "us-east-1"
        environment = "dev"
        [env.prod]
        stack_name = "notes-app-prod"
        region = "eu-west-1"
        account = "444455556666"
        [env.qa]
        stack_name = "notes-app-qa"
        environment = "staging"
        parameters = "cloud/qa.json"
    "#;
    let config: ConfigFile = toml::from_str(toml).unwrap();
    let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let lookup = move |var: &str| env.get(var).cloned();
    let inputs = Inputs { flags, env: &lookup, dotenv: None, file: Some(("deploy.toml".into(), config)) };
    match inputs.settings() {
        Err(err) => format!("error: {err} | {}", err.downcast_ref::<Refusal>().unwrap().hint),
        Ok(settings) => settings
            .all()
            .into_iter()
            .filter_map(|(name, s)| s.map(|s| format!("{name}: {} ({})", s.value, s.source)))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn env_selects_its_table_above_stack_and_below_flags() {
    let env = |name: &str| GlobalArgs { env: Some(name.into()), ..GlobalArgs::default() };
    expect_test::expect![[r#"
        stack name: notes-app-dev (deploy.toml: stack.name)
        region: us-east-1 (deploy.toml: stack.region)
        environment: dev (deploy.toml: stack.environment)"#]]
    .assert_eq(&env_settings(&GlobalArgs::default(), &[]));
    expect_test::expect![[r#"
        env: prod (flag --env)
        stack name: notes-app-prod (deploy.toml: env.prod.stack_name)
        region: eu-west-1 (deploy.toml: env.prod.region)
        environment: prod (flag --env)
        account: 444455556666 (deploy.toml: env.prod.account)"#]]
    .assert_eq(&env_settings(&env("prod"), &[]));
    // The variable selects too; the table's region falls back to [stack]'s; its own
    // `environment` wins over its name; flags and variables still win over the table.
    expect_test::expect![[r#"
        env: qa (environment variable APP_ENV)
        stack name: notes-app-qa (deploy.toml: env.qa.stack_name)
        region: us-west-2 (environment variable AWS_REGION)
        environment: staging (deploy.toml: env.qa.environment)
        parameters overlay: cloud/qa.json (deploy.toml: env.qa.parameters)"#]]
    .assert_eq(&env_settings(&GlobalArgs::default(), &[("APP_ENV", "qa"), ("AWS_REGION", "us-west-2")]));
    let flags = GlobalArgs { environment: Some("other".into()), ..env("prod") };
    assert!(env_settings(&flags, &[]).contains("environment: other (flag --environment)"));
    expect_test::expect![[
        r#"error: deploy.toml has no [env.test] table (flag --env) | the environments in deploy.toml are: prod, qa"#
    ]]
    .assert_eq(&env_settings(&env("test"), &[]));
}

fn check_guard(origin: &str, value: &str, allow_example: bool, expect: &str) {
    let got = match refuse_placeholder(origin, value, allow_example) {
        Ok(()) => "ok".to_string(),
        Err(err) => {
            let hint = &err.downcast_ref::<Refusal>().expect("a refusal").hint;
            format!("{err} | {hint}")
        }
    };
    assert_eq!(got, expect);
}

#[test]
fn placeholders_and_example_domains_are_refused() {
    check_guard(
        ".env: AWS_ACCESS_KEY_ID",
        "YOUR_ACCESS_KEY_ID_HERE",
        true,
        ".env: AWS_ACCESS_KEY_ID is still the placeholder YOUR_ACCESS_KEY_ID_HERE | replace it with your real value (or remove it) in .env",
    );
    check_guard(
        "cloud/parameters.json: WwwDomainName",
        "www.example.com",
        false,
        "cloud/parameters.json: WwwDomainName is www.example.com, an example domain | set your own domain in cloud/parameters.json; for a local emulator pass --allow-example-domains",
    );
    check_guard("cloud/parameters.json: WwwDomainName", "www.example.com", true, "ok");
    check_guard("cloud/parameters.json: WwwDomainName", "www.counterexample.community", false, "ok");
    check_guard(
        "x",
        "arn:aws:acm:us-east-1:1:certificate/YOUR_WWW_CERTIFICATE_ID_HERE",
        true,
        "x is still the placeholder YOUR_WWW_CERTIFICATE_ID_HERE | replace it with your real value (or remove it) in x",
    );
}

/// The credential source for the given layers, as `config` prints it.
fn credentials(flag_profile: Option<&str>, env: &[(&str, &str)], dotenv: &[(&str, &str)]) -> String {
    let flags = GlobalArgs { profile: flag_profile.map(String::from), ..GlobalArgs::default() };
    let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let lookup = move |var: &str| env.get(var).cloned();
    let dotenv = Some((PathBuf::from(".env"), dotenv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()));
    let settings = Inputs { flags: &flags, env: &lookup, dotenv, file: None }.settings().unwrap();
    settings.credentials().to_string()
}

#[test]
fn credentials_follow_the_documented_precedence() {
    let keys = [("AWS_ACCESS_KEY_ID", "AKIAENV"), ("AWS_SECRET_ACCESS_KEY", "secret")];
    let dot = [("AWS_ACCESS_KEY_ID", "AKIADOT"), ("AWS_SECRET_ACCESS_KEY", "secret")];
    // --profile wins over keys anywhere.
    assert_eq!(credentials(Some("ops"), &keys, &dot), "profile ops (flag --profile)");
    // The environment wins over .env.
    assert_eq!(credentials(None, &keys, &dot), "the process environment (AWS_ACCESS_KEY_ID or AWS_PROFILE)");
    assert_eq!(
        credentials(None, &[("AWS_PROFILE", "ops")], &dot),
        "the process environment (AWS_ACCESS_KEY_ID or AWS_PROFILE)"
    );
    // .env keys, and a session token only from .env itself.
    assert_eq!(credentials(None, &[("AWS_SESSION_TOKEN", "from-env")], &dot), "keys from .env: AWS_ACCESS_KEY_ID");
    let with_token = [dot[0], dot[1], ("AWS_SESSION_TOKEN", "t")];
    assert_eq!(credentials(None, &[], &with_token), "keys from .env: AWS_ACCESS_KEY_ID with its session token");
    assert_eq!(credentials(None, &[], &[]), "the AWS SDK's default chain (default profile, SSO, role)");
}

#[test]
fn dotenv_parsing() {
    let vars =
        parse_dotenv("# c\nexport A=1\nB = \"two words\"\nC='x' \nD=plain # note\nE=\"quoted\" # note\nF='a # b'\n")
            .unwrap();
    assert_eq!(
        format!("{vars:?}"),
        r#"{"A": "1", "B": "two words", "C": "x", "D": "plain", "E": "quoted", "F": "a # b"}"#
    );
    assert_eq!(parse_dotenv("A=\"open").unwrap_err(), "line 1: the \" quote is not closed");
    assert_eq!(parse_dotenv("A=\"x\" y").unwrap_err(), "line 1: \"y\" after the closing quote");
    assert_eq!(parse_dotenv("oops").unwrap_err(), "line 1: expected KEY=VALUE");
    assert_eq!(parse_dotenv("A B=1").unwrap_err(), "line 1: \"A B\" is not a variable name");
}
