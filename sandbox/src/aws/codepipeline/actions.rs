//! What each kind of action does: when it starts, what it waits for, and how it ends.
//! Source takes the execution's commit; Test and Build take their time (and fail when a
//! failure was injected); Build pushes `<repository>:<short hash>` to the registry; Approval
//! waits for a decision or its expiry; Deploy sets the image in the cluster and follows the
//! rollout; a custom action queues a job for a worker.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::super::ids;
use super::model::{ActionDecl, ActionRun, ActionStatus, Behaviour, Job, JobStatus, Wait};
use super::repository::Commit;
use super::{Failure, PipelineTimings};
use crate::kubernetes::{self, Store};
use crate::registry::Registry;

/// What actions reach while they run.
pub struct Clock<'a> {
    pub now: SystemTime,
    pub timings: PipelineTimings,
    pub injected: &'a mut Vec<Failure>,
    pub jobs: &'a mut Vec<Job>,
    pub store: &'a Store,
    pub registry: &'a Registry,
}

/// The execution an action runs in.
pub struct Subject<'a> {
    pub pipeline: &'a str,
    pub execution: &'a str,
    pub stage: usize,
    pub commit: &'a Commit,
    pub image: &'a mut Option<String>,
}

pub fn start(run: &mut ActionRun, decl: &ActionDecl, subject: &mut Subject, clock: &mut Clock) {
    let now = clock.now;
    run.status = ActionStatus::InProgress;
    run.started = now;
    run.updated = now;
    match decl.behaviour {
        Behaviour::Source => run.wait = Wait::Until(now + clock.timings.source),
        Behaviour::Test => run.wait = Wait::Until(now + clock.timings.test),
        Behaviour::Build => run.wait = Wait::Until(now + clock.timings.build),
        Behaviour::Approval => {
            let token = ids::uuid();
            run.token = Some(token.clone());
            run.external_id = Some(token);
            run.summary = decl
                .config("CustomData")
                .map(|d| d.replace("#{SourceVariables.CommitId}", &subject.commit.id));
            run.wait = Wait::Approval { expires: now + clock.timings.approval_timeout };
        }
        Behaviour::Deploy => start_deploy(run, decl, subject, clock.store),
        Behaviour::Job => {
            let job = Job {
                id: ids::uuid(),
                nonce: ids::hex(&ids::random_bytes::<8>()),
                status: JobStatus::Queued,
                pipeline: subject.pipeline.to_owned(),
                execution: subject.execution.to_owned(),
                stage: subject.stage,
                action: run.action,
                action_execution: run.id.clone(),
                continuation: None,
            };
            run.wait = Wait::Job(job.id.clone());
            clock.jobs.push(job);
        }
    }
}

pub fn poll(run: &mut ActionRun, decl: &ActionDecl, subject: &mut Subject, clock: &mut Clock) {
    let now = clock.now;
    match run.wait.clone() {
        Wait::Until(t) if now >= t => finish_timed(run, decl, subject, clock),
        Wait::Approval { expires } if now >= expires => fail(
            run,
            now,
            "ApprovalExpired",
            "The approval request expired before anyone approved or rejected it".into(),
        ),
        Wait::Rollout { namespace, name, generation } => {
            follow_rollout(run, subject, clock, &namespace, &name, generation)
        }
        _ => {}
    }
}

pub fn succeed(run: &mut ActionRun, now: SystemTime, summary: String) {
    run.status = ActionStatus::Succeeded;
    run.summary = Some(summary);
    run.wait = Wait::Nothing;
    run.updated = now;
}

pub fn fail(run: &mut ActionRun, now: SystemTime, code: &'static str, message: String) {
    run.status = ActionStatus::Failed;
    run.summary = Some(message.clone());
    run.error = Some((code, message));
    run.wait = Wait::Nothing;
    run.updated = now;
}

fn take(injected: &mut Vec<Failure>, kind: Failure) -> bool {
    injected.iter().position(|f| *f == kind).map(|i| injected.remove(i)).is_some()
}

fn finish_timed(run: &mut ActionRun, decl: &ActionDecl, subject: &mut Subject, clock: &mut Clock) {
    let now = clock.now;
    let commit = subject.commit;
    match decl.behaviour {
        Behaviour::Source if !commit.exists() => fail(
            run,
            now,
            "JobFailed",
            format!(
                "The action failed because no branch named {} was found in the selected AWS CodeCommit repository {}. Make sure you are using the correct branch name, and then try again.",
                decl.config("BranchName").unwrap_or("main"),
                decl.config("RepositoryName").unwrap_or(""),
            ),
        ),
        Behaviour::Source => {
            run.external_id = Some(commit.id.clone());
            run.output_variables = source_variables(decl, commit);
            succeed(run, now, commit.message.clone());
        }
        Behaviour::Test if take(clock.injected, Failure::Tests) => fail(
            run,
            now,
            "JobFailed",
            format!("Tests failed for commit {}: 2 of 148 tests failed (injected failure)", commit.short()),
        ),
        Behaviour::Test => succeed(run, now, format!("148 tests passed for commit {}", commit.short())),
        Behaviour::Build if take(clock.injected, Failure::Build) => fail(
            run,
            now,
            "JobFailed",
            format!("Build failed for commit {}: the image did not build (injected failure)", commit.short()),
        ),
        Behaviour::Build => {
            // The declaration was checked to name one when the pipeline was created.
            let repository = image_repository(decl);
            clock.registry.push(&repository, commit.short());
            let image = format!("{repository}:{}", commit.short());
            run.output_variables = vec![("IMAGE_URI".into(), image.clone())];
            *subject.image = Some(image.clone());
            succeed(run, now, format!("Built and pushed {image}"));
        }
        _ => {}
    }
}

