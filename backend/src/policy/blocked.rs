//! Blocked commits: commits nobody may release again through Rollgate, typically the one a
//! rollback took out of service. A change that would put a blocked commit into service (deploy
//! its image, roll back to a revision running it, redeploy it, roll a stage back to an
//! execution of it) is refused when asked for and again when it would run; the release guard
//! ([`crate::pipelines::guard`]) stops executions of it started outside Rollgate before they
//! enter a Deploy stage. Blocking is immediate (it holds releases back); lifting a block is
//! a change request ([`BlockChange`]), so four eyes apply in protected environments.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::audit::{self, Caller, Outcome, Record};
use crate::changes::executor::BoxFuture;
use crate::changes::{Change, ExecuteError, Executed, Executor, Origin, Preview};
use crate::clock::Timestamp;
use crate::config::Environment;
use crate::policy::Permission;
use crate::store::{Store, StoreError, Tx};

/// A commit hash as people and images write it: 7 to 40 hex digits, kept lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CommitHash(String);

impl CommitHash {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if (7..=40).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(text.to_ascii_lowercase()))
        } else {
            Err(format!("{text:?} is not a commit hash (7 to 40 hexadecimal digits)"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether both name the same commit: one is the other's prefix.
    pub fn matches(&self, other: &CommitHash) -> bool {
        self.0.starts_with(&other.0) || other.0.starts_with(&self.0)
    }
}

impl TryFrom<String> for CommitHash {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<CommitHash> for String {
    fn from(c: CommitHash) -> String {
        c.0
    }
}

impl std::fmt::Display for CommitHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One block, lifted or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub id: String,
    pub commit: CommitHash,
    pub reason: String,
    pub by: String,
    pub at: Timestamp,
    pub change: Option<String>,
    /// Who lifted it and when, through which change request.
    pub lifted: Option<(String, Timestamp, Option<String>)>,
}

impl std::fmt::Display for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "commit {} is blocked by {} since {}: {}",
            self.commit,
            self.by,
            self.at.rfc3339(),
            self.reason
        )
    }
}

/// The most a reason may say.
const MAX_REASON: usize = 300;

/// Blocks `commit` in `environment` (nothing new when it is blocked already); audited in the
/// same transaction.
pub async fn block(
    tx: &mut Tx,
    caller: &Caller,
    environment: &str,
    commit: &CommitHash,
    reason: &str,
    change: Option<&str>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let reason: String = reason.trim().chars().take(MAX_REASON).collect();
    let active = sqlx::query(
        "SELECT commit_hash FROM blocked_commits WHERE environment = $1 AND unblocked_at IS NULL",
    )
    .bind(environment)
    .fetch_all(&mut **tx)
    .await?;
    for row in active {
        if CommitHash::parse(&row.try_get::<String, _>(0)?).is_ok_and(|c| c.matches(commit)) {
            return Ok(false);
        }
    }
    sqlx::query(
        "INSERT INTO blocked_commits (id, environment, commit_hash, reason, blocked_by, blocked_at, change_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(crate::ids::random_token(12))
    .bind(environment)
    .bind(commit.as_str())
    .bind(&reason)
    .bind(&caller.user)
    .bind(now.millis())
    .bind(change)
    .execute(&mut **tx)
    .await?;
    let record = Record::new(caller, "commit.block", Outcome::Succeeded, now)
        .environment(environment)
        .target(commit.as_str())
        .commit(Some(commit.to_string()))
        .detail(format!("block commit {commit}: {reason}"));
    audit::append(tx, &record).await?;
    Ok(true)
}

/// Every block of `environment`, those in force first, newest first.
pub async fn list(store: &Store, environment: &str) -> Result<Vec<Block>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, commit_hash, reason, blocked_by, blocked_at, change_id, unblocked_by, unblocked_at, \
         unblock_change FROM blocked_commits WHERE environment = $1 ORDER BY blocked_at DESC",
    )
    .bind(environment)
    .fetch_all(store.pool())
    .await?;
    let mut blocks = rows
        .iter()
        .map(|row| {
            let commit: String = row.try_get("commit_hash")?;
            let lifted_by: Option<String> = row.try_get("unblocked_by")?;
            let lifted_at: Option<i64> = row.try_get("unblocked_at")?;
            let lifted_change: Option<String> = row.try_get("unblock_change")?;
            Ok(Block {
                id: row.try_get("id")?,
                commit: CommitHash::parse(&commit).map_err(StoreError::Corrupt)?,
                reason: row.try_get("reason")?,
                by: row.try_get("blocked_by")?,
                at: Timestamp(row.try_get("blocked_at")?),
                change: row.try_get("change_id")?,
                lifted: lifted_by.zip(lifted_at).map(|(by, at)| (by, Timestamp(at), lifted_change)),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    blocks.sort_by_key(|b| b.lifted.is_some());
    Ok(blocks)
}

/// The blocks in force in `environment`.
pub async fn active(store: &Store, environment: &str) -> Result<Vec<Block>, StoreError> {
    Ok(list(store, environment).await?.into_iter().filter(|b| b.lifted.is_none()).collect())
}

/// The block in force on any of `commits`, if there is one.
pub async fn blocking(
    store: &Store,
    environment: &str,
    commits: &[CommitHash],
) -> Result<Option<Block>, StoreError> {
    if commits.is_empty() {
        return Ok(None);
    }
    Ok(active(store, environment).await?.into_iter().find(|b| commits.iter().any(|c| c.matches(&b.commit))))
}

/// The commits in image references that are tagged with one.
pub fn commits_of_images<'a>(images: impl IntoIterator<Item = &'a str>) -> Vec<CommitHash> {
    images
        .into_iter()
        .filter_map(crate::image_ref::tag_of)
        .filter_map(crate::image_ref::commit_of_tag)
        .filter_map(|c| CommitHash::parse(c).ok())
        .collect()
}

/// Lifting a block: the one change this module owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum BlockChange {
    Unblock { commit: CommitHash },
}

impl Change for BlockChange {
    fn label(&self) -> &'static str {
        "unblock commit"
    }
    fn target(&self) -> String {
        let BlockChange::Unblock { commit } = self;
        format!("commit {commit}")
    }
    fn describe(&self) -> String {
        let BlockChange::Unblock { commit } = self;
        format!("Lift the block on commit {commit}: it may be released again")
    }
    fn commit(&self) -> Option<String> {
        let BlockChange::Unblock { commit } = self;
        Some(commit.to_string())
    }
    fn permission(&self) -> Permission {
        Permission::RequestChange
    }
    fn validate(&self, _env: &Environment) -> Result<(), String> {
        Ok(())
    }
}

