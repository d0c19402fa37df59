//! The sandbox cluster over raw HTTPS: what clients rely on beyond kubectl's happy paths —
//! stale writes, watch resumption and expiry, timeouts, bad input.

use std::time::Duration;

use sandbox::{Endpoints, Sandbox, World};
use serde_json::{Value, json};

/// A started sandbox and a client that sends its admin token.
async fn start() -> (Sandbox, reqwest::Client, String) {
    let sandbox = Sandbox::start(Endpoints::any_free(), World::Empty).await.expect("sandbox starts");
    let base = sandbox.cluster_url();
    let http = client_with_token(&sandbox, &sandbox.admin_token);
    (sandbox, http, base)
}

/// A client that trusts the sandbox's CA and, given a token, sends it.
fn client(sandbox: &Sandbox, token: Option<&str>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(sandbox.cluster_ca_pem.as_bytes()).unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    }
    reqwest::Client::builder().add_root_certificate(ca).default_headers(headers).build().unwrap()
}

fn client_with_token(sandbox: &Sandbox, token: &str) -> reqwest::Client {
    client(sandbox, Some(token))
}

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name, "labels": { "app": name } },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{ "name": "app", "image": "busybox" }] }
            }
        }
    })
}

/// A write carrying an outdated resourceVersion is refused with 409 Conflict.
#[tokio::test]
async fn stale_update_is_a_conflict() {
    let (_sandbox, http, base) = start().await;
    let url = format!("{base}/apis/apps/v1/namespaces/staging/deployments");
    let created: Value = http.post(&url).json(&deployment("web")).send().await.unwrap().json().await.unwrap();
    let created_uid = created["metadata"]["uid"].clone();
    let mut first = created.clone();
    first["spec"]["replicas"] = json!(3);
    let response = http.put(format!("{url}/web")).json(&first).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let mut stale = created;
    stale["spec"]["replicas"] = json!(5);
    let response = http.put(format!("{url}/web")).json(&stale).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 409);
    let status: Value = response.json().await.unwrap();
    assert_eq!(status["reason"], "Conflict");
    assert!(status["message"].as_str().unwrap().contains("the object has been modified"));

    // A delete answers as the API server does: a Status naming what went (kube-rs reads it as
    // "deleted"), or the object where it is kept a while (orphaning its dependents).
    let deleted: Value = http.delete(format!("{url}/web")).send().await.unwrap().json().await.unwrap();
    assert_eq!((deleted["kind"].as_str(), deleted["status"].as_str()), (Some("Status"), Some("Success")));
    assert_eq!(
        deleted["details"],
        json!({ "name": "web", "group": "apps", "kind": "deployments", "uid": created_uid })
    );
    http.post(&url).json(&deployment("kept")).send().await.unwrap();
    let orphaning: Value = http
        .delete(format!("{url}/kept?propagationPolicy=Orphan"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orphaning["kind"], "Deployment");
}

async fn read_events(response: reqwest::Response, count: usize) -> Vec<Value> {
    use futures_util::StreamExt;
    let mut stream = response.bytes_stream();
    let mut buffer = Vec::new();
    let mut events = Vec::new();
    while events.len() < count {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next()).await.expect("event in time");
        let Some(chunk) = chunk else { break };
        buffer.extend_from_slice(&chunk.unwrap());
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            events.push(serde_json::from_slice(&line).unwrap());
        }
    }
    events
}

