//! The sandbox cluster's objects: one map of JSON objects keyed by type, namespace and name,
//! one resource-version counter for all of them, and a bounded log of changes that watches
//! replay from. A watch asking for a version older than the log gets `410 Expired`, exactly
//! the situation that makes real clients relist.
//!
//! Objects are stored serialized ([`Object`]); writes take and return JSON trees, built from
//! the stored text under the lock only for the object being written.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use super::object::Object;
use super::resources::{ResourceType, TYPES};
use super::status::{ApiError, Cause};
use super::{defaults, shape};

/// How many changes a watch can resume across.
pub const RETAINED_CHANGES: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

impl ChangeType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Added => "ADDED",
            ChangeType::Modified => "MODIFIED",
            ChangeType::Deleted => "DELETED",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Change {
    pub resource_version: u64,
    pub resource: &'static ResourceType,
    pub namespace: String,
    pub object: Object,
    /// The watch event line, serialized once however many watchers send it. The object's JSON
    /// is a slice of it: the store and the log share one copy.
    line: Bytes,
}

impl Change {
    /// A current object replayed as `ADDED` (a watch without a resource version).
    fn added(
        resource_version: u64,
        resource: &'static ResourceType,
        namespace: String,
        object: Object,
    ) -> Self {
        let mut line = Vec::with_capacity(object.json().len() + 32);
        line.extend_from_slice(LINE_HEAD_ADDED);
        line.extend_from_slice(object.json());
        line.extend_from_slice(LINE_TAIL);
        Self { resource_version, resource, namespace, object, line: line.into() }
    }

    /// This change as a line of a watch stream.
    pub fn line(&self) -> Bytes {
        self.line.clone()
    }
}

const LINE_HEAD_ADDED: &[u8] = b"{\"type\":\"ADDED\",\"object\":";
const LINE_TAIL: &[u8] = b"}\n";

/// `{"type": kind, "object": object}` and a newline: one event of a watch stream.
pub fn event_line(kind: &str, object: &Value) -> Bytes {
    encode(kind, object).0
}

/// The watch event line of `object`, and the object's JSON: a slice of the line.
fn encode(kind: &str, object: &Value) -> (Bytes, Bytes) {
    let mut line = Vec::with_capacity(1024);
    line.extend_from_slice(b"{\"type\":");
    // Serializing a string or a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut line, kind);
    line.extend_from_slice(b",\"object\":");
    let start = line.len();
    let _ = serde_json::to_writer(&mut line, object);
    let end = line.len();
    line.extend_from_slice(LINE_TAIL);
    // Exactly as long as it needs to be: the line lives as long as the object or its change.
    line.shrink_to_fit();
    let line = Bytes::from(line);
    let json = line.slice(start..end);
    (line, json)
}

/// What a delete does to the objects the deleted one controls (`propagationPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// They are deleted too (`Background`, the default, and `Foreground`, which the sandbox
    /// carries out at once as well).
    Background,
    /// They stay, without the owner's reference.
    Orphan,
}

/// The objects in `namespace` whose controller is the object with uid `owner`.
fn dependents(inner: &Inner, namespace: &str, owner: &str) -> Vec<Key> {
    if owner.is_empty() {
        return Vec::new();
    }
    inner
        .objects
        .iter()
        .filter(|(key, object)| key.namespace == namespace && object.controller() == Some(owner))
        .map(|(key, _)| key.clone())
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    resource: &'static str,
    group: &'static str,
    namespace: String,
    name: String,
}

impl Key {
    fn new(rt: &'static ResourceType, namespace: &str, name: &str) -> Self {
        Self { resource: rt.plural, group: rt.group, namespace: namespace.to_owned(), name: name.to_owned() }
    }
}

struct Inner {
    resource_version: u64,
    objects: BTreeMap<Key, Object>,
    log: VecDeque<Change>,
    random: u64,
}

/// The object store. Cheap to clone; all clones share the same objects.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Mutex<Inner>>,
    /// The newest resource version, for watches to wake on. Watches read the changes from the
    /// log itself, so a change is kept once however many watch it.
    newest: watch::Sender<u64>,
}

