//! A whole Rollgate server in the test process: sandbox, portal, store and HTTP on free ports,
//! with helpers to sign in as the demo users and call server functions.

#![allow(dead_code)] // Each test binary uses its own subset of these helpers.

pub mod replicas;
pub mod sso;

use std::path::PathBuf;

use backend::Config;
use backend::config::{Source, load};
use backend::policy::Role;
use leptos::server_fn::ServerFn;
use reqwest::header::{HeaderMap, HeaderValue};
use testkit::store::{Flavour, TestStore, fresh};

pub struct TestPortal {
    pub base: String,
    pub running: server::Running,
    /// Signed in as `vera` (a viewer): pages render for it.
    pub http: reqwest::Client,
    /// The session cookie of `http`, for tests that send cookies of their own.
    pub cookie: String,
    /// Nobody signed in.
    pub anonymous: reqwest::Client,
    _site: tempfile::TempDir,
    _store: TestStore,
}

/// The kubeconfig of `../shared/k8s-real`'s control plane (a real kube-apiserver with RBAC on)
/// when `ROLLGATE_TEST_CLUSTER=real` asks for it (`scripts/tests-on-k8s-real.sh` starts it and
/// sets that): the cluster tests then run there.
pub fn real_cluster() -> Option<PathBuf> {
    if std::env::var("ROLLGATE_TEST_CLUSTER").as_deref() != Ok("real") {
        return None;
    }
    let dir = std::env::var("K8S_REAL").unwrap_or_else(|_| "/tmp/k8s-real".into());
    let path = std::path::Path::new(&dir).join("kubeconfig");
    assert!(
        path.exists(),
        "ROLLGATE_TEST_CLUSTER=real, but {} is missing: run ../shared/k8s-real/up.sh",
        path.display()
    );
    Some(path)
}

/// The real control plane's API server and the file of its CA.
fn real_server(kubeconfig: &std::path::Path) -> (url::Url, PathBuf) {
    let read = kube::config::Kubeconfig::read_from(kubeconfig).expect("the real kubeconfig");
    let cluster = read.clusters.first().and_then(|c| c.cluster.clone()).expect("a cluster");
    let server = cluster.server.expect("a server").parse().expect("a URL");
    let ca = kubeconfig.parent().expect("a folder").join("cluster/certs/ca.crt");
    assert!(ca.exists(), "{} is missing", ca.display());
    (server, ca)
}

/// Whether a test is skipped because it runs on the real control plane, saying why.
pub fn skipped_on_real_cluster(why: &str) -> bool {
    let skipped = real_cluster().is_some();
    if skipped {
        eprintln!("skipped on the real control plane: {why}");
    }
    skipped
}

async fn kube_client(kubeconfig: kube::config::Kubeconfig) -> kube::Client {
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.expect("a config");
    kube::Client::try_from(config).expect("a client")
}

