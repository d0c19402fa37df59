//! The resource API: `/api/v1/...` and `/apis/<group>/<version>/...` for every served type,
//! with the verbs clients use: get, list (selectors, paging), watch, create, update, patch,
//! delete and deletecollection, plus the `status` and `scale` subresources.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::auth::{Identity, Tokens};
use super::discovery;
use super::logs::{self, LogRequest};
use super::object::Object;
use super::patch::{self, PatchType};
use super::protobuf;
use super::rbac::{self, Attributes};
use super::resources::{self, ResourceType};
use super::selectors::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{Change, Propagation, Store, metadata_mut};
use super::stream;
use super::table;

/// What the API handlers share.
#[derive(Clone)]
pub struct Cluster {
    pub store: Store,
    pub tokens: Tokens,
    /// Every authenticated API request served (lists, gets, watches, writes): how a test
    /// tells how hard a client works the API server.
    pub requests: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// Where a request points.
#[derive(Debug, PartialEq)]
enum Target<'a> {
    Group(&'a str),
    ResourceList { group: &'a str, version: &'a str },
    Collection { rt: &'static ResourceType, namespace: Option<&'a str> },
    Object { rt: &'static ResourceType, namespace: &'a str, name: &'a str, sub: Option<&'a str> },
}

fn parse_path(path: &str) -> Result<Target<'_>, ApiError> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group] => return Ok(Target::Group(group)),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::path_not_found()),
    };
    let find = |plural: &str| resources::lookup(group, version, plural).ok_or_else(ApiError::path_not_found);
    Ok(match rest {
        [] => Target::ResourceList { group, version },
        [plural] => Target::Collection { rt: find(plural)?, namespace: None },
        ["namespaces", namespace, plural] if find(plural).is_ok_and(|rt| rt.namespaced) => {
            Target::Collection { rt: find(plural)?, namespace: Some(namespace) }
        }
        ["namespaces", namespace, plural, name] => {
            let rt = find(plural)?;
            if !rt.namespaced {
                return Err(ApiError::path_not_found());
            }
            Target::Object { rt, namespace, name, sub: None }
        }
        ["namespaces", namespace, plural, name, sub] => {
            let rt = find(plural)?;
            if !rt.namespaced || !rt.subresources.contains(sub) {
                return Err(ApiError::path_not_found());
            }
            Target::Object { rt, namespace, name, sub: Some(sub) }
        }
        [plural, name] => {
            let rt = find(plural)?;
            if rt.namespaced {
                return Err(ApiError::path_not_found());
            }
            Target::Object { rt, namespace: "", name, sub: None }
        }
        [plural, name, sub] => {
            let rt = find(plural)?;
            if rt.namespaced || !rt.subresources.contains(sub) {
                return Err(ApiError::path_not_found());
            }
            Target::Object { rt, namespace: "", name, sub: Some(sub) }
        }
        _ => return Err(ApiError::path_not_found()),
    })
}

