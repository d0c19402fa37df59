//! The four delivery figures (DORA) of one application in one environment, from its history
//! of rollouts. Pure: the history is read elsewhere ([`super::read`]).
//!
//! - A *deployment* is a rollout that finished: a pipeline's deploy stage that succeeded, or a
//!   Rollgate deploy or rollback. Rollbacks are deployments too.
//! - A *failed rollout* is a deploy stage that failed.
//! - A *change* is a deployment or a failed rollout. A change *failed* when its rollout
//!   failed, or, within the failure window after it, it was rolled back or a hotfix followed
//!   it (the next deployment is a hotfix: its commit message begins with "hotfix" or
//!   "revert"). A rollback that is itself rolled back failed too.
//! - *Lead time* is from a commit's authoring to its deployment (rollbacks are not counted:
//!   their commits are old on purpose).
//! - *Time to restore* is from a failed change to the deployment that ended it: the rollback
//!   or hotfix, or for a failed rollout the next deployment.

/// One rollout in an application's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    /// When it finished (or failed).
    pub at_ms: i64,
    pub outcome: Outcome,
    /// The commit it deployed, when known (the full or the image tag's short hash).
    pub commit: Option<String>,
    pub authored_ms: Option<i64>,
    /// Its commit message, when known.
    pub message: Option<String>,
    /// What made it: `myapp-production execution 8ce0…` or `Rollgate change 4f2a… by dana`.
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Deployed,
    RolledBack,
    Failed,
}

impl Rollout {
    fn deployed(&self) -> bool {
        self.outcome != Outcome::Failed
    }

    fn hotfix(&self) -> bool {
        self.message.as_deref().is_some_and(|m| {
            let m = m.trim_start().to_ascii_lowercase();
            m.starts_with("hotfix") || m.starts_with("revert")
        })
    }
}

/// Each rollout of a history (sorted oldest first) judged: whether the change failed, and
/// when it was restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    pub failed: bool,
    /// The failure's end (the deployment that restored it), when it has ended.
    pub restored_ms: Option<i64>,
}

/// Judges `rollouts` (oldest first) with a failure window of `window_ms`.
pub fn judge(rollouts: &[Rollout], window_ms: i64) -> Vec<Judged> {
    let mut judged: Vec<Judged> =
        rollouts.iter().map(|r| Judged { failed: r.outcome == Outcome::Failed, restored_ms: None }).collect();
    for (i, r) in rollouts.iter().enumerate() {
        if !r.deployed() {
            continue;
        }
        let undoes = r.outcome == Outcome::RolledBack || r.hotfix();
        // The deployment it undoes or fixes: the latest one before it, if within the window.
        if undoes
            && let Some(j) = (0..i).rev().find(|&j| rollouts[j].deployed())
            && r.at_ms - rollouts[j].at_ms <= window_ms
        {
            judged[j].failed = true;
            judged[j].restored_ms.get_or_insert(r.at_ms);
        }
    }
    // A failed rollout is restored by the next deployment.
    for (i, r) in rollouts.iter().enumerate() {
        if r.outcome == Outcome::Failed {
            judged[i].restored_ms = rollouts[i + 1..].iter().find(|n| n.deployed()).map(|n| n.at_ms);
        }
    }
    judged
}

/// A span of time: `from_ms` included, `until_ms` excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from_ms: i64,
    pub until_ms: i64,
}

impl Span {
    pub fn holds(&self, t: i64) -> bool {
        self.from_ms <= t && t < self.until_ms
    }

    fn days(&self) -> f64 {
        (self.until_ms - self.from_ms) as f64 / 86_400_000.0
    }

    /// The span of the same length just before this one.
    pub fn before(&self) -> Span {
        Span { from_ms: 2 * self.from_ms - self.until_ms, until_ms: self.from_ms }
    }

