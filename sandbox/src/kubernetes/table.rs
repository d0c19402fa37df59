//! kubectl's table output (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`): the
//! columns `kubectl get` prints for each kind, computed on the server as a real one does.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::resources::ResourceType;

/// Whether the client asked for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').any(|media| {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        params.contains(&"as=Table") && params.contains(&"g=meta.k8s.io")
    })
}

/// A Table of `objects`; `metadata` is the list's (its resourceVersion, and the continue
/// token of a page, which kubectl follows to fetch the rest).
pub fn table(rt: &ResourceType, objects: &[&Value], metadata: Value) -> Value {
    let columns = columns(rt);
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            json!({
                "cells": cells(rt, o),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": o.get("metadata").cloned().unwrap_or(Value::Null),
                },
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns
            .iter()
            .map(|(name, kind)| json!({
                "name": name,
                "type": kind,
                "format": if *name == "Name" { "name" } else { "" },
                "description": "",
                "priority": 0,
            }))
            .collect::<Vec<_>>(),
        "rows": rows,
    })
}

fn columns(rt: &ResourceType) -> Vec<(&'static str, &'static str)> {
    match rt.kind {
        "Deployment" => vec![
            ("Name", "string"),
            ("Ready", "string"),
            ("Up-to-date", "integer"),
            ("Available", "integer"),
            ("Age", "string"),
        ],
        "ReplicaSet" => vec![
            ("Name", "string"),
            ("Desired", "integer"),
            ("Current", "integer"),
            ("Ready", "integer"),
            ("Age", "string"),
        ],
        "Pod" => vec![
            ("Name", "string"),
            ("Ready", "string"),
            ("Status", "string"),
            ("Restarts", "string"),
            ("Age", "string"),
        ],
        "Namespace" => vec![("Name", "string"), ("Status", "string"), ("Age", "string")],
        "Service" => vec![
            ("Name", "string"),
            ("Type", "string"),
            ("Cluster-IP", "string"),
            ("Port(s)", "string"),
            ("Age", "string"),
        ],
        "Event" => vec![
            ("Last Seen", "string"),
            ("Type", "string"),
            ("Reason", "string"),
            ("Object", "string"),
            ("Message", "string"),
        ],
        "Lease" => vec![("Name", "string"), ("Holder", "string"), ("Age", "string")],
        _ => vec![("Name", "string"), ("Age", "string")],
    }
}

fn cells(rt: &ResourceType, o: &Value) -> Vec<Value> {
    let s = |path: &str| o.pointer(path).and_then(Value::as_str).unwrap_or("").to_owned();
    let n = |path: &str| o.pointer(path).and_then(Value::as_i64).unwrap_or(0);
    let name = json!(s("/metadata/name"));
    let age = json!(age(&s("/metadata/creationTimestamp")));
    match rt.kind {
        "Deployment" => vec![
            name,
            json!(format!(
                "{}/{}",
                n("/status/readyReplicas"),
                o.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)
            )),
            json!(n("/status/updatedReplicas")),
            json!(n("/status/availableReplicas")),
            age,
        ],
        "ReplicaSet" => vec![
            name,
            json!(n("/spec/replicas")),
            json!(n("/status/replicas")),
            json!(n("/status/readyReplicas")),
            age,
        ],
        "Pod" => {
            let statuses =
                o.pointer("/status/containerStatuses").and_then(Value::as_array).cloned().unwrap_or_default();
            let total = o.pointer("/spec/containers").and_then(Value::as_array).map_or(0, Vec::len);
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses.iter().filter_map(|c| c["restartCount"].as_i64()).sum();
            let waiting =
                statuses.iter().find_map(|c| c.pointer("/state/waiting/reason").and_then(Value::as_str));
            let status = if o.pointer("/metadata/deletionTimestamp").is_some() {
                "Terminating".to_owned()
            } else {
                waiting.map(str::to_owned).unwrap_or_else(|| s("/status/phase"))
            };
            vec![name, json!(format!("{ready}/{total}")), json!(status), json!(restarts.to_string()), age]
        }
        "Namespace" => vec![
            name,
            json!(if s("/status/phase").is_empty() { "Active".to_owned() } else { s("/status/phase") }),
            age,
        ],
        "Service" => {
            let ports = o
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .map(|p| format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP")))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            let kind = if s("/spec/type").is_empty() { "ClusterIP".to_owned() } else { s("/spec/type") };
            let ip = if s("/spec/clusterIP").is_empty() { "<none>".to_owned() } else { s("/spec/clusterIP") };
            vec![name, json!(kind), json!(ip), json!(ports), age]
        }
        "Event" => vec![
            json!(age_or(&s("/lastTimestamp"), &s("/metadata/creationTimestamp"))),
            json!(s("/type")),
            json!(s("/reason")),
            json!(format!("{}/{}", s("/involvedObject/kind").to_lowercase(), s("/involvedObject/name"))),
            json!(s("/message")),
        ],
        "Lease" => vec![name, json!(s("/spec/holderIdentity")), age],
        _ => vec![name, age],
    }
}

fn age_or(first: &str, second: &str) -> String {
    if first.is_empty() { age(second) } else { age(first) }
}

/// kubectl's short age: `45s`, `12m`, `5h`, `3d`.
pub fn age(timestamp: &str) -> String {
    let Some(then) = parse_rfc3339(timestamp) else { return "<unknown>".to_owned() };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let secs = (now - then).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 * 2 => format!("{}m", s / 60),
        s if s < 86_400 * 2 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Seconds since the epoch of an RFC 3339 time (`YYYY-MM-DDTHH:MM:SSZ` as the sandbox writes
/// them); anything else is `None`.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_negotiation() {
        assert!(wants_table(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(!wants_table("application/json"));
    }

    #[test]
    fn timestamps_round_trip() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-11-29T00:00:00Z"), Some(1_795_910_400));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