/// What a list returns: the page of objects, the version it was read at, and where to go on.
#[derive(Debug)]
pub struct ListPage {
    pub items: Vec<Object>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    pub fn new() -> Self {
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
        let inner = Inner {
            resource_version: 1000,
            objects: BTreeMap::new(),
            log: VecDeque::new(),
            random: seed | 1,
        };
        let (newest, _) = watch::channel(inner.resource_version);
        Self { inner: Arc::new(Mutex::new(inner)), newest }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every write is one insert),
        // so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn current_version(&self) -> u64 {
        self.lock().resource_version
    }

    pub fn get(&self, rt: &'static ResourceType, namespace: &str, name: &str) -> Result<Object, ApiError> {
        self.lock()
            .objects
            .get(&Key::new(rt, namespace, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))
    }

    /// Objects of one type, in one namespace or all (`None`), that pass `keep`, in name order;
    /// `limit` and `continue_from` page through them.
    pub fn list(
        &self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
        keep: impl Fn(&Object) -> bool,
        limit: Option<usize>,
        continue_from: Option<&str>,
    ) -> Result<ListPage, ApiError> {
        let inner = self.lock();
        let after = continue_from.map(decode_continue).transpose()?;
        let mut items = Vec::new();
        let mut last = None;
        let mut more = false;
        // Keys sort by type, then namespace: a list reads one contiguous range.
        let start = Key::new(rt, namespace.unwrap_or(""), "");
        for (key, object) in inner.objects.range(start..) {
            if key.resource != rt.plural || key.group != rt.group {
                break;
            }
            if let Some(ns) = namespace
                && ns != key.namespace
            {
                break;
            }
            if let Some((ns, name)) = &after
                && (&key.namespace, &key.name) <= (ns, name)
            {
                continue;
            }
            if !keep(object) {
                continue;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                more = true;
                break;
            }
            last = Some((key.namespace.clone(), key.name.clone()));
            items.push(object.clone());
        }
        let continue_token = if more { last.map(|(ns, name)| encode_continue(&ns, &name)) } else { None };
        Ok(ListPage { items, resource_version: inner.resource_version, continue_token })
    }

    /// Stores a new object, filling in the metadata the server owns.
    pub fn create(
        &self,
        rt: &'static ResourceType,
        namespace: &str,
        mut object: Value,
    ) -> Result<Arc<Value>, ApiError> {
        let mut inner = self.lock();
        if !object.is_object() {
            return Err(ApiError::bad_request("the request body is not a JSON object"));
        }
        let name = resolve_name(&mut inner, &object)?;
        validate_name(rt, &name)?;
        shape::validate(rt, &name, &object)?;
        defaults::apply(rt, &mut object);
        check_namespace(&inner, rt, namespace, &object)?;
        let key = Key::new(rt, namespace, &name);
        if inner.objects.contains_key(&key) {
            return Err(ApiError::already_exists(rt, &name));
        }
        inner.resource_version += 1;
        let version = inner.resource_version;
        let uid = new_uid(&mut inner);
        let meta = metadata_mut(&mut object);
        meta.insert("name".into(), json!(name));
        if rt.namespaced {
            meta.insert("namespace".into(), json!(namespace));
        } else {
            meta.remove("namespace");
        }
        meta.insert("uid".into(), json!(uid));
        meta.insert("resourceVersion".into(), json!(version.to_string()));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        meta.remove("deletionTimestamp");
        if has_spec(rt) {
            meta.insert("generation".into(), json!(1));
        }
        object["kind"] = json!(rt.kind);
        object["apiVersion"] = json!(rt.api_version());
        let stored = self.record(&mut inner, version, ChangeType::Added, rt, namespace, &object);
        inner.objects.insert(key, stored);
        Ok(Arc::new(object))
    }

    /// Replaces an object. A `metadata.resourceVersion` in the body must match the stored one
    /// (optimistic concurrency); `status_only` writes just the status, the main resource
    /// everything but the status.
    pub fn update(
        &self,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
        object: Value,
        status_only: bool,
    ) -> Result<Arc<Value>, ApiError> {
        let mut inner = self.lock();
        let current = current(&inner, rt, namespace, name)?.value();
        self.replace(&mut inner, rt, namespace, name, &current, object, status_only)
    }

    /// Changes an object in place under the store's lock, as a patch does: `change` edits a
    /// copy of the current object, which then replaces it with the same rules as [`update`].
    ///
    /// [`update`]: Store::update
    pub fn modify(
        &self,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
        status_only: bool,
        change: impl FnOnce(&mut Value) -> Result<(), ApiError>,
    ) -> Result<Arc<Value>, ApiError> {
        let mut inner = self.lock();
        let current = current(&inner, rt, namespace, name)?.value();
        let mut object = current.clone();
        change(&mut object)?;
        self.replace(&mut inner, rt, namespace, name, &current, object, status_only)
    }

    #[allow(clippy::too_many_arguments)] // update and modify's shared tail; private.
    fn replace(
        &self,
        inner: &mut Inner,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
        current: &Value,
        mut object: Value,
        status_only: bool,
    ) -> Result<Arc<Value>, ApiError> {
        if !object.is_object() {
            return Err(ApiError::bad_request("the request body is not a JSON object"));
        }
        let body_name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or(name);
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if let Some(expected) = object.pointer("/metadata/resourceVersion").and_then(Value::as_str) {
            let actual = current.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or("");
            if !expected.is_empty() && expected != actual {
                return Err(ApiError::conflict(
                    rt,
                    name,
                    "the object has been modified; please apply your changes to the latest version and try again",
                ));
            }
        }
        if status_only {
            let status = object.get("status").cloned().unwrap_or(Value::Null);
            object = current.clone();
            set_or_remove(&mut object, "status", status);
        } else {
            let status = current.get("status").cloned().unwrap_or(Value::Null);
            set_or_remove(&mut object, "status", status);
        }
        shape::validate(rt, name, &object)?;
        defaults::apply(rt, &mut object);
        let spec_changed = object.get("spec") != current.get("spec");
        inner.resource_version += 1;
        let version = inner.resource_version;
        let meta = metadata_mut(&mut object);
        for owned in ["uid", "creationTimestamp", "generation", "namespace", "deletionTimestamp"] {
            match current.pointer(&format!("/metadata/{owned}")) {
                Some(v) => meta.insert(owned.into(), v.clone()),
                None => meta.remove(owned),
            };
        }
        meta.insert("name".into(), json!(name));
        meta.insert("resourceVersion".into(), json!(version.to_string()));
        if spec_changed && has_spec(rt) {
            let generation = current.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
            meta.insert("generation".into(), json!(generation + 1));
        }
        object["kind"] = json!(rt.kind);
        object["apiVersion"] = json!(rt.api_version());
        let stored = self.record(inner, version, ChangeType::Modified, rt, namespace, &object);
        inner.objects.insert(Key::new(rt, namespace, name), stored);
        Ok(Arc::new(object))
    }

    /// Removes an object (a namespace takes everything in it along), and what it controls, as
    /// the garbage collector does by default (background propagation): a deployment's replica
    /// sets, and their pods.
    pub fn delete(
        &self,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        self.delete_with(rt, namespace, name, Propagation::Background)
    }

    pub fn delete_with(
        &self,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
        propagation: Propagation,
    ) -> Result<Arc<Value>, ApiError> {
        let mut inner = self.lock();
        let removed = self.remove(&mut inner, rt, namespace, name)?;
        if rt.plural == "namespaces" && rt.group.is_empty() {
            let contained: Vec<Key> = inner.objects.keys().filter(|k| k.namespace == name).cloned().collect();
            for key in contained {
                if let Some(rt) = TYPES.iter().find(|t| t.plural == key.resource && t.group == key.group) {
                    let _ = self.remove(&mut inner, rt, &key.namespace, &key.name);
                }
            }
        }
        let uid = removed.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("").to_owned();
        match propagation {
            Propagation::Background => self.remove_dependents(&mut inner, namespace, uid),
            Propagation::Orphan => {
                let dependents = dependents(&inner, namespace, &uid);
                drop(inner);
                self.orphan(dependents, &uid);
            }
        }
        Ok(removed)
    }

    /// Removes what `owner` controls, and what that controls in turn.
    fn remove_dependents(&self, inner: &mut Inner, namespace: &str, owner: String) {
        let mut owners = vec![owner];
        while let Some(owner) = owners.pop() {
            for key in dependents(inner, namespace, &owner) {
                let Some(rt) = TYPES.iter().find(|t| t.plural == key.resource && t.group == key.group) else {
                    continue;
                };
                if let Ok(gone) = self.remove(inner, rt, &key.namespace, &key.name)
                    && let Some(uid) = gone.pointer("/metadata/uid").and_then(Value::as_str)
                {
                    owners.push(uid.to_owned());
                }
            }
        }
    }

    /// Takes `owner`'s reference off each of `dependents`, which stay.
    fn orphan(&self, dependents: Vec<Key>, owner: &str) {
        for key in dependents {
            let Some(rt) = TYPES.iter().find(|t| t.plural == key.resource && t.group == key.group) else {
                continue;
            };
            let Ok(object) = self.get(rt, &key.namespace, &key.name) else { continue };
            let mut object = object.value();
            let metadata = metadata_mut(&mut object);
            if let Some(refs) = metadata.get_mut("ownerReferences").and_then(Value::as_array_mut) {
                refs.retain(|r| r["uid"] != owner);
                if refs.is_empty() {
                    // As the API server writes it: an empty list is no list (omitempty).
                    metadata.remove("ownerReferences");
                }
            }
            let _ = self.update(rt, &key.namespace, &key.name, object, false);
        }
    }

    fn remove(
        &self,
        inner: &mut Inner,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        let object = inner
            .objects
            .remove(&Key::new(rt, namespace, name))
            .ok_or_else(|| ApiError::not_found(rt, name))?;
        inner.resource_version += 1;
        let version = inner.resource_version;
        let mut gone = object.value();
        metadata_mut(&mut gone).insert("resourceVersion".into(), json!(version.to_string()));
        self.record(inner, version, ChangeType::Deleted, rt, namespace, &gone);
        Ok(Arc::new(gone))
    }

    /// Logs a change to `object` and returns it as stored: its JSON is part of the change's
    /// watch line.
    fn record(
        &self,
        inner: &mut Inner,
        version: u64,
        change: ChangeType,
        rt: &'static ResourceType,
        namespace: &str,
        object: &Value,
    ) -> Object {
        let (line, json) = encode(change.as_str(), object);
        let object = Object::new(json, object);
        let change = Change {
            resource_version: version,
            resource: rt,
            namespace: namespace.to_owned(),
            object: object.clone(),
            line,
        };
        if inner.log.len() == RETAINED_CHANGES {
            inner.log.pop_front();
        }
        inner.log.push_back(change);
        self.newest.send_replace(version);
        object
    }

    /// The changes after `since` (replayed) and a cursor for the ones to come, taken under one
    /// lock so nothing falls between them. `since = None` starts with the current objects as
    /// `ADDED`, as a watch without a resource version does.
    pub fn watch(
        &self,
        rt: &'static ResourceType,
        since: Option<u64>,
    ) -> Result<(Vec<Change>, Cursor), ApiError> {
        let inner = self.lock();
        let backlog = match since {
            None => inner
                .objects
                .range(Key::new(rt, "", "")..)
                .take_while(|(key, _)| key.resource == rt.plural && key.group == rt.group)
                .map(|(key, object)| {
                    Change::added(inner.resource_version, rt, key.namespace.clone(), object.clone())
                })
                .collect(),
            Some(since) => changes_after(&inner, rt, since)?,
        };
        let cursor = Cursor {
            store: self.clone(),
            rt,
            after: inner.resource_version,
            newest: self.newest.subscribe(),
        };
        Ok((backlog, cursor))
    }
}

