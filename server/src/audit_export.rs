//! `GET /{env}/audit/export?format=csv|json&actor=…&action=…&from=…&until=…`: every record of
//! an environment's audit trail that matches the filter, as a download. Needs the same right
//! as reading the Audit page (any role in the environment).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use backend::Portal;
use backend::audit::{self, FilterQuery, export};

use crate::streams::Viewer;
use serde::Deserialize;

/// An export stops here; narrow the filter for more.
const MAX_RECORDS: i64 = 100_000;

#[derive(Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    format: String,
    #[serde(flatten)]
    filter: FilterQuery,
}

pub async fn export(
    State(portal): State<Portal>,
    Path(env): Path<String>,
    _viewer: Viewer,
    Query(query): Query<ExportQuery>,
) -> Response {
    let filter = match query.filter.parse(&env) {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("Bad filter: {e}")).into_response(),
    };
    let mut records = Vec::new();
    while (records.len() as i64) < MAX_RECORDS {
        match audit::list(&portal.store, &filter, records.len() as i64, audit::MAX_PAGE).await {
            Ok(page) => {
                let done = (page.records.len() as i64) < audit::MAX_PAGE;
                records.extend(page.records);
                if done {
                    break;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "audit export failed");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Rollgate cannot read its store; try again shortly.",
                )
                    .into_response();
            }
        }
    }
    let (body, content_type, extension) = match query.format.as_str() {
        "json" => (export::json(&records), "application/json", "json"),
        "csv" | "" => (export::csv(&records), "text/csv; charset=utf-8", "csv"),
        other => {
            return (StatusCode::BAD_REQUEST, format!("Unknown format {other:?}: use csv or json."))
                .into_response();
        }
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"rollgate-audit-{env}.{extension}\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}
