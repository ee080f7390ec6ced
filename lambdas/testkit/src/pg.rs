//! A fresh PostgreSQL database per test, so tests run in parallel without seeing each other.

use tokio_postgres::NoTls;

/// A database created for one test on the server at [`crate::database_url`]; dropped (with
/// `FORCE`, closing leftover connections) when this value is dropped.
pub struct TestDb {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDb {
    /// Creates `test_<unique>` on the server of `DATABASE_URL` (panics with how to start Postgres
    /// when it is unreachable).
    pub async fn create() -> TestDb {
        let admin_url = crate::database_url();
        let name = crate::unique_name("test_");
        let client = connect(&admin_url).await;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        let url = replace_database(&admin_url, &name);
        TestDb { admin_url, name, url }
    }

    /// Connection URL of the new database.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop may run inside a runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async {
                if let Ok((client, conn)) = tokio_postgres::connect(&admin_url, NoTls).await {
                    tokio::spawn(conn);
                    let _ = client.batch_execute(&sql).await;
                }
            });
        })
        .join();
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {url}: {e}"));
    tokio::spawn(conn);
    client
}

/// The URL of database `name` on the server of `admin_url`, created first when it does not exist
/// (the dev server's own database, say). `Err` says why not.
pub async fn ensure_database(admin_url: &str, name: &str) -> Result<String, String> {
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') || name.is_empty() {
        return Err(format!("not a plain database name: {name:?}"));
    }
    let (client, conn) =
        tokio_postgres::connect(admin_url, NoTls).await.map_err(|e| format!("cannot connect to {admin_url}: {e}"))?;
    tokio::spawn(conn);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .map_err(|e| e.to_string())?
        .is_some();
    if !exists {
        match client.batch_execute(&format!("CREATE DATABASE {name}")).await {
            Ok(()) => {}
            // Another process created it in between.
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
            Err(e) => return Err(format!("cannot create database {name}: {e}")),
        }
    }
    Ok(replace_database(admin_url, name))
}

/// `postgres://u@h:p/db?x` -> `postgres://u@h:p/<name>?x`.
pub fn replace_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_database() {
        let check = |url, expect: &str| assert_eq!(super::replace_database(url, "x"), expect);
        check("postgres://postgres@127.0.0.1:5432/test", "postgres://postgres@127.0.0.1:5432/x");
        check("postgres://u:p@h/db?sslmode=disable", "postgres://u:p@h/x?sslmode=disable");
        check("postgres://h:5432", "postgres://h:5432/x");
    }
}