/// The log's changes to `rt` after `since`; `410 Expired` when the log no longer reaches back
/// that far.
fn changes_after(inner: &Inner, rt: &'static ResourceType, since: u64) -> Result<Vec<Change>, ApiError> {
    let oldest = inner.log.front().map(|c| c.resource_version).unwrap_or(inner.resource_version + 1);
    if since + 1 < oldest && since < inner.resource_version {
        return Err(ApiError::expired(format!(
            "too old resource version: {since} ({})",
            oldest.saturating_sub(1)
        )));
    }
    // The log is in resource-version order.
    let start = inner.log.partition_point(|c| c.resource_version <= since);
    Ok(inner.log.range(start..).filter(|c| std::ptr::eq(c.resource, rt)).cloned().collect())
}

/// Where a watch is in the log.
pub struct Cursor {
    store: Store,
    rt: &'static ResourceType,
    after: u64,
    newest: watch::Receiver<u64>,
}

impl Cursor {
    /// The next changes to the watched type, waiting for them until `until` (then none). A
    /// watch that fell behind the log gets `410 Expired`, as from a real API server.
    pub async fn next(&mut self, until: Instant) -> Result<Vec<Change>, ApiError> {
        loop {
            if *self.newest.borrow_and_update() > self.after {
                let inner = self.store.lock();
                let changes = changes_after(&inner, self.rt, self.after)?;
                self.after = inner.resource_version;
                if !changes.is_empty() {
                    return Ok(changes);
                }
            }
            match tokio::time::timeout_at(until, self.newest.changed()).await {
                Ok(Ok(())) => continue,
                // The store is gone or the time is up: nothing more comes.
                Ok(Err(_)) | Err(_) => return Ok(Vec::new()),
            }
        }
    }
}

