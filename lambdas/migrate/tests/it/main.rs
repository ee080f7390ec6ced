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
    assert_eq!(tables, vec!["activity", "attachments", "note_search", "notes", "schema_migrations"]);
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

#[tokio::test]
async fn grants_the_app_role_read_and_write() {
    let db = testkit::pg::TestDb::create().await;
    let role = testkit::unique_name("app_");
    let target = notes_core::postgres::PgTarget::Url(db.url().to_string());
    let report = notes_migrate::run_and_grant(target.clone(), &role).await.unwrap();
    assert_eq!(report.applied, report.known);
    // Again: the role exists already, nothing to apply.
    assert!(notes_migrate::run_and_grant(target, &role).await.unwrap().applied.is_empty());

    // The role logs in (trust auth locally; IAM on RDS) and uses the tables.
    let as_app = db.url().replacen("postgres@", &format!("{role}@"), 1);
    let (client, conn) = tokio_postgres::connect(&as_app, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
        .execute(
            "INSERT INTO activity (event_id, user_id, kind, note_id, at) VALUES ('e1', 'u', 'note_created', 'n', now())",
            &[],
        )
        .await
        .unwrap();
    let n: i64 = client.query_one("SELECT count(*) FROM activity", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);
    assert!(client.batch_execute("DROP TABLE activity").await.is_err(), "no more than read and write");
    drop(client);

    let admin = testkit::database_url();
    drop(db);
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.batch_execute(&format!("DROP ROLE \"{role}\"")).await.unwrap();
}

#[tokio::test]
async fn refuses_role_names_that_are_not_plain() {
    let db = testkit::pg::TestDb::create().await;
    let target = notes_core::postgres::PgTarget::Url(db.url().to_string());
    assert!(notes_migrate::run_and_grant(target, "app\"; DROP TABLE x; --").await.is_err());
}
