//! `GET /live/{env}/deployments/{namespace}/{deployment}/logs`: a deployment's pod logs as
//! server-sent events, as [`backend::kube::logs`] follows them; and [`download`], the log as
//! the cluster keeps it, as a file.
//!
//! Query: `pod` (one pod of the deployment; absent or `*` interleaves all of them, following
//! pods that appear later), `container`, `previous`, `tail` (lines), `since` (seconds, or
//! `90s`, `15m`, `2h`, `1d`), `timestamps`, `follow` (default on). Needs the View permission.
//!
//! Events, each small and plain (no JSON, so the browser needs no parser):
//! - `pods`: one data line per pod of the deployment, `name\treason\trestarts\tcontainers\tinit`
//!   (container lists comma-separated); sent first and whenever the pods change.
//! - `lines`: the first data line names the pod, every further one is a log line.
//! - `notice`: `pod\tlevel\tmessage` (level `error` or `info`): a pod's log cannot be read,
//!   ended, or lines were skipped because the reader fell behind.
//! - `end`: nothing more will come; the browser should not reconnect.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use backend::Portal;
use backend::kube::logs::{self, FollowError, LogEvent, LogOptions, MAX_TAIL, PodLogError};
use backend::kube::names::{ContainerName, DeploymentName, Namespace, PodName};
use backend::kube::summary::PodSummary;
use futures_util::StreamExt;

/// A comment now and then, so idle streams are not cut by proxies.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The query as sent; every field is checked by [`RawQuery::check`].
#[derive(serde::Deserialize, Default)]
pub struct RawQuery {
    pod: Option<String>,
    container: Option<String>,
    previous: Option<String>,
    tail: Option<String>,
    since: Option<String>,
    timestamps: Option<String>,
    follow: Option<String>,
}

impl RawQuery {
    /// The options asked for, or what is wrong with them in words.
    pub fn check(self) -> Result<LogOptions, String> {
        fn name<T>(parse: fn(&str) -> Result<T, String>, value: Option<String>) -> Result<Option<T>, String> {
            match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => parse(v).map(Some).map_err(|e| format!("{e}.")),
            }
        }
        let pod = match self.pod.as_deref().map(str::trim) {
            Some("*") => None,
            _ => name(PodName::parse, self.pod)?,
        };
        let tail = match self.tail.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => match t.parse::<i64>() {
                Ok(n) if (0..=MAX_TAIL).contains(&n) => Some(n),
                _ => return Err(format!("tail {t:?} must be a whole number of lines from 0 to {MAX_TAIL}.")),
            },
        };
        let since_seconds = match self.since.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(parse_duration(s).ok_or_else(|| {
                format!(
                    "since {s:?} must be a positive duration such as 300, 90s, 15m, 2h or 1d (at most 30d)."
                )
            })?),
        };
        Ok(LogOptions {
            pod,
            container: name(ContainerName::parse, self.container)?,
            previous: flag("previous", self.previous, false)?,
            tail,
            since_seconds,
            timestamps: flag("timestamps", self.timestamps, false)?,
            follow: flag("follow", self.follow, true)?,
        })
    }
}

fn flag(key: &str, value: Option<String>, default: bool) -> Result<bool, String> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some("true" | "1" | "on" | "yes") => Ok(true),
        Some("false" | "0" | "off" | "no") => Ok(false),
        Some(other) => Err(format!("{key} {other:?} must be true or false.")),
    }
}

/// Seconds, with an optional unit: `300`, `90s`, `15m`, `2h`, `1d`; 1 second to 30 days.
fn parse_duration(text: &str) -> Option<i64> {
    let (number, unit) = match text.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let n: i64 = number.parse().ok()?;
    let seconds = n.checked_mul(match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    })?;
    (1..=30 * 86_400).contains(&seconds).then_some(seconds)
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message.into()).into_response()
}