/// A store written to and read back from a file (a sandbox that keeps its world across
/// restarts). The change log is not kept: watches from before a restart relist, as they would
/// after an API server restart past the watch cache.
impl Store {
    pub fn snapshot(&self) -> Value {
        let inner = self.lock();
        let objects: Vec<Value> = inner
            .objects
            .iter()
            .map(|(key, object)| {
                json!({ "resource": key.resource, "group": key.group, "namespace": key.namespace, "object": object.value() })
            })
            .collect();
        json!({ "resourceVersion": inner.resource_version, "objects": objects })
    }

    /// A store holding a snapshot's objects. Objects of types this sandbox does not serve are
    /// an error rather than silently dropped.
    pub fn restore(snapshot: &Value) -> Result<Self, String> {
        let store = Self::new();
        {
            let mut inner = store.lock();
            inner.resource_version =
                snapshot["resourceVersion"].as_u64().ok_or("the snapshot has no resourceVersion")?;
            let objects = snapshot["objects"].as_array().ok_or("the snapshot has no objects")?;
            for entry in objects {
                let (resource, group) = (entry["resource"].as_str(), entry["group"].as_str());
                let rt = TYPES
                    .iter()
                    .find(|t| Some(t.plural) == resource && Some(t.group) == group)
                    .ok_or_else(|| format!("the snapshot holds an unknown resource type {resource:?}"))?;
                let namespace = entry["namespace"].as_str().unwrap_or_default();
                let name = entry.pointer("/object/metadata/name").and_then(Value::as_str).unwrap_or_default();
                if name.is_empty() {
                    return Err(format!("the snapshot holds a {} without a name", rt.kind));
                }
                let key = Key::new(rt, namespace, name);
                inner.objects.insert(key, Object::from_value(&entry["object"]));
            }
        }
        Ok(store)
    }
}

