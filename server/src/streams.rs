//! What the long-lived streams (server-sent events) share: who may open one, and the signal
//! that ends them all at shutdown (a graceful shutdown waits for open connections, and a
//! stream left open would hold it forever).

use axum::http::StatusCode;
use backend::Portal;
use backend::auth::Visitor;
use backend::policy::{self, Denied, Permission};
use futures_util::Stream;
use futures_util::StreamExt;
use tokio::sync::watch;

/// Set once when the server starts shutting down.
#[derive(Clone)]
pub struct Closing(watch::Receiver<bool>);

impl Closing {
    pub fn new() -> (watch::Sender<bool>, Self) {
        let (tx, rx) = watch::channel(false);
        (tx, Self(rx))
    }

    /// Ends `stream` when the server shuts down.
    pub fn until<S: Stream>(&self, stream: S) -> impl Stream<Item = S::Item> + use<S> {
        let mut closing = self.0.clone();
        stream.take_until(async move {
            let _ = closing.wait_for(|closed| *closed).await;
        })
    }
}

/// The signed-in visitor's name when they may view `env`; the HTTP status and reason
/// otherwise.
pub fn viewer(portal: &Portal, visitor: &Visitor, env: &str) -> Result<String, (StatusCode, String)> {
    let Some(user) = visitor.user.clone() else {
        return Err((StatusCode::UNAUTHORIZED, "Sign in to follow this.".to_owned()));
    };
    match policy::authorize(&portal.config, &user, env, Permission::View) {
        Ok(_) => Ok(user),
        Err(denied) => {
            let status = match denied {
                Denied::UnknownEnvironment(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::FORBIDDEN,
            };
            Err((status, denied.to_string()))
        }
    }
}