/// The path's environment, namespace and deployment and the query, checked; the status and
/// words of the refusal otherwise.
fn checked(
    portal: &Portal,
    env: &str,
    namespace: &str,
    deployment: &str,
    query: Result<Query<RawQuery>, QueryRejection>,
) -> Result<(Namespace, DeploymentName, LogOptions), (StatusCode, String)> {
    let Some(environment) = portal.config.environment(env) else {
        return Err((StatusCode::NOT_FOUND, format!("There is no environment named “{env}”.")));
    };
    let namespace = match Namespace::parse(namespace) {
        Ok(namespace) if environment.namespaces.iter().any(|n| n == namespace.as_str()) => namespace,
        _ => {
            return Err((
                StatusCode::NOT_FOUND,
                format!("Namespace “{namespace}” is not one of {}'s namespaces.", environment.title()),
            ));
        }
    };
    let options = match query {
        Ok(Query(raw)) => raw.check().map_err(|e| (StatusCode::BAD_REQUEST, e))?,
        Err(e) => return Err((StatusCode::BAD_REQUEST, format!("Bad query: {e}"))),
    };
    let deployment =
        DeploymentName::parse(deployment).map_err(|e| (StatusCode::BAD_REQUEST, format!("{e}.")))?;
    Ok((namespace, deployment, options))
}

fn status_of(error: &FollowError) -> StatusCode {
    match error {
        FollowError::NoDeployment { .. }
        | FollowError::NotItsPod { .. }
        | FollowError::Pod(
            PodLogError::PodGone { .. }
            | PodLogError::NoSuchContainer { .. }
            | PodLogError::NoContainers { .. }
            | PodLogError::NoPreviousInstance { .. },
        ) => StatusCode::NOT_FOUND,
        FollowError::Pod(PodLogError::NotStarted { .. }) => StatusCode::CONFLICT,
        FollowError::Pod(PodLogError::Refused { .. }) => StatusCode::BAD_GATEWAY,
        FollowError::NotConnected
        | FollowError::Cluster(_)
        | FollowError::Pod(PodLogError::BrokeOff { .. } | PodLogError::Cluster(_)) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// `GET /{env}/deployments/{namespace}/{deployment}/logs/download`: the log as the cluster
/// keeps it, every line whole ([`logs::download`]), as a file. The stream's query, without
/// following: one pod's log, or without `pod` every pod's, each line led by its pod's name.
pub async fn download(
    State(portal): State<Portal>,
    Path((env, namespace, deployment)): Path<(String, String, String)>,
    _viewer: crate::streams::Viewer,
    query: Result<Query<RawQuery>, QueryRejection>,
) -> Response {
    let (namespace, deployment, options) = match checked(&portal, &env, &namespace, &deployment, query) {
        Ok(checked) => checked,
        Err((status, why)) => return refuse(status, why),
    };
    // Checked names (DNS labels): nothing in them needs quoting.
    let file = match &options.pod {
        Some(pod) => format!("{pod}.log"),
        None => format!("{deployment}-all-pods.log"),
    };
    match logs::download(&portal.clusters, &portal.watches, &env, &namespace, &deployment, &options).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
            ],
            axum::body::Body::from_stream(bytes),
        )
            .into_response(),
        Err(e) => refuse(status_of(&e), e.to_string()),
    }
}

