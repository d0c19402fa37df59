//! Quorum on CodePipeline's manual approvals. CodePipeline takes one `PutApprovalResult` from
//! one principal; a team that needs two people, or one from security, says so in the
//! configuration ([`crate::config::ApprovalRule`]) and Rollgate collects the answers: each
//! person's vote is kept (with the groups they were in when they voted), and CodePipeline is
//! answered once, when the quorum is met or at the first rejection.
//!
//! Once across callers and replicas: the caller whose vote decided claims the token's answer
//! in the store (`pipeline_answers`, a conditional insert) and alone calls AWS. Two votes
//! landing together both count both (each reads the votes after writing its own, so at least
//! the later one sees both), and only one of them wins the claim.

use sqlx::Row;

use super::read::PipelineState;
use super::signature;
use crate::audit::{self, Caller, Outcome, Record};
use crate::clock::Timestamp;
use crate::config::{Environment, Quorum};
use crate::store::{Store, StoreError, Tx};

/// How long CodePipeline lets a manual approval wait before it fails it.
pub const APPROVAL_LIFETIME_SECS: i64 = 7 * 86_400;

/// A claim on sending an answer that is this old was left by a replica that stopped.
const STALE_CLAIM_SECS: i64 = 60;

/// The longest summary PutApprovalResult takes.
pub const SUMMARY_MAX: usize = 512;

/// Which approval a vote answers: the token CodePipeline gave it, and where it waits.
#[derive(Debug, Clone)]
pub struct Ballot<'a> {
    pub environment: &'a str,
    pub pipeline: &'a str,
    pub stage: &'a str,
    pub action: &'a str,
    pub token: &'a str,
    pub execution: &'a str,
    /// The action execution's id, when CodePipeline gives one.
    pub action_execution: Option<&'a str>,
}

/// One person's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    pub voter: String,
    pub approve: bool,
    pub comment: String,
    /// The groups the voter was in when they voted.
    pub groups: Vec<String>,
    pub at: Timestamp,
}

/// Where the votes stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tally {
    /// `people` more approvals needed, among them someone from each of `groups`.
    Waiting {
        people: u8,
        groups: Vec<String>,
    },
    Approved,
    /// The first rejection, which decides at once.
    Rejected {
        by: String,
    },
}

impl Tally {
    pub fn decided(&self) -> bool {
        !matches!(self, Tally::Waiting { .. })
    }
}

/// Counts `votes` against `quorum`.
pub fn tally(quorum: &Quorum, votes: &[Vote]) -> Tally {
    if let Some(no) = votes.iter().filter(|v| !v.approve).min_by_key(|v| v.at) {
        return Tally::Rejected { by: no.voter.clone() };
    }
    let approvals = u8::try_from(votes.len()).unwrap_or(u8::MAX);
    let groups: Vec<String> =
        quorum.groups.iter().filter(|g| !votes.iter().any(|v| v.groups.contains(g))).cloned().collect();
    let people = quorum.required.saturating_sub(approvals).max(u8::from(!groups.is_empty()));
    if people == 0 { Tally::Approved } else { Tally::Waiting { people, groups } }
}

/// Where an approval stands, in words: "1 of 2: avery approved; waiting for someone from
/// security".
pub fn describe(quorum: &Quorum, votes: &[Vote]) -> String {
    let approvers: Vec<&str> = votes.iter().filter(|v| v.approve).map(|v| v.voter.as_str()).collect();
    match tally(quorum, votes) {
        Tally::Rejected { by } => format!("Rejected by {by}"),
        Tally::Approved => format!("Approved by {}", approvers.join(", ")),
        Tally::Waiting { people, groups } => {
            let so_far = if approvers.is_empty() {
                format!("0 of {}", quorum.required)
            } else {
                format!("{} of {}: {} approved", approvers.len(), quorum.required, approvers.join(", "))
            };
            let from = match groups.as_slice() {
                [] => String::new(),
                [one] => format!(" from {one}"),
                [init @ .., last] => format!(" from {} and {last}", init.join(", ")),
            };
            let who = match (people, groups.len()) {
                (1, _) if approvers.is_empty() && groups.is_empty() => "one person".to_owned(),
                (1, _) if groups.is_empty() => "one more person".to_owned(),
                (1, _) => format!("someone{from}"),
                (n, 0) => format!("{n} more people"),
                (n, 1) => format!("{n} more people, one of them{from}"),
                (n, _) => format!("{n} more people, among them someone from each of {}", groups.join(", ")),
            };
            format!("{so_far}; waiting for {who}")
        }
    }
}

