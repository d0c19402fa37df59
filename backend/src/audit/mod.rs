//! The audit trail: who did what, when, from where, to which target, with which commit, and
//! how it ended.
//!
//! A record is appended inside the transaction that makes the decision it describes
//! ([`append`] takes the transaction), so a decision is never stored without its record nor
//! a record without its decision, and both are committed before the response leaves. This
//! module has no statement that updates or deletes a record, and the database refuses such
//! statements from anyone (triggers, migration 4): the trail is append-only.

pub mod export;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::clock::Timestamp;
use crate::store::{Store, StoreError, Tx};

/// The longest reason or comment a person may give (a change's why, an approval's comment, a
/// lock's reason): enough for any explanation, short enough to show in every refusal and
/// record.
pub const MAX_TEXT: usize = 1000;

/// The person (or command) acting, and where their request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
}

impl Caller {
    pub fn new(user: impl Into<String>) -> Self {
        Self { user: user.into(), source_ip: None, request_id: None }
    }
}

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Done.
    Succeeded,
    /// Refused by a rule (role, lock, rate limit, four-eyes); nothing changed.
    Refused,
    /// Tried and failed (wrong password, an upstream error); nothing changed.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "succeeded" => Outcome::Succeeded,
            "refused" => Outcome::Refused,
            _ => Outcome::Failed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub source_ip: Option<String>,
    pub environment: Option<String>,
    pub target: Option<String>,
    pub action: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub commit: Option<String>,
    pub request_id: Option<String>,
    pub result: Outcome,
    pub detail: Option<String>,
}

impl Record {
    /// A record of `action` by `caller` at `now`; the builder methods fill in the rest.
    pub fn new(caller: &Caller, action: &str, result: Outcome, now: Timestamp) -> Self {
        Self {
            id: crate::ids::ordered_id(now.millis()),
            at: now.millis(),
            actor: caller.user.clone(),
            source_ip: caller.source_ip.clone(),
            environment: None,
            target: None,
            action: action.to_owned(),
            before: None,
            after: None,
            commit: None,
            request_id: caller.request_id.clone(),
            result,
            detail: None,
        }
    }

    pub fn environment(mut self, environment: &str) -> Self {
        self.environment = Some(environment.to_owned());
        self
    }

    pub fn target(mut self, target: &str) -> Self {
        self.target = Some(target.to_owned());
        self
    }

    pub fn change(mut self, before: Option<String>, after: Option<String>) -> Self {
        self.before = before;
        self.after = after;
        self
    }

    pub fn commit(mut self, commit: Option<String>) -> Self {
        self.commit = commit;
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Appends `record` in the caller's transaction.
pub async fn append(tx: &mut Tx, record: &Record) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit (id, at, actor, source_ip, environment, target, action, before_value, \
         after_value, commit_sha, request_id, result, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&record.id)
    .bind(record.at)
    .bind(&record.actor)
    .bind(&record.source_ip)
    .bind(&record.environment)
    .bind(&record.target)
    .bind(&record.action)
    .bind(&record.before)
    .bind(&record.after)
    .bind(&record.commit)
    .bind(&record.request_id)
    .bind(record.result.as_str())
    .bind(&record.detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Appends one record on its own (for refusals, which decide nothing else).
pub async fn append_alone(store: &Store, record: &Record) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    append(&mut tx, record).await?;
    tx.commit().await?;
    Ok(())
}

/// Which records to list. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub environment: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Inclusive lower bound, milliseconds.
    pub from: Option<i64>,
    /// Exclusive upper bound, milliseconds.
    pub until: Option<i64>,
}

/// A filter as people type it (a form or a URL query): empty means "any"; times are UTC,
/// `2026-11-29T06:30` (what a `datetime-local` input sends) or with seconds and `Z`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterQuery {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub until: String,
}

