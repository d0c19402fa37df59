//! The parameters a sandbox starts with. Every world has the walk-through's bearer tokens,
//! `/rollgate/<environment>/k8s-bear-token`: SecureStrings holding live tokens of the
//! `rollgate-deployer` ServiceAccount, so a release process that reads one can call the
//! sandbox cluster with it. The demo world adds a few settings with a history of versions and
//! labels.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::super::{Caller, Input, ids};
use super::{Ssm, write};

fn admin() -> Caller {
    Caller { access_key: "rollgate-admin".into(), region: ids::DEFAULT_REGION.into() }
}

fn put(ssm: &Ssm, request: Value) {
    // Seeds are fixed, valid requests: a failure here is a bug the tests catch by reading them.
    if let Ok(input) = Input::from_value(&request)
        && let Err(e) = write::put(ssm, &input, &admin())
    {
        tracing::error!(error = ?e, "seeding a parameter failed");
    }
}

/// Stores one environment's deployer token, tagged with when it expires (as Rollgate tags the
/// tokens it rotates in).
pub fn bear_token(ssm: &Ssm, environment: &str, token: &str, expires: SystemTime) {
    let expires = crate::kubernetes::rfc3339(expires);
    put(
        ssm,
        json!({
            "Name": format!("/rollgate/{environment}/k8s-bear-token"),
            "Type": "SecureString",
            "KeyId": "alias/rollgate",
            "Value": token,
            "Description": format!("Bearer token of the rollgate-deployer ServiceAccount in {environment}"),
            "Tags": [{ "Key": "environment", "Value": environment }, { "Key": "owner", "Value": "release-engineering" }, { "Key": "expires-at", "Value": expires }],
        }),
    );
}

/// Settings with history: each list is one parameter's values, oldest first.
pub fn demo(ssm: &Ssm) {
    let settings: [(&str, &str, &[&str]); 5] = [
        (
            "/rollgate/staging/api-url",
            "String",
            &["http://myapp.staging.svc:8080", "http://myapp.staging.svc.cluster.local:8080"],
        ),
        ("/rollgate/production/api-url", "String", &["http://myapp.production.svc.cluster.local:8080"]),
        (
            "/rollgate/staging/feature-flags",
            "StringList",
            &["cart-v2,order-history", "cart-v2,order-history,product-cache"],
        ),
        ("/rollgate/production/greeting", "String", &["Hello Kubernetes!"]),
        (
            "/rollgate/production/db-password",
            "SecureString",
            &["hunter2-rotated-2026-09", "s3cret-rotated-2026-10", "c0rrect-horse-2026-11"],
        ),
    ];
    for (name, kind, values) in settings {
        for (i, value) in values.iter().enumerate() {
            put(ssm, json!({ "Name": name, "Type": kind, "Value": value, "Overwrite": i > 0 }));
        }
    }
    let _ = write::label(
        ssm,
        &Input::from_value(&json!({ "Name": "/rollgate/production/db-password", "ParameterVersion": 3, "Labels": ["current"] })).unwrap_or_default(),
    );
    let _ = write::label(
        ssm,
        &Input::from_value(&json!({ "Name": "/rollgate/production/db-password", "ParameterVersion": 2, "Labels": ["previous"] })).unwrap_or_default(),
    );
    backdate(ssm);
}

/// Spreads each parameter's versions over the past weeks, the newest a day old, so the
/// history reads like one.
fn backdate(ssm: &Ssm) {
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    let mut parameters = ssm.lock();
    for parameter in parameters.by_name.values_mut() {
        if parameter.name.ends_with("k8s-bear-token") {
            continue;
        }
        let count = parameter.versions.len() as u32;
        for (i, version) in (0u32..).zip(parameter.versions.iter_mut()) {
            version.modified = now - day * (1 + 9 * (count - 1 - i));
        }
    }
}
