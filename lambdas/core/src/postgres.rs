//! [`Activity`] on PostgreSQL, the connection (URL or RDS IAM token, rustls) and the embedded
//! migrations.
//!
//! One connection per process, opened lazily, reopened after a failure, every call bounded by a
//! timeout. A Lambda instance serves one request at a time, so one connection is all it needs.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::{Date, OffsetDateTime};
use tokio::sync::Mutex;
use tokio_postgres::{Client, Config, NoTls};

use crate::error::StoreError;
use crate::model::{ActivityEvent, ActivityItem, ActivityKind, DayCount, Page, Stats, UserId};
use crate::ports::{Activity, ActivityCursor};

pub use tls::RustlsConnect;

/// Embedded migrations, applied in order; each runs once (recorded in `schema_migrations`).
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_activity", include_str!("../migrations/0001_activity.sql")),
    ("0002_search", include_str!("../migrations/0002_search.sql")),
];

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the database is and how to authenticate.
#[derive(Clone)]
pub enum PgTarget {
    /// A libpq-style URL (`DATABASE_URL`, local and tests). TLS only with `sslmode=require` or
    /// `verify-full`/`verify-ca` (then verified against the system roots and `DB_CA_BUNDLE`).
    Url(String),
    /// RDS with IAM authentication: a fresh auth token signed locally for each connection, TLS
    /// required and verified.
    Iam(crate::config::RdsIam),
    /// A user with a password (the master user, for the migrate function only), TLS required and
    /// verified.
    Password { host: String, port: u16, database: String, user: String, password: String },
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PgTarget::Url(_) => f.write_str("PgTarget::Url(..)"),
            PgTarget::Iam(iam) => {
                write!(f, "PgTarget::Iam({}:{}/{} as {})", iam.host, iam.port, iam.database, iam.user)
            }
            PgTarget::Password { host, port, database, user, .. } => {
                write!(f, "PgTarget::Password({host}:{port}/{database} as {user})")
            }
        }
    }
}

/// A lazily (re)connected PostgreSQL connection.
pub struct Pg {
    target: PgTarget,
    client: Mutex<Option<Client>>,
}

impl Pg {
    pub fn new(target: PgTarget) -> Pg {
        Pg { target, client: Mutex::new(None) }
    }

    pub fn from_url(url: impl Into<String>) -> Pg {
        Pg::new(PgTarget::Url(url.into()))
    }

