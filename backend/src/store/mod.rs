//! The team store: accounts, sessions, audit records, locks and change requests.
//!
//! One code path serves SQLite (the embedded default, in WAL mode) and PostgreSQL (a
//! `postgres://` URL): queries go through sqlx's `Any` driver with `$1` placeholders, which
//! both understand, and the schema (`migrations/`) is written in the SQL both accept, except
//! where they differ (triggers: one file per database). Queries are checked by the tests,
//! which run against both databases, rather than at compile time, so building needs no
//! database.
//!
//! Decisions and their audit records are written in one transaction (see `audit`); the
//! database itself refuses to change or delete an audit record (triggers). Every
//! state change that must happen once (a change request executing) is a conditional UPDATE on
//! the state it leaves, so two replicas sharing the store cannot both win it.

/// Fresh stores for this crate's unit tests: the test kit's file (other crates' tests use
/// `testkit::store`), compiled here only for tests.
#[cfg(test)]
#[path = "../../../testkit/src/store.rs"]
pub mod testing;

/// `store_tests!(a, b)` makes `sqlite::a`, `postgres::a`, … from `async fn a(store: Store)`.
#[cfg(test)]
#[macro_export]
macro_rules! store_tests {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let t = $crate::store::testing::fresh($crate::store::testing::Flavour::Sqlite).await;
                    super::$case(t.store.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let t = $crate::store::testing::fresh($crate::store::testing::Flavour::Postgres).await;
                    super::$case(t.store.clone()).await;
                }
            )*
        }
    };
}

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{Any, AnyPool, Executor, Transaction};

/// The schema, in order. Never edit one that has shipped (sqlx checksums what each database
/// ran): add the next. Write portable SQL where both databases accept it.
const MIGRATIONS: &[(i64, &str, Sql)] = &[
    (1, "team", Sql::Portable(include_str!("migrations/0001_team.sql"))),
    (2, "sso", Sql::Portable(include_str!("migrations/0002_sso.sql"))),
    (3, "recovery", Sql::Portable(include_str!("migrations/0003_recovery.sql"))),
    (
        4,
        "append-only audit",
        Sql::PerDatabase {
            sqlite: include_str!("migrations/0004_append_only_audit.sqlite.sql"),
            postgres: include_str!("migrations/0004_append_only_audit.postgres.sql"),
        },
    ),
    (5, "sign-in attempts", Sql::Portable(include_str!("migrations/0005_sign_in_attempts.sql"))),
    (6, "sso names", Sql::Portable(include_str!("migrations/0006_sso_names.sql"))),
    (7, "started execution", Sql::Portable(include_str!("migrations/0007_started_execution.sql"))),
    (8, "execution lease", Sql::Portable(include_str!("migrations/0008_execution_lease.sql"))),
    (9, "pipeline signals", Sql::Portable(include_str!("migrations/0009_pipeline_signals.sql"))),
    (10, "pipeline votes", Sql::Portable(include_str!("migrations/0010_pipeline_votes.sql"))),
    (11, "blocked commits", Sql::Portable(include_str!("migrations/0011_blocked_commits.sql"))),
    (12, "notifications", Sql::Portable(include_str!("migrations/0012_notifications.sql"))),
];

/// A migration's SQL: one text both databases accept, or one each where they differ
/// (triggers, functions).
#[derive(Debug, Clone, Copy)]
enum Sql {
    Portable(&'static str),
    PerDatabase { sqlite: &'static str, postgres: &'static str },
}

impl Sql {
    fn for_kind(self, kind: Kind) -> &'static str {
        match (self, kind) {
            (Sql::Portable(sql), _) => sql,
            (Sql::PerDatabase { sqlite, .. }, Kind::Sqlite) => sqlite,
            (Sql::PerDatabase { postgres, .. }, Kind::Postgres) => postgres,
        }
    }
}

