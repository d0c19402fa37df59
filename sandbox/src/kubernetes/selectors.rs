//! Label and field selectors, as `?labelSelector=` and `?fieldSelector=` spell them.

use serde_json::Value;

use super::status::ApiError;

#[derive(Debug, Clone, PartialEq)]
enum LabelRequirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<LabelRequirement>);

impl LabelSelector {
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let mut requirements = Vec::new();
        for term in split_terms(text) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            requirements.push(parse_term(term).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "unable to parse requirement: {term:?} in label selector {text:?}"
                ))
            })?);
        }
        Ok(Self(requirements))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, labels: Option<&serde_json::Map<String, Value>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            LabelRequirement::Equals(k, v) => get(k) == Some(v.as_str()),
            LabelRequirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            LabelRequirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelRequirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            LabelRequirement::Exists(k) => get(k).is_some(),
            LabelRequirement::DoesNotExist(k) => get(k).is_none(),
        })
    }
}

/// Splits on commas that are not inside a `(...)` value list.
fn split_terms(text: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&text[start..]);
    terms
}

fn parse_term(term: &str) -> Option<LabelRequirement> {
    if let Some(key) = term.strip_prefix('!') {
        return valid_key(key.trim()).then(|| LabelRequirement::DoesNotExist(key.trim().to_owned()));
    }
    if let Some((key, value)) = term.split_once("!=") {
        return pair(key, value).map(|(k, v)| LabelRequirement::NotEquals(k, v));
    }
    if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return pair(key, value).map(|(k, v)| LabelRequirement::Equals(k, v));
    }
    for (op, negated) in [(" notin ", true), (" in ", false)] {
        if let Some((key, values)) = term.split_once(op) {
            let key = key.trim();
            let values = values.trim().strip_prefix('(')?.strip_suffix(')')?;
            let values: Vec<String> = values.split(',').map(|v| v.trim().to_owned()).collect();
            if !valid_key(key) || values.iter().any(|v| !valid_value(v)) {
                return None;
            }
            return Some(if negated {
                LabelRequirement::NotIn(key.to_owned(), values)
            } else {
                LabelRequirement::In(key.to_owned(), values)
            });
        }
    }
    valid_key(term).then(|| LabelRequirement::Exists(term.to_owned()))
}

fn pair(key: &str, value: &str) -> Option<(String, String)> {
    let (key, value) = (key.trim(), value.trim());
    (valid_key(key) && valid_value(value)).then(|| (key.to_owned(), value.to_owned()))
}

