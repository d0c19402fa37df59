//! Between a Kubernetes protobuf message and the JSON of the same object.
//!
//! Kubernetes names its proto fields as its JSON fields, so most of the mapping is by name.
//! What differs was found by comparing every message of the served groups with the OpenAPI
//! definitions of the same types:
//! - a few Go structs are embedded inline in JSON but are a field of their own in protobuf
//!   (`INLINE`), and one field is spelled differently (`uID`);
//! - some types have a JSON form of their own: `Time` and `MicroTime` are RFC 3339 strings,
//!   `Quantity` a string, `IntOrString` a number or a string, `RawExtension` and `FieldsV1`
//!   embedded JSON.
//!
//! Go writes every non-pointer field to protobuf, zero or not, where its JSON leaves zero
//! values out; so a zero scalar becomes no JSON field, except for the pointer fields whose
//! zero means something other than unset (`POINTERS`: `replicas: 0` is not "the default").

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, SecondsFormat};
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value as Field,
};
use serde_json::{Map, Value};

/// Fields whose message is embedded inline in the JSON of the message holding them.
const INLINE: [&str; 5] =
    ["volumeSource", "handler", "persistentVolumeSource", "ephemeralContainerCommon", "localObjectReference"];

/// Optional (pointer) scalars of the served kinds for which zero or false is a value of its own.
const POINTERS: [&str; 22] = [
    "activeDeadlineSeconds",
    "allowPrivilegeEscalation",
    "automountServiceAccountToken",
    "defaultMode",
    "enableServiceLinks",
    "expirationSeconds",
    "fsGroup",
    "hostUsers",
    "leaseDurationSeconds",
    "leaseTransitions",
    "optional",
    "priority",
    "privileged",
    "progressDeadlineSeconds",
    "readOnlyRootFilesystem",
    "replicas",
    "revisionHistoryLimit",
    "runAsGroup",
    "runAsNonRoot",
    "runAsUser",
    "setHostnameAsFQDN",
    "terminationGracePeriodSeconds",
];

const TIME: &str = "apimachinery.pkg.apis.meta.v1.Time";
const MICRO_TIME: &str = "apimachinery.pkg.apis.meta.v1.MicroTime";
const QUANTITY: &str = "apimachinery.pkg.api.resource.Quantity";
const INT_OR_STRING: &str = "apimachinery.pkg.util.intstr.IntOrString";
const RAW_EXTENSION: &str = "apimachinery.pkg.runtime.RawExtension";
const FIELDS_V1: &str = "apimachinery.pkg.apis.meta.v1.FieldsV1";

fn json_name(field: &str) -> &str {
    if field == "uID" { "uid" } else { field }
}

/// The JSON object a message encodes.
pub fn object(message: &DynamicMessage) -> Map<String, Value> {
    let mut out = Map::new();
    fill(message, &mut out);
    out
}

fn fill(message: &DynamicMessage, out: &mut Map<String, Value>) {
    for (field, value) in message.fields() {
        if INLINE.contains(&field.name()) {
            if let Field::Message(inner) = value {
                fill(inner, out);
            }
            continue;
        }
        let Some(json) = to_json(value) else { continue };
        let zero = matches!(&json, Value::String(s) if s.is_empty())
            || json == Value::Bool(false)
            || json.as_i64() == Some(0);
        if zero && !POINTERS.contains(&field.name()) {
            continue;
        }
        out.insert(json_name(field.name()).to_owned(), json);
    }
}

fn to_json(value: &Field) -> Option<Value> {
    Some(match value {
        Field::Bool(b) => Value::Bool(*b),
        Field::I32(n) | Field::EnumNumber(n) => Value::from(*n),
        Field::I64(n) => Value::from(*n),
        Field::U32(n) => Value::from(*n),
        Field::U64(n) => Value::from(*n),
        Field::F32(n) => Value::from(f64::from(*n)),
        Field::F64(n) => Value::from(*n),
        Field::String(s) => Value::String(s.clone()),
        Field::Bytes(bytes) => Value::String(BASE64.encode(bytes)),
        Field::Message(message) => return message_to_json(message),
        Field::List(items) => Value::Array(items.iter().filter_map(to_json).collect()),
        Field::Map(entries) => {
            let mut object: Map<String, Value> =
                entries.iter().filter_map(|(key, value)| Some((key_text(key), to_json(value)?))).collect();
            object.sort_keys();
            Value::Object(object)
        }
    })
}