fn current(
    inner: &Inner,
    rt: &'static ResourceType,
    namespace: &str,
    name: &str,
) -> Result<Object, ApiError> {
    inner.objects.get(&Key::new(rt, namespace, name)).cloned().ok_or_else(|| ApiError::not_found(rt, name))
}

fn has_spec(rt: &ResourceType) -> bool {
    matches!(rt.kind, "Deployment" | "ReplicaSet" | "Pod" | "Service")
}

fn set_or_remove(object: &mut Value, key: &str, value: Value) {
    if let Some(map) = object.as_object_mut() {
        if value.is_null() {
            map.remove(key);
        } else {
            map.insert(key.to_owned(), value);
        }
    }
}

pub fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    // Just ensured: metadata is an object.
    object["metadata"].as_object_mut().expect("metadata is an object")
}

fn resolve_name(inner: &mut Inner, object: &Value) -> Result<String, ApiError> {
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    if !name.is_empty() {
        return Ok(name.to_owned());
    }
    match object.pointer("/metadata/generateName").and_then(Value::as_str) {
        Some(prefix) if !prefix.is_empty() => Ok(format!("{prefix}{}", random_suffix(inner, 5))),
        _ => Err(ApiError::bad_request("metadata.name or metadata.generateName is required")),
    }
}