fn valid_key(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or("");
    !name.is_empty()
        && name.len() <= 63
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn valid_value(value: &str) -> bool {
    value.len() <= 63 && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A parsed field selector: `path=value` and `path!=value` terms over dotted JSON paths.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

/// The fields a selector may name for a kind, as a real API server allows them, each with
/// where it is in the object: every kind's name and namespace, and the fields the API server
/// indexes for pods, events, replica sets and namespaces.
fn selectable(kind: &str, label: &str) -> Option<&'static str> {
    let path = match (kind, label) {
        (_, "metadata.name") => "metadata.name",
        (_, "metadata.namespace") => "metadata.namespace",
        ("Pod", "spec.nodeName") => "spec.nodeName",
        ("Pod", "spec.restartPolicy") => "spec.restartPolicy",
        ("Pod", "spec.schedulerName") => "spec.schedulerName",
        ("Pod", "spec.serviceAccountName") => "spec.serviceAccountName",
        ("Pod", "spec.hostNetwork") => "spec.hostNetwork",
        ("Pod" | "Namespace", "status.phase") => "status.phase",
        ("Pod", "status.podIP") => "status.podIP",
        ("Pod", "status.nominatedNodeName") => "status.nominatedNodeName",
        ("ReplicaSet", "status.replicas") => "status.replicas",
        ("Event", "involvedObject.kind") => "involvedObject.kind",
        ("Event", "involvedObject.namespace") => "involvedObject.namespace",
        ("Event", "involvedObject.name") => "involvedObject.name",
        ("Event", "involvedObject.uid") => "involvedObject.uid",
        ("Event", "involvedObject.apiVersion") => "involvedObject.apiVersion",
        ("Event", "involvedObject.resourceVersion") => "involvedObject.resourceVersion",
        ("Event", "involvedObject.fieldPath") => "involvedObject.fieldPath",
        ("Event", "reason") => "reason",
        ("Event", "reportingComponent") => "reportingComponent",
        ("Event", "source") => "source.component",
        ("Event", "type") => "type",
        _ => return None,
    };
    Some(path)
}

impl FieldSelector {
    /// A selector over objects of `kind`.
    pub fn parse(text: &str, kind: &str) -> Result<Self, ApiError> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (path, negated, value) = if let Some((p, v)) = term.split_once("!=") {
                (p, true, v)
            } else if let Some((p, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (p, false, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: {term:?}; needs a field and a value"
                )));
            };
            let label = path.trim();
            let path = selectable(kind, label)
                .ok_or_else(|| ApiError::bad_request(format!("field label not supported: {label}")))?;
            terms.push((path.to_owned(), negated, value.trim().to_owned()));
        }
        Ok(Self(terms))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(path, negated, value)| {
            let actual = match path.split('.').try_fold(object, |v, key| v.get(key)) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            (actual == *value) != *negated
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn label_selectors() {
        let l = labels(json!({"app": "myapp", "tier": "web", "pod-template-hash": "abc"}));
        for (selector, expected) in [
            ("", true),
            ("app=myapp", true),
            ("app==myapp,tier=web", true),
            ("app!=myapp", false),
            ("app in (other, myapp)", true),
            ("tier notin (web)", false),
            ("pod-template-hash", true),
            ("!release", true),
            ("!app", false),
            ("missing=x", false),
        ] {
            assert_eq!(LabelSelector::parse(selector).unwrap().matches(Some(&l)), expected, "{selector}");
        }
        for bad in ["app=my app", "=x", "app in x", "a b"] {
            let err = LabelSelector::parse(bad).unwrap_err();
            assert_eq!((err.code, err.reason), (400, "BadRequest"), "{bad}");
        }
    }

    #[test]
    fn field_selectors() {
        let pod = json!({"metadata": {"name": "p1", "namespace": "staging"}, "status": {"phase": "Running"}});
        assert!(FieldSelector::parse("metadata.name=p1", "Pod").unwrap().matches(&pod));
        assert!(
            FieldSelector::parse("status.phase!=Pending,metadata.namespace=staging", "Pod")
                .unwrap()
                .matches(&pod)
        );
        assert!(!FieldSelector::parse("metadata.name=p2", "Pod").unwrap().matches(&pod));
        assert_eq!(FieldSelector::parse("spec.containers=x", "Pod").unwrap_err().code, 400);
        assert_eq!(FieldSelector::parse("status.phase=Running", "Deployment").unwrap_err().code, 400);

        // What `kubectl describe` asks for an object's events.
        let event = json!({"involvedObject": {"kind": "Deployment", "namespace": "staging", "name": "web", "uid": "u1"},
                           "source": {"component": "deployment-controller"}});
        let describe = "involvedObject.kind=Deployment,involvedObject.uid=u1,involvedObject.name=web,involvedObject.namespace=staging";
        assert!(FieldSelector::parse(describe, "Event").unwrap().matches(&event));
        assert!(FieldSelector::parse("source=deployment-controller", "Event").unwrap().matches(&event));
        assert!(
            !FieldSelector::parse("involvedObject.namespace=production", "Event").unwrap().matches(&event)
        );
        let pod = json!({"spec": {"hostNetwork": false}});
        assert!(FieldSelector::parse("spec.hostNetwork=false", "Pod").unwrap().matches(&pod));
    }
}
