//! Container logs, produced from each container's spec as a real one would print them: a
//! shell command's `echo`s (with the container's environment expanded, so the walk-through's
//! `echo ${DEMO_GREETING}` prints the greeting), or, for an application image, a steady
//! stream of request lines from the container's start: one a second, or as many as its
//! `SANDBOX_LOG_LINES_PER_SECOND` environment variable says (up to 100,000, for load tests
//! of whatever reads the logs). Served at
//! `.../pods/<name>/log` with kubectl's options: container, follow, tailLines, sinceSeconds,
//! sinceTime, timestamps, previous and limitBytes.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::resources;
use super::status::ApiError;
use super::store::{Store, rfc3339};
use super::stream;
use super::table::parse_rfc3339;

/// The options of one log request, validated.
pub struct LogRequest {
    namespace: String,
    pod: String,
    container: String,
    follow: bool,
    previous: bool,
    tail: Option<usize>,
    since: Option<i64>,
    timestamps: bool,
    limit_bytes: Option<usize>,
}

impl LogRequest {
    pub fn new(
        store: &Store,
        namespace: &str,
        name: &str,
        query: &HashMap<String, String>,
    ) -> Result<Self, ApiError> {
        let pods = resources::lookup("", "v1", "pods").ok_or_else(ApiError::path_not_found)?;
        let pod = store.get(pods, namespace, name)?.value();
        let containers: Vec<&str> = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
            .unwrap_or_default();
        let init: Vec<&str> = pod
            .pointer("/spec/initContainers")
            .and_then(Value::as_array)
            .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
            .unwrap_or_default();
        let container = match query.get("container").map(String::as_str).filter(|c| !c.is_empty()) {
            Some(c) if containers.contains(&c) || init.contains(&c) => c.to_owned(),
            Some(c) => {
                return Err(ApiError::bad_request(format!("container {c} is not valid for pod {name}")));
            }
            None if containers.len() == 1 => containers[0].to_owned(),
            None => {
                return Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    containers.join(" ")
                )));
            }
        };
        let number = |key: &str| -> Result<Option<i64>, ApiError> {
            query
                .get(key)
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|_| ApiError::bad_request(format!("{key} must be a number, got {v:?}")))
                })
                .transpose()
        };
        let now = now_secs();
        let since = match (number("sinceSeconds")?, query.get("sinceTime")) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "at most one of sinceTime or sinceSeconds may be specified",
                ));
            }
            (Some(s), None) if s <= 0 => {
                return Err(ApiError::bad_request("sinceSeconds must be greater than 0"));
            }
            (Some(s), None) => Some(now - s),
            (None, Some(t)) => Some(
                parse_rfc3339(t).ok_or_else(|| ApiError::bad_request(format!("invalid sinceTime {t:?}")))?,
            ),
            (None, None) => None,
        };
        let is_true = |key: &str| query.get(key).is_some_and(|v| v == "true" || v == "1");
        let request = Self {
            namespace: namespace.to_owned(),
            pod: name.to_owned(),
            container,
            follow: is_true("follow"),
            previous: is_true("previous"),
            tail: number("tailLines")?.map(|t| t.max(0) as usize),
            since,
            timestamps: is_true("timestamps"),
            limit_bytes: number("limitBytes")?.map(|b| b.max(1) as usize),
        };
        request.started(&pod)?;
        Ok(request)
    }

    /// When the container instance whose log is asked for started: the running one, else
    /// the last one that exited (what kubectl shows for a crash-looping pod), or with
    /// `previous` the one before the current. A container that has not run is an error, in
    /// kubectl's words.
    fn started(&self, pod: &Value) -> Result<i64, ApiError> {
        let status = container_status(pod, &self.container);
        let at = |pointer: &str| status.and_then(|s| s.pointer(pointer)).and_then(Value::as_str);
        let unreadable = || ApiError::bad_request("the container's start time is unreadable");
        if self.previous {
            return match at("/lastState/terminated/startedAt") {
                Some(started) => parse_rfc3339(started).ok_or_else(unreadable),
                None => Err(ApiError::bad_request(format!(
                    "previous terminated container \"{}\" in pod \"{}\" not found",
                    self.container, self.pod
                ))),
            };
        }
        if let Some(started) =
            at("/state/running/startedAt").or_else(|| at("/lastState/terminated/startedAt"))
        {
            return parse_rfc3339(started).ok_or_else(unreadable);
        }
        let reason = status
            .and_then(|s| s.pointer("/state/waiting/reason"))
            .and_then(Value::as_str)
            .unwrap_or("ContainerCreating");
        Err(ApiError::bad_request(format!(
            "container \"{}\" in pod \"{}\" is waiting to start: {reason}",
            self.container, self.pod
        )))
    }
}

