//! `GET /live/{env}/pipelines/{name}[?detail=true][&shown=F]`: one pipeline's card as
//! server-sent events, each the card rendered as HTML for this viewer: what its shared poller
//! knows now (unless that is the card the page already shows, fingerprint `F`), then again
//! whenever a new read — or the watch of a deployment one of its stages rolls out — changed
//! what the card shows. Viewers only follow the poller and the watches; none of them makes an
//! AWS or cluster call.
//!
//! `GET /live/{env}/pipelines[?shown=NAME:F,…]`: every card of the Pipelines page through one
//! stream, each message the pipeline's name on its first line and its card after it (a
//! browser holds at most six connections to a server over HTTP/1.1: one per card would stall
//! a page of many pipelines).

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;

use app::api::pipelines::ssr;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use backend::Portal;
use backend::kube::watch::Update;
use backend::pipelines::Snapshot;
use backend::policy::{self, Permission};
use futures_util::{StreamExt, stream};
use serde::Deserialize;
use tokio::sync::{broadcast, watch};

use crate::streams::{Closing, Viewer};

#[derive(Deserialize)]
pub struct Shape {
    /// The detail page's card (every action) rather than the list's.
    #[serde(default)]
    detail: bool,
    /// The fingerprint of the card the page shows.
    shown: Option<u64>,
}

pub async fn pipeline(
    State(portal): State<Portal>,
    Extension(closing): Extension<Closing>,
    viewer: Viewer,
    Path((env, name)): Path<(String, String)>,
    Query(Shape { detail, shown }): Query<Shape>,
) -> Response {
    let poller = match portal.pipelines.poller(&env, &name) {
        Ok(poller) => poller,
        Err(e) => return (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    };
    let can_approve = policy::authorize(&portal.config, &viewer.user, &env, Permission::Approve).is_ok();
    let targets = Targets::follow(&portal, &env, &name);
    let card = Card {
        portal: portal.clone(),
        env,
        name,
        detail,
        can_approve,
        snapshot: poller.subscribe(),
        targets,
        last: shown,
    };
    let events = stream::unfold(card, |mut card| async move {
        let html = card.next().await?;
        Some((Ok::<_, Infallible>(Event::default().data(html)), card))
    });
    closing.respond("pipeline", &portal, viewer, events)
}

#[derive(Deserialize)]
pub struct ListShape {
    /// `name:fingerprint` of each card the page shows, comma-separated.
    #[serde(default)]
    shown: String,
}

pub async fn pipelines(
    State(portal): State<Portal>,
    Extension(closing): Extension<Closing>,
    viewer: Viewer,
    Path(env): Path<String>,
    Query(ListShape { shown }): Query<ListShape>,
) -> Response {
    let Some(environment) = portal.config.environment(&env) else {
        return (StatusCode::NOT_FOUND, format!("There is no environment {env}.")).into_response();
    };
    let shown: HashMap<&str, u64> = shown
        .split(',')
        .filter_map(|pair| pair.split_once(':'))
        .filter_map(|(name, fingerprint)| Some((name, fingerprint.parse().ok()?)))
        .collect();
    let can_approve = policy::authorize(&portal.config, &viewer.user, &env, Permission::Approve).is_ok();
    let mut cards = Vec::new();
    for name in &environment.aws.pipelines {
        let poller = match portal.pipelines.poller(&env, name) {
            Ok(poller) => poller,
            Err(e) => return (StatusCode::NOT_FOUND, e.to_string()).into_response(),
        };
        let card = Card {
            portal: portal.clone(),
            env: env.clone(),
            name: name.clone(),
            detail: false,
            can_approve,
            snapshot: poller.subscribe(),
            targets: Targets::follow(&portal, &env, name),
            last: shown.get(name.as_str()).copied(),
        };
        cards.push(
            stream::unfold(card, |mut card| async move {
                let html = card.next().await?;
                let message = format!("{}\n{html}", card.name);
                Some((Ok::<_, Infallible>(Event::default().data(message)), card))
            })
            .boxed(),
        );
    }
    closing.respond("pipelines", &portal, viewer, stream::select_all(cards))
}

/// One viewer's card and what it follows.
struct Card {
    portal: Portal,
    env: String,
    name: String,
    detail: bool,
    can_approve: bool,
    snapshot: watch::Receiver<std::sync::Arc<Snapshot>>,
    targets: Targets,
    /// The fingerprint of the last card sent (or shown by the page).
    last: Option<u64>,
}

impl Card {
    /// The card as soon as it differs from the last one sent; `None` when the poller is gone.
    async fn next(&mut self) -> Option<String> {
        loop {
            let snapshot = self.snapshot.borrow_and_update().clone();
            if snapshot.polls > 0 {
                let view = ssr::view(&self.portal, &self.env, &self.name, &snapshot).await;
                let shown = view.fingerprint();
                if self.last != Some(shown) {
                    self.last = Some(shown);
                    let now_ms = backend::clock::Timestamp::now().millis();
                    return Some(app::render_pipeline_card(view, self.detail, self.can_approve, now_ms));
                }
            }
            tokio::select! {
                changed = self.snapshot.changed() => changed.ok()?,
                () = self.targets.changed() => {}
            }
        }
    }
}

/// The watches of the namespaces the pipeline's Deploy stages roll out to.
struct Targets {
    updates: Vec<broadcast::Receiver<Update>>,
    /// The deployments whose changes matter.
    names: HashSet<String>,
}

impl Targets {
    fn follow(portal: &Portal, env: &str, pipeline: &str) -> Self {
        let deploys = portal
            .config
            .environment(env)
            .map(|e| e.aws.deploys.iter().filter(|d| d.pipeline == pipeline).cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        let namespaces: HashSet<&str> = deploys.iter().map(|d| d.namespace.as_str()).collect();
        Self {
            updates: namespaces
                .into_iter()
                .map(|ns| portal.watches.namespace(env, ns).subscribe().updates)
                .collect(),
            names: deploys.iter().map(|d| d.deployment.clone()).collect(),
        }
    }

    /// Waits for a change to one of the deployments (or to a watch's link); forever when
    /// there is none to follow.
    async fn changed(&mut self) {
        if self.updates.is_empty() {
            return std::future::pending().await;
        }
        loop {
            let next = self.updates.iter_mut().map(|rx| Box::pin(rx.recv()));
            let (update, _, _) = futures_util::future::select_all(next).await;
            match update {
                Ok(Update::Changed(d)) if !self.names.contains(&d.summary.name) => continue,
                Ok(Update::Removed(name)) if !self.names.contains(&name) => continue,
                // Fell behind: read afresh. A closed watch no longer changes anything.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => return,
                Err(broadcast::error::RecvError::Closed) => return std::future::pending().await,
            }
        }
    }
}