/// A transaction on the store, for writing a decision and its audit record together.
pub type Tx = Transaction<'static, Any>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database_url {0} is not supported: use sqlite://FILE or postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot open the store at {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("cannot bring the store's schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the store failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("cannot create the demo users: {0}")]
    Seed(String),
    #[error("the store holds something Rollgate cannot read: {0}")]
    Corrupt(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    kind: Kind,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("kind", &self.kind).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating a SQLite file when the URL says `mode=rwc`) and migrates the store.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let kind = if url.starts_with("sqlite:") {
            Kind::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Kind::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(redacted_database_url(url)));
        };
        let open_error = |source| StoreError::Open { url: redacted_database_url(url), source };
        let options: AnyConnectOptions = url.parse().map_err(open_error)?;
        let mut pool = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        if kind == Kind::Sqlite {
            // WAL lets readers work while one writer commits; the busy timeout makes a second
            // writer (another connection, or another replica on the same file) wait its turn
            // instead of failing. FULL sync: a committed audit record survives a power cut.
            pool = pool.max_connections(8).after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                         PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = pool.connect_with(options).await.map_err(open_error)?;
        let store = Self { pool, kind };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        // On PostgreSQL the migrator holds an advisory lock, so replicas starting together
        // apply each migration once.
        let migrator = Migrator::new(Embedded(self.kind)).await?;
        migrator.run(&self.pool).await?;
        Ok(())
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Closes every connection (tests use it to simulate a restart).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The migrations compiled into the binary, so a deployment needs no migration files; each
/// in the SQL of the store's database.
#[derive(Debug)]
struct Embedded(Kind);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async move {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql.for_kind(self.0)),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// `true`/`false` as the schema stores flags.
pub(crate) fn flag(value: bool) -> i64 {
    i64::from(value)
}

/// The database URL without its password, for pages and logs.
pub fn redacted_database_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // set_password only fails for URLs that cannot carry one, which this one does.
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "(unparseable database URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{Flavour, fresh};
    use super::*;

    /// SQLite runs in WAL mode, and the schema is there on both databases.
    #[tokio::test]
    async fn opens_and_migrates_both() {
        let sqlite = fresh(Flavour::Sqlite).await;
        let mode: (String,) =
            sqlx::query_as("PRAGMA journal_mode").fetch_one(sqlite.store.pool()).await.unwrap();
        assert_eq!(mode.0.to_lowercase(), "wal");
        let postgres = fresh(Flavour::Postgres).await;
        for t in [&sqlite, &postgres] {
            let (n,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM audit").fetch_one(t.store.pool()).await.unwrap();
            assert_eq!(n, 0);
        }
        assert_eq!(postgres.store.kind(), Kind::Postgres);
    }

    /// Opening again (a restart, a second replica) finds the schema applied and keeps the data.
    #[tokio::test]
    async fn reopening_keeps_data() {
        for flavour in [Flavour::Sqlite, Flavour::Postgres] {
            let t = fresh(flavour).await;
            sqlx::query(
                "INSERT INTO locks (environment, reason, locked_by, locked_at) VALUES ($1, $2, $3, $4)",
            )
            .bind("staging")
            .bind("why")
            .bind("ada")
            .bind(1_i64)
            .execute(t.store.pool())
            .await
            .unwrap();
            t.store.close().await;
            let again = Store::open(&t.url).await.unwrap();
            let (reason,): (String,) =
                sqlx::query_as("SELECT reason FROM locks").fetch_one(again.pool()).await.unwrap();
            assert_eq!(reason, "why");
        }
    }

    #[test]
    fn passwords_never_shown() {
        assert_eq!(
            redacted_database_url("postgres://rollgate:s3cret@db:5432/rollgate"),
            "postgres://rollgate:****@db:5432/rollgate"
        );
        assert_eq!(redacted_database_url("sqlite://rollgate.db?mode=rwc"), "sqlite://rollgate.db?mode=rwc");
        assert!(!redacted_database_url("postgres://u:s3cret@").contains("s3cret"));
    }

    #[tokio::test]
    async fn unsupported_urls_are_refused_without_passwords() {
        let e = Store::open("mysql://u:secret@db/rollgate").await.unwrap_err();
        assert!(matches!(e, StoreError::UnsupportedUrl(_)));
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