    async fn connect(&self) -> Result<Client, StoreError> {
        let (config, tls) = match &self.target {
            PgTarget::Url(url) => {
                let mut config: Config =
                    url.parse().map_err(|e| StoreError::other(format!("bad DATABASE_URL: {e}")))?;
                config.connect_timeout(CONNECT_TIMEOUT);
                let wants_tls =
                    ["sslmode=require", "sslmode=verify-ca", "sslmode=verify-full"].iter().any(|m| url.contains(m));
                (config, wants_tls.then(tls::connector).transpose()?)
            }
            PgTarget::Iam(iam) => {
                let token = iam.auth_token().await?;
                let mut config = Config::new();
                config
                    .host(&iam.host)
                    .port(iam.port)
                    .dbname(&iam.database)
                    .user(&iam.user)
                    .password(token)
                    .ssl_mode(tokio_postgres::config::SslMode::Require)
                    .connect_timeout(CONNECT_TIMEOUT);
                (config, Some(tls::connector()?))
            }
            PgTarget::Password { host, port, database, user, password } => {
                let mut config = Config::new();
                config
                    .host(host)
                    .port(*port)
                    .dbname(database)
                    .user(user)
                    .password(password.as_str())
                    .ssl_mode(tokio_postgres::config::SslMode::Require)
                    .connect_timeout(CONNECT_TIMEOUT);
                (config, Some(tls::connector()?))
            }
        };
        let connect = async {
            match tls {
                Some(tls) => {
                    let (client, conn) = config.connect(tls).await?;
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::warn!(error = %e, "PostgreSQL connection closed");
                        }
                    });
                    Ok::<_, tokio_postgres::Error>(client)
                }
                None => {
                    let (client, conn) = config.connect(NoTls).await?;
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::warn!(error = %e, "PostgreSQL connection closed");
                        }
                    });
                    Ok(client)
                }
            }
        };
        match tokio::time::timeout(CONNECT_TIMEOUT + Duration::from_secs(1), connect).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => Err(unavailable("connect", &e)),
            Err(_) => Err(StoreError::Unavailable("PostgreSQL connect timed out".into())),
        }
    }

    /// Runs `f` with the connection (opened if needed), bounded by a timeout. On failure the
    /// connection is dropped, so the next call reconnects.
    pub async fn with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: for<'c> AsyncFnOnce(&'c mut Client) -> Result<T, tokio_postgres::Error>,
    {
        let mut guard = self.client.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = Some(self.connect().await?);
        }
        let Some(client) = guard.as_mut() else {
            return Err(StoreError::other("no connection"));
        };
        match tokio::time::timeout(QUERY_TIMEOUT, f(client)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                let closed = client.is_closed() || e.as_db_error().is_none();
                let err = unavailable("query", &e);
                if closed {
                    *guard = None;
                }
                Err(err)
            }
            Err(_) => {
                *guard = None;
                Err(StoreError::Unavailable("PostgreSQL query timed out".into()))
            }
        }
    }

    /// Applies the embedded migrations that have not run yet, under an advisory lock so concurrent
    /// runs wait for each other. Returns the names applied now (empty when up to date).
    pub async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        self.migrate_and_grant(None).await
    }

    /// [`Pg::migrate`], then (when `app_role` is given) makes sure the role the functions log in
    /// as exists, may log in with IAM (`rds_iam`, where the server has it) and may read and write
    /// every table: what the migrate function does as the master user.
    pub async fn migrate_and_grant(&self, app_role: Option<&str>) -> Result<Vec<String>, StoreError> {
        if let Some(role) = app_role
            && !is_identifier(role)
        {
            return Err(StoreError::other(format!("not a plain role name: {role:?}")));
        }
        self.with(async |client| {
            client.batch_execute("SELECT pg_advisory_lock(7428531)").await?;
            let mut result = apply_migrations(client).await;
            if let (Ok(_), Some(role)) = (&result, app_role)
                && let Err(e) = client.batch_execute(&grant_sql(role)).await
            {
                result = Err(e);
            }
            let unlock = client.batch_execute("SELECT pg_advisory_unlock(7428531)").await;
            let applied = result?;
            unlock?;
            Ok(applied)
        })
        .await
    }
}

/// `[a-z_][a-z0-9_]*`, at most 63 bytes: safe to splice into SQL as an identifier.
fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

fn grant_sql(role: &str) -> String {
    format!(
        r#"DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
        CREATE ROLE "{role}" LOGIN;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
        GRANT rds_iam TO "{role}";
    END IF;
END $$;
GRANT USAGE ON SCHEMA public TO "{role}";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{role}";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO "{role}";"#
    )
}

async fn apply_migrations(client: &mut Client) -> Result<Vec<String>, tokio_postgres::Error> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 name text PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await?;
    let mut applied = Vec::new();
    for (name, sql) in MIGRATIONS {
        let tx = client.transaction().await?;
        let done = tx.query_opt("SELECT 1 FROM schema_migrations WHERE name = $1", &[name]).await?.is_some();
        if !done {
            tx.batch_execute(sql).await?;
            tx.execute("INSERT INTO schema_migrations (name) VALUES ($1)", &[name]).await?;
            applied.push((*name).to_string());
        }
        tx.commit().await?;
    }
    Ok(applied)
}

fn unavailable(what: &str, e: &tokio_postgres::Error) -> StoreError {
    let detail = match e.as_db_error() {
        Some(db) => format!("{what}: {} ({})", db.message(), db.code().code()),
        None => format!("{what}: {e}"),
    };
    tracing::warn!(error = %detail, "PostgreSQL request failed");
    StoreError::Unavailable(detail)
}

/// The activity log on PostgreSQL.
pub struct PgActivity {
    pg: Arc<Pg>,
}

impl PgActivity {
    pub fn new(pg: Arc<Pg>) -> PgActivity {
        PgActivity { pg }
    }
}

