//! The rollouts behind the delivery figures as CSV: one row per rollout, with what it counted
//! as, so a spreadsheet can check or extend every figure.

use super::AppHistory;
use super::figures::{Outcome, Span};
use crate::audit::export::cell;
use crate::clock::Timestamp;

const COLUMNS: [&str; 13] = [
    "environment",
    "application",
    "namespace",
    "finished_at",
    "outcome",
    "commit",
    "authored_at",
    "lead_time_seconds",
    "failed_change",
    "restored_at",
    "time_to_restore_seconds",
    "source",
    "message",
];

/// The rollouts of `apps` in `environment` that finished within `span`, oldest first.
pub fn csv(environment: &str, apps: &[AppHistory], span: Span) -> String {
    let mut out = COLUMNS.join(",");
    out.push_str("\r\n");
    let time = |ms: i64| Timestamp(ms).rfc3339();
    for app in apps {
        for (r, j) in app.rollouts.iter().zip(&app.judged).filter(|(r, _)| span.holds(r.at_ms)) {
            let outcome = match r.outcome {
                Outcome::Deployed => "deployed",
                Outcome::RolledBack => "rolled back",
                Outcome::Failed => "failed",
            };
            let lead = (r.outcome == Outcome::Deployed)
                .then(|| r.authored_ms.map(|a| ((r.at_ms - a).max(0) / 1000).to_string()))
                .flatten();
            let cells = [
                environment.to_owned(),
                app.app.clone(),
                app.namespace.clone(),
                time(r.at_ms),
                outcome.to_owned(),
                r.commit.clone().unwrap_or_default(),
                r.authored_ms.map(time).unwrap_or_default(),
                lead.unwrap_or_default(),
                j.failed.to_string(),
                j.restored_ms.map(time).unwrap_or_default(),
                j.restored_ms
                    .filter(|_| j.failed)
                    .map(|t| ((t - r.at_ms) / 1000).to_string())
                    .unwrap_or_default(),
                r.source.clone(),
                r.message.clone().unwrap_or_default(),
            ];
            let line: Vec<String> = cells.iter().map(|c| cell(c)).collect();
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::figures::{Rollout, judge};

    #[test]
    fn one_row_per_rollout_in_the_span() {
        let rollouts = vec![
            Rollout {
                at_ms: 7_200_000,
                outcome: Outcome::Deployed,
                commit: Some("e93d5f1".into()),
                authored_ms: Some(0),
                message: Some("=cmd, \"quoted\"".into()),
                source: "myapp-staging execution e1".into(),
            },
            Rollout {
                at_ms: 10_800_000,
                outcome: Outcome::RolledBack,
                commit: None,
                authored_ms: None,
                message: None,
                source: "Rollgate change c1 by dana".into(),
            },
            Rollout {
                at_ms: 99_000_000_000,
                outcome: Outcome::Failed,
                commit: None,
                authored_ms: None,
                message: None,
                source: "outside the span".into(),
            },
        ];
        let judged = judge(&rollouts, 86_400_000);
        let app = AppHistory { app: "myapp".into(), namespace: "staging".into(), rollouts, judged };
        let text = csv("staging", &[app], Span { from_ms: 0, until_ms: 86_400_000 });
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 3, "the header and two rollouts: {text}");
        assert_eq!(
            lines[1],
            "staging,myapp,staging,1970-01-01T02:00:00Z,deployed,e93d5f1,1970-01-01T00:00:00Z,7200,true,1970-01-01T03:00:00Z,3600,myapp-staging execution e1,\"'=cmd, \"\"quoted\"\"\""
        );
        assert!(lines[2].starts_with(
            "staging,myapp,staging,1970-01-01T03:00:00Z,rolled back,,,,false,,,Rollgate change c1 by dana"
        ));
    }
}