fn check_namespace(
    inner: &Inner,
    rt: &ResourceType,
    namespace: &str,
    object: &Value,
) -> Result<(), ApiError> {
    if !rt.namespaced {
        return Ok(());
    }
    if let Some(body_ns) = object.pointer("/metadata/namespace").and_then(Value::as_str)
        && !body_ns.is_empty()
        && body_ns != namespace
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let namespaces = &TYPES[0];
    if !inner.objects.contains_key(&Key::new(namespaces, "", namespace)) {
        return Err(ApiError::not_found(namespaces, namespace));
    }
    Ok(())
}

/// Namespaces and services are DNS labels; everything else a DNS subdomain.
pub fn validate_name(rt: &ResourceType, name: &str) -> Result<(), ApiError> {
    // RBAC objects may be named with any path segment (`system:controller:…`).
    if rt.group == "rbac.authorization.k8s.io" {
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '%']) {
            return Err(ApiError::invalid(
                rt,
                name,
                vec![Cause {
                    field: "metadata.name".into(),
                    message: format!(
                        "Invalid value: {name:?}: may not contain '/' or '%', nor be '.' or '..'"
                    ),
                }],
            ));
        }
        return Ok(());
    }
    let label = matches!(rt.kind, "Namespace" | "Service");
    let max = if label { 63 } else { 253 };
    let ok = !name.is_empty()
        && name.len() <= max
        && name.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
        && (!label || !name.contains('.'));
    if ok {
        return Ok(());
    }
    let rule = if label {
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
    } else {
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
    };
    Err(ApiError::invalid(
        rt,
        name,
        vec![Cause { field: "metadata.name".into(), message: format!("Invalid value: {name:?}: {rule}") }],
    ))
}

fn next_random(inner: &mut Inner) -> u64 {
    // xorshift64: names and uids only need to be unique and unguessable enough for a sandbox.
    let mut x = inner.random;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    inner.random = x;
    x
}

fn random_suffix(inner: &mut Inner, len: usize) -> String {
    // The alphabet Kubernetes uses for generated names: no vowels, no confusable digits.
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..len).map(|_| ALPHABET[(next_random(inner) % ALPHABET.len() as u64) as usize] as char).collect()
}

