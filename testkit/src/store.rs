//! Fresh stores for tests: a SQLite file in a temporary folder, or a new database on the
//! PostgreSQL that `scripts/setup.sh` starts (`ROLLGATE_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:55432/postgres`). Each call gets its own database, so tests
//! run in parallel without seeing each other.
//!
//! Also compiled into the backend's unit tests as `backend::store::testing` (where
//! `store_tests!` turns `async fn case(store: Store)` functions into one test per database),
//! so it names the backend as `backend::`.

use std::path::PathBuf;

use backend::store::Store;

pub const POSTGRES_URL_VAR: &str = "ROLLGATE_TEST_POSTGRES_URL";
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:55432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Sqlite,
    Postgres,
}

/// A store for one test; a SQLite file is removed when this is dropped.
pub struct TestStore {
    pub store: Store,
    pub url: String,
    sqlite_dir: Option<PathBuf>,
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some(dir) = &self.sqlite_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A new, migrated, empty store. Panics with what to do when PostgreSQL is not running.
pub async fn fresh(flavour: Flavour) -> TestStore {
    let name = format!("rg_test_{}", backend::ids::random_hex(8));
    match flavour {
        Flavour::Sqlite => {
            let dir = std::env::temp_dir().join(&name);
            std::fs::create_dir_all(&dir).expect("create a temporary folder");
            let url = format!("sqlite://{}?mode=rwc", dir.join("rollgate.db").display());
            let store = Store::open(&url).await.expect("open a SQLite store");
            TestStore { store, url, sqlite_dir: Some(dir) }
        }
        Flavour::Postgres => {
            let admin_url = std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
            sqlx::any::install_default_drivers();
            let admin = sqlx::AnyPool::connect(&admin_url).await.unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL for the store tests is not reachable at {admin_url} ({e}): run \
                     scripts/setup.sh, which starts it, or set {POSTGRES_URL_VAR}"
                )
            });
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("create database");
            admin.close().await;
            let mut url = url::Url::parse(&admin_url).expect("a postgres URL");
            url.set_path(&name);
            let url = url.to_string();
            let store = Store::open(&url).await.expect("open a PostgreSQL store");
            TestStore { store, url, sqlite_dir: None }
        }
    }
}
