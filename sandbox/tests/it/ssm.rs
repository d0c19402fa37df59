//! SSM Parameter Store through the AWS SDK (the client Rollgate uses), the AWS CLI, and the
//! same scenarios against moto's server, so our use of the client agrees with a third-party
//! emulator and not only with our own simulation.

use crate::support;

use std::time::Duration;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::{ParameterStringFilter, ParameterTier, ParameterType, Tag};
use sandbox::{Endpoints, Sandbox, World};
use support::code;

async fn sandbox() -> (support::ModelChecked, Client) {
    let sandbox = Sandbox::start(Endpoints::any_free(), World::Empty).await.expect("sandbox starts");
    let client = support::ssm(&support::url(sandbox.endpoints.ssm)).await;
    (support::ModelChecked::new(sandbox), client)
}

fn filter(key: &str, option: Option<&str>, values: &[&str]) -> ParameterStringFilter {
    ParameterStringFilter::builder()
        .key(key)
        .set_option(option.map(str::to_owned))
        .set_values(Some(values.iter().map(|v| (*v).to_owned()).collect()))
        .build()
        .expect("a filter")
}

async fn put(client: &Client, name: &str, value: &str, kind: ParameterType, overwrite: bool) -> i64 {
    client
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(kind)
        .overwrite(overwrite)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {name}: {e:?}"))
        .version
}

/// Every page of a recursive GetParametersByPath, `page` at a time.
async fn names_by_path(client: &Client, path: &str, recursive: bool, page: i32) -> Vec<String> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let out = client
            .get_parameters_by_path()
            .path(path)
            .recursive(recursive)
            .max_results(page)
            .set_next_token(token)
            .send()
            .await
            .expect("by path");
        names.extend(out.parameters().iter().filter_map(|p| p.name().map(str::to_owned)));
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            return names;
        }
    }
}

