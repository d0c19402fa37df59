//! The delivery figures (DORA) of an environment's applications.

use leptos::prelude::*;

use crate::error::ApiError;
use crate::model::delivery::DeliveryView;

/// The figures of every application of `env` over the last `days` (7, 30 or 90) and the
/// period before, and for application `app` (the first with rollouts when empty) the figures
/// part by part and its rollouts.
#[server]
pub async fn get_delivery(env: String, days: String, app: String) -> Result<DeliveryView, ApiError> {
    use backend::clock::Timestamp;
    use backend::delivery::{self, figures};
    use backend::policy::Permission;

    use super::guard;
    use crate::model::delivery::{AppDetail, AppFigures, Bucket, RolloutView};

    let portal = guard::portal()?;
    guard::authorize(&portal, &env, Permission::View)?;
    let days = ssr::days(&days).map_err(|e| guard::with_status(ApiError::Invalid(e)))?;
    let environment = portal.config.environment(&env).ok_or_else(|| ApiError::NotFound(env.clone()))?;
    let now = Timestamp::now();
    let window_hours = portal.config.delivery.failure_window_hours;
    let read = delivery::read(&portal, environment, delivery::since_ms(now, days, window_hours)).await;
    let span = ssr::span(now, days);
    let apps = read
        .apps
        .iter()
        .map(|a| AppFigures {
            app: a.app.clone(),
            namespace: a.namespace.clone(),
            now: ssr::view(figures::figures(&a.rollouts, &a.judged, span)),
            before: ssr::view(figures::figures(&a.rollouts, &a.judged, span.before())),
        })
        .collect();
    let chosen =
        if app.is_empty() {
            read.apps.iter().find(|a| a.rollouts.iter().any(|r| span.holds(r.at_ms))).or(read.apps.first())
        } else {
            Some(read.apps.iter().find(|a| a.app == app).ok_or_else(|| {
                guard::with_status(ApiError::NotFound(format!("{app} does not run in {env}.")))
            })?)
        };
    let selected = chosen.map(|a| AppDetail {
        app: a.app.clone(),
        buckets: span
            .parts(ssr::parts(days))
            .into_iter()
            .map(|part| Bucket {
                from_ms: part.from_ms,
                until_ms: part.until_ms,
                figures: ssr::view(figures::figures(&a.rollouts, &a.judged, part)),
            })
            .collect(),
        rollouts: a
            .rollouts
            .iter()
            .zip(&a.judged)
            .filter(|(r, _)| span.holds(r.at_ms))
            .rev()
            .map(|(r, j)| RolloutView {
                at_ms: r.at_ms,
                outcome: ssr::outcome(r.outcome).to_owned(),
                commit: r.commit.as_ref().map(|c| c.chars().take(7).collect()),
                message: r.message.clone(),
                lead_time_ms: (r.outcome == figures::Outcome::Deployed)
                    .then(|| r.authored_ms.map(|t| (r.at_ms - t).max(0)))
                    .flatten(),
                failed_change: j.failed,
                restored_ms: j.restored_ms,
                source: r.source.clone(),
            })
            .collect(),
    });
    Ok(DeliveryView {
        env,
        days,
        failure_window_hours: window_hours,
        apps,
        selected,
        problems: read.problems,
    })
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use backend::clock::Timestamp;
    use backend::delivery::figures::{Figures, Outcome, Span};

    use crate::model::delivery::FiguresView;

    const DAY_MS: i64 = 86_400_000;

    /// The periods the page offers.
    pub fn days(text: &str) -> Result<i64, String> {
        match text.trim() {
            "" | "30" => Ok(30),
            "7" => Ok(7),
            "90" => Ok(90),
            other => Err(format!("{other:?} is not a period: choose 7, 30 or 90 days.")),
        }
    }

    /// The last `days` up to now.
    pub fn span(now: Timestamp, days: i64) -> Span {
        Span { from_ms: now.millis() - days * DAY_MS, until_ms: now.millis() }
    }

    /// Bars per chart: a day each, six days each over 90.
    pub fn parts(days: i64) -> i64 {
        if days > 30 { days / 6 } else { days }
    }

    pub fn outcome(o: Outcome) -> &'static str {
        match o {
            Outcome::Deployed => "deployed",
            Outcome::RolledBack => "rolled back",
            Outcome::Failed => "failed",
        }
    }

    pub fn view(f: Figures) -> FiguresView {
        FiguresView {
            deployments: f.deployments,
            per_day: f.per_day,
            lead_time_ms: f.lead_time_ms,
            changes: f.changes,
            failed_changes: f.failed_changes,
            failure_rate: f.failure_rate,
            restore_ms: f.restore_ms,
            restores: f.restores,
        }
    }
}