#[async_trait]
impl Activity for PgActivity {
    async fn record(&self, event: &ActivityEvent) -> Result<bool, StoreError> {
        self.pg
            .with(async |client| {
                let tx = client.transaction().await?;
                let user = event.user.as_str();
                let inserted = tx
                    .execute(
                        "INSERT INTO activity (event_id, user_id, kind, note_id, attachment_id, title, at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING",
                        &[
                            &event.event_id,
                            &user,
                            &event.kind.as_str(),
                            &event.note_id,
                            &event.attachment_id,
                            &event.title,
                            &event.at,
                        ],
                    )
                    .await?
                    == 1;
                if inserted {
                    match event.kind {
                        ActivityKind::NoteCreated => {
                            tx.execute(
                                "INSERT INTO notes (user_id, note_id, title, created_at) VALUES ($1, $2, $3, $4)
                                 ON CONFLICT (user_id, note_id) DO UPDATE SET title = EXCLUDED.title",
                                &[&user, &event.note_id, &event.title, &event.at],
                            )
                            .await?;
                        }
                        ActivityKind::NoteUpdated => {
                            tx.execute(
                                "UPDATE notes SET title = $3 WHERE user_id = $1 AND note_id = $2",
                                &[&user, &event.note_id, &event.title],
                            )
                            .await?;
                        }
                        ActivityKind::NoteDeleted => {
                            tx.execute(
                                "DELETE FROM notes WHERE user_id = $1 AND note_id = $2",
                                &[&user, &event.note_id],
                            )
                            .await?;
                            tx.execute(
                                "DELETE FROM attachments WHERE user_id = $1 AND note_id = $2",
                                &[&user, &event.note_id],
                            )
                            .await?;
                        }
                        ActivityKind::AttachmentAdded => {
                            let size = i64::try_from(event.size.unwrap_or(0)).unwrap_or(i64::MAX);
                            tx.execute(
                                "INSERT INTO attachments (user_id, note_id, attachment_id, size, created_at)
                                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                                &[
                                    &user,
                                    &event.note_id,
                                    &event.attachment_id.as_deref().unwrap_or(""),
                                    &size,
                                    &event.at,
                                ],
                            )
                            .await?;
                        }
                        ActivityKind::AttachmentDeleted => {
                            tx.execute(
                                "DELETE FROM attachments WHERE user_id = $1 AND note_id = $2 AND attachment_id = $3",
                                &[&user, &event.note_id, &event.attachment_id.as_deref().unwrap_or("")],
                            )
                            .await?;
                        }
                    }
                }
                tx.commit().await?;
                Ok(inserted)
            })
            .await
    }

    async fn list(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<&ActivityCursor>,
    ) -> Result<Page<ActivityItem>, StoreError> {
        let limit = limit.clamp(1, crate::MAX_PAGE);
        let fetch = i64::try_from(limit + 1).unwrap_or(101);
        let rows = self
            .pg
            .with(async |client| match after {
                None => {
                    client
                        .query(
                            "SELECT seq, kind, note_id, attachment_id, title, at FROM activity
                             WHERE user_id = $1 ORDER BY at DESC, seq DESC LIMIT $2",
                            &[&user.as_str(), &fetch],
                        )
                        .await
                }
                Some(c) => {
                    client
                        .query(
                            "SELECT seq, kind, note_id, attachment_id, title, at FROM activity
                             WHERE user_id = $1 AND (at, seq) < ($2, $3) ORDER BY at DESC, seq DESC LIMIT $4",
                            &[&user.as_str(), &c.at, &c.seq, &fetch],
                        )
                        .await
                }
            })
            .await?;
        let mut items = Vec::with_capacity(rows.len());
        let mut last = None;
        for row in rows.iter().take(limit) {
            let seq: i64 = row.get(0);
            let kind: String = row.get(1);
            let at: OffsetDateTime = row.get(5);
            items.push(ActivityItem {
                id: seq.to_string(),
                kind: ActivityKind::parse(&kind).ok_or_else(|| StoreError::other(format!("unknown kind {kind}")))?,
                note_id: row.get(2),
                attachment_id: row.get(3),
                title: row.get(4),
                at,
            });
            last = Some(ActivityCursor { at, seq });
        }
        let next_cursor = if rows.len() > limit { last.map(|c| c.encode()) } else { None };
        Ok(Page { items, next_cursor })
    }

