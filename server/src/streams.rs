//! What the long-lived streams (server-sent events) share: who may open one and keep it open,
//! and the signal that ends them all at shutdown (a graceful shutdown waits for open
//! connections, and a stream left open would hold it forever).
//!
//! A stream is not a request: it may stay open for hours, long past the moment its session
//! ended (sign-out, a disabled account, a new password, idle or absolute expiry) or its viewer
//! lost the role that let it open. So each stream asks the store again every
//! [`RECHECK`] whether its session still lives and still carries the role, and ends when the
//! answer is no (or the store cannot answer: it fails closed; the browser reconnects and is
//! then asked to sign in). The re-check reads the session without touching it, so an open
//! stream does not keep an idle session alive.
//!
//! [`Viewer`] is also the one extractor of "may this visitor view the environment in the
//! path": every route outside the server functions that shows an environment (the streams and
//! the audit export) takes one, and is answered 401, 403 or 404 in words before its handler
//! runs.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts, RawPathParams};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use backend::Portal;
use backend::auth::{SessionToken, Visitor, sessions};
use backend::clock::Timestamp;
use backend::policy::{self, Denied, Permission};
use futures_util::Stream;
use futures_util::StreamExt;
use tokio::sync::watch;

/// How often an open stream checks that its session and role still hold: a stream ends at
/// most this long (plus one store read) after either ends.
pub const RECHECK: Duration = Duration::from_secs(2);

/// How long the browser waits before reconnecting a dropped stream.
const RETRY: Duration = Duration::from_secs(2);
/// How often an idle stream sends a comment, so proxies do not close it.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Set once when the server starts shutting down.
#[derive(Clone)]
pub struct Closing(watch::Receiver<bool>);

impl Closing {
    pub fn new() -> (watch::Sender<bool>, Self) {
        let (tx, rx) = watch::channel(false);
        (tx, Self(rx))
    }

    /// Whether the server has begun shutting down.
    pub fn is_closed(&self) -> bool {
        *self.0.borrow()
    }

    /// Ends `stream` when the server shuts down.
    pub fn until<S: Stream>(&self, stream: S) -> impl Stream<Item = S::Item> + use<S> {
        let mut closing = self.0.clone();
        stream.take_until(async move {
            let _ = closing.wait_for(|closed| *closed).await;
        })
    }

    /// A stream of server-sent `events` as a response: the browser's reconnect delay first,
    /// then the events while [`Self::while_allowed`], with keep-alives.
    pub fn respond(
        &self,
        kind: &'static str,
        portal: &Portal,
        viewer: Viewer,
        events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static,
    ) -> Response {
        let opening = futures_util::stream::once(async {
            Ok::<_, Infallible>(Event::default().retry(RETRY).comment("rollgate"))
        });
        Sse::new(self.while_allowed(kind, portal, viewer, opening.chain(events)))
            .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
            .into_response()
    }

    /// Ends `stream` when the server shuts down or `viewer` may no longer follow it; counted
    /// in the metrics as an open stream of `kind` until then.
    pub fn while_allowed<S: Stream>(
        &self,
        kind: &'static str,
        portal: &Portal,
        viewer: Viewer,
        stream: S,
    ) -> impl Stream<Item = S::Item> + use<S> {
        let portal = portal.clone();
        let open = backend::metrics::OpenStream::new(kind);
        let stream = stream.map(move |item| {
            // Held by the stream, so dropped (and uncounted) with it.
            let _ = &open;
            item
        });
        self.until(stream.take_until(async move { viewer.revoked(&portal).await }))
    }
}

/// Who opened a stream and what let them: re-checked while it is open.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: String,
    session: SessionToken,
    environment: String,
    permission: Permission,
}

/// The signed-in visitor, when they may view the environment the route's `{env}` names; the
/// HTTP status and reason otherwise.
impl<S: Send + Sync> FromRequestParts<S> for Viewer
where
    Portal: FromRef<S>,
{
    type Rejection = (StatusCode, String);

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| (StatusCode::BAD_REQUEST, e.body_text()))?;
        let Some((_, env)) = params.iter().find(|(name, _)| *name == "env") else {
            tracing::error!(path = %parts.uri.path(), "a Viewer route has no {{env}}");
            return Err((StatusCode::INTERNAL_SERVER_ERROR, "This route names no environment.".to_owned()));
        };
        let visitor = parts.extensions.get::<Visitor>().cloned().unwrap_or_default();
        viewer(&Portal::from_ref(state), &visitor, env)
    }
}

fn viewer(portal: &Portal, visitor: &Visitor, env: &str) -> Result<Viewer, (StatusCode, String)> {
    let (Some(user), Some(session)) = (visitor.user.clone(), visitor.session.clone()) else {
        return Err((StatusCode::UNAUTHORIZED, "Sign in to see this.".to_owned()));
    };
    match policy::authorize(&portal.config, &user, env, Permission::View) {
        Ok(_) => Ok(Viewer { user, session, environment: env.to_owned(), permission: Permission::View }),
        Err(denied) => {
            let status = match denied {
                Denied::UnknownEnvironment(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::FORBIDDEN,
            };
            Err((status, denied.to_string()))
        }
    }
}

impl Viewer {
    /// Resolves once the session has ended or no longer carries the permission.
    async fn revoked(self, portal: &Portal) {
        let mut every = tokio::time::interval(RECHECK);
        every.tick().await;
        loop {
            every.tick().await;
            if !self.still_allowed(portal).await {
                tracing::info!(user = %self.user, environment = %self.environment, "a stream outlived its session or role; ended");
                return;
            }
        }
    }

    async fn still_allowed(&self, portal: &Portal) -> bool {
        match sessions::peek(&portal.store, &self.session, Timestamp::now(), portal.sessions).await {
            Ok(Some(live)) if live.user == self.user => {
                // Roles of single-sign-on users follow the groups the store holds now.
                portal.config.sso_accounts.remember(&live.user, live.sso);
                policy::authorize(&portal.config, &self.user, &self.environment, self.permission).is_ok()
            }
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(error = %e, "cannot re-check a stream's session; ending it");
                false
            }
        }
    }
}
