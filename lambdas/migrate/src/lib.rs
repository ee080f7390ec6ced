//! The `migrate` function and `cargo xtask migrate`: apply the embedded SQL migrations
//! (`lambdas/core/migrations/*.sql`, embedded in `notes_core::postgres::MIGRATIONS`) to the
//! database. Idempotent: each migration runs once, recorded in `schema_migrations`, under an
//! advisory lock so concurrent runs wait for each other.

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

/// Applies the pending migrations to the database the environment names (`DATABASE_URL`, else
/// RDS IAM from `DB_HOST`/`DB_PORT`/`DB_NAME`/`DB_USER`).
pub async fn run_from_env() -> Result<Report, Error> {
    notes_core::config::install_crypto_provider();
    let sdk = notes_core::config::sdk_config().await;
    let target =
        notes_core::config::pg_target(&sdk).ok_or_else(|| Error("neither DATABASE_URL nor DB_HOST is set".into()))?;
    run(target).await
}