pub async fn handle(
    State(cluster): State<Cluster>,
    Extension(identity): Extension<Identity>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = dispatch(&cluster, &identity, &method, uri.path(), &query, &headers, &body);
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if protobuf::preferred(accept) {
        let in_protobuf = match &reply {
            Ok(Reply::Json(status, value)) => protobuf::encode(value).map(|body| (*status, body)),
            Ok(Reply::Serialized(body)) => serde_json::from_slice(body)
                .ok()
                .and_then(|value| protobuf::encode(&value))
                .map(|body| (StatusCode::OK, body)),
            Err(error) => protobuf::encode(&error.to_status()).map(|body| {
                (StatusCode::from_u16(error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body)
            }),
            Ok(Reply::Watch(_) | Reply::Log(_)) => None,
        };
        if let Some((status, body)) = in_protobuf {
            return (status, [(header::CONTENT_TYPE, protobuf::MEDIA_TYPE)], body).into_response();
        }
    }
    match reply {
        Ok(Reply::Json(status, value)) => (status, Json(value)).into_response(),
        Ok(Reply::Serialized(body)) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Ok(Reply::Watch(request)) => watch(&cluster.store, request),
        Ok(Reply::Log(request)) => logs::respond(cluster.store.clone(), request),
        Err(error) => error.into_response(),
    }
}

enum Reply {
    Json(StatusCode, Value),
    /// An object or a list, already serialized: written straight from the store's JSON.
    Serialized(Bytes),
    Watch(WatchRequest),
    Log(LogRequest),
}

fn ok(value: impl Into<Value>) -> Result<Reply, ApiError> {
    Ok(Reply::Json(StatusCode::OK, value.into()))
}

fn dispatch(
    cluster: &Cluster,
    identity: &Identity,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let store = &cluster.store;
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let from_protobuf;
    let mut body = body;
    if matches!(*method, Method::POST | Method::PUT) && !body.is_empty() {
        // JSON or protobuf; clients that prefer CBOR fall back to JSON on a 415.
        let content_type =
            headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
        match content_type.split(';').next().unwrap_or("").trim() {
            "application/json" | "*/*" => {}
            protobuf::MEDIA_TYPE => {
                from_protobuf = protobuf::decode(body)?.to_string().into_bytes();
                body = &from_protobuf;
            }
            media => return Err(ApiError::unsupported_media_type(media)),
        }
    }
    let target = parse_path(path)?;
    if let Target::Collection { rt, .. } = &target
        && rt.kind == "SelfSubjectAccessReview"
    {
        // Anyone may ask what they may do.
        return match *method {
            Method::POST => Ok(Reply::Json(
                StatusCode::CREATED,
                rbac::self_subject_access_review(store, identity, &parse_json(body)?)?,
            )),
            _ => Err(ApiError::method_not_allowed(method.as_str())),
        };
    }
    if let Some(attributes) = attributes_of(method, query, &target) {
        rbac::authorize(store, identity, &attributes)?;
    }
    match target {
        Target::Group(group) if method == Method::GET => {
            discovery::group_document(group).map_or_else(|| Err(ApiError::path_not_found()), ok)
        }
        Target::ResourceList { group, version } if method == Method::GET => {
            discovery::resource_list(group, version).map_or_else(|| Err(ApiError::path_not_found()), ok)
        }
        Target::Collection { rt, namespace } => {
            let filter = Filter::from_query(query, rt.kind)?;
            match *method {
                Method::GET if is_true(query.get("watch")) => {
                    Ok(Reply::Watch(WatchRequest::new(rt, namespace.map(str::to_owned), filter, query)?))
                }
                Method::GET => {
                    let limit = query.get("limit").map(|l| parse_number(l, "limit")).transpose()?;
                    let page = store.list(
                        rt,
                        namespace,
                        |o| filter.matches(o),
                        limit.filter(|l| *l > 0),
                        query.get("continue").map(String::as_str).filter(|c| !c.is_empty()),
                    )?;
                    let mut metadata = json!({ "resourceVersion": page.resource_version.to_string() });
                    if let Some(token) = page.continue_token {
                        metadata["continue"] = json!(token);
                    }
                    if table::wants_table(accept) {
                        let values: Vec<Value> = page.items.iter().map(Object::value).collect();
                        let objects: Vec<&Value> = values.iter().collect();
                        return ok(table::table(rt, &objects, metadata));
                    }
                    Ok(Reply::Serialized(list_body(rt, &metadata, &page.items)))
                }
                Method::POST => {
                    let namespace = match (rt.namespaced, namespace) {
                        (true, Some(ns)) => ns,
                        (true, None) => return Err(ApiError::method_not_allowed("POST")),
                        (false, _) => "",
                    };
                    let object = parse_json(body)?;
                    check_kind(rt, &object)?;
                    let created = store.create(rt, namespace, object)?;
                    Ok(Reply::Json(StatusCode::CREATED, (*created).clone()))
                }
                Method::DELETE => {
                    let page = store.list(rt, namespace, |o| filter.matches(o), None, None)?;
                    let mut deleted = Vec::new();
                    for object in page.items.iter().map(Object::value) {
                        let ns = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
                        let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
                        if let Ok(gone) = store.delete_with(rt, ns, name, propagation(query, body)?) {
                            deleted.push((*gone).clone());
                        }
                    }
                    ok(
                        json!({ "kind": rt.list_kind(), "apiVersion": rt.api_version(), "metadata": {}, "items": deleted }),
                    )
                }
                _ => Err(ApiError::method_not_allowed(method.as_str())),
            }
        }
        Target::Object { rt, namespace, name, sub: None } => match *method {
            Method::GET => {
                let object = store.get(rt, namespace, name)?;
                if table::wants_table(accept) {
                    let metadata = json!({ "resourceVersion": store.current_version().to_string() });
                    return ok(table::table(rt, &[&object.value()], metadata));
                }
                Ok(Reply::Serialized(object.json().clone()))
            }
            Method::PUT => {
                let object = parse_json(body)?;
                check_kind(rt, &object)?;
                ok((*store.update(rt, namespace, name, object, false)?).clone())
            }
            Method::PATCH => patch_object(store, rt, namespace, name, headers, body, false),
            Method::DELETE => {
                let propagation = propagation(query, body)?;
                let gone = store.delete_with(rt, namespace, name, propagation)?;
                // The API server answers with the object where it keeps it a while (a pod's
                // graceful deletion, a terminating namespace, orphaning finalizers) or where its
                // registry says so (services); otherwise with a Status naming what went.
                if matches!(rt.kind, "Pod" | "Service" | "Namespace") || propagation == Propagation::Orphan {
                    ok((*gone).clone())
                } else {
                    ok(json!({
                        "kind": "Status",
                        "apiVersion": "v1",
                        "metadata": {},
                        "status": "Success",
                        "details": { "name": name, "group": rt.group, "kind": rt.plural, "uid": gone["metadata"]["uid"] },
                    }))
                }
            }
            _ => Err(ApiError::method_not_allowed(method.as_str())),
        },
        Target::Object { rt, namespace, name, sub: Some("status") } => match *method {
            Method::GET => Ok(Reply::Serialized(store.get(rt, namespace, name)?.json().clone())),
            Method::PUT => ok((*store.update(rt, namespace, name, parse_json(body)?, true)?).clone()),
            Method::PATCH => patch_object(store, rt, namespace, name, headers, body, true),
            _ => Err(ApiError::method_not_allowed(method.as_str())),
        },
        Target::Object { rt, namespace, name, sub: Some("scale") } => match *method {
            Method::GET => ok(scale_of(&store.get(rt, namespace, name)?.value())),
            Method::PUT | Method::PATCH => {
                let current = scale_of(&store.get(rt, namespace, name)?.value());
                let mut scale = current.clone();
                let body = parse_json(body)?;
                if *method == Method::PUT {
                    scale = body;
                } else {
                    patch::apply(patch_type(headers)?, &mut scale, &body)?;
                }
                let replicas =
                    scale.pointer("/spec/replicas").and_then(Value::as_i64).filter(|r| *r >= 0).ok_or_else(
                        || ApiError::bad_request("spec.replicas must be a number of at least 0"),
                    )?;
                let expected = scale.pointer("/metadata/resourceVersion").cloned();
                let updated = store.modify(rt, namespace, name, false, |object| {
                    if let Some(rv) = &expected {
                        metadata_mut(object).insert("resourceVersion".into(), rv.clone());
                    }
                    object["spec"]["replicas"] = json!(replicas);
                    Ok(())
                })?;
                ok(scale_of(&updated))
            }
            _ => Err(ApiError::method_not_allowed(method.as_str())),
        },
        Target::Object { rt, namespace, name, sub: Some("token") } if *method == Method::POST => {
            token_request(cluster, rt, namespace, name, body)
        }
        Target::Object { namespace, name, sub: Some("log"), .. } if *method == Method::GET => {
            Ok(Reply::Log(LogRequest::new(store, namespace, name, query)?))
        }
        Target::Object { .. } => Err(ApiError::method_not_allowed(method.as_str())),
        _ => Err(ApiError::method_not_allowed(method.as_str())),
    }
}

/// What the authorizer is asked about a request; none for discovery, which is open to all.
fn attributes_of(method: &Method, query: &HashMap<String, String>, target: &Target) -> Option<Attributes> {
    let (rt, namespace, name, sub, collection) = match *target {
        Target::Group(_) | Target::ResourceList { .. } => return None,
        Target::Collection { rt, namespace } => (rt, namespace.unwrap_or(""), "", "", true),
        Target::Object { rt, namespace, name, sub } => (rt, namespace, name, sub.unwrap_or(""), false),
    };
    let verb = match *method {
        Method::GET | Method::HEAD if is_true(query.get("watch")) => "watch",
        Method::GET | Method::HEAD if collection => "list",
        Method::GET | Method::HEAD => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if collection => "deletecollection",
        Method::DELETE => "delete",
        // Every handler refuses other methods (405) before doing anything.
        _ => return None,
    };
    // A cluster-scoped object's path has no namespace; the namespace object's own name is
    // its namespace, as the API server treats it.
    let namespace = if rt.kind == "Namespace" { name } else { namespace };
    Some(Attributes {
        verb: verb.to_owned(),
        group: rt.group.to_owned(),
        resource: rt.plural.to_owned(),
        subresource: sub.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    })
}

/// PATCH of an object or its status. A server-side apply of an object that does not exist
/// creates it, as on a real server.
fn patch_object(
    store: &Store,
    rt: &'static ResourceType,
    namespace: &str,
    name: &str,
    headers: &HeaderMap,
    body: &[u8],
    status_only: bool,
) -> Result<Reply, ApiError> {
    let kind = patch_type(headers)?;
    if kind == PatchType::Apply {
        let applied = parse_yaml(body)?;
        check_kind(rt, &applied)?;
        if store.get(rt, namespace, name).is_err() {
            let created = store.create(rt, namespace, applied)?;
            return Ok(Reply::Json(StatusCode::CREATED, (*created).clone()));
        }
        let updated = store.modify(rt, namespace, name, status_only, |object| {
            patch::strategic_merge_patch(object, &applied)
        })?;
        return ok((*updated).clone());
    }
    let patch_body = parse_json(body)?;
    let updated =
        store.modify(rt, namespace, name, status_only, |object| patch::apply(kind, object, &patch_body))?;
    ok((*updated).clone())
}

fn patch_type(headers: &HeaderMap) -> Result<PatchType, ApiError> {
    PatchType::from_content_type(
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or(""),
    )
}

/// The TokenRequest API: a fresh, expiring token for an existing ServiceAccount.
fn token_request(
    cluster: &Cluster,
    rt: &'static ResourceType,
    namespace: &str,
    name: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    cluster.store.get(rt, namespace, name)?;
    let request = if body.is_empty() { json!({}) } else { parse_json(body)? };
    let seconds = request.pointer("/spec/expirationSeconds").map(|v| v.as_u64().ok_or(())).transpose();
    let seconds = seconds
        .map_err(|_| ApiError::bad_request("spec.expirationSeconds must be a whole number of seconds"))?;
    let seconds = seconds.unwrap_or(3600);
    if !(600..=1 << 32).contains(&seconds) {
        return Err(ApiError::bad_request(format!(
            "spec.expirationSeconds: Invalid value: {seconds}: may not specify a duration less than 10 minutes or longer than 2^32 seconds"
        )));
    }
    let (token, expires) = cluster.tokens.issue(namespace, name, Duration::from_secs(seconds));
    let mut response = json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": { "name": name, "namespace": namespace, "creationTimestamp": super::store::now_rfc3339() },
        "spec": {
            "audiences": request.pointer("/spec/audiences").cloned().unwrap_or(json!([])),
            "expirationSeconds": seconds,
        },
        "status": { "token": token, "expirationTimestamp": super::store::rfc3339(expires) },
    });
    if let Some(bound) = request.pointer("/spec/boundObjectRef") {
        response["spec"]["boundObjectRef"] = bound.clone();
    }
    Ok(Reply::Json(StatusCode::CREATED, response))
}