fn container_status<'a>(pod: &'a Value, container: &str) -> Option<&'a Value> {
    ["/status/containerStatuses", "/status/initContainerStatuses"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .find(|s| s["name"] == container)
}

fn container_spec<'a>(pod: &'a Value, container: &str) -> Option<&'a Value> {
    ["/spec/containers", "/spec/initContainers"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .find(|c| c["name"] == container)
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The environment variable that sets an application container's log rate.
pub const LOG_RATE_VARIABLE: &str = "SANDBOX_LOG_LINES_PER_SECOND";
const MAX_LOG_RATE: i64 = 100_000;
/// The most lines a container's log keeps, as a kubelet's log rotation would: older lines are
/// gone (and never generated, which bounds a request's memory at any rate).
const RETAINED_LINES: i64 = 1_000_000;

/// An application container's request lines a second.
fn log_rate(container: &Value) -> i64 {
    environment(container)
        .get(LOG_RATE_VARIABLE)
        .and_then(|r| r.parse::<i64>().ok())
        .unwrap_or(1)
        .clamp(1, MAX_LOG_RATE)
}

/// What a container started at `started` prints in the seconds `from..=until` and still
/// holds, as (second, line) pairs.
pub fn lines(container: &Value, pod_name: &str, started: i64, from: i64, until: i64) -> Vec<(i64, String)> {
    if let Some(script) = shell_script(container) {
        if !(from..=until).contains(&started) {
            return Vec::new();
        }
        return echoes(&script, &environment(container)).into_iter().map(|l| (started, l)).collect();
    }
    let rate = log_rate(container);
    (from.max(started).max(until - RETAINED_LINES / rate + 1)..=until)
        .flat_map(|second| {
            let first = (second - started) * rate;
            (first..first + rate).map(move |i| (second, request_line(pod_name, i)))
        })
        .collect()
}

/// The exit code of a container whose command fails: a script that ends in `exit N` (N not
/// 0), or `false`. `None` for containers that keep running.
pub fn exit_code(container: &Value) -> Option<i64> {
    let command: Vec<&str> = container
        .get("command")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if command.first().is_some_and(|c| *c == "false" || c.ends_with("/false")) {
        return Some(1);
    }
    let script = shell_script(container)?;
    let last = script.split(['&', ';']).map(str::trim).rfind(|c| !c.is_empty())?;
    let code: i64 = last.strip_prefix("exit")?.trim().parse().ok()?;
    (code != 0).then_some(code)
}

/// The script of `sh -c '<script>'` (in command or args), if the container runs one.
fn shell_script(container: &Value) -> Option<String> {
    let words: Vec<&str> = ["command", "args"]
        .iter()
        .filter_map(|k| container.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let at = words.iter().position(|w| *w == "-c")?;
    let shell = words.first()?;
    (shell.ends_with("sh")).then(|| words.get(at + 1).map(|s| (*s).to_owned())).flatten()
}

fn environment(container: &Value) -> HashMap<String, String> {
    container
        .get("env")
        .and_then(Value::as_array)
        .map(|env| {
            env.iter()
                .filter_map(|e| {
                    Some((e["name"].as_str()?.to_owned(), e["value"].as_str().unwrap_or("").to_owned()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The lines a shell script's `echo` commands print (`&&` and `;` separate commands).
fn echoes(script: &str, env: &HashMap<String, String>) -> Vec<String> {
    script
        .split(['&', ';'])
        .map(str::trim)
        .filter_map(|command| command.strip_prefix("echo"))
        .filter(|rest| rest.is_empty() || rest.starts_with(' '))
        .map(|rest| expand(rest.trim().trim_matches(|c| c == '"' || c == '\''), env))
        .collect()
}

/// `$VAR` and `${VAR}` from the container's environment; unknown variables are empty.
fn expand(text: &str, env: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let braced = chars.peek() == Some(&'{');
        if braced {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphanumeric() || n == '_' {
                name.push(n);
                chars.next();
            } else {
                break;
            }
        }
        if braced && chars.peek() == Some(&'}') {
            chars.next();
        }
        if name.is_empty() {
            out.push('$');
        } else {
            out.push_str(env.get(&name).map(String::as_str).unwrap_or(""));
        }
    }
    out
}

/// A plausible access-log line, the same for the same pod and second.
fn request_line(pod: &str, i: i64) -> String {
    const PATHS: [&str; 6] =
        ["/", "/api/orders", "/api/orders/42", "/api/cart", "/healthz", "/static/app.js"];
    const METHODS: [&str; 3] = ["GET", "GET", "POST"];
    let seed = pod
        .bytes()
        .fold(i as u64 ^ 0x9e37_79b9_7f4a_7c15, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let status = if seed % 29 == 0 {
        500
    } else if seed % 11 == 0 {
        404
    } else {
        200
    };
    format!(
        "{} {} {} {}ms ip=10.0.{}.{}",
        METHODS[(seed % 3) as usize],
        PATHS[((seed >> 8) % 6) as usize],
        status,
        3 + (seed >> 16) % 120,
        (seed >> 24) % 250,
        (seed >> 32) % 250 + 1
    )
}

fn render(request: &LogRequest, entries: &[(i64, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (second, line) in entries {
        if request.timestamps {
            let stamp = rfc3339(UNIX_EPOCH + Duration::from_secs(*second as u64));
            out.extend_from_slice(stamp.replace('Z', ".000000000Z ").as_bytes());
        }
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Answers a log request: the text so far, then (with follow) new lines as they are printed,
/// until the pod goes away.
pub fn respond(store: Store, request: LogRequest) -> Response {
    let Some(pods) = resources::lookup("", "v1", "pods") else {
        return ApiError::path_not_found().into_response();
    };
    let Ok(pod) = store.get(pods, &request.namespace, &request.pod).map(|p| p.value()) else {
        return ApiError::path_not_found().into_response();
    };
    let (Some(spec), Ok(started)) =
        (container_spec(&pod, &request.container).cloned(), request.started(&pod))
    else {
        return ApiError::bad_request("the container is not running").into_response();
    };
    let now = now_secs();
    // A tail needs only its last seconds, whatever the rate (a script prints all at its start).
    let tail_from = match request.tail {
        Some(tail) if shell_script(&spec).is_none() => now - tail as i64 / log_rate(&spec),
        _ => started,
    };
    let from = request.since.unwrap_or(started).max(tail_from);
    let mut entries = lines(&spec, &request.pod, started, from, now);
    if let Some(tail) = request.tail {
        entries = entries.split_off(entries.len().saturating_sub(tail));
    }
    let mut first = render(&request, &entries);
    if let Some(limit) = request.limit_bytes {
        first.truncate(limit);
    }
    let headers = [(header::CONTENT_TYPE, "text/plain")];
    // A terminated instance prints nothing more: following it ends at once.
    let exited = request.previous;
    if !request.follow || exited || request.limit_bytes.is_some_and(|l| first.len() >= l) {
        return (StatusCode::OK, headers, first).into_response();
    }
    let (tx, rx) = stream::channel();
    tokio::spawn(async move {
        if tx.send(Bytes::from(first)).await.is_err() {
            return;
        }
        let mut printed_until = now;
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            // The stream ends when the pod is gone (or no longer the same pod), or when the
            // container instance being followed is no longer the one running.
            match store.get(pods, &request.namespace, &request.pod).map(|p| p.value()) {
                Ok(current)
                    if current["metadata"]["uid"] == pod["metadata"]["uid"]
                        && !request.previous
                        && container_status(&current, &request.container)
                            .and_then(|s| s.pointer("/state/running/startedAt"))
                            .and_then(Value::as_str)
                            .and_then(parse_rfc3339)
                            == Some(started) => {}
                _ => return,
            }
            let now = now_secs();
            if now <= printed_until {
                continue;
            }
            let fresh = lines(&spec, &request.pod, started, printed_until + 1, now);
            printed_until = now;
            if !fresh.is_empty() && tx.send(Bytes::from(render(&request, &fresh))).await.is_err() {
                return;
            }
        }
    });
    stream::response(rx, "text/plain")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The walk-through's container prints its greeting from the environment.
    #[test]
    fn shell_echo_expands_env() {
        let container = json!({
            "name": "myapp-container",
            "image": "busybox",
            "command": ["sh", "-c", "echo ${DEMO_GREETING} && sleep 3600"],
            "env": [{"name": "DEMO_GREETING", "value": "Hello Kubernetes!"}],
        });
        assert_eq!(lines(&container, "p", 100, 100, 200), [(100, "Hello Kubernetes!".to_owned())]);
        let env = HashMap::from([("A".to_owned(), "1".to_owned())]);
        assert_eq!(echoes("echo \"a=$A b=${B}\"; echo done; sleep 1", &env), ["a=1 b=", "done"]);
    }

    /// Application images log a request a second, the same lines for the same pod.
    #[test]
    fn app_images_log_requests() {
        let container = json!({"name": "app", "image": "myapp:3f2a9c1"});
        let first = lines(&container, "web-1", 100, 100, 104);
        assert_eq!(first.len(), 5);
        assert_eq!(first, lines(&container, "web-1", 100, 0, 104), "nothing before its start");
        assert!(first.iter().all(|(_, l)| l.contains(" 200 ") || l.contains(" 404 ") || l.contains(" 500 ")));
        assert_ne!(first, lines(&container, "web-2", 100, 100, 104));
        // A later window is the same lines as the tail of the whole.
        assert_eq!(lines(&container, "web-1", 100, 103, 104), first[3..]);
    }

    #[test]
    fn the_log_rate_comes_from_the_environment_within_bounds() {
        let at = |rate: &str| json!({"name": "app", "image": "load:1", "env": [{"name": LOG_RATE_VARIABLE, "value": rate}]});
        let busy = lines(&at("5000"), "web-1", 100, 100, 101);
        assert_eq!(busy.len(), 10_000);
        assert_eq!(busy.iter().filter(|(s, _)| *s == 101).count(), 5_000);
        assert_eq!(lines(&at("5000"), "web-1", 100, 101, 101), busy[5_000..], "seconds stay put");
        assert_eq!(lines(&at("0"), "web-1", 100, 100, 100).len(), 1, "at least one a second");
        assert_eq!(lines(&at("lots"), "web-1", 100, 100, 100).len(), 1, "not a number: the default");
        assert_eq!(lines(&at("9999999"), "web-1", 100, 100, 100).len(), 100_000);
        // An hour at 100,000 a second: only what rotation keeps, the newest.
        let kept = lines(&at("100000"), "web-1", 100, 100, 3_700);
        assert_eq!(kept.len(), RETAINED_LINES as usize);
        assert_eq!(kept.last().map(|(s, _)| *s), Some(3_700));
    }

    #[test]
    fn a_script_prints_once_at_its_start() {
        let echo = json!({"name": "w", "command": ["sh", "-c", "echo hello && sleep 3600"]});
        assert_eq!(lines(&echo, "w-1", 100, 90, 120), [(100, "hello".to_owned())]);
        assert!(lines(&echo, "w-1", 100, 101, 120).is_empty(), "not again when followed");
    }

    #[test]
    fn failing_commands() {
        let crash = json!({"name": "w", "command": ["sh", "-c", "echo connecting && echo 'fatal: refused' && exit 3"]});
        assert_eq!(exit_code(&crash), Some(3));
        assert_eq!(exit_code(&json!({"command": ["false"]})), Some(1));
        assert_eq!(exit_code(&json!({"command": ["sh", "-c", "echo hi && sleep 3600"]})), None);
        assert_eq!(exit_code(&json!({"command": ["sh", "-c", "exit 0"]})), None);
        assert_eq!(exit_code(&json!({"image": "nginx"})), None);
    }
}
