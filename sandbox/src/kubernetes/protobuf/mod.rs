//! Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`), which kubectl's typed
//! commands (`create deployment|namespace|token`, `auth can-i`) send and ask for.
//!
//! The message types are Kubernetes' own: `kubernetes.binpb` holds the descriptors compiled from
//! its `generated.proto` files (`scripts/k8s-descriptors.sh`), and `prost-reflect` reads and
//! writes the wire format from them. The sandbox keeps objects as JSON, so a protobuf body is
//! turned into the JSON the same object has (`json`) and a reply back into protobuf.
//!
//! On the wire an object is the magic `k8s\0` followed by a `runtime.Unknown` whose type meta
//! names the kind and whose `raw` holds the object's own message.

mod json;

use std::sync::LazyLock;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, Value as Field};
use serde_json::Value;

use super::status::ApiError;

pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

const MAGIC: &[u8] = b"k8s\0";
/// Kubernetes' message types, and the two of the envelope every body is wrapped in.
struct Types {
    pool: DescriptorPool,
    unknown: MessageDescriptor,
    type_meta: MessageDescriptor,
}

/// `None` only if the checked-in descriptors were broken, which a unit test rules out; then
/// protobuf bodies are refused and replies are JSON.
static TYPES: LazyLock<Option<Types>> = LazyLock::new(|| {
    let pool = DescriptorPool::decode(include_bytes!("kubernetes.binpb").as_slice()).ok()?;
    Some(Types {
        unknown: pool.get_message_by_name("apimachinery.pkg.runtime.Unknown")?,
        type_meta: pool.get_message_by_name("apimachinery.pkg.runtime.TypeMeta")?,
        pool,
    })
});

fn types() -> Result<&'static Types, ApiError> {
    TYPES.as_ref().ok_or_else(|| ApiError::unsupported_media_type(MEDIA_TYPE))
}

/// Whether the client's `Accept` header prefers protobuf to JSON (highest quality, then first
/// listed, as the API server negotiates).
pub fn preferred(accept: &str) -> bool {
    let mut best: Option<(f32, &str)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        let quality =
            parts.filter_map(|p| p.strip_prefix("q=")).find_map(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
        if media.is_empty() || best.is_some_and(|(q, _)| q >= quality) {
            continue;
        }
        best = Some((quality, media));
    }
    best.is_some_and(|(q, media)| q > 0.0 && media == MEDIA_TYPE)
}

/// The message type of `apiVersion` + `kind`, if Kubernetes defines one the sandbox knows:
/// `apps/v1` `Deployment` is `api.apps.v1.Deployment`, `v1` `Status` is meta's.
fn message_type(types: &Types, api_version: &str, kind: &str) -> Option<MessageDescriptor> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let package = match group {
        "" => "core",
        group => group.split('.').next().unwrap_or(group),
    };
    let pool = &types.pool;
    pool.get_message_by_name(&format!("api.{package}.{version}.{kind}"))
        .or_else(|| pool.get_message_by_name(&format!("apimachinery.pkg.apis.meta.{version}.{kind}")))
}

/// A protobuf request body as the JSON object it encodes.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let types = types()?;
    let (api_version, kind, raw) = open_envelope(types, body)?;
    let message_type = message_type(types, &api_version, &kind).ok_or_else(|| {
        ApiError::bad_request(format!("no kind \"{kind}\" is registered for version \"{api_version}\""))
    })?;
    let message = DynamicMessage::decode(message_type, raw.as_slice())
        .map_err(|e| ApiError::bad_request(format!("the {kind} in the body is not valid protobuf: {e}")))?;
    let mut object = json::object(&message);
    object.insert("apiVersion".into(), api_version.into());
    object.insert("kind".into(), kind.into());
    Ok(Value::Object(object))
}

/// `k8s\0` + `runtime.Unknown` → (apiVersion, kind, raw message).
fn open_envelope(types: &Types, body: &[u8]) -> Result<(String, String, Vec<u8>), ApiError> {
    let envelope = body.strip_prefix(MAGIC).ok_or_else(|| {
        ApiError::bad_request("the protobuf body does not start with the \"k8s\\x00\" prefix")
    })?;
    let unknown = DynamicMessage::decode(types.unknown.clone(), envelope)
        .map_err(|e| ApiError::bad_request(format!("the protobuf body is not a runtime.Unknown: {e}")))?;
    let text = |message: &DynamicMessage, name: &str| match message.get_field_by_name(name).as_deref() {
        Some(Field::String(s)) => s.clone(),
        _ => String::new(),
    };
    let type_meta = match unknown.get_field_by_name("typeMeta").as_deref() {
        Some(Field::Message(meta)) => (text(meta, "apiVersion"), text(meta, "kind")),
        _ => Default::default(),
    };
    let raw = match unknown.get_field_by_name("raw").as_deref() {
        Some(Field::Bytes(raw)) => raw.to_vec(),
        _ => Vec::new(),
    };
    if type_meta.1.is_empty() {
        return Err(ApiError::bad_request("the protobuf body does not name its kind"));
    }
    Ok((type_meta.0, type_meta.1, raw))
}

/// A JSON object (or list, or `Status`) in protobuf, or `None` when Kubernetes defines no
/// message for its kind (tables, discovery documents): those are answered in JSON, as the
/// API server does.
pub fn encode(value: &Value) -> Option<Vec<u8>> {
    let api_version = value.get("apiVersion")?.as_str()?;
    let kind = value.get("kind")?.as_str()?;
    let types = TYPES.as_ref()?;
    let message = json::message(message_type(types, api_version, kind)?, value);
    Some(wrap(types, api_version, kind, message.encode_to_vec()))
}

fn wrap(types: &Types, api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let mut type_meta = DynamicMessage::new(types.type_meta.clone());
    type_meta.set_field_by_name("apiVersion", Field::String(api_version.to_owned()));
    type_meta.set_field_by_name("kind", Field::String(kind.to_owned()));
    let mut unknown = DynamicMessage::new(types.unknown.clone());
    unknown.set_field_by_name("typeMeta", Field::Message(type_meta));
    unknown.set_field_by_name("raw", Field::Bytes(raw.into()));
    unknown.set_field_by_name("contentEncoding", Field::String(String::new()));
    unknown.set_field_by_name("contentType", Field::String(String::new()));
    [MAGIC, unknown.encode_to_vec().as_slice()].concat()
}

#[cfg(test)]
mod tests;
