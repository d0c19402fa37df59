//! The recent events of a deployment and of the ReplicaSets and pods it owns (their names
//! start with the deployment's), newest first.

use k8s_openapi::api::core::v1::Event;
use kube::Api;
use kube::api::ListParams;

use super::ClusterError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSummary {
    /// Normal or Warning.
    pub kind: String,
    pub reason: String,
    pub message: String,
    /// `Pod/myapp-7d9c-x2x`.
    pub object: String,
    pub count: i32,
    pub last_ms: Option<i64>,
}

pub async fn recent(
    client: &kube::Client,
    namespace: &str,
    deployment: &str,
    limit: usize,
) -> Result<Vec<EventSummary>, ClusterError> {
    let events = Api::<Event>::namespaced(client.clone(), namespace).list(&ListParams::default()).await?;
    let prefix = format!("{deployment}-");
    let mut out: Vec<EventSummary> = events
        .items
        .into_iter()
        .filter(|e| {
            let name = e.involved_object.name.as_deref().unwrap_or_default();
            name == deployment || name.starts_with(&prefix)
        })
        .map(|e| EventSummary {
            kind: e.type_.unwrap_or_else(|| "Normal".into()),
            reason: e.reason.unwrap_or_default(),
            message: e.message.unwrap_or_default(),
            object: format!(
                "{}/{}",
                e.involved_object.kind.unwrap_or_default(),
                e.involved_object.name.unwrap_or_default()
            ),
            count: e.count.unwrap_or(1),
            last_ms: e
                .last_timestamp
                .map(|t| t.0.as_millisecond())
                .or(e.event_time.map(|t| t.0.as_millisecond()))
                .or(e.metadata.creation_timestamp.map(|t| t.0.as_millisecond())),
        })
        .collect();
    out.sort_by_key(|e| std::cmp::Reverse(e.last_ms));
    out.truncate(limit);
    Ok(out)
}