/// The scenarios both the sandbox and moto must agree on: create, version, select, encrypt,
/// label, list by path with paging and filters, describe, history, tags, delete, errors.
async fn scenarios(client: &Client) {
    use ParameterType::{SecureString, String as Plain, StringList};
    // Versions: a second put needs Overwrite.
    assert_eq!(put(client, "/scenario/app/url", "http://one", Plain, false).await, 1);
    let again = client.put_parameter().name("/scenario/app/url").value("x").r#type(Plain).send().await;
    assert_eq!(code(again), "ParameterAlreadyExists");
    assert_eq!(put(client, "/scenario/app/url", "http://two", Plain, true).await, 2);
    let latest = client.get_parameter().name("/scenario/app/url").send().await.unwrap().parameter.unwrap();
    assert_eq!((latest.value(), latest.version), (Some("http://two"), 2));
    let first = client.get_parameter().name("/scenario/app/url:1").send().await.unwrap().parameter.unwrap();
    assert_eq!(first.value(), Some("http://one"));
    assert_eq!(
        code(client.get_parameter().name("/scenario/app/url:9").send().await),
        "ParameterVersionNotFound"
    );
    assert_eq!(code(client.get_parameter().name("/scenario/missing").send().await), "ParameterNotFound");

    // SecureString: only WithDecryption shows the value.
    put(client, "/scenario/app/token", "s3cr3t-token", SecureString, false).await;
    let hidden = client.get_parameter().name("/scenario/app/token").send().await.unwrap().parameter.unwrap();
    assert_ne!(hidden.value(), Some("s3cr3t-token"));
    let shown =
        client.get_parameter().name("/scenario/app/token").with_decryption(true).send().await.unwrap();
    assert_eq!(shown.parameter.unwrap().value(), Some("s3cr3t-token"));
    put(client, "/scenario/app/nested/flags", "a,b,c", StringList, false).await;
    put(client, "/scenario/top", "t", Plain, false).await;

    // GetParameters: found ones and the names that are not.
    let many = client
        .get_parameters()
        .names("/scenario/app/url")
        .names("/scenario/app/token")
        .names("/scenario/nope")
        .with_decryption(true)
        .send()
        .await
        .unwrap();
    let mut values: Vec<_> = many.parameters().iter().filter_map(|p| p.value()).collect();
    values.sort();
    assert_eq!(values, ["http://two", "s3cr3t-token"]);
    assert_eq!(many.invalid_parameters(), ["/scenario/nope"]);

    // Labels move between versions; invalid labels are reported, not refused.
    let labelled = client
        .label_parameter_version()
        .name("/scenario/app/url")
        .parameter_version(1)
        .labels("stable")
        .labels("1bad")
        .send()
        .await
        .unwrap();
    assert_eq!(labelled.invalid_labels(), ["1bad"]);
    let stable =
        client.get_parameter().name("/scenario/app/url:stable").send().await.unwrap().parameter.unwrap();
    assert_eq!(stable.value(), Some("http://one"));
    client.label_parameter_version().name("/scenario/app/url").labels("stable").send().await.unwrap();
    let stable =
        client.get_parameter().name("/scenario/app/url:stable").send().await.unwrap().parameter.unwrap();
    assert_eq!(stable.value(), Some("http://two"), "the label moved to the latest version");
    let unlabelled = client
        .unlabel_parameter_version()
        .name("/scenario/app/url")
        .parameter_version(2)
        .labels("stable")
        .labels("never")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (unlabelled.removed_labels(), unlabelled.invalid_labels()),
        (&["stable".to_owned()][..], &["never".to_owned()][..])
    );

    // Hierarchies: one level or all, paged.
    let mut all = names_by_path(client, "/scenario", true, 2).await;
    all.sort();
    assert_eq!(
        all,
        ["/scenario/app/nested/flags", "/scenario/app/token", "/scenario/app/url", "/scenario/top"]
    );
    assert_eq!(names_by_path(client, "/scenario", false, 10).await, ["/scenario/top"]);
    let secure = client
        .get_parameters_by_path()
        .path("/scenario")
        .recursive(true)
        .parameter_filters(filter("Type", Some("Equals"), &["SecureString"]))
        .with_decryption(true)
        .send()
        .await
        .unwrap();
    assert_eq!(secure.parameters().len(), 1);
    assert_eq!(secure.parameters()[0].value(), Some("s3cr3t-token"));

    // DescribeParameters: metadata, filtered.
    let described = client
        .describe_parameters()
        .parameter_filters(filter("Name", Some("BeginsWith"), &["/scenario/app"]))
        .max_results(10)
        .send()
        .await
        .unwrap();
    let mut names: Vec<_> = described.parameters().iter().filter_map(|p| p.name()).collect();
    names.sort();
    assert_eq!(names, ["/scenario/app/nested/flags", "/scenario/app/token", "/scenario/app/url"]);
    let token_meta = described.parameters().iter().find(|p| p.name() == Some("/scenario/app/token")).unwrap();
    assert_eq!(token_meta.r#type(), Some(&SecureString));
    assert!(token_meta.key_id().is_some(), "a SecureString names its key");
    let both = client
        .describe_parameters()
        .filters(
            aws_sdk_ssm::types::ParametersFilter::builder()
                .key("Type".into())
                .values("String")
                .build()
                .unwrap(),
        )
        .parameter_filters(filter("Name", None, &["/scenario/top"]))
        .send()
        .await;
    assert_eq!(code(both), "ValidationException");

    // History, oldest first, with labels.
    client
        .label_parameter_version()
        .name("/scenario/app/url")
        .parameter_version(1)
        .labels("old")
        .send()
        .await
        .unwrap();
    let history = client.get_parameter_history().name("/scenario/app/url").send().await.unwrap();
    let versions: Vec<_> = history
        .parameters()
        .iter()
        .map(|p| (p.version, p.value().unwrap_or(""), p.labels().to_vec()))
        .collect();
    assert_eq!(versions, [(1, "http://one", vec!["old".to_owned()]), (2, "http://two", vec![])]);
    assert_eq!(
        code(client.get_parameter_history().name("/scenario/missing").send().await),
        "ParameterNotFound"
    );

    // Tags.
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().unwrap();
    client
        .add_tags_to_resource()
        .resource_type("Parameter".into())
        .resource_id("/scenario/top")
        .tags(tag("team", "payments"))
        .tags(tag("env", "staging"))
        .send()
        .await
        .unwrap();
    client
        .remove_tags_from_resource()
        .resource_type("Parameter".into())
        .resource_id("/scenario/top")
        .tag_keys("env")
        .send()
        .await
        .unwrap();
    let tags = client
        .list_tags_for_resource()
        .resource_type("Parameter".into())
        .resource_id("/scenario/top")
        .send()
        .await
        .unwrap();
    let tags: Vec<_> = tags.tag_list().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [("team", "payments")]);

    // Limits: reserved names; 100 versions, the oldest dropped unless it carries a label.
    let reserved = client.put_parameter().name("awsSecret").value("v").r#type(Plain).send().await;
    assert_eq!(code(reserved), "ValidationException");
    for i in 1..=100 {
        put(client, "/scenario/many", &format!("v{i}"), Plain, i > 1).await;
    }
    assert_eq!(put(client, "/scenario/many", "v101", Plain, true).await, 101);
    let history = client.get_parameter_history().name("/scenario/many").max_results(50).send().await.unwrap();
    assert_eq!(history.parameters()[0].version, 2, "version 1 was dropped");
    client
        .label_parameter_version()
        .name("/scenario/many")
        .parameter_version(2)
        .labels("pinned")
        .send()
        .await
        .unwrap();
    let blocked = client
        .put_parameter()
        .name("/scenario/many")
        .value("v102")
        .r#type(Plain)
        .overwrite(true)
        .send()
        .await;
    assert_eq!(code(blocked), "ParameterMaxVersionLimitExceeded");

    // Deletes.
    client.delete_parameter().name("/scenario/top").send().await.unwrap();
    assert_eq!(code(client.delete_parameter().name("/scenario/top").send().await), "ParameterNotFound");
    let deleted =
        client.delete_parameters().names("/scenario/app/url").names("/scenario/gone").send().await.unwrap();
    assert_eq!(deleted.deleted_parameters(), ["/scenario/app/url"]);
    assert_eq!(deleted.invalid_parameters(), ["/scenario/gone"]);
}

