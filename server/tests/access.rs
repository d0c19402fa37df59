//! Who may call which server function: for every one, no session → 401, a role without the
//! right → 403, a role with it → through. Adding a server function means adding its line
//! here; `the_table_covers_every_server_function` fails until it is added.

mod common;

use std::collections::BTreeSet;

use app::api::audit::ListAudit;
use app::api::changes::{ApproveChange, ListChanges, RejectChange, RequestChange};
use app::api::deployments::{GetDeployment, ListDeployments, PreviewRollback};
use app::api::locks::{LockEnvironment, UnlockEnvironment};
use app::api::pipelines::{
    CompareExecutions, DecidePipelineApproval, GetPipeline, ListPipelineApprovals, ListPipelines,
    RequestPipelineChange, RetryStage, SetStageTransition, StopExecution,
};
use app::api::tokens::{
    CreateToken, DeleteToken, GetToken, LabelTokenVersion, ListTokens, PutTokenVersion, RevealToken,
};
use app::api::{GetEnvironmentOverview, ListEnvironments, WhoAmI};
use backend::audit::Caller;
use backend::changes::{Action, Ask};
use backend::clock::Timestamp;
use backend::policy::Role::{self, *};
use common::TestPortal;
use leptos::server_fn::ServerFn;

const ANYONE: &[Role] = &[Viewer, Deployer, Approver, Admin];

fn s(v: &str) -> String {
    v.to_owned()
}

/// A pending production request by dana, made through the backend.
async fn pending(portal: &TestPortal) -> String {
    let action = Action::Restart { namespace: s("production"), deployment: s("myapp-deployment") };
    let dana = Caller::new("dana");
    let changes = &portal.running.portal.changes;
    let request =
        changes.request(&dana, "production", Ask::new(action, "access test"), Timestamp::now()).await;
    request.expect("request").id
}

fn restart_in_staging() -> RequestChange {
    RequestChange {
        env: s("staging"),
        kind: s("restart"),
        namespace: Some(s("staging")),
        deployment: Some(s("myapp-deployment")),
        container: None,
        image: None,
        replicas: None,
        revision: None,
        variables: None,
        parameter: None,
        reason: s("access test"),
        override_reason: None,
        seen: None,
        return_to: None,
    }
}