    async fn stats(&self, user: &UserId, today: Date) -> Result<Stats, StoreError> {
        let first = today - time::Duration::days(29);
        let (totals, days) = self
            .pg
            .with(async |client| {
                let totals = client
                    .query_one(
                        "SELECT (SELECT count(*) FROM notes WHERE user_id = $1),
                                (SELECT count(*) FROM attachments WHERE user_id = $1)",
                        &[&user.as_str()],
                    )
                    .await?;
                let days = client
                    .query(
                        "SELECT to_char(d.day, 'YYYY-MM-DD'), count(a.seq)
                         FROM generate_series($2::date, $3::date, interval '1 day') AS d(day)
                         LEFT JOIN activity a
                           ON a.user_id = $1 AND (a.at AT TIME ZONE 'UTC')::date = d.day::date
                         GROUP BY d.day ORDER BY d.day",
                        &[&user.as_str(), &first, &today],
                    )
                    .await?;
                Ok((totals, days))
            })
            .await?;
        let count = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(Stats {
            notes_total: count(totals.get(0)),
            attachments_total: count(totals.get(1)),
            per_day: days.iter().map(|r| DayCount { day: r.get(0), count: count(r.get(1)) }).collect(),
        })
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.pg.with(async |client| client.batch_execute("SELECT 1").await).await
    }
}

mod tls {
    //! tokio-postgres over rustls with the ring provider (the workspace's one TLS stack): no OpenSSL.

    use std::future::Future;
    use std::io;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use rustls::pki_types::ServerName;
    use rustls::pki_types::pem::PemObject;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

    use crate::error::StoreError;

    /// Amazon RDS's certificate authorities (see the file's header for its source). RDS servers
    /// present certificates from these private CAs, which no system trust store carries.
    pub const RDS_CA_BUNDLE: &str = include_str!("../certs/rds-ca-bundle.pem");

    /// Roots: the system's, the embedded RDS CAs, plus the PEM bundle at `DB_CA_BUNDLE` when set.
    pub fn connector() -> Result<RustlsConnect, StoreError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(RDS_CA_BUNDLE.as_bytes()) {
            roots
                .add(cert.map_err(|e| StoreError::other(format!("embedded RDS CA bundle: {e}")))?)
                .map_err(StoreError::other)?;
        }
        if let Ok(path) = std::env::var("DB_CA_BUNDLE") {
            let certs = rustls::pki_types::CertificateDer::pem_file_iter(&path)
                .map_err(|e| StoreError::other(format!("DB_CA_BUNDLE {path}: {e}")))?;
            for cert in certs {
                roots
                    .add(cert.map_err(|e| StoreError::other(format!("DB_CA_BUNDLE {path}: {e}")))?)
                    .map_err(StoreError::other)?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(StoreError::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(RustlsConnect(Arc::new(config)))
    }

    #[derive(Clone)]
    pub struct RustlsConnect(pub Arc<rustls::ClientConfig>);

    impl<S> MakeTlsConnect<S> for RustlsConnect
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        type Stream = RustlsStream<S>;
        type TlsConnect = RustlsConnector;
        type Error = io::Error;

        fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnector> {
            let name =
                ServerName::try_from(domain.to_string()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            Ok(RustlsConnector { config: self.0.clone(), name })
        }
    }

    pub struct RustlsConnector {
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    }

    impl<S> TlsConnect<S> for RustlsConnector
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        type Stream = RustlsStream<S>;
        type Error = io::Error;
        type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

        fn connect(self, stream: S) -> Self::Future {
            Box::pin(async move {
                let stream = tokio_rustls::TlsConnector::from(self.config).connect(self.name, stream).await?;
                Ok(RustlsStream(stream))
            })
        }
    }

    pub struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

    impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
        fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_read(cx, buf)
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
        fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.0).poll_write(cx, buf)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_shutdown(cx)
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
        fn channel_binding(&self) -> ChannelBinding {
            ChannelBinding::none()
        }
    }
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn the_embedded_rds_ca_bundle_parses_and_is_trusted() {
        let certs: Vec<_> = CertificateDer::pem_slice_iter(super::tls::RDS_CA_BUNDLE.as_bytes())
            .collect::<Result<_, _>>()
            .expect("every certificate parses");
        assert_eq!(certs.len(), 87);
        assert!(super::tls::connector().is_ok());
    }
}