impl FilterQuery {
    /// The filter for `environment`; the error names the field.
    pub fn parse(&self, environment: &str) -> Result<Filter, String> {
        let time = |field: &str, text: &str| -> Result<Option<i64>, String> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            let full = if text.ends_with('Z') || text.ends_with("+00:00") {
                text.to_owned()
            } else {
                format!("{text}Z")
            };
            Timestamp::parse_rfc3339(&full).map(|t| Some(t.millis())).map_err(|e| format!("{field}: {e}"))
        };
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Ok(Filter {
            environment: Some(environment.to_owned()),
            actor: text(&self.actor),
            action: text(&self.action),
            from: time("from", &self.from)?,
            until: time("until", &self.until)?,
        })
    }
}

/// One page of records, newest first, and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub records: Vec<Record>,
    pub total: i64,
}

/// The largest page a caller may ask for (exports page through everything).
pub const MAX_PAGE: i64 = 1000;

pub async fn list(store: &Store, filter: &Filter, offset: i64, limit: i64) -> Result<Page, StoreError> {
    let (clause, binds) = where_clause(filter);
    let count_sql = format!("SELECT COUNT(*) FROM audit{clause}");
    let mut count = sqlx::query(&count_sql);
    for b in &binds {
        count = b.bind_to(count);
    }
    let total: i64 = count.fetch_one(store.pool()).await?.try_get(0)?;
    let n = binds.len();
    let list_sql = format!(
        "SELECT id, at, actor, source_ip, environment, target, action, before_value, after_value, \
         commit_sha, request_id, result, detail FROM audit{clause} ORDER BY at DESC, id DESC \
         LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let mut query = sqlx::query(&list_sql);
    for b in &binds {
        query = b.bind_to(query);
    }
    let rows = query.bind(limit.clamp(1, MAX_PAGE)).bind(offset.max(0)).fetch_all(store.pool()).await?;
    let records = rows.iter().map(record_of).collect::<Result<_, _>>()?;
    Ok(Page { records, total })
}

enum Bind {
    Text(String),
    Int(i64),
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

impl Bind {
    fn bind_to<'q>(&self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        match self {
            Bind::Text(s) => query.bind(s.clone()),
            Bind::Int(i) => query.bind(*i),
        }
    }
}

fn where_clause(filter: &Filter) -> (String, Vec<Bind>) {
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    let mut text = |column: &str, value: &Option<String>| {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            binds.push(Bind::Text(v.clone()));
            conditions.push(format!("{column} = ${}", binds.len()));
        }
    };
    text("environment", &filter.environment);
    text("actor", &filter.actor);
    text("action", &filter.action);
    if let Some(from) = filter.from {
        binds.push(Bind::Int(from));
        conditions.push(format!("at >= ${}", binds.len()));
    }
    if let Some(until) = filter.until {
        binds.push(Bind::Int(until));
        conditions.push(format!("at < ${}", binds.len()));
    }
    let clause =
        if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };
    (clause, binds)
}