/// The shared scenarios against the sandbox.
#[tokio::test(flavor = "multi_thread")]
async fn scenarios_against_the_sandbox() {
    let (_sandbox, client) = sandbox().await;
    scenarios(&client).await;
}

/// The same scenarios against moto's server: our client use agrees with a third party.
#[tokio::test(flavor = "multi_thread")]
async fn scenarios_against_moto() {
    let moto = support::Moto::start();
    let client = support::ssm(&moto.endpoint).await;
    scenarios(&client).await;
}

/// What the sandbox checks beyond the shared scenarios: AWS's name rules, patterns, tiers,
/// KMS keys, filter keys, and a ciphertext that never shows the secret.
#[tokio::test(flavor = "multi_thread")]
async fn validation_and_encryption() {
    use ParameterType::{SecureString, String as Plain};
    let (_sandbox, client) = sandbox().await;
    for (name, expected) in [
        ("a/b", "ValidationException"),
        ("/a//b", "ValidationException"),
        ("/bad name", "ValidationException"),
        ("/ssm/x", "ValidationException"),
        ("/aws/x/y", "AccessDeniedException"),
        ("/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16", "HierarchyLevelLimitExceededException"),
    ] {
        let result = client.put_parameter().name(name).value("v").r#type(Plain).send().await;
        assert_eq!(code(result), expected, "{name}");
    }
    put(&client, "/v/echo", "one", Plain, false).await;
    let selected = client.get_parameter().name("/v/echo:1").send().await.unwrap().parameter.unwrap();
    assert_eq!(selected.selector(), Some(":1"), "the selector is echoed, as AWS does");
    let pattern = client
        .put_parameter()
        .name("/v/port")
        .value("80a")
        .allowed_pattern("^\\d+$")
        .r#type(Plain)
        .send()
        .await;
    assert_eq!(code(pattern), "ParameterPatternMismatchException");
    put(&client, "/v/port", "8080", Plain, false).await;
    let bad_regex =
        client.put_parameter().name("/v/re").value("x").allowed_pattern("(").r#type(Plain).send().await;
    assert_eq!(code(bad_regex), "InvalidAllowedPatternException");
    let no_type = client.put_parameter().name("/v/new").value("x").send().await;
    assert_eq!(code(no_type), "ValidationException");

    // Tiers: 4 KB in the standard tier; the advanced tier holds 8 KB and cannot go back.
    let too_big = client.put_parameter().name("/v/big").value("x".repeat(4097)).r#type(Plain).send().await;
    assert_eq!(code(too_big), "ValidationException");
    let large = "y".repeat(5000);
    let out = client
        .put_parameter()
        .name("/v/large")
        .value(&large)
        .r#type(Plain)
        .tier(ParameterTier::Advanced)
        .send()
        .await
        .unwrap();
    assert_eq!(out.tier(), Some(&ParameterTier::Advanced));
    let down = client
        .put_parameter()
        .name("/v/large")
        .value("small")
        .overwrite(true)
        .tier(ParameterTier::Standard)
        .send()
        .await;
    assert_eq!(code(down), "ValidationException");
    let auto = client
        .put_parameter()
        .name("/v/auto")
        .value(&large)
        .r#type(Plain)
        .tier(ParameterTier::IntelligentTiering)
        .send()
        .await
        .unwrap();
    assert_eq!(auto.tier(), Some(&ParameterTier::Advanced));

    // KMS keys: named ones, unknown ones; the stored form is ciphertext.
    let unknown =
        client.put_parameter().name("/v/s").value("x").r#type(SecureString).key_id("alias/nope").send().await;
    assert_eq!(code(unknown), "InvalidKeyId");
    client
        .put_parameter()
        .name("/v/s")
        .value("hush-hush")
        .r#type(SecureString)
        .key_id("alias/rollgate")
        .send()
        .await
        .unwrap();
    let sealed = client.get_parameter().name("/v/s").send().await.unwrap().parameter.unwrap();
    let sealed = sealed.value().unwrap();
    assert!(!sealed.contains("hush"), "the value is not readable without decryption: {sealed}");
    let meta =
        client.describe_parameters().parameter_filters(filter("Name", None, &["/v/s"])).send().await.unwrap();
    assert_eq!(meta.parameters()[0].key_id(), Some("alias/rollgate"));
    let history = client.get_parameter_history().name("/v/s").with_decryption(true).send().await.unwrap();
    assert_eq!(history.parameters()[0].value(), Some("hush-hush"));

    // Filters each request does not take, options and values that do not exist.
    let by_path_name = client
        .get_parameters_by_path()
        .path("/v")
        .parameter_filters(filter("Name", None, &["/v/s"]))
        .send()
        .await;
    assert_eq!(code(by_path_name), "InvalidFilterKey");
    let bad_option = client
        .describe_parameters()
        .parameter_filters(filter("Type", Some("Contains"), &["String"]))
        .send()
        .await;
    assert_eq!(code(bad_option), "InvalidFilterOption");
    let bad_value =
        client.describe_parameters().parameter_filters(filter("Type", None, &["Number"])).send().await;
    assert_eq!(code(bad_value), "InvalidFilterValue");
    // Paging: DescribeParameters and GetParameterHistory hand out pages and tokens.
    let mut described = Vec::new();
    let mut token = None;
    loop {
        let page = client.describe_parameters().max_results(2).set_next_token(token).send().await.unwrap();
        described.extend(page.parameters().iter().filter_map(|p| p.name().map(str::to_owned)));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let expected = [
        "/rollgate/production/k8s-bear-token",
        "/rollgate/staging/k8s-bear-token",
        "/v/auto",
        "/v/echo",
        "/v/large",
        "/v/port",
        "/v/s",
    ];
    assert_eq!(described, expected, "each parameter once, in name order");
    for i in 2..=3 {
        put(&client, "/v/port", &format!("{i}0"), Plain, true).await;
    }
    let first = client.get_parameter_history().name("/v/port").max_results(2).send().await.unwrap();
    let next = first.next_token().expect("a second page").to_owned();
    let second =
        client.get_parameter_history().name("/v/port").max_results(2).next_token(next).send().await.unwrap();
    let versions: Vec<i64> =
        first.parameters().iter().chain(second.parameters()).map(|p| p.version).collect();
    assert_eq!(versions, [1, 2, 3]);
    let bad_token = client.describe_parameters().next_token("not a token!").send().await;
    assert_eq!(code(bad_token), "InvalidNextToken");
    let bad_path = client.get_parameters_by_path().path("v").send().await;
    assert_eq!(code(bad_path), "ValidationException");
    let eleven: Vec<String> = (0..11).map(|i| format!("/v/{i}")).collect();
    assert_eq!(code(client.get_parameters().set_names(Some(eleven)).send().await), "ValidationException");
    let bad_resource =
        client.list_tags_for_resource().resource_type("Document".into()).resource_id("/v/s").send().await;
    assert_eq!(code(bad_resource), "InvalidResourceType");
    let missing_resource =
        client.list_tags_for_resource().resource_type("Parameter".into()).resource_id("/v/none").send().await;
    assert_eq!(code(missing_resource), "InvalidResourceId");
}

/// The seeded deployer tokens are live ServiceAccount tokens of the sandbox cluster: the
/// walk-through's release step reads one from SSM and calls the Kubernetes API with it, and
/// it opens what RBAC grants the account.
#[tokio::test(flavor = "multi_thread")]
async fn seeded_bear_tokens_open_the_cluster() {
    let (sandbox, client) = sandbox().await;
    let http = support::cluster_http(&sandbox);
    for environment in ["staging", "production"] {
        let list =
            serde_json::json!([{ "apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list"] }]);
        support::grant(&sandbox, environment, "rollgate-deployer", list);
        let name = format!("/rollgate/{environment}/k8s-bear-token");
        let parameter =
            client.get_parameter().name(&name).with_decryption(true).send().await.unwrap().parameter.unwrap();
        assert_eq!(parameter.r#type(), Some(&ParameterType::SecureString));
        let token = parameter.value().unwrap();
        let url = format!("{}/apis/apps/v1/namespaces/{environment}/deployments", sandbox.cluster_url());
        let ok = http.get(&url).bearer_auth(token).send().await.unwrap();
        assert_eq!(ok.status(), 200, "{name} opens the cluster");
        let sealed = client.get_parameter().name(&name).send().await.unwrap().parameter.unwrap();
        let refused = http.get(&url).bearer_auth(sealed.value().unwrap()).send().await.unwrap();
        assert_eq!(refused.status(), 401, "the ciphertext is no token");
    }
}

/// The demo world's settings come with history and labels.
#[tokio::test(flavor = "multi_thread")]
async fn demo_parameters_have_history() {
    let sandbox = Sandbox::start(Endpoints::any_free(), World::Demo).await.expect("sandbox starts");
    let client = support::ssm(&support::url(sandbox.endpoints.ssm)).await;
    let current = client
        .get_parameter()
        .name("/rollgate/production/db-password:current")
        .with_decryption(true)
        .send()
        .await
        .unwrap();
    assert_eq!(current.parameter.unwrap().version, 3);
    let history = client.get_parameter_history().name("/rollgate/staging/api-url").send().await.unwrap();
    assert_eq!(history.parameters().len(), 2);
    assert!(
        history.parameters()[0].last_modified_date().unwrap().secs()
            < history.parameters()[1].last_modified_date().unwrap().secs()
    );
}

/// Throttling can be switched on: every call gets ThrottlingException until it is off again.
#[tokio::test(flavor = "multi_thread")]
async fn throttling_switch() {
    let (sandbox, client) = sandbox().await;
    sandbox.aws.set_throttling(true);
    assert_eq!(
        code(client.get_parameter().name("/rollgate/staging/k8s-bear-token").send().await),
        "ThrottlingException"
    );
    sandbox.aws.set_throttling(false);
    client.get_parameter().name("/rollgate/staging/k8s-bear-token").send().await.expect("served again");
}

/// The SDK's standard retries back off on ThrottlingException and succeed once the sandbox
/// stops throttling.
#[tokio::test(flavor = "multi_thread")]
async fn throttled_calls_back_off_and_succeed() {
    use aws_config::retry::RetryConfig;
    let (sandbox, _) = sandbox().await;
    let retries =
        RetryConfig::standard().with_max_attempts(6).with_initial_backoff(Duration::from_millis(200));
    let config = support::sdk_config_with(&support::url(sandbox.endpoints.ssm), retries).await;
    let client = Client::new(&config);
    sandbox.aws.set_throttling(true);
    let aws = sandbox.aws.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        aws.set_throttling(false);
    });
    let out = client.get_parameter().name("/rollgate/staging/k8s-bear-token").send().await;
    assert!(out.is_ok(), "served after backing off: {out:?}");
}