/// The rule in words: "Needs 2 people, at least one from each of release-managers, security;
/// never the releaser."
pub fn rule_words(quorum: &Quorum) -> String {
    let people =
        if quorum.required == 1 { "one person".to_owned() } else { format!("{} people", quorum.required) };
    let groups = match quorum.groups.as_slice() {
        [] => String::new(),
        [one] => format!(", at least one from {one}"),
        many => format!(", at least one from each of {}", many.join(", ")),
    };
    let releaser =
        if quorum.exclude_releaser { "; never whoever asked Rollgate for the release" } else { "" };
    format!("Needs {people}{groups}{releaser}.")
}

/// The summary CodePipeline keeps with the answer: each deciding vote's comment signed by its
/// voter, or, when they do not fit, the deciding voter's alone (whose comment was checked to
/// fit once signed).
pub fn summary(votes: &[Vote], tally: &Tally, decided_by: &str) -> String {
    let deciding: Vec<&Vote> = match tally {
        Tally::Rejected { by } => votes.iter().filter(|v| &v.voter == by).collect(),
        _ => votes.iter().filter(|v| v.approve).collect(),
    };
    let all = deciding.iter().map(|v| signature::sign(&v.comment, &v.voter)).collect::<Vec<_>>().join("; ");
    if all.chars().count() <= SUMMARY_MAX {
        return all;
    }
    let last = deciding.iter().find(|v| v.voter == decided_by).or(deciding.last());
    last.map(|v| signature::sign(&v.comment, &v.voter)).unwrap_or_default()
}

/// Records `vote`; `false` when its voter had voted on this approval already (their first
/// vote stands).
pub async fn cast(tx: &mut Tx, ballot: &Ballot<'_>, vote: &Vote) -> Result<bool, StoreError> {
    let groups = serde_json::to_string(&vote.groups).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let inserted = sqlx::query(
        "INSERT INTO pipeline_votes (environment, pipeline, stage, action, token, execution, voter, decision, \
         comment, voter_groups, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (environment, pipeline, token, voter) DO NOTHING",
    )
    .bind(ballot.environment)
    .bind(ballot.pipeline)
    .bind(ballot.stage)
    .bind(ballot.action)
    .bind(ballot.token)
    .bind(ballot.execution)
    .bind(&vote.voter)
    .bind(if vote.approve { "approve" } else { "reject" })
    .bind(&vote.comment)
    .bind(groups)
    .bind(vote.at.millis())
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// The votes on the approval waiting with `token`, oldest first.
pub async fn votes(
    store: &Store,
    environment: &str,
    pipeline: &str,
    token: &str,
) -> Result<Vec<Vote>, StoreError> {
    let rows = sqlx::query(
        "SELECT voter, decision, comment, voter_groups, at FROM pipeline_votes \
         WHERE environment = $1 AND pipeline = $2 AND token = $3 ORDER BY at, voter",
    )
    .bind(environment)
    .bind(pipeline)
    .bind(token)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let groups: String = row.try_get("voter_groups")?;
            Ok(Vote {
                voter: row.try_get("voter")?,
                approve: row.try_get::<String, _>("decision")? == "approve",
                comment: row.try_get("comment")?,
                groups: serde_json::from_str(&groups).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                at: Timestamp(row.try_get("at")?),
            })
        })
        .collect()
}

