//! The `migrate` function and `cargo xtask migrate`: apply the embedded SQL migrations
//! (`lambdas/core/migrations/*.sql`, embedded in `notes_core::postgres::MIGRATIONS`) to the
//! database. Idempotent: each migration runs once, recorded in `schema_migrations`, under an
//! advisory lock so concurrent runs wait for each other.
//!
//! In AWS (`DB_MASTER_SECRET_ARN` set) it logs in as the master user with the RDS-managed secret
//! (`{"username", "password"}` from Secrets Manager, TLS required), applies the migrations, and
//! makes sure the role the other functions use (`DB_USER`) exists, has `rds_iam` and may read and
//! write every table. Otherwise it connects like the other functions (`DATABASE_URL`, or IAM).

use notes_core::postgres::{Pg, PgTarget};

pub use notes_core::postgres::MIGRATIONS;

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Migrations applied by this run, in order (empty when the schema was up to date).
    pub applied: Vec<String>,
    /// Every migration this build knows.
    pub known: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("migration failed: {0}")]
pub struct Error(String);

/// Applies the pending migrations to `target`.
pub async fn run(target: PgTarget) -> Result<Report, Error> {
    let pg = Pg::new(target);
    let applied = pg.migrate().await.map_err(|e| Error(e.to_string()))?;
    Ok(Report { applied, known: MIGRATIONS.iter().map(|(name, _)| (*name).to_string()).collect() })
}

/// Applies the pending migrations to the database at a `postgres://` URL.
pub async fn run_url(url: &str) -> Result<Report, Error> {
    run(PgTarget::Url(url.to_string())).await
}

/// Applies the pending migrations to `target`, then grants `app_role` (see the crate docs).
pub async fn run_and_grant(target: PgTarget, app_role: &str) -> Result<Report, Error> {
    let pg = Pg::new(target);
    let applied = pg.migrate_and_grant(Some(app_role)).await.map_err(|e| Error(e.to_string()))?;
    Ok(Report { applied, known: MIGRATIONS.iter().map(|(name, _)| (*name).to_string()).collect() })
}

/// Applies the pending migrations to the database the environment names: as the master user when
/// `DB_MASTER_SECRET_ARN` is set (and no `DATABASE_URL`), else `DATABASE_URL`, else RDS IAM from
/// `DB_HOST`/`DB_PORT`/`DB_NAME`/`DB_USER`.
pub async fn run_from_env() -> Result<Report, Error> {
    use notes_core::config::var;
    notes_core::config::install_crypto_provider();
    let sdk = notes_core::config::sdk_config().await;
    if var("DATABASE_URL").is_none()
        && let Some(arn) = var("DB_MASTER_SECRET_ARN")
    {
        let host = var("DB_HOST").ok_or_else(|| Error("DB_HOST is not set".into()))?;
        let app_role = var("DB_USER").ok_or_else(|| Error("DB_USER is not set".into()))?;
        let secret =
            aws_sdk_secretsmanager::Client::new(&sdk).get_secret_value().secret_id(&arn).send().await.map_err(|e| {
                Error(format!(
                    "cannot read the master secret: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                ))
            })?;
        let (user, password) = master_credentials(secret.secret_string().unwrap_or_default())?;
        let target = PgTarget::Password {
            host,
            port: var("DB_PORT").and_then(|p| p.parse().ok()).unwrap_or(5432),
            database: var("DB_NAME").unwrap_or_else(|| "postgres".into()),
            user,
            password,
        };
        return run_and_grant(target, &app_role).await;
    }
    let target =
        notes_core::config::pg_target(&sdk).ok_or_else(|| Error("neither DATABASE_URL nor DB_HOST is set".into()))?;
    run(target).await
}

/// `(username, password)` of an RDS-managed master secret (`{"username": ..., "password": ...}`).
pub fn master_credentials(secret: &str) -> Result<(String, String), Error> {
    #[derive(serde::Deserialize)]
    struct Secret {
        username: String,
        password: String,
    }
    let s: Secret =
        serde_json::from_str(secret).map_err(|_| Error("the master secret is not {username, password} JSON".into()))?;
    Ok((s.username, s.password))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_rds_managed_master_secrets() {
        let (user, password) = super::master_credentials(r#"{"username":"notes_admin","password":"p\"w"}"#).unwrap();
        assert_eq!((user.as_str(), password.as_str()), ("notes_admin", "p\"w"));
        let err = super::master_credentials("not json, secret").unwrap_err().to_string();
        assert!(!err.contains("secret,"), "never echoes the secret: {err}");
    }
}
