//! The audit trail of an environment: filtered, newest first, a page at a time.

use leptos::prelude::*;

use crate::error::ApiError;
use crate::model::AuditPage;

/// Records per page on the Audit page.
pub const PAGE_SIZE: i64 = 50;

/// Any role in the environment may read its trail. Empty filters match everything; times
/// are UTC (`2026-11-29T06:30`). `page` counts from 0.
#[server]
pub async fn list_audit(
    env: String,
    actor: String,
    action: String,
    from: String,
    until: String,
    page: i64,
) -> Result<AuditPage, ApiError> {
    use backend::audit::{self, FilterQuery};
    use backend::clock::Timestamp;
    use backend::policy::Permission;

    use super::guard;
    use crate::model::AuditRow;

    let portal = guard::portal()?;
    guard::authorize(&portal, &env, Permission::View)?;
    let filter = FilterQuery { actor, action, from, until }
        .parse(&env)
        .map_err(|e| guard::with_status(ApiError::Invalid(format!("Filter: {e}."))))?;
    // Any page number is a page: past the end it is empty (and never overflows the offset).
    let page = page.clamp(0, i64::MAX / PAGE_SIZE - 1);
    let found = audit::list(&portal.store, &filter, page * PAGE_SIZE, PAGE_SIZE)
        .await
        .map_err(|e| guard::internal("reading the audit trail", e))?;
    let rows = found
        .records
        .into_iter()
        .map(|r| AuditRow {
            id: r.id,
            time: Timestamp(r.at).rfc3339(),
            actor: r.actor,
            source_ip: r.source_ip,
            target: r.target,
            action: r.action,
            before: r.before,
            after: r.after,
            commit: r.commit,
            request_id: r.request_id,
            result: r.result.as_str().to_owned(),
            detail: r.detail,
        })
        .collect();
    Ok(AuditPage { rows, total: found.total, page, page_size: PAGE_SIZE })
}