pub async fn stream(
    State(portal): State<Portal>,
    Path((env, namespace, deployment)): Path<(String, String, String)>,
    viewer: crate::streams::Viewer,
    axum::Extension(closing): axum::Extension<crate::streams::Closing>,
    query: Result<Query<RawQuery>, QueryRejection>,
) -> Response {
    let (namespace, deployment, options) = match checked(&portal, &env, &namespace, &deployment, query) {
        Ok(checked) => checked,
        Err((status, why)) => return refuse(status, why),
    };
    let events =
        match logs::follow(&portal.clusters, &portal.watches, &env, &namespace, &deployment, options).await {
            Ok(events) => events,
            Err(e) => return refuse(status_of(&e), e.to_string()),
        };
    let events = events.map(|event| Ok::<_, Infallible>(sse_event(&event)));
    // Ends at shutdown, or when the viewer may no longer see it; dropping the events stops
    // the cluster readers.
    let mut response = Sse::new(closing.while_allowed("logs", &portal, viewer, events))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // Reverse proxies (nginx) would otherwise hold the events back.
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// One event as the browser's log viewer reads it (see the module's documentation).
fn sse_event(event: &LogEvent) -> Event {
    let (name, data) = match event {
        LogEvent::Pods(pods) => ("pods", pods_data(pods)),
        LogEvent::Lines { pod, lines } => {
            let mut data =
                String::with_capacity(pod.len() + lines.iter().map(|l| l.len() + 1).sum::<usize>());
            data.push_str(pod);
            for line in lines {
                data.push('\n');
                push_line(&mut data, line);
            }
            ("lines", data)
        }
        LogEvent::Failed { pod, error } => ("notice", notice(pod, "error", &error.to_string())),
        LogEvent::Skipped { pod, lines } => (
            "notice",
            notice(
                pod,
                "info",
                &format!("{lines} lines of {pod} were skipped: the browser fell behind the log."),
            ),
        ),
        LogEvent::Ended { pod, container } => (
            "notice",
            notice(
                pod,
                "info",
                &format!(
                    "The log of {pod} ({container}) ended: the container stopped or the pod was deleted."
                ),
            ),
        ),
        LogEvent::End(ending) => ("end", ending.to_string()),
    };
    Event::default().event(name).data(data)
}

/// A log line as event data: a carriage return would end the data line early (and the event
/// type refuses it), so a stray one is shown as ␍.
fn push_line(out: &mut String, line: &str) {
    if line.contains('\r') { out.push_str(&line.replace('\r', "␍")) } else { out.push_str(line) }
}

fn notice(pod: &str, level: &str, message: &str) -> String {
    format!("{pod}\t{level}\t{}", message.replace(['\n', '\r', '\t'], " "))
}

fn pods_data(pods: &[PodSummary]) -> String {
    let clean = |s: &str| s.replace(['\n', '\r', '\t', ','], " ");
    let lines: Vec<String> = pods
        .iter()
        .map(|p| {
            format!(
                "{}\t{}\t{}\t{}\t{}",
                p.name,
                clean(p.reason.as_deref().unwrap_or(&p.phase)),
                p.restarts,
                p.container_names.join(","),
                p.init_container_names.join(",")
            )
        })
        .collect();
    if lines.is_empty() {
        // Browsers drop an event without data, and the viewer must hear that no pod is left:
        // one empty line (two empty data fields) is a list without pods.
        return "\n".into();
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<LogOptions, String> {
        let get = |k: &str| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| (*v).to_owned());
        RawQuery {
            pod: get("pod"),
            container: get("container"),
            previous: get("previous"),
            tail: get("tail"),
            since: get("since"),
            timestamps: get("timestamps"),
            follow: get("follow"),
        }
        .check()
    }

    #[test]
    fn queries_are_checked() {
        let q = parse(&[("pod", "web-1"), ("tail", "50"), ("since", "15m"), ("previous", "true")]).unwrap();
        assert_eq!(q.pod.as_deref(), Some("web-1"));
        assert_eq!((q.tail, q.since_seconds, q.previous, q.follow), (Some(50), Some(900), true, true));
        assert_eq!(parse(&[("pod", "*")]).unwrap().pod, None);
        assert!(parse(&[("tail", "-1")]).unwrap_err().contains("tail"));
        assert!(parse(&[("tail", "100001")]).unwrap_err().contains("100000"));
        assert!(parse(&[("since", "0")]).unwrap_err().contains("since"));
        assert!(parse(&[("since", "3w")]).unwrap_err().contains("since"));
        assert!(parse(&[("follow", "maybe")]).unwrap_err().contains("true or false"));
        assert!(parse(&[("container", "Bad Name")]).unwrap_err().contains("container"));
        assert!(parse(&[("pod", "../etc")]).unwrap_err().contains("pod"));
        assert_eq!(parse_duration("2h"), Some(7200));
        assert_eq!(parse_duration("31d"), None);
    }

    /// The bytes the browser reads, through axum's own encoder.
    async fn wire(event: LogEvent) -> String {
        let stream = futures_util::stream::iter([Ok::<_, Infallible>(sse_event(&event))]);
        let body = Sse::new(stream).into_response().into_body();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn events_are_framed_as_the_viewer_reads_them() {
        let lines =
            LogEvent::Lines { pod: "p-1".into(), lines: vec!["two".into(), "three\rhalf".into(), "".into()] };
        assert_eq!(wire(lines).await, "event: lines\ndata: p-1\ndata: two\ndata: three␍half\ndata: \n\n");
        let skipped = LogEvent::Skipped { pod: "p-1".into(), lines: 7 };
        assert_eq!(
            wire(skipped).await,
            "event: notice\ndata: p-1\tinfo\t7 lines of p-1 were skipped: the browser fell behind the log.\n\n"
        );
        let end = LogEvent::End(logs::Ending::DeploymentDeleted("web".into()));
        assert_eq!(wire(end).await, "event: end\ndata: Deployment web was deleted.\n\n");
        assert_eq!(wire(LogEvent::Pods(Vec::new())).await, "event: pods\ndata: \ndata: \n\n");
    }
}