/// A CodeCommit source action's output variables (`#{SourceVariables.CommitId}` and the rest),
/// with the commit's author added: the sandbox's repositories know who wrote each commit.
pub fn source_variables(decl: &ActionDecl, commit: &Commit) -> Vec<(String, String)> {
    vec![
        ("CommitId".into(), commit.id.clone()),
        ("CommitMessage".into(), commit.message.clone()),
        ("AuthorDisplayName".into(), commit.author.clone()),
        ("AuthorDate".into(), crate::kubernetes::rfc3339(commit.date)),
        ("BranchName".into(), decl.config("BranchName").unwrap_or("main").to_owned()),
        ("RepositoryName".into(), decl.config("RepositoryName").unwrap_or("").to_owned()),
    ]
}

/// The repository a CodeBuild action pushes its image to: its `IMAGE_REPO_NAME` environment
/// variable (the walk-through's buildspec reads it), else its project's name (a real project
/// keeps its variables in CodeBuild, where the sandbox cannot see them).
pub fn image_repository(decl: &ActionDecl) -> String {
    let variables =
        decl.config("EnvironmentVariables").and_then(|vars| serde_json::from_str::<Value>(vars).ok());
    let named = variables
        .as_ref()
        .and_then(Value::as_array)
        .and_then(|vars| vars.iter().find(|v| v["name"] == "IMAGE_REPO_NAME"))
        .and_then(|v| v["value"].as_str());
    named.or_else(|| decl.config("ProjectName")).unwrap_or_default().to_owned()
}

fn start_deploy(run: &mut ActionRun, decl: &ActionDecl, subject: &mut Subject, store: &Store) {
    let now = run.started;
    let namespace = decl.config("Namespace").unwrap_or("default");
    let name = decl.config("DeploymentName").unwrap_or("");
    let container = decl.config("ContainerName").unwrap_or("");
    let Some(image) = subject.image.clone() else {
        return fail(run, now, "JobFailed", "No image to deploy: this execution built none".into());
    };
    run.external_id = Some(format!("{namespace}/{name}"));
    let current = match kubernetes::deployment(store, namespace, name) {
        Ok(d) => d,
        Err(message) => return fail(run, now, "JobFailed", message),
    };
    let containers = current.pointer("/spec/template/spec/containers").and_then(Value::as_array);
    if !containers.is_some_and(|cs| cs.iter().any(|c| c["name"] == container)) {
        return fail(
            run,
            now,
            "JobFailed",
            format!("deployment {namespace}/{name} has no container {container:?}"),
        );
    }
    let patch = json!({
        "metadata": { "annotations": { "kubernetes.io/change-cause": format!(
            "CodePipeline {} execution {}: {image}", subject.pipeline, subject.execution
        ) } },
        "spec": { "template": { "spec": { "containers": [{ "name": container, "image": image }] } } },
    });
    match kubernetes::patch_deployment(store, namespace, name, &patch) {
        Ok(d) => {
            let generation = d.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
            run.summary = Some(format!("Rolling out {image} to {namespace}/{name}"));
            run.wait = Wait::Rollout { namespace: namespace.to_owned(), name: name.to_owned(), generation };
        }
        Err(message) => fail(run, now, "JobFailed", message),
    }
}

/// Done when the controller has seen the change and every replica is updated and available;
/// failed when the deployment reports `ProgressDeadlineExceeded`.
fn follow_rollout(
    run: &mut ActionRun,
    subject: &Subject,
    clock: &Clock,
    namespace: &str,
    name: &str,
    generation: i64,
) {
    let now = clock.now;
    let d = match kubernetes::deployment(clock.store, namespace, name) {
        Ok(d) => d,
        Err(message) => return fail(run, now, "JobFailed", message),
    };
    let int = |p: &str| d.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    if int("/status/observedGeneration") < generation {
        return;
    }
    let progressing = d
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Progressing"));
    if progressing.is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded") {
        return fail(
            run,
            now,
            "JobFailed",
            format!(
                "The rollout of {namespace}/{name} exceeded its progress deadline (ProgressDeadlineExceeded)"
            ),
        );
    }
    let desired = d.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let complete =
        [int("/status/replicas"), int("/status/updatedReplicas"), int("/status/availableReplicas")]
            .iter()
            .all(|n| *n == desired);
    if complete {
        let image = subject.image.as_deref().unwrap_or("");
        succeed(
            run,
            now,
            format!("Rolled out {image} to {namespace}/{name}: {desired} of {desired} replicas available"),
        );
    }
}
