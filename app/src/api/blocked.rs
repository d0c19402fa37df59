//! Blocked commits: the list (lifting one is a change request, `request_change` with kind
//! `unblock`).

use leptos::prelude::*;

use crate::error::ApiError;
use crate::model::BlockView;

/// The environment's blocked commits, those in force first, newest first.
#[server]
pub async fn list_blocked(env: String) -> Result<Vec<BlockView>, ApiError> {
    use backend::policy::{Permission, blocked};

    use super::guard;

    let portal = guard::portal()?;
    guard::authorize(&portal, &env, Permission::View)?;
    let blocks = blocked::list(&portal.store, &env)
        .await
        .map_err(|e| guard::internal("reading the blocked commits", e))?;
    Ok(blocks
        .into_iter()
        .map(|b| BlockView {
            commit: b.commit.to_string(),
            reason: b.reason,
            by: b.by,
            at: b.at.rfc3339(),
            change: b.change,
            lifted_at: b.lifted.as_ref().map(|l| l.1.rfc3339()),
            lifted_by: b.lifted.map(|l| l.0),
        })
        .collect())
}