/// A watch resumes after a given resourceVersion, and a version older than the retained
/// window gets the API server's answer: 200 with one ERROR event carrying 410 Expired.
/// (Leases: no controller writes to them, so the event sequence is exactly the test's.)
#[tokio::test]
async fn watch_resumes_and_expires() {
    let (_sandbox, http, base) = start().await;
    let url = format!("{base}/apis/coordination.k8s.io/v1/namespaces/staging/leases");
    let lease = |name: &str| json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name}});
    let list: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    let version = list["metadata"]["resourceVersion"].as_str().unwrap().to_owned();
    http.post(&url).json(&lease("a")).send().await.unwrap();
    http.post(&url).json(&lease("b")).send().await.unwrap();

    let watch = http.get(format!("{url}?watch=1&resourceVersion={version}")).send().await.unwrap();
    assert_eq!(watch.status().as_u16(), 200);
    let reader = tokio::spawn(read_events(watch, 3));
    tokio::time::sleep(Duration::from_millis(100)).await;
    http.delete(format!("{url}/a")).send().await.unwrap();
    let events = reader.await.unwrap();
    let seen: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["object"]["metadata"]["name"].as_str().unwrap()))
        .collect();
    assert_eq!(seen, [("ADDED", "a"), ("ADDED", "b"), ("DELETED", "a")]);

    // Push the first versions out of the retained window.
    let others = format!("{base}/apis/coordination.k8s.io/v1/namespaces/default/leases");
    for i in 0..sandbox_retained() {
        let response = http.post(&others).json(&lease(&format!("l{i}"))).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 201);
    }
    let expired = http.get(format!("{url}?watch=true&resourceVersion={version}")).send().await.unwrap();
    assert_eq!(expired.status().as_u16(), 200);
    let events = read_events(expired, 1).await;
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["code"], 410);
    assert_eq!(events[0]["object"]["reason"], "Expired");
}

fn sandbox_retained() -> usize {
    10_000
}

/// `timeoutSeconds` ends the stream cleanly; bookmarks come when asked for.
#[tokio::test]
async fn watch_timeout_and_bookmarks() {
    let (_sandbox, http, base) = start().await;
    let started = std::time::Instant::now();
    let body = http
        .get(format!("{base}/api/v1/namespaces?watch=1&timeoutSeconds=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(4), "the stream ended on time");
    assert_eq!(body.lines().count(), 4, "the four namespaces as ADDED: {body}");

    let list: Value =
        http.get(format!("{base}/api/v1/namespaces")).send().await.unwrap().json().await.unwrap();
    let version = list["metadata"]["resourceVersion"].as_str().unwrap().to_owned();
    let body = http
        .get(format!("{base}/api/v1/namespaces?watch=1&resourceVersion={version}&timeoutSeconds=6&allowWatchBookmarks=true"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let bookmark: Value = serde_json::from_str(body.lines().next().expect("a bookmark")).unwrap();
    assert_eq!(bookmark["type"], "BOOKMARK");
    assert_eq!(bookmark["object"]["kind"], "Namespace");
}

/// Bad JSON, unknown kinds and invalid names get Status errors, never a crash.
#[tokio::test]
async fn bad_input_gets_status_errors() {
    let (_sandbox, http, base) = start().await;
    let url = format!("{base}/apis/apps/v1/namespaces/staging/deployments");
    let cases = [
        (http.post(&url).body("{not json"), 400, "BadRequest"),
        (
            http.post(&url).json(&json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "x"}})),
            400,
            "BadRequest",
        ),
        (http.post(&url).json(&deployment("Bad_Name")), 422, "Invalid"),
        (http.get(format!("{base}/apis/apps/v1/namespaces/staging/widgets")), 404, "NotFound"),
        (http.get(format!("{url}?labelSelector=a%20b")), 400, "BadRequest"),
        (http.get(format!("{url}?limit=lots")), 400, "BadRequest"),
        (
            http.patch(format!("{url}/none")).header("content-type", "text/plain").body("x"),
            415,
            "UnsupportedMediaType",
        ),
        (http.get(format!("{url}?watch=1&resourceVersion=abc")), 400, "BadRequest"),
        (
            http.post(&url).header("content-type", "application/cbor").body(vec![0xd9, 0xd9, 0xf7]),
            415,
            "UnsupportedMediaType",
        ),
        (
            http.post(&url)
                .header("content-type", "application/vnd.kubernetes.protobuf")
                .body(b"k8s\0\xff\x01".to_vec()),
            400,
            "BadRequest",
        ),
    ];
    for (request, code, reason) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), code, "{reason}");
        let status: Value = response.json().await.unwrap();
        assert_eq!((status["kind"].as_str(), status["reason"].as_str()), (Some("Status"), Some(reason)));
    }

    // A patch that would leave a malformed object is refused, naming the field; the object and
    // the controllers are unharmed.
    http.post(&url).json(&deployment("web")).send().await.unwrap();
    let response = http
        .patch(format!("{url}/web"))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"spec": {"template": {"metadata": {"labels": 7}}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let status: Value = response.json().await.unwrap();
    assert_eq!(status["details"]["causes"][0]["field"], "spec.template.metadata.labels");
    let scaled = http
        .patch(format!("{url}/web/scale"))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"spec": {"replicas": 3}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(scaled.status().as_u16(), 200);
    let scale: Value = scaled.json().await.unwrap();
    assert_eq!((scale["kind"].as_str(), scale["spec"]["replicas"].as_i64()), (Some("Scale"), Some(3)));
}