/// The `autoscaling/v1` Scale view of a deployment or replica set.
fn scale_of(object: &Value) -> Value {
    let labels = object.pointer("/spec/selector/matchLabels").and_then(Value::as_object);
    let selector = labels
        .map(|l| {
            l.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(",")
        })
        .unwrap_or_default();
    let meta = object.get("metadata").cloned().unwrap_or(Value::Null);
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": { "replicas": object.pointer("/spec/replicas").cloned().unwrap_or(json!(1)) },
        "status": {
            "replicas": object.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

/// A delete's `propagationPolicy`, from the query or its DeleteOptions body (kubectl sends
/// `--cascade=orphan` in the body).
fn propagation(query: &HashMap<String, String>, body: &[u8]) -> Result<Propagation, ApiError> {
    let options = if body.is_empty() { Value::Null } else { parse_json(body)? };
    let policy = query.get("propagationPolicy").map(String::as_str).or(options["propagationPolicy"].as_str());
    match policy {
        None | Some("Background" | "Foreground") => Ok(Propagation::Background),
        Some("Orphan") => Ok(Propagation::Orphan),
        Some(other) => Err(ApiError::bad_request(format!(
            "propagationPolicy {other:?} is not one of Orphan, Background, Foreground"
        ))),
    }
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

fn parse_yaml(body: &[u8]) -> Result<Value, ApiError> {
    serde_yaml::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid YAML: {e}")))
}

/// A body naming another kind is a client mistake worth saying plainly.
fn check_kind(rt: &ResourceType, object: &Value) -> Result<(), ApiError> {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or(rt.kind);
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| rt.api_version());
    if kind != rt.kind || api_version != rt.api_version() {
        return Err(ApiError::bad_request(format!(
            "the object is a {api_version} {kind}, but this endpoint serves {} {}",
            rt.api_version(),
            rt.kind
        )));
    }
    Ok(())
}

fn is_true(value: Option<&String>) -> bool {
    value.is_some_and(|v| v == "1" || v == "true")
}

fn parse_number(text: &str, name: &str) -> Result<usize, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("{name} must be a non-negative number, got {text:?}")))
}

