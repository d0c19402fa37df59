//! `GET /{env}/delivery/export?days=7|30|90&app=…`: the rollouts behind the Delivery page's
//! figures as CSV (every application, or one). Needs the same right as the page (any role in
//! the environment).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use backend::Portal;
use backend::clock::Timestamp;
use backend::delivery;
use serde::Deserialize;

use crate::streams::Viewer;

#[derive(Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    days: String,
    #[serde(default)]
    app: String,
}

pub async fn export(
    State(portal): State<Portal>,
    Path(env): Path<String>,
    _viewer: Viewer,
    Query(query): Query<ExportQuery>,
) -> Response {
    let days = match app::api::delivery::ssr::days(&query.days) {
        Ok(days) => days,
        Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
    };
    let Some(environment) = portal.config.environment(&env) else {
        return (StatusCode::NOT_FOUND, format!("There is no environment {env}.")).into_response();
    };
    let now = Timestamp::now();
    let since = delivery::since_ms(now, days, portal.config.delivery.failure_window_hours);
    let mut read = delivery::read(&portal, environment, since).await;
    if !query.app.is_empty() {
        read.apps.retain(|a| a.app == query.app);
        if read.apps.is_empty() {
            return (StatusCode::NOT_FOUND, format!("{} does not run in {env}.", query.app)).into_response();
        }
    }
    let body = delivery::export::csv(&env, &read.apps, app::api::delivery::ssr::span(now, days));
    let name = format!("rollgate-{env}-delivery-{days}d.csv");
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