/// A wrong or missing token is refused with 401; `/version` is public, as on a real cluster.
#[tokio::test]
async fn wrong_tokens_are_refused() {
    let (sandbox, _, base) = start().await;
    let impostor = client_with_token(&sandbox, "not-a-token");
    let response = impostor.get(format!("{base}/api/v1/namespaces")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let status: Value = response.json().await.unwrap();
    assert_eq!(status["reason"], "Unauthorized");
    assert_eq!(impostor.get(format!("{base}/apis")).send().await.unwrap().status().as_u16(), 401);
    let anonymous = client(&sandbox, None);
    assert_eq!(anonymous.get(format!("{base}/version")).send().await.unwrap().status().as_u16(), 200);
    let response = anonymous.get(format!("{base}/api/v1/namespaces")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.json::<Value>().await.unwrap()["reason"], "Unauthorized");

    // A client that does not trust the sandbox's CA cannot talk to it at all.
    let untrusting = reqwest::Client::builder().build().unwrap();
    assert!(untrusting.get(format!("{base}/version")).send().await.is_err());
}

/// The TokenRequest API issues a working, expiring ServiceAccount token, as the walk-through's
/// bearer token is made; lifetimes under ten minutes are refused like a real server does.
#[tokio::test]
async fn token_request_issues_service_account_tokens() {
    let (sandbox, http, base) = start().await;
    let url = format!("{base}/api/v1/namespaces/staging/serviceaccounts/rollgate-deployer/token");
    let request = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}});
    let response = http.post(&url).json(&request).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let issued: Value = response.json().await.unwrap();
    let token = issued["status"]["token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT, as a cluster's ServiceAccount tokens are: {token}");
    assert!(issued["status"]["expirationTimestamp"].as_str().unwrap().ends_with('Z'));
    let as_deployer = client_with_token(&sandbox, token);
    let deployments = format!("{base}/apis/apps/v1/namespaces/staging/deployments");
    // Authenticated, but nothing is granted to the account yet: 403 in the API server's words.
    let response = as_deployer.get(&deployments).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let status: Value = response.json().await.unwrap();
    assert_eq!(
        status["message"],
        "deployments.apps is forbidden: User \"system:serviceaccount:staging:rollgate-deployer\" cannot list resource \"deployments\" in API group \"apps\" in the namespace \"staging\""
    );
    assert_eq!(status["reason"], "Forbidden");
    // A Role and RoleBinding posted by the admin open exactly what they say.
    let rbac = format!("{base}/apis/rbac.authorization.k8s.io/v1/namespaces/staging");
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "reader"},
        "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list"]}]});
    assert_eq!(http.post(format!("{rbac}/roles")).json(&role).send().await.unwrap().status().as_u16(), 201);
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "rollgate-deployer", "namespace": "staging"}]});
    assert_eq!(
        http.post(format!("{rbac}/rolebindings")).json(&binding).send().await.unwrap().status().as_u16(),
        201
    );
    assert_eq!(as_deployer.get(&deployments).send().await.unwrap().status().as_u16(), 200);
    let one = format!("{deployments}/anything");
    assert_eq!(as_deployer.get(&one).send().await.unwrap().status().as_u16(), 403, "list is not get");
    let elsewhere = format!("{base}/apis/apps/v1/namespaces/production/deployments");
    assert_eq!(as_deployer.get(&elsewhere).send().await.unwrap().status().as_u16(), 403);
    // The account may also ask what it may do (`kubectl auth can-i` sends this review).
    let review = |verb: &str| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": "staging", "verb": verb, "group": "apps", "resource": "deployments"}}})
    };
    let reviews = format!("{base}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews");
    for (verb, allowed) in [("list", true), ("update", false)] {
        let response = as_deployer.post(&reviews).json(&review(verb)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 201);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["status"]["allowed"], json!(allowed), "{verb}");
    }

    let short = json!({"spec": {"expirationSeconds": 60}});
    assert_eq!(http.post(&url).json(&short).send().await.unwrap().status().as_u16(), 400);
    let missing = format!("{base}/api/v1/namespaces/staging/serviceaccounts/nobody/token");
    assert_eq!(http.post(&missing).json(&request).send().await.unwrap().status().as_u16(), 404);
}