/// Label and field selectors from the query.
#[derive(Clone, Default)]
struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn from_query(query: &HashMap<String, String>, kind: &str) -> Result<Self, ApiError> {
        Ok(Self {
            labels: LabelSelector::parse(query.get("labelSelector").map(String::as_str).unwrap_or(""))?,
            fields: FieldSelector::parse(query.get("fieldSelector").map(String::as_str).unwrap_or(""), kind)?,
        })
    }

    /// Whether `object` passes; parsed only when there is something to check.
    fn matches(&self, object: &Object) -> bool {
        if self.labels.is_empty() && self.fields.is_empty() {
            return true;
        }
        let object = object.value();
        self.labels.matches(object.pointer("/metadata/labels").and_then(Value::as_object))
            && self.fields.matches(&object)
    }
}

struct WatchRequest {
    rt: &'static ResourceType,
    namespace: Option<String>,
    filter: Filter,
    since: Option<u64>,
    timeout: Duration,
    bookmarks: bool,
}

/// How long a watch lasts when the client does not say (a real server picks 30 to 60 minutes).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);
/// How often an idle watch that asked for bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(5);

impl WatchRequest {
    fn new(
        rt: &'static ResourceType,
        namespace: Option<String>,
        filter: Filter,
        query: &HashMap<String, String>,
    ) -> Result<Self, ApiError> {
        let since = match query.get("resourceVersion").map(String::as_str) {
            None | Some("") | Some("0") => None,
            Some(v) => Some(
                v.parse::<u64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {v:?}")))?,
            ),
        };
        let timeout = match query.get("timeoutSeconds") {
            Some(t) => Duration::from_secs(parse_number(t, "timeoutSeconds")? as u64),
            None => DEFAULT_WATCH_TIMEOUT,
        };
        Ok(Self {
            rt,
            namespace,
            filter,
            since,
            timeout,
            bookmarks: is_true(query.get("allowWatchBookmarks")),
        })
    }