    /// This span cut into `n` equal parts, oldest first.
    pub fn parts(&self, n: i64) -> Vec<Span> {
        let n = n.max(1);
        let length = (self.until_ms - self.from_ms) / n;
        (0..n)
            .map(|i| Span {
                from_ms: self.from_ms + i * length,
                until_ms: if i == n - 1 { self.until_ms } else { self.from_ms + (i + 1) * length },
            })
            .collect()
    }
}

/// The four figures over a span.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub deployments: usize,
    /// Deployments per day.
    pub per_day: f64,
    /// The median lead time, when a deployment had a commit of known age.
    pub lead_time_ms: Option<i64>,
    pub changes: usize,
    pub failed_changes: usize,
    /// Failed changes over changes, when there was a change.
    pub failure_rate: Option<f64>,
    /// The median time to restore of the failures that began in the span and have ended.
    pub restore_ms: Option<i64>,
    pub restores: usize,
}

/// The figures of `rollouts` (oldest first, judged as `judged`) over `span`.
pub fn figures(rollouts: &[Rollout], judged: &[Judged], span: Span) -> Figures {
    let inside: Vec<(&Rollout, &Judged)> =
        rollouts.iter().zip(judged).filter(|(r, _)| span.holds(r.at_ms)).collect();
    let deployments = inside.iter().filter(|(r, _)| r.deployed()).count();
    let leads: Vec<i64> = inside
        .iter()
        .filter(|(r, _)| r.outcome == Outcome::Deployed)
        .filter_map(|(r, _)| r.authored_ms.map(|a| (r.at_ms - a).max(0)))
        .collect();
    let failed_changes = inside.iter().filter(|(_, j)| j.failed).count();
    let restores: Vec<i64> = inside
        .iter()
        .filter(|(_, j)| j.failed)
        .filter_map(|(r, j)| j.restored_ms.map(|t| t - r.at_ms))
        .collect();
    Figures {
        deployments,
        per_day: deployments as f64 / span.days().max(1.0 / 24.0),
        lead_time_ms: median(leads),
        changes: inside.len(),
        failed_changes,
        failure_rate: (!inside.is_empty()).then(|| failed_changes as f64 / inside.len() as f64),
        restore_ms: median(restores.clone()),
        restores: restores.len(),
    }
}

