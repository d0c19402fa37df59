//! `GET /live/{env}/deployments[?namespace=…&name=…]`: the deployments of an environment as
//! server-sent events, each a JSON [`LiveEvent`]: a snapshot first, then every change the
//! shared namespace watches see (pods included when one deployment is followed), and the
//! watches' link state. A subscriber that falls behind gets a fresh snapshot. The browser's
//! EventSource reconnects by itself and starts again from a snapshot.

use std::convert::Infallible;

use app::api::deployments::ssr;
use app::model::{DeploymentLive, LinkView, LiveEvent};
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use backend::Portal;
use backend::clock::Timestamp;
use backend::kube::watch::{DeploymentState, Link, NamespaceWatch, Update};
use futures_util::{StreamExt, stream};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::streams::{Closing, Viewer};

#[derive(Deserialize)]
pub struct Filter {
    namespace: Option<String>,
    name: Option<String>,
}

pub async fn deployments(
    State(portal): State<Portal>,
    Extension(closing): Extension<Closing>,
    viewer: Viewer,
    Path(env): Path<String>,
    Query(filter): Query<Filter>,
) -> Response {
    let configured = portal.config.environment(&env).map(|e| e.namespaces.clone()).unwrap_or_default();
    let namespaces = match &filter.namespace {
        Some(ns) if configured.contains(ns) => vec![ns.clone()],
        Some(ns) => {
            return (StatusCode::NOT_FOUND, format!("{ns:?} is not one of {env}'s namespaces"))
                .into_response();
        }
        None if filter.name.is_some() => {
            return (StatusCode::BAD_REQUEST, "name needs a namespace").into_response();
        }
        None => configured,
    };
    let watches: Vec<NamespaceWatch> =
        namespaces.iter().map(|ns| portal.watches.namespace(&env, ns)).collect();
    for watch in &watches {
        watch.synced().await;
    }
    let view = View { env: env.clone(), one: filter.name };

    let mut receivers = Vec::new();
    let mut first = Vec::new();
    let mut snapshot = Vec::new();
    for (namespace, watch) in namespaces.iter().zip(&watches) {
        let subscription = watch.subscribe();
        snapshot.extend(subscription.snapshot.iter().filter_map(|d| view.of(d)));
        if subscription.link != Link::Live {
            first.push(LiveEvent::Link { namespace: namespace.clone(), link: link(&subscription.link) });
        }
        receivers.push((namespace.clone(), watch.clone(), subscription.updates));
    }
    first.insert(0, LiveEvent::Snapshot { namespaces: namespaces.clone(), deployments: snapshot });

    let updates = stream::select_all(receivers.into_iter().map(|(namespace, watch, rx)| {
        let view = view.clone();
        Box::pin(stream::unfold(
            (rx, namespace, watch, view),
            |(mut rx, namespace, watch, view)| async move {
                let event = loop {
                    match rx.recv().await {
                        Ok(Update::Changed(d)) => match view.of(&d) {
                            Some(live) => break LiveEvent::Changed(Box::new(live)),
                            None => continue,
                        },
                        Ok(Update::Removed(name)) if view.wants(&name) => {
                            break LiveEvent::Removed { namespace: namespace.clone(), name };
                        }
                        Ok(Update::Removed(_)) => continue,
                        Ok(Update::Link(l)) => {
                            break LiveEvent::Link { namespace: namespace.clone(), link: link(&l) };
                        }
                        // Fell behind: start this subscriber over from what is true now. The
                        // browser replaces only this namespace's rows.
                        Err(RecvError::Lagged(_)) => {
                            let deployments = watch.snapshot().iter().filter_map(|d| view.of(d)).collect();
                            break LiveEvent::Snapshot { namespaces: vec![namespace.clone()], deployments };
                        }
                        Err(RecvError::Closed) => return None,
                    }
                };
                Some((event, (rx, namespace, watch, view)))
            },
        ))
    }));
    let events = stream::iter(first).chain(updates).map(|e| Ok::<_, Infallible>(encode(&e)));
    closing.respond("deployments", &portal, viewer, events)
}

/// Which deployments a stream carries, and how much of each.
#[derive(Clone)]
struct View {
    env: String,
    /// Following one deployment: only it, with its pods.
    one: Option<String>,
}

impl View {
    fn wants(&self, name: &str) -> bool {
        self.one.as_deref().is_none_or(|one| one == name)
    }

    fn of(&self, d: &DeploymentState) -> Option<DeploymentLive> {
        if !self.wants(&d.summary.name) {
            return None;
        }
        // The list shows no pods, and its rows as the server renders them.
        Some(if self.one.is_some() {
            ssr::live(d)
        } else {
            let row = ssr::row(d);
            let html = app::render_deployment_row(&self.env, &row, Timestamp::now().millis());
            DeploymentLive { row, pods: Vec::new(), html: Some(html) }
        })
    }
}

fn link(l: &Link) -> LinkView {
    match l {
        Link::Connecting => LinkView::Connecting,
        Link::Live => LinkView::Live,
        Link::Reconnecting(why) => LinkView::Reconnecting(why.clone()),
    }
}

fn encode(event: &LiveEvent) -> Event {
    // Serializing plain data structures cannot fail.
    Event::default().data(serde_json::to_string(event).unwrap_or_default())
}