/// Carries out [`BlockChange`]s on the store.
pub struct Blocklist {
    pub store: Store,
}

impl Blocklist {
    async fn find(&self, env: &Environment, commit: &CommitHash) -> Result<Block, ExecuteError> {
        blocking(&self.store, &env.name, std::slice::from_ref(commit))
            .await
            .map_err(|e| ExecuteError::Unreachable(e.to_string()))?
            .ok_or_else(|| {
                ExecuteError::Invalid(format!("commit {commit} is not blocked in {}", env.title()))
            })
    }
}

impl Executor<BlockChange> for Blocklist {
    fn preview<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a BlockChange,
        _seen: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Preview, ExecuteError>> {
        Box::pin(async move {
            let BlockChange::Unblock { commit } = action;
            let block = self.find(env, commit).await?;
            Ok(Preview {
                before: format!("{block}"),
                after: format!("commit {commit} may be released again"),
                version: block.id,
                releases: Vec::new(),
                retires: Vec::new(),
            })
        })
    }

    fn execute<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a BlockChange,
        _before: &'a str,
        origin: &'a Origin,
    ) -> BoxFuture<'a, Result<Executed, ExecuteError>> {
        Box::pin(async move {
            let BlockChange::Unblock { commit } = action;
            let block = self.find(env, commit).await?;
            sqlx::query(
                "UPDATE blocked_commits SET unblocked_by = $2, unblocked_at = $3, unblock_change = $4 \
                 WHERE id = $1 AND unblocked_at IS NULL",
            )
            .bind(&block.id)
            .bind(&origin.by)
            .bind(Timestamp::now().millis())
            .bind(&origin.change)
            .execute(self.store.pool())
            .await
            .map_err(|e| ExecuteError::Unreachable(e.to_string()))?;
            Ok(Executed::new(format!("lifted the block on commit {}", block.commit)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_match_by_prefix() {
        let short = CommitHash::parse("5D6E7F8").unwrap();
        assert_eq!(short.as_str(), "5d6e7f8");
        let full = CommitHash::parse("5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e").unwrap();
        assert!(short.matches(&full) && full.matches(&short));
        assert!(!short.matches(&CommitHash::parse("5d6e7f9").unwrap()));
        for bad in ["5d6e7f", "latest", "5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e0", "5d6e 7f8"] {
            assert!(CommitHash::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            commits_of_images(["myapp:5d6e7f8", "nginx:1.27", "reg:5000/app:abcdef0123", "busybox"]),
            [short, CommitHash::parse("abcdef0123").unwrap()]
        );
    }

    async fn blocked_once_then_lifted(store: Store) {
        let ada = Caller::new("ada");
        let commit = CommitHash::parse("5d6e7f8").unwrap();
        let full = CommitHash::parse("5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e").unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(
            block(&mut tx, &ada, "production", &commit, " broke checkout ", None, Timestamp(1))
                .await
                .unwrap()
        );
        assert!(!block(&mut tx, &ada, "production", &full, "again", None, Timestamp(2)).await.unwrap());
        tx.commit().await.unwrap();
        let found =
            blocking(&store, "production", std::slice::from_ref(&full)).await.unwrap().expect("blocked");
        assert_eq!((found.reason.as_str(), found.by.as_str()), ("broke checkout", "ada"));
        assert!(
            blocking(&store, "staging", std::slice::from_ref(&full)).await.unwrap().is_none(),
            "per environment"
        );
        let env = crate::config::load(&crate::config::Source::SandboxDefault).unwrap();
        let production = env.environment("production").unwrap();
        let blocklist = Blocklist { store: store.clone() };
        let unblock = BlockChange::Unblock { commit: full.clone() };
        blocklist.preview(production, &unblock, None).await.expect("a block to lift");
        let origin = Origin { change: "c1".into(), by: "dana, approved by avery".into() };
        blocklist.execute(production, &unblock, "", &origin).await.unwrap();
        assert!(blocking(&store, "production", &[commit]).await.unwrap().is_none());
        let history = list(&store, "production").await.unwrap();
        assert_eq!(history[0].lifted.as_ref().map(|l| l.0.as_str()), Some("dana, approved by avery"));
        assert!(matches!(
            blocklist.execute(production, &unblock, "", &origin).await,
            Err(ExecuteError::Invalid(_))
        ));
    }

    crate::store_tests!(blocked_once_then_lifted);
}
