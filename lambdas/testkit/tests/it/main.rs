//! The helpers work against the real servers: moto starts, answers S3 and DynamoDB, counts requests.

#[tokio::test]
async fn moto_serves_s3_and_dynamodb_and_counts_requests() {
    let moto = testkit::moto::Moto::start();
    let config = testkit::aws::sdk_config(&moto.endpoint());
    let s3 = testkit::aws::s3_client(&config);
    s3.create_bucket().bucket("testkit-bucket").send().await.expect("create bucket");
    let ddb = testkit::aws::dynamodb_client(&config);
    let tables = ddb.list_tables().send().await.expect("list tables");
    assert!(tables.table_names().is_empty());
    let requests = moto.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_eq!(requests[1].target(), Some("ListTables"));
    moto.reset_requests();
    assert!(moto.requests().is_empty());
}

#[tokio::test]
async fn fresh_databases_are_isolated() {
    let a = testkit::pg::TestDb::create().await;
    let b = testkit::pg::TestDb::create().await;
    assert_ne!(a.url(), b.url());
    let (client, conn) = tokio_postgres::connect(a.url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.batch_execute("CREATE TABLE t (x int)").await.unwrap();
    let (client_b, conn) = tokio_postgres::connect(b.url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let n: i64 = client_b.query_one("SELECT count(*) FROM pg_tables WHERE tablename = 't'", &[]).await.unwrap().get(0);
    assert_eq!(n, 0);
}

#[test]
fn redis_url_answers() {
    let url = testkit::redis_url();
    assert!(url.starts_with("redis://"));
}
