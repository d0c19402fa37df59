//! `GET /live/{env}/pipelines/{name}`: one pipeline as server-sent events, each a JSON
//! [`PipelineEvent`]: what its shared poller knows now, then every new read that changed
//! what a page shows. Viewers only follow the poller; none of them makes an AWS call.

use std::convert::Infallible;
use std::time::Duration;

use app::api::pipelines::ssr;
use app::model::pipelines::PipelineEvent;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use backend::Portal;
use backend::auth::Visitor;
use futures_util::{StreamExt, stream};

use crate::streams::{self, Closing};

/// How long the browser waits before reconnecting a dropped stream.
const RETRY: Duration = Duration::from_secs(2);

pub async fn pipeline(
    State(portal): State<Portal>,
    Extension(closing): Extension<Closing>,
    Extension(visitor): Extension<Visitor>,
    Path((env, name)): Path<(String, String)>,
) -> Response {
    if let Err(refused) = streams::viewer(&portal, &visitor, &env) {
        return refused.into_response();
    }
    let poller = match portal.pipelines.poller(&env, &name) {
        Ok(poller) => poller,
        Err(e) => return (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    };
    let receiver = poller.subscribe();
    let events =
        stream::unfold((receiver, portal, env, name, None), |(mut rx, portal, env, name, last)| async move {
            loop {
                let snapshot = rx.borrow_and_update().clone();
                let view = ssr::view(&portal, &env, &name, &snapshot).await;
                // A read that changed nothing shown is not sent (the age is shown from fetched_ms).
                let shown =
                    (view.stages.clone(), view.latest.clone(), view.problem.clone(), view.approval.clone());
                if last.as_ref() != Some(&shown) && snapshot.polls > 0 {
                    let event = encode(&PipelineEvent::Changed(view));
                    return Some((Ok::<_, Infallible>(event), (rx, portal, env, name, Some(shown))));
                }
                rx.changed().await.ok()?;
            }
        });
    let opening =
        stream::once(async { Ok::<_, Infallible>(Event::default().retry(RETRY).comment("rollgate")) });
    Sse::new(closing.until(opening.chain(events)))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn encode(event: &PipelineEvent) -> Event {
    // Serializing plain data structures cannot fail.
    Event::default().data(serde_json::to_string(event).unwrap_or_default())
}