/// With a state file, a restarted sandbox keeps its world: objects, resource versions, the
/// tokens it issued and its admin token.
#[tokio::test]
async fn a_state_file_keeps_the_world_across_restarts() {
    use sandbox::Options;
    let dir = tempfile::tempdir().unwrap();
    let state_file = Some(dir.path().join("sandbox.json"));
    let options = Options { state_file: state_file.clone(), ..Options::default() };
    let first = Sandbox::start_with(options).await.expect("sandbox starts");
    let http = client_with_token(&first, &first.admin_token);
    let base = first.cluster_url();
    let url = format!("{base}/apis/apps/v1/namespaces/staging/deployments");
    let created: Value =
        http.post(&url).json(&deployment("kept")).send().await.unwrap().json().await.unwrap();
    let token_url = format!("{base}/api/v1/namespaces/staging/serviceaccounts/rollgate-deployer/token");
    let request = json!({"spec": {"expirationSeconds": 3600}});
    let issued: Value = http.post(&token_url).json(&request).send().await.unwrap().json().await.unwrap();
    let token = issued["status"]["token"].as_str().unwrap().to_owned();
    crate::support::grant(
        &first,
        "staging",
        "rollgate-deployer",
        json!([{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}]),
    );
    first.shutdown().await;

    let options = Options { state_file, ..Options::default() };
    let second = Sandbox::start_with(options).await.expect("the sandbox restarts from its state");
    assert_eq!(second.admin_token, first.admin_token);
    let http = client_with_token(&second, &token);
    let url = format!("{}/apis/apps/v1/namespaces/staging/deployments/kept", second.cluster_url());
    let response = http.get(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "the issued token and its grant still work");
    let kept: Value = response.json().await.unwrap();
    assert_eq!(kept["metadata"]["uid"], created["metadata"]["uid"]);
    let version = |o: &Value| o["metadata"]["resourceVersion"].as_str().unwrap().parse::<u64>().unwrap();
    assert!(version(&kept) >= version(&created));

    // A file that is not a state file stops the start with a clear error, instead of losing it.
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"format\": 99}").unwrap();
    let options = Options { state_file: Some(broken), ..Options::default() };
    let error = Sandbox::start_with(options).await.err().expect("refused");
    assert!(error.to_string().contains("not a sandbox state file"), "{error}");
}
