//! Migrations apply once, then are no-ops; concurrent runs do not trip over each other.

#[tokio::test]
async fn applies_once_and_is_idempotent() {
    let db = testkit::pg::TestDb::create().await;
    let first = notes_migrate::run_url(db.url()).await.unwrap();
    assert_eq!(first.applied, first.known);
    assert!(!first.known.is_empty());
    let again = notes_migrate::run_url(db.url()).await.unwrap();
    assert!(again.applied.is_empty());
    let (client, conn) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let tables: Vec<String> = client
        .query("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(tables, vec!["activity", "attachments", "notes", "schema_migrations"]);
}

#[tokio::test]
async fn concurrent_runs_apply_each_migration_once() {
    let db = testkit::pg::TestDb::create().await;
    let (a, b) = tokio::join!(notes_migrate::run_url(db.url()), notes_migrate::run_url(db.url()));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut all = a.applied.clone();
    all.extend(b.applied);
    assert_eq!(all, a.known);
}

#[tokio::test]
async fn unreachable_database_is_an_error() {
    let url = format!("postgres://postgres@127.0.0.1:{}/x", testkit::closed_port());
    assert!(notes_migrate::run_url(&url).await.is_err());
}