fn median(mut values: Vec<i64>) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2 })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const DAY: i64 = 24 * H;
    const WINDOW: i64 = 24 * H;

    fn rollout(at_ms: i64, outcome: Outcome, authored_ms: Option<i64>, message: &str) -> Rollout {
        Rollout {
            at_ms,
            outcome,
            commit: None,
            authored_ms,
            message: Some(message.to_owned()),
            source: String::new(),
        }
    }

    fn deployed(at_ms: i64, authored_ms: i64) -> Rollout {
        rollout(at_ms, Outcome::Deployed, Some(authored_ms), "feature")
    }

    fn week() -> Span {
        Span { from_ms: 0, until_ms: 7 * DAY }
    }

    #[test]
    fn no_deployments_has_no_rates() {
        let f = figures(&[], &[], week());
        assert_eq!((f.deployments, f.per_day, f.changes), (0, 0.0, 0));
        assert_eq!((f.lead_time_ms, f.failure_rate, f.restore_ms), (None, None, None));
    }

    #[test]
    fn frequency_and_median_lead_time() {
        let history = [
            deployed(DAY, DAY - 2 * H),
            deployed(2 * DAY, 2 * DAY - 4 * H),
            deployed(3 * DAY, 3 * DAY - 9 * H),
        ];
        let judged = judge(&history, WINDOW);
        let f = figures(&history, &judged, week());
        assert_eq!(f.deployments, 3);
        assert!((f.per_day - 3.0 / 7.0).abs() < 1e-9);
        assert_eq!(f.lead_time_ms, Some(4 * H), "the median of 2, 4 and 9 hours");
        assert_eq!((f.failed_changes, f.failure_rate), (0, Some(0.0)));
        let even = figures(&history[..2], &judge(&history[..2], WINDOW), week());
        assert_eq!(even.lead_time_ms, Some(3 * H), "the mean of the middle two");
    }

    /// A rollback within the window fails the deployment it undid and restores it; one
    /// later than the window does not count against it.
    #[test]
    fn rollbacks_fail_what_they_undo_within_the_window() {
        let history = [
            deployed(DAY, 0),
            deployed(2 * DAY, 0),
            rollout(2 * DAY + 3 * H, Outcome::RolledBack, Some(0), "feature"),
            deployed(4 * DAY, 0),
            rollout(6 * DAY, Outcome::RolledBack, Some(0), "feature"),
        ];
        let judged = judge(&history, WINDOW);
        let failed: Vec<bool> = judged.iter().map(|j| j.failed).collect();
        assert_eq!(failed, [false, true, false, false, false]);
        let f = figures(&history, &judged, week());
        assert_eq!((f.deployments, f.changes, f.failed_changes), (5, 5, 1));
        assert_eq!(f.failure_rate, Some(0.2));
        assert_eq!((f.restore_ms, f.restores), (Some(3 * H), 1));
        assert_eq!(
            f.lead_time_ms,
            Some(2 * DAY),
            "rollbacks have no lead time: the median of 1, 2 and 4 days"
        );
    }

    /// A rollback of a rollback: the first rollback failed (it was undone), and so did the
    /// deployment it undid; each is restored by what undid it.
    #[test]
    fn a_rollback_of_a_rollback() {
        let history = [
            deployed(DAY, 0),
            rollout(DAY + H, Outcome::RolledBack, None, ""),
            rollout(DAY + 3 * H, Outcome::RolledBack, None, ""),
        ];
        let judged = judge(&history, WINDOW);
        assert_eq!(
            judged,
            [
                Judged { failed: true, restored_ms: Some(DAY + H) },
                Judged { failed: true, restored_ms: Some(DAY + 3 * H) },
                Judged { failed: false, restored_ms: None },
            ]
        );
        let f = figures(&history, &judged, week());
        assert_eq!((f.failed_changes, f.changes), (2, 3));
        assert_eq!(f.restore_ms, Some((H + 2 * H) / 2));
    }

    /// A failed rollout is a failed change restored by the next deployment; a hotfix fails the
    /// deployment before it. An open failure has no time to restore yet.
    #[test]
    fn failed_rollouts_and_hotfixes() {
        let history = [
            deployed(DAY, 0),
            rollout(DAY + 2 * H, Outcome::Deployed, Some(DAY), "Hotfix: cart totals"),
            rollout(3 * DAY, Outcome::Failed, Some(0), "feature"),
            deployed(3 * DAY + 5 * H, 3 * DAY),
            rollout(5 * DAY, Outcome::Failed, Some(0), "feature"),
        ];
        let judged = judge(&history, WINDOW);
        let failed: Vec<bool> = judged.iter().map(|j| j.failed).collect();
        assert_eq!(failed, [true, false, true, false, true]);
        assert_eq!(judged[2].restored_ms, Some(3 * DAY + 5 * H));
        assert_eq!(judged[4].restored_ms, None, "not restored yet");
        let f = figures(&history, &judged, week());
        assert_eq!((f.deployments, f.changes, f.failed_changes), (3, 5, 3));
        assert_eq!((f.restore_ms, f.restores), (Some((2 * H + 5 * H) / 2), 2));
    }

    #[test]
    fn spans_and_their_parts() {
        let span = week();
        assert_eq!(span.before(), Span { from_ms: -7 * DAY, until_ms: 0 });
        let parts = span.parts(7);
        assert_eq!(parts.len(), 7);
        assert_eq!((parts[0].from_ms, parts[6].until_ms), (0, 7 * DAY));
        // A rollout at a part's end belongs to the next.
        let history = [deployed(DAY, 0)];
        let judged = judge(&history, WINDOW);
        assert_eq!(figures(&history, &judged, parts[0]).deployments, 0);
        assert_eq!(figures(&history, &judged, parts[1]).deployments, 1);
    }
}