/// The table: one line per server function.
#[tokio::test]
async fn every_server_function_checks_who_asks() {
    let p = TestPortal::sandbox().await;
    let audit = |env: &str| ListAudit {
        env: s(env),
        actor: s(""),
        action: s(""),
        from: s(""),
        until: s(""),
        page: 0,
    };
    p.check_access(WhoAmI {}, ANYONE).await;
    p.check_access(ListEnvironments {}, ANYONE).await;
    p.check_access(GetEnvironmentOverview { name: s("production") }, ANYONE).await;
    p.check_access(audit("production"), ANYONE).await;
    p.check_access(ListChanges { env: s("production") }, ANYONE).await;
    p.check_access(restart_in_staging(), &[Deployer, Admin]).await;
    p.check_access(ApproveChange { id: pending(&p).await, comment: s("ok") }, &[Approver, Admin]).await;
    p.check_access(RejectChange { id: pending(&p).await, comment: s("no") }, &[Approver, Admin]).await;
    p.check_access(
        LockEnvironment { env: s("staging"), reason: s("test"), until: s("") },
        &[Deployer, Approver, Admin],
    )
    .await;
    p.check_access(UnlockEnvironment { env: s("staging") }, &[Deployer, Approver, Admin]).await;
    p.check_access(ListDeployments { env: s("staging") }, ANYONE).await;
    let myapp = |env: &str| (s(env), s(env), s("myapp-deployment"));
    let (env, namespace, name) = myapp("production");
    p.check_access(GetDeployment { env, namespace, name }, ANYONE).await;
    let (env, namespace, name) = myapp("production");
    p.check_access(PreviewRollback { env, namespace, name, revision: 1 }, ANYONE).await;
    // Tokens: anyone browses; changing or revealing a secret is for admins (see backend::tokens).
    let token = || s("/rollgate/staging/api-url");
    p.check_access(ListTokens { env: s("staging") }, ANYONE).await;
    p.check_access(GetToken { env: s("staging"), name: token() }, ANYONE).await;
    p.check_access(RevealToken { env: s("staging"), name: token(), version: None }, &[Admin]).await;
    p.check_access(
        PutTokenVersion { env: s("staging"), name: token(), value: s("http://x"), return_to: None },
        &[Admin],
    )
    .await;
    p.check_access(
        LabelTokenVersion {
            env: s("staging"),
            name: token(),
            version: s("1"),
            labels: s("x"),
            return_to: None,
        },
        &[Admin],
    )
    .await;
    let new = |name: &str| CreateToken {
        env: s("staging"),
        name: s(name),
        kind: s("String"),
        value: s("v"),
        key_id: None,
        description: None,
        tags: None,
        allowed_pattern: None,
        tier: None,
        return_to: None,
    };
    p.check_access(new("/rollgate/staging/access-test"), &[Admin]).await;
    let gone = s("/rollgate/staging/access-test");
    p.check_access(
        DeleteToken { env: s("staging"), name: gone.clone(), confirmation: gone, return_to: None },
        &[Admin],
    )
    .await;
    let (staging, pipeline, nobody) =
        (s("staging"), s("myapp-staging"), s("0e0e0e0e-0000-4000-8000-000000000000"));
    p.check_access(ListPipelines { env: staging.clone() }, ANYONE).await;
    p.check_access(GetPipeline { env: staging.clone(), name: pipeline.clone(), page: s("") }, ANYONE).await;
    p.check_access(ListPipelineApprovals { env: s("production") }, ANYONE).await;
    let compare = CompareExecutions {
        env: staging.clone(),
        name: pipeline.clone(),
        a: nobody.clone(),
        b: nobody.clone(),
    };
    p.check_access(compare, ANYONE).await;
    let release = RequestPipelineChange {
        env: staging.clone(),
        pipeline: pipeline.clone(),
        kind: s("start"),
        commit: None,
        stage: None,
        execution: None,
        reason: s("access test"),
        return_to: None,
    };
    p.check_access(release, &[Deployer, Admin]).await;
    let stop = StopExecution {
        env: staging.clone(),
        pipeline: pipeline.clone(),
        execution: nobody.clone(),
        abandon: None,
        reason: s("access test"),
        return_to: None,
    };
    p.check_access(stop, &[Deployer, Admin]).await;
    let retry = RetryStage {
        env: staging.clone(),
        pipeline: pipeline.clone(),
        execution: nobody.clone(),
        stage: s("Test"),
        mode: s("failed"),
        return_to: None,
    };
    p.check_access(retry, &[Deployer, Admin]).await;
    let decide = DecidePipelineApproval {
        env: s("production"),
        pipeline: s("myapp-production"),
        stage: s("Approval"),
        action: s("ManualApproval"),
        token: nobody.clone(),
        execution: nobody.clone(),
        decision: s("approve"),
        comment: s("access test"),
        return_to: None,
    };
    p.check_access(decide, &[Approver, Admin]).await;
    let freeze = SetStageTransition {
        env: staging.clone(),
        pipeline: pipeline.clone(),
        stage: s("Deploy"),
        enable: s("true"),
        reason: None,
        return_to: None,
    };
    p.check_access(freeze, &[Deployer, Approver, Admin]).await;
}

/// Every registered server function has its line above.
#[test]
fn the_table_covers_every_server_function() {
    let covered: BTreeSet<&str> = [
        WhoAmI::PATH,
        ListEnvironments::PATH,
        GetEnvironmentOverview::PATH,
        ListAudit::PATH,
        ListChanges::PATH,
        RequestChange::PATH,
        ApproveChange::PATH,
        RejectChange::PATH,
        LockEnvironment::PATH,
        UnlockEnvironment::PATH,
        ListDeployments::PATH,
        GetDeployment::PATH,
        PreviewRollback::PATH,
        ListTokens::PATH,
        GetToken::PATH,
        RevealToken::PATH,
        PutTokenVersion::PATH,
        LabelTokenVersion::PATH,
        CreateToken::PATH,
        DeleteToken::PATH,
        ListPipelines::PATH,
        GetPipeline::PATH,
        CompareExecutions::PATH,
        ListPipelineApprovals::PATH,
        RequestPipelineChange::PATH,
        StopExecution::PATH,
        RetryStage::PATH,
        DecidePipelineApproval::PATH,
        SetStageTransition::PATH,
    ]
    .into();
    let registered: BTreeSet<&str> =
        leptos::server_fn::axum::server_fn_paths().map(|(path, _)| path).collect();
    let missing: Vec<_> = registered.difference(&covered).collect();
    assert!(missing.is_empty(), "server functions without an access check in this file: {missing:?}");
    assert_eq!(registered.len(), covered.len());
}

/// A 403 says why and who may; a no-role user is told to ask for one.
#[tokio::test]
async fn refusals_say_why() {
    let p = TestPortal::sandbox().await;
    let viewer = p.as_role(Viewer).await;
    let response = p.call(&viewer, &restart_in_staging()).await;
    assert_eq!(response.status().as_u16(), 403);
    let body = response.text().await.unwrap();
    assert!(
        body.contains(
            "As viewer in Staging you may not request changes; that needs the deployer or admin role."
        ),
        "{body}"
    );
    let unknown = p.call(&viewer, &GetEnvironmentOverview { name: s("qa") }).await;
    assert_eq!(unknown.status().as_u16(), 404);
}