fn key_text(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

fn message_to_json(message: &DynamicMessage) -> Option<Value> {
    let get = |name: &str| message.get_field_by_name(name).map(|value| value.into_owned());
    match message.descriptor().full_name() {
        TIME | MICRO_TIME => {
            let seconds = get("seconds").and_then(|v| v.as_i64()).unwrap_or(0);
            let nanos = get("nanos").and_then(|v| v.as_i32()).unwrap_or(0);
            // Go writes the zero time as an empty message.
            if seconds == 0 && nanos == 0 {
                return None;
            }
            let micro = message.descriptor().full_name() == MICRO_TIME;
            let time = DateTime::from_timestamp(seconds, if micro { nanos.unsigned_abs() } else { 0 })?;
            let format = if micro { SecondsFormat::Micros } else { SecondsFormat::Secs };
            Some(Value::String(time.to_rfc3339_opts(format, true)))
        }
        QUANTITY => get("string").and_then(|v| v.as_str().map(|s| Value::String(s.to_owned()))),
        INT_OR_STRING => {
            if get("type").and_then(|v| v.as_i64()) == Some(1) {
                get("strVal").and_then(|v| v.as_str().map(|s| Value::String(s.to_owned())))
            } else {
                get("intVal").and_then(|v| v.as_i32()).map(Value::from)
            }
        }
        RAW_EXTENSION | FIELDS_V1 => {
            let raw = get("raw").or_else(|| get("Raw"))?;
            let bytes = raw.as_bytes()?;
            if bytes.starts_with(super::MAGIC) {
                super::decode(bytes).ok()
            } else {
                serde_json::from_slice(bytes).ok()
            }
        }
        _ => Some(Value::Object(object(message))),
    }
}

/// The message of type `descriptor` a JSON value encodes; fields the message does not have
/// are left out, as the API server drops unknown fields.
pub fn message(descriptor: MessageDescriptor, value: &Value) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor);
    if let Value::Object(fields) = value {
        for (name, value) in fields {
            set(&mut message, name, value);
        }
    }
    message
}

fn set(message: &mut DynamicMessage, name: &str, value: &Value) {
    let descriptor = message.descriptor();
    let own = descriptor
        .get_field_by_name(name)
        .or_else(|| descriptor.get_field_by_name("uID").filter(|_| name == "uid"));
    if let Some(field) = own {
        if let Some(value) = from_json(&field, value) {
            message.set_field(&field, value);
        }
        return;
    }
    let inline = descriptor.fields().find(|field| {
        INLINE.contains(&field.name())
            && matches!(field.kind(), Kind::Message(inner) if inner.get_field_by_name(name).is_some())
    });
    if let Some(field) = inline
        && let Kind::Message(inner) = field.kind()
    {
        let mut nested = match message.get_field(&field).into_owned() {
            Field::Message(nested) if message.has_field(&field) => nested,
            _ => DynamicMessage::new(inner),
        };
        set(&mut nested, name, value);
        message.set_field(&field, Field::Message(nested));
    }
}

fn from_json(field: &FieldDescriptor, value: &Value) -> Option<Field> {
    if value.is_null() {
        return None;
    }
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else { return None };
        let value_kind = entry.map_entry_value_field().kind();
        let entries: HashMap<MapKey, Field> = value
            .as_object()?
            .iter()
            .filter_map(|(key, value)| Some((MapKey::String(key.clone()), single(&value_kind, value)?)))
            .collect();
        return Some(Field::Map(entries));
    }
    if field.is_list() {
        let kind = field.kind();
        return Some(Field::List(value.as_array()?.iter().filter_map(|item| single(&kind, item)).collect()));
    }
    single(&field.kind(), value)
}

fn single(kind: &Kind, value: &Value) -> Option<Field> {
    Some(match kind {
        Kind::Bool => Field::Bool(value.as_bool()?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Field::I32(i32::try_from(value.as_i64()?).ok()?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Field::I64(value.as_i64()?),
        Kind::Uint32 | Kind::Fixed32 => Field::U32(u32::try_from(value.as_u64()?).ok()?),
        Kind::Uint64 | Kind::Fixed64 => Field::U64(value.as_u64()?),
        #[allow(clippy::cast_possible_truncation)] // protobuf's float is f32
        Kind::Float => Field::F32(value.as_f64()? as f32),
        Kind::Double => Field::F64(value.as_f64()?),
        Kind::String => Field::String(value.as_str()?.to_owned()),
        Kind::Bytes => Field::Bytes(BASE64.decode(value.as_str()?).ok()?.into()),
        Kind::Enum(_) => Field::EnumNumber(i32::try_from(value.as_i64()?).ok()?),
        Kind::Message(descriptor) => Field::Message(special(descriptor, value)?),
    })
}

/// Messages whose JSON is not an object of their fields.
fn special(descriptor: &MessageDescriptor, value: &Value) -> Option<DynamicMessage> {
    let mut message = DynamicMessage::new(descriptor.clone());
    match descriptor.full_name() {
        TIME | MICRO_TIME => {
            let time = DateTime::parse_from_rfc3339(value.as_str()?).ok()?;
            message.set_field_by_name("seconds", Field::I64(time.timestamp()));
            if descriptor.full_name() == MICRO_TIME {
                message.set_field_by_name(
                    "nanos",
                    Field::I32(i32::try_from(time.timestamp_subsec_nanos()).ok()?),
                );
            }
        }
        QUANTITY => {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            message.set_field_by_name("string", Field::String(text));
        }
        INT_OR_STRING => match value {
            Value::String(s) => {
                message.set_field_by_name("type", Field::I64(1));
                message.set_field_by_name("strVal", Field::String(s.clone()));
            }
            Value::Number(n) => {
                message.set_field_by_name("type", Field::I64(0));
                message.set_field_by_name("intVal", Field::I32(i32::try_from(n.as_i64()?).ok()?));
            }
            _ => return None,
        },
        RAW_EXTENSION => {
            message.set_field_by_name("raw", Field::Bytes(serde_json::to_vec(value).ok()?.into()))
        }
        FIELDS_V1 => message.set_field_by_name("Raw", Field::Bytes(serde_json::to_vec(value).ok()?.into())),
        _ => return Some(self::message(descriptor.clone(), value)),
    }
    Some(message)
}