fn new_uid(inner: &mut Inner) -> String {
    let (a, b) = (next_random(inner), next_random(inner));
    let hex = format!("{a:016x}{b:016x}");
    format!("{}-{}-4{}-a{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

fn encode_continue(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}").bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> Result<(String, String), ApiError> {
    let invalid = || ApiError::bad_request(format!("invalid continue token {token:?}"));
    if !token.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let bytes: Vec<u8> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (ns, name) = text.split_once('/').ok_or_else(invalid)?;
    Ok((ns.to_owned(), name.to_owned()))
}

/// The current time as Kubernetes writes timestamps (RFC 3339, seconds, UTC).
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

pub fn rfc3339(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubernetes::resources::lookup;

    fn deployments() -> &'static ResourceType {
        lookup("apps", "v1", "deployments").unwrap()
    }

    fn namespaces() -> &'static ResourceType {
        lookup("", "v1", "namespaces").unwrap()
    }

    /// A deployment that passes validation.
    fn web(name: &str, replicas: i64) -> Value {
        json!({"metadata": {"name": name}, "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        }})
    }

    fn store_with_namespace() -> Store {
        let store = Store::new();
        store.create(namespaces(), "", json!({"metadata": {"name": "staging"}})).unwrap();
        store
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + std::time::Duration::from_secs(1_795_910_400)),
            "2026-11-29T00:00:00Z"
        );
    }

    /// Create fills in server-owned metadata; a second create of the same name is refused.
    #[test]
    fn create_and_conflicts() {
        let store = store_with_namespace();
        let d = store.create(deployments(), "staging", web("web", 1)).unwrap();
        assert_eq!(d["kind"], "Deployment");
        assert_eq!(d["apiVersion"], "apps/v1");
        assert_eq!(d["metadata"]["namespace"], "staging");
        assert_eq!(d["metadata"]["generation"], 1);
        assert_eq!(d["metadata"]["uid"].as_str().unwrap().len(), 36);
        let again = store.create(deployments(), "staging", web("web", 1)).unwrap_err();
        assert_eq!((again.code, again.reason), (409, "AlreadyExists"));
        let no_ns = store.create(deployments(), "nowhere", web("web", 1)).unwrap_err();
        assert_eq!((no_ns.code, no_ns.message.as_str()), (404, "namespaces \"nowhere\" not found"));
        let bad = store.create(deployments(), "staging", web("Web_1", 1)).unwrap_err();
        assert_eq!((bad.code, bad.reason), (422, "Invalid"));
        assert_eq!(bad.details.unwrap()["causes"][0]["field"], "metadata.name");
    }

    /// An update carrying a stale resourceVersion is a 409 Conflict; a spec change bumps the
    /// generation; a status write leaves the spec alone.
    #[test]
    fn optimistic_concurrency() {
        let store = store_with_namespace();
        let d = store.create(deployments(), "staging", web("web", 1)).unwrap();
        let mut newer = (*d).clone();
        newer["spec"]["replicas"] = json!(3);
        let updated = store.update(deployments(), "staging", "web", newer, false).unwrap();
        assert_eq!(updated["metadata"]["generation"], 2);
        let mut stale = (*d).clone();
        stale["spec"]["replicas"] = json!(5);
        let err = store.update(deployments(), "staging", "web", stale, false).unwrap_err();
        assert_eq!((err.code, err.reason), (409, "Conflict"));
        let status = store
            .update(
                deployments(),
                "staging",
                "web",
                json!({"status": {"replicas": 3}, "spec": {"replicas": 9}}),
                true,
            )
            .unwrap();
        assert_eq!(status["spec"]["replicas"], 3);
        assert_eq!(status["status"]["replicas"], 3);
        assert_eq!(status["metadata"]["generation"], 2);
    }

    #[test]
    fn list_pages_with_continue() {
        let store = store_with_namespace();
        for name in ["a", "b", "c", "d", "e"] {
            store.create(deployments(), "staging", web(name, 1)).unwrap();
        }
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page =
                store.list(deployments(), Some("staging"), |_| true, Some(2), token.as_deref()).unwrap();
            names.extend(page.items.iter().map(|o| o.name().to_owned()));
            match page.continue_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(names, ["a", "b", "c", "d", "e"]);
        assert_eq!(store.list(deployments(), None, |_| true, None, Some("zz")).unwrap_err().code, 400);
    }

    /// Watches resume from a version inside the retained log and are told 410 before it.
    #[test]
    fn watch_resume_and_expiry() {
        let store = store_with_namespace();
        let start = store.current_version();
        store.create(deployments(), "staging", web("a", 1)).unwrap();
        store.delete(deployments(), "staging", "a").unwrap();
        let (backlog, _) = store.watch(deployments(), Some(start)).unwrap();
        let kinds: Vec<Value> = backlog
            .iter()
            .map(|c| serde_json::from_slice::<Value>(&c.line()).unwrap()["type"].clone())
            .collect();
        assert_eq!(kinds, ["ADDED", "DELETED"]);
        for i in 0..RETAINED_CHANGES {
            store.create(deployments(), "staging", web(&format!("d{i}"), 1)).unwrap();
        }
        let Err(err) = store.watch(deployments(), Some(start)) else { panic!("a watch past the log") };
        assert_eq!((err.code, err.reason), (410, "Expired"));
        let (current, _) = store.watch(deployments(), None).unwrap();
        assert_eq!(current.len(), RETAINED_CHANGES, "every deployment as ADDED");
    }

    #[test]
    fn deleting_a_namespace_deletes_its_objects() {
        let store = store_with_namespace();
        store.create(deployments(), "staging", web("a", 1)).unwrap();
        store.delete(namespaces(), "", "staging").unwrap();
        assert_eq!(store.get(deployments(), "staging", "a").unwrap_err().code, 404);
    }
}