/// Polls `done` every 200 ms for up to 90 s.
async fn wait_until<F: std::future::Future<Output = bool>>(done: impl Fn() -> F) {
    for _ in 0..450 {
        if done().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("the real cluster did not settle within 90 s");
}

/// The sandbox's demo user holding each role, and their documented password.
pub fn demo_user(role: Role) -> (&'static str, &'static str) {
    let name = match role {
        Role::Viewer => "vera",
        Role::Deployer => "dana",
        Role::Approver => "avery",
        Role::Admin => "ada",
    };
    backend::portal::DEMO_USERS.into_iter().find(|(n, _)| *n == name).expect("a demo user per role")
}

/// A change request as the change forms post it, with its environment, kind and reason set and
/// nothing else: a test fills in what its kind needs with `..request_change(…)`.
pub fn request_change(env: &str, kind: &str, reason: &str) -> app::api::changes::RequestChange {
    app::api::changes::RequestChange {
        env: env.to_owned(),
        kind: kind.to_owned(),
        namespace: None,
        deployment: None,
        container: None,
        image: None,
        replicas: None,
        revision: None,
        variables: None,
        parameter: None,
        commit: None,
        reason: reason.to_owned(),
        override_reason: None,
        seen: None,
        block: None,
        block_reason: None,
        return_to: None,
    }
}

impl TestPortal {
    /// The sandbox with its demo environments and users, on a fresh SQLite store.
    pub async fn sandbox() -> Self {
        Self::sandbox_on(Flavour::Sqlite).await
    }

    /// The sandbox's demo world on `flavour`'s store (see [`Self::demo_world`]).
    pub async fn sandbox_on(flavour: Flavour) -> Self {
        Self::demo_world(load(&Source::SandboxDefault).expect("default config"), flavour).await
    }

    /// `config`, a variation of the sandbox's demo configuration. With
    /// `ROLLGATE_TEST_CLUSTER=real`, its environments' cluster is `../shared/k8s-real`'s real
    /// control plane instead (see [`real_cluster`]), holding a copy of the demo world's
    /// deployments; the sandbox still serves AWS. An environment reaching the sandbox with a
    /// token kept in SSM reaches the real API server the same way (`kind = "url"`, its CA
    /// from a file), with a token of its ServiceAccount bound by the Roles `rollgate rbac`
    /// prints; the others use the real cluster's admin kubeconfig.
    pub async fn demo_world(mut config: Config, flavour: Flavour) -> Self {
        let real = real_cluster();
        if let Some(kubeconfig) = &real {
            let (server, ca) = real_server(kubeconfig);
            for env in &mut config.environments {
                env.cluster = match env.cluster.token_parameter() {
                    Some(parameter) => backend::config::ClusterConnection::Url {
                        server: server.clone(),
                        token: backend::config::TokenSource::SsmParameter(parameter.to_owned()),
                        certificate_authority: Some(ca.clone()),
                    },
                    None => backend::config::ClusterConnection::Kubeconfig {
                        context: None,
                        path: Some(kubeconfig.clone()),
                    },
                };
                // AWS stays the sandbox's; its pipelines deploy into its own cluster, not this one.
                env.aws.sandbox = Some(true);
                env.aws.deploys.clear();
            }
        }
        let namespaces: Vec<String> = config.environments.iter().flat_map(|e| e.namespaces.clone()).collect();
        let portal = Self::with_store(config.clone(), flavour).await;
        if let Some(kubeconfig) = real {
            portal.copy_demo_deployments_to(&kubeconfig, &namespaces).await;
            portal.token_accounts_on(&kubeconfig, &config).await;
        }
        portal
    }

    /// For each environment reaching the real cluster with a token kept in SSM: its
    /// ServiceAccount, bound to the Roles `rollgate rbac` prints for it, and a fresh 30-day
    /// token of it as version 1 of the SSM parameter (as the sandbox seeds its own).
    async fn token_accounts_on(&self, kubeconfig: &std::path::Path, config: &Config) {
        use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
        use k8s_openapi::api::core::v1::ServiceAccount;
        use k8s_openapi::api::rbac::v1::{Role as RbacRole, RoleBinding};
        use kube::api::{Api, DeleteParams, PostParams};
        use kube::core::NamespaceResourceScope;

        async fn recreate<K>(api: &Api<K>, object: &K)
        where
            K: kube::Resource<Scope = NamespaceResourceScope>
                + Clone
                + std::fmt::Debug
                + serde::Serialize
                + serde::de::DeserializeOwned,
        {
            let name = object.meta().name.clone().expect("a name");
            let _ = api.delete(&name, &DeleteParams::default()).await;
            api.create(&PostParams::default(), object).await.expect("created on the real cluster");
        }

        let admin =
            kube_client(kube::config::Kubeconfig::read_from(kubeconfig).expect("the real kubeconfig")).await;
        let own: backend::kube::rbac::ServiceAccount = "rollgate/rollgate".parse().expect("an account");
        let rbac = backend::kube::rbac::for_config(config, &own);
        for env in &config.environments {
            let Some(parameter) = env.cluster.token_parameter() else { continue };
            let (ns, name) = backend::kube::credential::service_account(env);
            let accounts = Api::<ServiceAccount>::namespaced(admin.clone(), &ns);
            let account: ServiceAccount =
                serde_json::from_value(serde_json::json!({ "metadata": { "name": name } })).unwrap();
            let _ = accounts.create(&PostParams::default(), &account).await;
            let printed = rbac.iter().find(|r| r.environment == env.name).expect("rbac for the environment");
            for role in &printed.roles {
                let ns = role.metadata.namespace.as_deref().expect("a namespaced Role");
                recreate(&Api::<RbacRole>::namespaced(admin.clone(), ns), role).await;
            }
            for binding in &printed.bindings {
                let ns = binding.metadata.namespace.as_deref().expect("a namespaced RoleBinding");
                recreate(&Api::<RoleBinding>::namespaced(admin.clone(), ns), binding).await;
            }
            let request = TokenRequest {
                spec: Some(TokenRequestSpec { expiration_seconds: Some(30 * 86_400), ..Default::default() }),
                ..Default::default()
            };
            let issued = accounts.create_token_request(&name, &PostParams::default(), &request).await;
            let status = issued.expect("a token of the account").status.expect("a token status");
            let expires = status.expiration_timestamp.expect("an expiry").0;
            let ssm = self.running.portal.aws.ssm(env).await;
            let _ = ssm.delete_parameter().name(parameter).send().await;
            let tag = |key: &str, value: &str| {
                aws_sdk_ssm::types::Tag::builder().key(key).value(value).build().expect("a tag")
            };
            let put = ssm
                .put_parameter()
                .name(parameter)
                .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                .key_id("alias/rollgate")
                .value(status.token.expect("a token"))
                .description(format!("Bearer token of ServiceAccount {ns}/{name} on the real cluster"))
                .tags(tag("environment", &env.name))
                .tags(tag("expires-at", &expires.to_string()))
                .send()
                .await
                .expect("the token stored");
            assert_eq!(put.version, 1);
            assert_eq!(
                self.running.portal.clusters.token_version(&env.name),
                None,
                "no client was built with the sandbox's token before this"
            );
        }
    }

    /// Replaces the deployments of the environments' namespaces on the cluster of `kubeconfig`
    /// with the sandbox demo world's (their specs, labels and annotations; not their history),
    /// and waits until they are available.
    async fn copy_demo_deployments_to(&self, kubeconfig: &std::path::Path, namespaces: &[String]) {
        use k8s_openapi::api::apps::v1::Deployment;
        use k8s_openapi::api::core::v1::Namespace;
        use kube::api::{Api, DeleteParams, ListParams, PostParams};

        let sandbox = self.running.sandbox.as_ref().expect("the sandbox serves AWS");
        let from =
            kube_client(kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig()).expect("a kubeconfig"))
                .await;
        let to =
            kube_client(kube::config::Kubeconfig::read_from(kubeconfig).expect("the real kubeconfig")).await;
        for ns in namespaces {
            let namespace: Namespace =
                serde_json::from_value(serde_json::json!({ "metadata": { "name": ns } })).unwrap();
            let _ = Api::<Namespace>::all(to.clone()).create(&PostParams::default(), &namespace).await;
            let real = Api::<Deployment>::namespaced(to.clone(), ns);
            real.delete_collection(&DeleteParams::background(), &ListParams::default())
                .await
                .expect("cleared");
            wait_until(|| async {
                real.list(&ListParams::default()).await.is_ok_and(|l| l.items.is_empty())
            })
            .await;
            for demo in
                Api::<Deployment>::namespaced(from.clone(), ns).list(&ListParams::default()).await.unwrap()
            {
                let mut copy = Deployment { metadata: Default::default(), spec: demo.spec, status: None };
                copy.metadata.name = demo.metadata.name;
                copy.metadata.labels = demo.metadata.labels;
                copy.metadata.annotations = demo.metadata.annotations.map(|mut a| {
                    a.retain(|key, _| !key.starts_with("deployment.kubernetes.io/"));
                    a
                });
                real.create(&PostParams::default(), &copy).await.expect("copied");
            }
            wait_until(|| async {
                real.list(&ListParams::default()).await.is_ok_and(|l| {
                    l.items.iter().all(|d| {
                        let wanted = d.spec.replicas.unwrap_or(1);
                        d.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0) == wanted
                    })
                })
            })
            .await;
        }
    }

    pub async fn with_config(config: Config) -> Self {
        Self::with_store(config, Flavour::Sqlite).await
    }

    pub async fn with_store(mut config: Config, flavour: Flavour) -> Self {
        let site = tempfile::tempdir().expect("temp site");
        std::fs::create_dir_all(site.path().join("pkg")).expect("pkg dir");
        std::fs::write(site.path().join("pkg/rollgate.css"), "body{color:red}\n".repeat(64)).expect("css");
        std::fs::write(site.path().join("favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>")
            .expect("favicon");
        let store = fresh(flavour).await;
        config.database_url = store.url.clone();
        config.listen = "127.0.0.1:0".parse().expect("addr");
        config.site_root = Some(PathBuf::from(site.path()));
        let running = server::start(config).await.expect("server starts");
        if let Some(sandbox) = &running.sandbox {
            // Tests act on the demo world's deployments: wait until its releases are out.
            sandbox.seeded().await;
        }
        let base = format!("http://{}", running.addr);
        let anonymous = client(&base, None);
        let mut portal = Self {
            base,
            running,
            http: anonymous.clone(),
            cookie: String::new(),
            anonymous,
            _site: site,
            _store: store,
        };
        let (name, password) = demo_user(Role::Viewer);
        portal.cookie = portal.sign_in(name, password).await.expect("vera signs in");
        portal.http = client(&portal.base, Some(&portal.cookie));
        portal
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("request")
    }

    pub async fn page(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// Posts the sign-in form as a browser on this site would; the session cookie on success,
    /// otherwise where the form sent us.
    pub async fn sign_in(&self, name: &str, password: &str) -> Result<String, String> {
        sign_in(&self.base, name, password).await
    }

    /// A client that sends `cookie` as a page of this site would.
    pub fn client_with(&self, cookie: &str) -> reqwest::Client {
        client(&self.base, Some(cookie))
    }

    /// A local account made for a test, and its session cookie (roles come from the
    /// configuration the portal was started with).
    pub async fn account(&self, name: &str) -> String {
        use backend::auth::{NewPassword, UserName, accounts};
        let password = format!("{name}-test-password");
        accounts::add(
            &self.running.portal.store,
            &backend::audit::Caller::new("test"),
            &UserName::parse(name).expect("a user name"),
            &NewPassword::parse(&password).expect("a password"),
            backend::clock::Timestamp::now(),
        )
        .await
        .expect("account added");
        self.sign_in(name, &password).await.expect("the new account signs in")
    }

    /// Signs `person` in through the sandbox's own OpenID Connect provider, as a browser
    /// would (start → the provider's page → the callback): their session cookie.
    pub async fn sso_sign_in(&self, person: &str) -> Result<String, String> {
        let started = sso::plain().get(self.url("/auth/oidc/start?next=%2F")).send().await.unwrap();
        let login = sso::cookie_named(&started, "rollgate-sso").ok_or_else(|| sso::location(&started))?;
        let login = login.split(';').next().unwrap_or("").to_owned();
        let authorize = reqwest::Url::parse(&sso::location(&started)).map_err(|e| e.to_string())?;
        let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
        form.push(("person".into(), person.into()));
        let mut post = authorize.clone();
        post.set_query(None);
        let decided = sso::plain().post(post).form(&form).send().await.unwrap();
        let back = reqwest::Url::parse(&sso::location(&decided)).map_err(|e| e.to_string())?;
        sso::session_or_where(&sso::callback(&back, Some(&login)).await)
    }

    /// A client signed in as the demo user holding `role`.
    pub async fn as_role(&self, role: Role) -> reqwest::Client {
        let (name, password) = demo_user(role);
        let cookie = self.sign_in(name, password).await.expect("demo user signs in");
        client(&self.base, Some(&cookie))
    }

    /// Calls server function `F` with `args` through `client`, as the browser's form would.
    pub async fn call<F: ServerFn + serde::Serialize>(
        &self,
        client: &reqwest::Client,
        args: &F,
    ) -> reqwest::Response {
        call(&self.base, client, args).await
    }

    /// The one-line access check of a server function: without a session it answers 401;
    /// signed in with a role not in `allowed` it answers 403; with a role in `allowed` the
    /// check passes (whatever the function then decides, it is not 401 or 403, nor a crash).
    pub async fn check_access<F: ServerFn + serde::Serialize>(&self, args: F, allowed: &[Role]) {
        let anonymous = self.call(&self.anonymous, &args).await;
        assert_eq!(anonymous.status().as_u16(), 401, "{} without a session", F::PATH);
        let body = anonymous.text().await.unwrap_or_default();
        assert!(body.contains("SignInRequired"), "{}: {body}", F::PATH);
        for role in Role::ALL {
            let response = self.call(&self.as_role(role).await, &args).await;
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            if allowed.contains(&role) {
                assert!(
                    ![401, 403].contains(&status) && status < 500,
                    "{} as {role:?}: {status} {body}",
                    F::PATH
                );
            } else {
                assert_eq!(status, 403, "{} as {role:?}: {body}", F::PATH);
                assert!(body.contains("Forbidden"), "{} as {role:?}: {body}", F::PATH);
            }
        }
    }
}

/// Posts the sign-in form of the site at `base` as a browser on it would; the session cookie on
/// success, otherwise where the form sent us.
pub async fn sign_in(base: &str, name: &str, password: &str) -> Result<String, String> {
    let response = client(base, None)
        .post(format!("{base}/auth/sign-in"))
        .form(&[("username", name), ("password", password), ("next", "/")])
        .send()
        .await
        .expect("sign-in request");
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("rollgate-session="))
        .map(|c| c.split(';').next().unwrap_or("").to_owned())
        .ok_or(location)
}

/// Calls server function `F` of the site at `base` with `args` through `client`, as the
/// browser's form would.
pub async fn call<F: ServerFn + serde::Serialize>(
    base: &str,
    client: &reqwest::Client,
    args: &F,
) -> reqwest::Response {
    client
        .post(format!("{base}{}", F::PATH))
        .header("accept", "application/json")
        .form(args)
        .send()
        .await
        .expect("call")
}

/// A client that never follows redirects and sends what a page of the site at `base` would.
pub fn client(base: &str, cookie: Option<&str>) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert("origin", HeaderValue::from_str(base).expect("origin"));
    if let Some(cookie) = cookie {
        headers.insert("cookie", HeaderValue::from_str(cookie).expect("cookie"));
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .expect("client")
}