    fn wants(&self, change: &Change) -> bool {
        change.resource == self.rt
            && self.namespace.as_ref().is_none_or(|ns| *ns == change.namespace)
            && self.filter.matches(&change.object)
    }
}

/// A list response: the stored objects' JSON, copied in as it is.
fn list_body(rt: &ResourceType, metadata: &Value, items: &[Object]) -> Bytes {
    let mut body = Vec::with_capacity(items.iter().map(|o| o.json().len() + 1).sum::<usize>() + 256);
    let head = json!({ "kind": rt.list_kind(), "apiVersion": rt.api_version(), "metadata": metadata });
    // Serializing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut body, &head);
    body.pop(); // the head's closing brace: the items follow
    body.extend_from_slice(b",\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item.json());
    }
    body.extend_from_slice(b"]}");
    body.into()
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    super::store::event_line(kind, object)
}

/// Streams watch events as JSON lines until the timeout, the client leaving, or the watch
/// falling behind the retained log (a `410 Expired` error event; the client then relists).
fn watch(store: &Store, request: WatchRequest) -> Response {
    let (tx, rx) = stream::channel();
    match store.watch(request.rt, request.since) {
        Err(expired) => {
            // What a real API server does: 200, then one ERROR event carrying the 410 Status.
            let line = event_line("ERROR", &expired.to_status());
            let _ = tx.try_send(line);
        }
        Ok((backlog, mut cursor)) => {
            let store = store.clone();
            tokio::spawn(async move {
                let deadline = tokio::time::Instant::now() + request.timeout;
                for change in backlog.iter().filter(|c| request.wants(c)) {
                    if tx.send(change.line()).await.is_err() {
                        return;
                    }
                }
                loop {
                    let until = deadline.min(tokio::time::Instant::now() + BOOKMARK_INTERVAL);
                    let lines = match cursor.next(until).await {
                        Ok(changes) if !changes.is_empty() => {
                            changes.iter().filter(|c| request.wants(c)).map(Change::line).collect()
                        }
                        Ok(_) if tokio::time::Instant::now() >= deadline => return,
                        Ok(_) if request.bookmarks => vec![event_line(
                            "BOOKMARK",
                            &json!({
                                "kind": request.rt.kind,
                                "apiVersion": request.rt.api_version(),
                                "metadata": { "resourceVersion": store.current_version().to_string() },
                            }),
                        )],
                        Ok(_) => continue,
                        Err(expired) => {
                            let _ = tx.send(event_line("ERROR", &expired.to_status())).await;
                            return;
                        }
                    };
                    for line in lines {
                        if tx.send(line).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    }
    stream::response(rx, "application/json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let deployments = resources::lookup("apps", "v1", "deployments").unwrap();
        let namespaces = resources::lookup("", "v1", "namespaces").unwrap();
        assert_eq!(parse_path("/apis/apps").unwrap(), Target::Group("apps"));
        assert_eq!(parse_path("/api/v1").unwrap(), Target::ResourceList { group: "", version: "v1" });
        assert_eq!(
            parse_path("/apis/apps/v1/deployments").unwrap(),
            Target::Collection { rt: deployments, namespace: None }
        );
        assert_eq!(
            parse_path("/apis/apps/v1/namespaces/staging/deployments").unwrap(),
            Target::Collection { rt: deployments, namespace: Some("staging") }
        );
        assert_eq!(
            parse_path("/apis/apps/v1/namespaces/staging/deployments/web/scale").unwrap(),
            Target::Object { rt: deployments, namespace: "staging", name: "web", sub: Some("scale") }
        );
        assert_eq!(
            parse_path("/api/v1/namespaces/staging").unwrap(),
            Target::Object { rt: namespaces, namespace: "", name: "staging", sub: None }
        );
        assert_eq!(
            parse_path("/api/v1/namespaces/staging/status").unwrap(),
            Target::Object { rt: namespaces, namespace: "", name: "staging", sub: Some("status") }
        );
        for bad in [
            "/apis/apps/v1/widgets",
            "/apis/apps/v1/namespaces/x/deployments/web/exec",
            "/api/v1/pods/x",
            "/nope",
        ] {
            assert_eq!(parse_path(bad).unwrap_err().code, 404, "{bad}");
        }
    }
}
