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
            .map(|(name, kind, priority)| json!({
                "name": name,
                "type": kind,
                "format": if *name == "Name" { "name" } else { "" },
                "description": "",
                "priority": priority,
            }))
            .collect::<Vec<_>>(),
        "rows": rows,
    })
}

/// A column: its name, its type, and its priority (kubectl shows priority 1 with `-o wide`
/// only), as the real server's printers define them (`pkg/printers/internalversion`).
type Column = (&'static str, &'static str, u8);

fn columns(rt: &ResourceType) -> Vec<Column> {
    match rt.kind {
        "Deployment" | "ReplicaSet" => {
            let counts: [Column; 4] = if rt.kind == "Deployment" {
                [
                    ("Name", "string", 0),
                    ("Ready", "string", 0),
                    ("Up-to-date", "integer", 0),
                    ("Available", "integer", 0),
                ]
            } else {
                [
                    ("Name", "string", 0),
                    ("Desired", "integer", 0),
                    ("Current", "integer", 0),
                    ("Ready", "integer", 0),
                ]
            };
            let wide = [
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
                ("Selector", "string", 1),
            ];
            counts.into_iter().chain(wide).collect()
        }
        "Pod" => vec![
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        "Namespace" => vec![("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)],
        "Service" => vec![
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
            ("Selector", "string", 1),
        ],
        "ServiceAccount" => vec![("Name", "string", 0), ("Secrets", "string", 0), ("Age", "string", 0)],
        "Event" => vec![
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Subobject", "string", 1),
            ("Source", "string", 1),
            ("Message", "string", 0),
            ("First Seen", "string", 1),
            ("Count", "string", 1),
            ("Name", "string", 1),
        ],
        "Lease" => vec![("Name", "string", 0), ("Holder", "string", 0), ("Age", "string", 0)],
        _ => vec![("Name", "string", 0), ("Age", "string", 0)],
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
            json!(containers(o, "name")),
            json!(containers(o, "image")),
            json!(selector(o.pointer("/spec/selector"))),
        ],
        "ReplicaSet" => vec![
            name,
            json!(n("/spec/replicas")),
            json!(n("/status/replicas")),
            json!(n("/status/readyReplicas")),
            age,
            json!(containers(o, "name")),
            json!(containers(o, "image")),
            json!(selector(o.pointer("/spec/selector"))),
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
            let none = |v: String| if v.is_empty() { "<none>".to_owned() } else { v };
            let gates = o.pointer("/spec/readinessGates").and_then(Value::as_array).map_or(0, Vec::len);
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(status),
                json!(restarts.to_string()),
                age,
                json!(none(s("/status/podIP"))),
                json!(none(s("/spec/nodeName"))),
                json!(none(s("/status/nominatedNodeName"))),
                json!(if gates == 0 { "<none>".to_owned() } else { format!("0/{gates}") }),
            ]
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
            let external = o
                .pointer("/spec/externalIPs")
                .and_then(Value::as_array)
                .filter(|ips| !ips.is_empty())
                .map_or("<none>".to_owned(), |ips| {
                    ips.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")
                });
            let chosen = o.pointer("/spec/selector").and_then(Value::as_object).map(|labels| {
                labels
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(",")
            });
            vec![
                name,
                json!(kind),
                json!(ip),
                json!(external),
                json!(ports),
                age,
                json!(chosen.unwrap_or("<none>".into())),
            ]
        }
        "Event" => vec![
            json!(age_or(&s("/lastTimestamp"), &s("/metadata/creationTimestamp"))),
            json!(s("/type")),
            json!(s("/reason")),
            json!(format!("{}/{}", s("/involvedObject/kind").to_lowercase(), s("/involvedObject/name"))),
            json!(s("/involvedObject/fieldPath")),
            json!(match (s("/source/component"), s("/source/host")) {
                (component, host) if host.is_empty() => component,
                (component, host) => format!("{component}, {host}"),
            }),
            json!(s("/message")),
            json!(age_or(&s("/firstTimestamp"), &s("/metadata/creationTimestamp"))),
            json!(o.pointer("/count").and_then(Value::as_i64).unwrap_or(1).to_string()),
            name,
        ],
        "ServiceAccount" => {
            vec![name, json!(o.pointer("/secrets").and_then(Value::as_array).map_or(0, Vec::len)), age]
        }
        "Lease" => vec![name, json!(s("/spec/holderIdentity")), age],
        _ => vec![name, age],
    }
}

/// The pod template's containers' `field` (names or images), comma-separated.
fn containers(o: &Value, field: &str) -> String {
    let listed = o.pointer("/spec/template/spec/containers").and_then(Value::as_array);
    listed.map_or_else(String::new, |cs| {
        cs.iter().filter_map(|c| c[field].as_str()).collect::<Vec<_>>().join(",")
    })
}

/// A label selector as kubectl prints it: `app=web,tier in (a,b)`.
fn selector(selector: Option<&Value>) -> String {
    let Some(selector) = selector else { return "<none>".to_owned() };
    let mut parts: Vec<String> = selector["matchLabels"]
        .as_object()
        .map(|labels| labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect())
        .unwrap_or_default();
    for expression in selector["matchExpressions"].as_array().into_iter().flatten() {
        let key = expression["key"].as_str().unwrap_or("");
        let values: Vec<&str> =
            expression["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        parts.push(match expression["operator"].as_str().unwrap_or("") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other}"),
        });
    }
    if parts.is_empty() { "<none>".to_owned() } else { parts.join(",") }
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