fn record_of(row: &AnyRow) -> Result<Record, sqlx::Error> {
    Ok(Record {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        source_ip: row.try_get("source_ip")?,
        environment: row.try_get("environment")?,
        target: row.try_get("target")?,
        action: row.try_get("action")?,
        before: row.try_get("before_value")?,
        after: row.try_get("after_value")?,
        commit: row.try_get("commit_sha")?,
        request_id: row.try_get("request_id")?,
        result: Outcome::parse(&row.try_get::<String, _>("result")?),
        detail: row.try_get("detail")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn filter_queries_parse_as_utc() {
        let q = FilterQuery { actor: " dana ".into(), from: "1970-01-01T00:01".into(), ..Default::default() };
        let f = q.parse("production").unwrap();
        assert_eq!((f.actor.as_deref(), f.from, f.until, f.action), (Some("dana"), Some(60_000), None, None));
        let bad = FilterQuery { until: "yesterday".into(), ..Default::default() }.parse("x").unwrap_err();
        assert!(bad.starts_with("until: "), "{bad}");
    }

    fn caller(user: &str) -> Caller {
        Caller { user: user.into(), source_ip: Some("10.0.0.7".into()), request_id: Some("req-1".into()) }
    }

    async fn records_round_trip_with_every_field(store: Store) {
        let record = Record::new(&caller("dana"), "deploy", Outcome::Succeeded, Timestamp(1_000))
            .environment("production")
            .target("shop/myapp-deployment")
            .change(Some("myapp:1a2b3c4".into()), Some("myapp:5d6e7f8".into()))
            .commit(Some("5d6e7f8".into()))
            .detail("approved by avery");
        append_alone(&store, &record).await.unwrap();
        let page = list(&store, &Filter::default(), 0, 10).await.unwrap();
        assert_eq!(page.total, 1);
        assert_eq!(page.records, vec![record]);
    }

    async fn filters_and_pages_newest_first(store: Store) {
        for i in 0..25_i64 {
            let who = if i % 2 == 0 { "dana" } else { "avery" };
            let env = if i % 5 == 0 { "staging" } else { "production" };
            let r = Record::new(
                &caller(who),
                if i % 3 == 0 { "lock" } else { "deploy" },
                Outcome::Succeeded,
                Timestamp(i * 1000),
            )
            .environment(env);
            append_alone(&store, &r).await.unwrap();
        }
        let first = list(&store, &Filter::default(), 0, 10).await.unwrap();
        assert_eq!(first.total, 25);
        assert_eq!(
            first.records.iter().map(|r| r.at).collect::<Vec<_>>(),
            (15..25).rev().map(|i| i * 1000).collect::<Vec<_>>()
        );
        let third = list(&store, &Filter::default(), 20, 10).await.unwrap();
        assert_eq!(third.records.len(), 5);
        let filter = Filter {
            environment: Some("production".into()),
            actor: Some("dana".into()),
            action: Some("deploy".into()),
            from: Some(2000),
            until: Some(20_000),
        };
        let page = list(&store, &filter, 0, 100).await.unwrap();
        // Even i in 2..20, not a multiple of 5 or 3: 2, 4, 8, 14, 16.
        assert_eq!(page.records.iter().map(|r| r.at / 1000).collect::<Vec<_>>(), vec![16, 14, 8, 4, 2]);
        assert_eq!(page.total, 5);
    }

    /// A record in a transaction that rolls back is gone with the decision it described.
    async fn records_share_the_fate_of_their_transaction(store: Store) {
        let mut tx = store.begin().await.unwrap();
        append(&mut tx, &Record::new(&caller("dana"), "deploy", Outcome::Succeeded, Timestamp(1)))
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(list(&store, &Filter::default(), 0, 10).await.unwrap().total, 0);
    }

    /// The database itself refuses to change or delete a record, whoever asks; the record
    /// stays as written.
    async fn the_database_refuses_to_rewrite_history(store: Store) {
        let record = Record::new(&caller("dana"), "deploy", Outcome::Failed, Timestamp(1_000))
            .environment("production")
            .detail("rollout timed out");
        append_alone(&store, &record).await.unwrap();
        let mut attempts = vec![
            ("UPDATE", "UPDATE audit SET result = 'succeeded', detail = NULL WHERE id = $1"),
            ("UPDATE", "UPDATE audit SET actor = 'avery'"),
            ("DELETE", "DELETE FROM audit WHERE id = $1"),
            ("DELETE", "DELETE FROM audit"),
        ];
        if store.kind() == crate::store::Kind::Postgres {
            attempts.push(("TRUNCATE", "TRUNCATE audit"));
        }
        for (operation, statement) in attempts {
            let mut query = sqlx::query(statement);
            if statement.contains("$1") {
                query = query.bind(&record.id);
            }
            let refused = query.execute(store.pool()).await.expect_err(statement).to_string();
            let words = format!("the audit trail is append-only: {operation} refused");
            assert!(refused.contains(&words), "{statement}: {refused}");
        }
        let page = list(&store, &Filter::default(), 0, 10).await.unwrap();
        assert_eq!(page.records, vec![record]);
    }

    crate::store_tests!(
        records_round_trip_with_every_field,
        filters_and_pages_newest_first,
        records_share_the_fate_of_their_transaction,
        the_database_refuses_to_rewrite_history
    );
}