/// The AWS CLI: put, read a hierarchy recursively with decryption, and an error's wording.
#[tokio::test(flavor = "multi_thread")]
async fn aws_cli() {
    let (sandbox, _client) = sandbox().await;
    let endpoint = support::url(sandbox.endpoints.ssm);
    let put = support::aws_cli(
        &endpoint,
        &[
            "ssm",
            "put-parameter",
            "--name",
            "/rollgate/staging/greeting",
            "--value",
            "Hello",
            "--type",
            "String",
        ],
    )
    .await;
    assert_eq!(put.json()["Version"], 1);
    let listed = support::aws_cli(
        &endpoint,
        &["ssm", "get-parameters-by-path", "--path", "/rollgate", "--recursive", "--with-decryption"],
    )
    .await
    .json();
    let mut names: Vec<&str> =
        listed["Parameters"].as_array().unwrap().iter().map(|p| p["Name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "/rollgate/production/k8s-bear-token",
            "/rollgate/staging/greeting",
            "/rollgate/staging/k8s-bear-token"
        ]
    );
    let token = listed["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["Name"] == "/rollgate/staging/k8s-bear-token")
        .unwrap();
    assert_eq!(token["Type"], "SecureString");
    assert_eq!(token["Value"].as_str().unwrap().split('.').count(), 3, "the decrypted token (a JWT)");
    let missing = support::aws_cli(&endpoint, &["ssm", "get-parameter", "--name", "/rollgate/nope"]).await;
    assert!(!missing.success);
    assert!(missing.stderr.contains("(ParameterNotFound)"), "{}", missing.stderr);
}