/// What Rollgate did with an approval's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub approve: bool,
    pub state: AnswerState,
    /// Why sending it failed, in words.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerState {
    Sending,
    Sent,
    Failed,
    /// Answered outside Rollgate (the console, the CLI).
    Outside,
}

impl AnswerState {
    fn as_str(self) -> &'static str {
        match self {
            AnswerState::Sending => "sending",
            AnswerState::Sent => "sent",
            AnswerState::Failed => "failed",
            AnswerState::Outside => "outside",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "sending" => AnswerState::Sending,
            "sent" => AnswerState::Sent,
            "failed" => AnswerState::Failed,
            "outside" => AnswerState::Outside,
            other => return Err(StoreError::Corrupt(format!("answer state {other:?}"))),
        })
    }
}

/// Rollgate's answer to the approval with `token` (or, once CodePipeline no longer shows the
/// token, the approval's action execution), if it has one.
pub async fn answer(
    store: &Store,
    environment: &str,
    pipeline: &str,
    token: Option<&str>,
    action_execution: Option<&str>,
) -> Result<Option<Answer>, StoreError> {
    let row = sqlx::query(
        "SELECT decision, state, error FROM pipeline_answers WHERE environment = $1 AND pipeline = $2 \
         AND (token = $3 OR action_execution = $4) ORDER BY claimed_at DESC LIMIT 1",
    )
    .bind(environment)
    .bind(pipeline)
    .bind(token)
    .bind(action_execution)
    .fetch_optional(store.pool())
    .await?;
    row.map(|row| {
        Ok(Answer {
            approve: row.try_get::<String, _>("decision")? == "approve",
            state: AnswerState::parse(&row.try_get::<String, _>("state")?)?,
            error: row.try_get("error")?,
        })
    })
    .transpose()
}

