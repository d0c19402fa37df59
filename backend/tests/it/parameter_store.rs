//! The Tokens page's Parameter Store calls ([`ParameterStore`]) as one scenario, run against
//! the sandbox's SSM and against moto's server: the same code agrees with a third party.

use aws_config::retry::RetryConfig;
use backend::tokens::rules::{Kind, Tier};
use backend::tokens::{NewParameter, ParameterStore, TokenError};

async fn store(endpoint: &str) -> ParameterStore {
    ParameterStore::new(aws_sdk_ssm::Client::new(
        &testkit::aws::sdk_config_with(endpoint, RetryConfig::standard()).await,
    ))
}

/// Create, list by path, describe with tags, new version, label, history, value, delete.
async fn scenario(store: &ParameterStore) {
    let tags = vec![("owner".to_owned(), "release-eng".to_owned())];
    let new = NewParameter {
        name: "/scenario/app/api-key",
        kind: Kind::SecureString,
        value: "first-value",
        key_id: None,
        description: Some("the API key"),
        allowed_pattern: None,
        tier: Tier::Standard,
        tags: &tags,
    };
    assert_eq!(store.create(&new).await, Ok(1));
    assert_eq!(store.create(&new).await, Err(TokenError::AlreadyExists("/scenario/app/api-key".into())));
    let plain = NewParameter {
        name: "/scenario/app/deep/url",
        kind: Kind::String,
        value: "http://x",
        tags: &[],
        ..new
    };
    assert_eq!(store.create(&plain).await, Ok(1));
    store.create(&NewParameter { name: "/elsewhere/x", ..plain.clone() }).await.unwrap();

    let listed = store.list("/scenario/").await.unwrap();
    let names: Vec<&str> = listed.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"/scenario/app/api-key") && names.contains(&"/scenario/app/deep/url"));

    let current = store.describe("/scenario/app/api-key").await.unwrap();
    assert_eq!((current.kind.as_str(), current.version), ("SecureString", 1));
    assert_eq!(current.description.as_deref(), Some("the API key"));
    assert_eq!(current.tags, tags);
    assert_eq!(store.rotate(&current, "second-value").await, Ok(2));
    store.label("/scenario/app/api-key", 1, &["previous".to_owned()]).await.unwrap();
    let history = store.history("/scenario/app/api-key").await.unwrap();
    assert_eq!(history.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(history[0].labels, ["previous"]);
    assert_eq!(store.version("/scenario/app/api-key").await, Ok(2));
    assert_eq!(store.value("/scenario/app/api-key", None).await.unwrap(), ("second-value".to_owned(), 2));
    assert_eq!(store.value("/scenario/app/api-key", Some(1)).await.unwrap().0, "first-value");

    store.delete("/scenario/app/api-key").await.unwrap();
    assert_eq!(
        store.describe("/scenario/app/api-key").await,
        Err(TokenError::NotFound("/scenario/app/api-key".into()))
    );
    assert_eq!(
        store.delete("/scenario/app/api-key").await,
        Err(TokenError::NotFound("/scenario/app/api-key".into()))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn against_the_sandbox() {
    let sandbox = sandbox::Sandbox::start(sandbox::Endpoints::any_free(), sandbox::World::Empty)
        .await
        .expect("sandbox");
    scenario(&store(&format!("http://{}", sandbox.endpoints.ssm)).await).await;
}

/// moto's server (`pip install 'moto[server]'`, which scripts/setup.sh does).
#[tokio::test(flavor = "multi_thread")]
async fn against_moto() {
    let moto = testkit::aws::Moto::start();
    scenario(&store(&moto.endpoint).await).await;
}