/// Claims sending the answer: `true` for the one caller who is to call AWS. A failed answer,
/// or one whose sender stopped a minute ago, may be claimed again.
pub async fn claim(
    store: &Store,
    ballot: &Ballot<'_>,
    approve: bool,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let claimed = sqlx::query(
        "INSERT INTO pipeline_answers (environment, pipeline, token, stage, action, execution, decision, state, \
         claimed_at, action_execution) VALUES ($1, $2, $3, $4, $5, $6, $7, 'sending', $8, $10) \
         ON CONFLICT (environment, pipeline, token) DO UPDATE SET state = 'sending', decision = $7, \
         claimed_at = $8, error = NULL \
         WHERE pipeline_answers.state = 'failed' OR (pipeline_answers.state = 'sending' AND pipeline_answers.claimed_at < $9)",
    )
    .bind(ballot.environment)
    .bind(ballot.pipeline)
    .bind(ballot.token)
    .bind(ballot.stage)
    .bind(ballot.action)
    .bind(ballot.execution)
    .bind(if approve { "approve" } else { "reject" })
    .bind(now.millis())
    .bind(now.plus_secs(-STALE_CLAIM_SECS).millis())
    .bind(ballot.action_execution)
    .execute(store.pool())
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Records how sending the claimed answer went.
pub async fn settle(store: &Store, ballot: &Ballot<'_>, error: Option<&str>) -> Result<(), StoreError> {
    let state = if error.is_some() { AnswerState::Failed } else { AnswerState::Sent };
    sqlx::query(
        "UPDATE pipeline_answers SET state = $1, error = $2 \
         WHERE environment = $3 AND pipeline = $4 AND token = $5 AND state = 'sending'",
    )
    .bind(state.as_str())
    .bind(error)
    .bind(ballot.environment)
    .bind(ballot.pipeline)
    .bind(ballot.token)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Notes that the approval was answered outside Rollgate; `true` the first time (across
/// replicas), so it is audited once.
pub async fn notice_outside(
    store: &Store,
    ballot: &Ballot<'_>,
    approve: bool,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let noticed = sqlx::query(
        "INSERT INTO pipeline_answers (environment, pipeline, token, stage, action, execution, decision, state, \
         claimed_at, action_execution) VALUES ($1, $2, $3, $4, $5, $6, $7, 'outside', $8, $9) \
         ON CONFLICT (environment, pipeline, token) DO NOTHING",
    )
    .bind(ballot.environment)
    .bind(ballot.pipeline)
    .bind(ballot.token)
    .bind(ballot.stage)
    .bind(ballot.action)
    .bind(ballot.execution)
    .bind(if approve { "approve" } else { "reject" })
    .bind(now.millis())
    .bind(ballot.action_execution)
    .execute(store.pool())
    .await?;
    Ok(noticed.rows_affected() == 1)
}

/// Where a waiting approval stands, for its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub rule: String,
    pub votes: Vec<Vote>,
    /// "1 of 2: avery approved; waiting for someone from security".
    pub words: String,
    /// Why the decided answer has not reached CodePipeline, when sending it failed.
    pub unsent: Option<String>,
}

/// Where the approval `stage` / `action` waiting with `token` stands.
pub async fn standing(
    store: &Store,
    env: &Environment,
    pipeline: &str,
    stage: &str,
    action: &str,
    token: &str,
) -> Result<Standing, StoreError> {
    let rule = env.quorum(pipeline, stage, action);
    let votes = votes(store, &env.name, pipeline, token).await?;
    let unsent = match answer(store, &env.name, pipeline, Some(token), None).await? {
        Some(Answer { state: AnswerState::Failed, error, .. }) => {
            Some(error.unwrap_or_else(|| "CodePipeline did not take the answer".into()))
        }
        _ => None,
    };
    Ok(Standing { rule: rule_words(&rule), words: describe(&rule, &votes), votes, unsent })
}

/// A manual approval of the latest execution answered outside Rollgate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outside {
    pub stage: String,
    pub action: String,
    /// The AWS identity that answered.
    pub by: String,
    pub approve: bool,
}

/// The manual approvals of the pipeline's latest execution that someone answered in
/// CodePipeline itself (the console, the CLI) rather than through Rollgate; each is audited
/// the first time any replica notices it.
pub async fn answered_outside(
    store: &Store,
    environment: &str,
    pipeline: &str,
    state: &PipelineState,
    now: Timestamp,
) -> Result<Vec<Outside>, StoreError> {
    let Some(latest) = &state.latest else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for stage in state.stages.iter().filter(|s| s.execution_id.as_deref() == Some(latest.id.as_str())) {
        for action in &stage.actions {
            let approval = state
                .latest_actions
                .iter()
                .any(|r| r.stage == stage.name && r.action == action.name && r.approval);
            // An expired approval fails with nobody's name on it: nobody answered.
            let answered = match action.status.as_deref() {
                Some("Succeeded") => Some(true),
                Some("Failed") if action.updated_by.is_some() => Some(false),
                _ => None,
            };
            let (true, Some(approve), Some(by)) = (approval, answered, action.updated_by.as_deref()) else {
                continue;
            };
            let found = answer(
                store,
                environment,
                pipeline,
                action.token.as_deref(),
                action.action_execution_id.as_deref(),
            )
            .await?;
            match found {
                Some(Answer { state: AnswerState::Outside, .. }) => {}
                Some(_) => continue,
                None => {
                    // Keyed by the action execution, as the token is gone once answered.
                    let key = action
                        .action_execution_id
                        .clone()
                        .unwrap_or_else(|| format!("{}/{}/{}", latest.id, stage.name, action.name));
                    let ballot = Ballot {
                        environment,
                        pipeline,
                        stage: &stage.name,
                        action: &action.name,
                        token: &key,
                        execution: &latest.id,
                        action_execution: action.action_execution_id.as_deref(),
                    };
                    if notice_outside(store, &ballot, approve, now).await? {
                        let word = if approve { "approved" } else { "rejected" };
                        let record = Record::new(
                            &Caller::new(by),
                            "pipeline.answered-outside",
                            Outcome::Succeeded,
                            now,
                        )
                        .environment(environment)
                        .target(pipeline)
                        .detail(format!(
                            "{word} {} / {} of execution {} in CodePipeline itself, not through Rollgate",
                            stage.name, action.name, latest.id
                        ));
                        audit::append_alone(store, &record).await?;
                    }
                }
            }
            out.push(Outside {
                stage: stage.name.clone(),
                action: action.name.clone(),
                by: by.to_owned(),
                approve,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quorum(required: u8, groups: &[&str]) -> Quorum {
        Quorum { required, groups: groups.iter().map(|g| (*g).to_owned()).collect(), exclude_releaser: true }
    }

    fn vote(voter: &str, approve: bool, groups: &[&str], at: i64) -> Vote {
        Vote {
            voter: voter.to_owned(),
            approve,
            comment: format!("{voter} says so"),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            at: Timestamp(at),
        }
    }

    #[test]
    fn two_people_one_from_security() {
        let q = quorum(2, &["release-managers", "security"]);
        assert_eq!(
            describe(&q, &[]),
            "0 of 2; waiting for 2 more people, among them someone from each of release-managers, security"
        );
        let avery = vote("avery", true, &["release-managers"], 1);
        assert_eq!(
            tally(&q, std::slice::from_ref(&avery)),
            Tally::Waiting { people: 1, groups: vec!["security".into()] }
        );
        assert_eq!(
            describe(&q, std::slice::from_ref(&avery)),
            "1 of 2: avery approved; waiting for someone from security"
        );
        // A second approver outside security makes two, and security is still missing.
        let vera = vote("vera", true, &[], 2);
        assert_eq!(
            describe(&q, &[avery.clone(), vera.clone()]),
            "2 of 2: avery, vera approved; waiting for someone from security"
        );
        let ada = vote("ada", true, &["security"], 3);
        assert_eq!(tally(&q, &[avery.clone(), ada.clone()]), Tally::Approved);
        assert_eq!(describe(&q, &[avery, ada]), "Approved by avery, ada");
    }

    #[test]
    fn counts_people_and_groups() {
        assert_eq!(tally(&quorum(1, &[]), &[]), Tally::Waiting { people: 1, groups: vec![] });
        assert_eq!(describe(&quorum(1, &[]), &[]), "0 of 1; waiting for one person");
        assert_eq!(tally(&quorum(1, &[]), &[vote("a", true, &[], 1)]), Tally::Approved);
        let three = quorum(3, &["security"]);
        assert_eq!(
            describe(&three, &[vote("a", true, &[], 1)]),
            "1 of 3: a approved; waiting for 2 more people, one of them from security"
        );
        assert_eq!(
            describe(&quorum(2, &[]), &[vote("a", true, &[], 1)]),
            "1 of 2: a approved; waiting for one more person"
        );
        // One person in both groups covers both; the count still wants two people.
        let both = quorum(2, &["x", "y"]);
        assert_eq!(
            tally(&both, &[vote("a", true, &["x", "y"], 1)]),
            Tally::Waiting { people: 1, groups: vec![] }
        );
        // One approval short of nothing but a group: someone from it.
        assert_eq!(
            describe(&quorum(1, &["x", "y"]), &[vote("a", true, &["x"], 1)]),
            "1 of 1: a approved; waiting for someone from y"
        );
    }

    #[test]
    fn one_rejection_decides() {
        let q = quorum(2, &[]);
        let votes = [vote("a", true, &[], 1), vote("b", false, &[], 2), vote("c", false, &[], 3)];
        assert_eq!(tally(&q, &votes), Tally::Rejected { by: "b".into() });
        assert_eq!(summary(&votes, &tally(&q, &votes), "b"), "b says so (by b in Rollgate)");
    }

    #[test]
    fn the_summary_signs_each_approval_and_fits() {
        let votes = [vote("avery", true, &[], 1), vote("ada", true, &[], 2)];
        let s = summary(&votes, &Tally::Approved, "ada");
        assert_eq!(s, "avery says so (by avery in Rollgate); ada says so (by ada in Rollgate)");
        assert_eq!(signature::read(&s).1, Some("ada"));
        let long = |v: &str, at| Vote { comment: "x".repeat(400), ..vote(v, true, &[], at) };
        let s = summary(&[long("avery", 1), long("ada", 2)], &Tally::Approved, "ada");
        assert!(s.chars().count() <= SUMMARY_MAX && s.ends_with("(by ada in Rollgate)"), "{s}");
    }

    fn ballot() -> Ballot<'static> {
        Ballot {
            environment: "production",
            pipeline: "web",
            stage: "Approval",
            action: "Manual",
            token: "0e0e0e0e-0000-4000-8000-000000000000",
            execution: "1e0e0e0e-0000-4000-8000-000000000000",
            action_execution: Some("ae-1"),
        }
    }

    /// Votes are one per person; the answer is claimed by one caller, again only after it
    /// failed or its sender went quiet for a minute.
    async fn one_vote_each_and_one_sender(store: Store) {
        let b = ballot();
        let mut tx = store.begin().await.unwrap();
        assert!(cast(&mut tx, &b, &vote("avery", true, &["release-managers"], 1)).await.unwrap());
        assert!(!cast(&mut tx, &b, &vote("avery", false, &[], 2)).await.unwrap(), "the first vote stands");
        assert!(cast(&mut tx, &b, &vote("ada", true, &["security"], 3)).await.unwrap());
        tx.commit().await.unwrap();
        let votes = votes(&store, b.environment, b.pipeline, b.token).await.unwrap();
        assert_eq!(
            votes.iter().map(|v| (v.voter.as_str(), v.approve)).collect::<Vec<_>>(),
            [("avery", true), ("ada", true)]
        );
        assert_eq!(votes[0].groups, ["release-managers"]);

        let now = Timestamp(1_000_000);
        let claims = futures_util::future::join_all((0..8).map(|_| claim(&store, &b, true, now))).await;
        assert_eq!(claims.into_iter().filter(|c| *c.as_ref().unwrap()).count(), 1, "one sender");
        assert!(!claim(&store, &b, true, now.plus_secs(30)).await.unwrap(), "a fresh claim holds");
        settle(&store, &b, Some("throttled")).await.unwrap();
        let failed = answer(&store, b.environment, b.pipeline, Some(b.token), None).await.unwrap().unwrap();
        assert_eq!((failed.state, failed.error.as_deref()), (AnswerState::Failed, Some("throttled")));
        assert!(claim(&store, &b, true, now.plus_secs(31)).await.unwrap(), "a failed answer is sent again");
        assert!(claim(&store, &b, true, now.plus_secs(100)).await.unwrap(), "a stale claim is taken over");
        settle(&store, &b, None).await.unwrap();
        assert!(
            !claim(&store, &b, true, now.plus_secs(1000)).await.unwrap(),
            "a sent answer is never sent again"
        );
        assert!(!notice_outside(&store, &b, true, now).await.unwrap());
        let sent = answer(&store, b.environment, b.pipeline, None, Some("ae-1")).await.unwrap().unwrap();
        assert_eq!(sent.state, AnswerState::Sent, "found by its action execution once the token is gone");
        let other =
            Ballot { token: "2e0e0e0e-0000-4000-8000-000000000000", action_execution: None, ..ballot() };
        assert!(notice_outside(&store, &other, true, now).await.unwrap());
        assert!(!notice_outside(&store, &other, true, now).await.unwrap(), "noticed once");
    }

    crate::store_tests!(one_vote_each_and_one_sender);
}
