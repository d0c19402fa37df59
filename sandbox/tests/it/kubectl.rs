//! The real kubectl against the sandbox cluster: discovery, short names, tables, create,
//! patch flavours, scale, optimistic concurrency and errors, exactly as a person would type them.

use std::process::Command;

use sandbox::{Endpoints, Sandbox, World};

struct Kubectl {
    kubeconfig: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Kubectl {
    async fn start() -> (Sandbox, Self) {
        Self::start_with(World::Empty).await
    }

    async fn start_with(world: World) -> (Sandbox, Self) {
        let sandbox = Sandbox::start(Endpoints::any_free(), world).await.expect("sandbox starts");
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        sandbox.write_kubeconfig(&kubeconfig).unwrap();
        (sandbox, Self { kubeconfig, _dir: dir })
    }

    /// Runs kubectl off the async runtime (the sandbox serves on it meanwhile).
    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        self.run_with_input(args, "").await
    }

    async fn run_with_input(&self, args: &[&str], input: &str) -> (bool, String, String) {
        use std::io::Write;
        use std::process::Stdio;
        let mut command = Command::new("kubectl");
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .env("HOME", self._dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let input = input.to_owned();
        let output = tokio::task::spawn_blocking(move || {
            let mut child = command.spawn()?;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(input.as_bytes())?;
            }
            child.wait_with_output()
        })
        .await
        .unwrap()
        .expect("kubectl runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// `kubectl create -f -` with a manifest.
    async fn create(&self, manifest: &str) -> String {
        let (ok, out, err) = self.run_with_input(&["create", "-f", "-"], manifest).await;
        assert!(ok, "kubectl create failed: {err}");
        out
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args).await;
        assert!(ok, "kubectl {args:?} failed: {err}");
        out
    }
}

/// `kubectl get` resolves short names through discovery and prints the server's table.
#[tokio::test(flavor = "multi_thread")]
async fn get_with_short_names_and_tables() {
    let (_sandbox, kubectl) = Kubectl::start().await;
    let namespaces = kubectl.ok(&["get", "ns"]).await;
    assert!(namespaces.starts_with("NAME"), "{namespaces}");
    for ns in ["default", "kube-system", "staging", "production"] {
        assert!(namespaces.contains(ns), "{ns} missing:\n{namespaces}");
    }
    assert!(namespaces.contains("Active"));
    for short in ["deploy", "rs", "po", "svc", "ev"] {
        let (ok, out, err) = kubectl.run(&["get", short, "-A"]).await;
        assert!(ok, "get {short}: {err}");
        assert!(err.contains("No resources found") || out.is_empty(), "{short}: {out}{err}");
    }
    let accounts = kubectl.ok(&["get", "sa", "-n", "production"]).await;
    assert!(accounts.contains("default") && accounts.contains("rollgate-deployer"), "{accounts}");
    let version = kubectl.ok(&["version", "-o", "json"]).await;
    assert!(version.contains("rollgate-sandbox"), "{version}");
}

/// kubectl reads lists in pages of 500 and follows the table's continue token for the rest.
#[tokio::test(flavor = "multi_thread")]
async fn get_follows_pages_beyond_500() {
    let (_sandbox, kubectl) = Kubectl::start().await;
    let manifest: String = (0..503)
        .map(|i| format!("---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: page-{i:03}\n  namespace: staging\n"))
        .collect();
    kubectl.create(&manifest).await;
    let listed = kubectl.ok(&["get", "serviceaccounts", "-n", "staging", "--no-headers"]).await;
    let names: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("page-"))
        .collect();
    assert_eq!(names.len(), 503, "{listed}");
    assert_eq!(names.last(), Some(&"page-502"));
}

/// The walk-through's deployment, as its YAML is written.
const MYAPP: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: myapp-deployment
  labels:
    app: myapp
spec:
  replicas: 2
  selector:
    matchLabels:
      app: myapp
  template:
    metadata:
      labels:
        app: myapp
    spec:
      containers:
      - name: busybox
        image: busybox
        command: ['sh', '-c', 'echo ${DEMO_GREETING} && sleep 3600']
";

/// The walk-through's loop through kubectl: create, set env, set image, scale, read back.
#[tokio::test(flavor = "multi_thread")]
async fn create_patch_scale_delete() {
    let (_sandbox, kubectl) = Kubectl::start().await;
    let (ok, out, err) = kubectl.run_with_input(&["-n", "staging", "create", "-f", "-"], MYAPP).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "deployment.apps/myapp-deployment created");
    let table = kubectl.ok(&["-n", "staging", "get", "deploy"]).await;
    for column in ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "myapp-deployment"] {
        assert!(table.contains(column), "{column} missing:\n{table}");
    }
    assert!(!table.contains("CONTAINERS"), "wide columns only with -o wide:\n{table}");
    let wide = kubectl.ok(&["-n", "staging", "get", "deploy", "-o", "wide"]).await;
    let header: Vec<&str> = wide.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    );
    let row: Vec<&str> = wide.lines().nth(1).unwrap_or("").split_whitespace().collect();
    assert_eq!(row[5..], ["busybox", "busybox", "app=myapp"], "{wide}");
    let pods = kubectl.ok(&["-n", "staging", "get", "pods", "-o", "wide"]).await;
    let header: Vec<&str> = pods.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED",
            "NODE",
            "READINESS",
            "GATES"
        ]
    );
    for row in pods.lines().skip(1) {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[cells.len() - 2..], ["<none>", "<none>"], "nominated node, readiness gates: {pods}");
    }
    kubectl
        .ok(&[
            "-n",
            "staging",
            "set",
            "env",
            "deployment/myapp-deployment",
            "DEMO_GREETING=Hello Kubernetes!",
        ])
        .await;
    kubectl
        .ok(&["-n", "staging", "set", "image", "deployment/myapp-deployment", "busybox=busybox:1.36"])
        .await;
    kubectl.ok(&["-n", "staging", "scale", "deployment/myapp-deployment", "--replicas=3"]).await;
    let spec = kubectl
        .ok(&["-n", "staging", "get", "deploy", "myapp-deployment", "-o",
            "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[0].value} {.metadata.generation}"])
        .await;
    assert_eq!(spec, "3 busybox:1.36 Hello Kubernetes! 4");

    kubectl.ok(&["-n", "staging", "set", "env", "deployment/myapp-deployment", "DEMO_GREETING-"]).await;
    let env = kubectl
        .ok(&[
            "-n",
            "staging",
            "get",
            "deploy",
            "myapp-deployment",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].env}",
        ])
        .await;
    assert_eq!(env, "", "the variable was removed");

    kubectl.ok(&["-n", "staging", "label", "deployment", "myapp-deployment", "tier=web"]).await;
    let selected = kubectl.ok(&["-n", "staging", "get", "deploy", "-l", "tier=web", "-o", "name"]).await;
    assert_eq!(selected.trim(), "deployment.apps/myapp-deployment");
    let none = kubectl.ok(&["-n", "staging", "get", "deploy", "-l", "tier=db", "-o", "name"]).await;
    assert_eq!(none.trim(), "");

    assert!(!myapp_replica_sets_and_pods(&kubectl).await.trim().is_empty());
    kubectl.ok(&["-n", "staging", "delete", "deployment", "myapp-deployment"]).await;
    let (ok, _, err) = kubectl.run(&["-n", "staging", "get", "deployment", "myapp-deployment"]).await;
    assert!(!ok);
    assert!(err.contains("NotFound") || err.contains("not found"), "{err}");
    // As the real garbage collector does by default: its replica sets and their pods go too.
    assert_eq!(myapp_replica_sets_and_pods(&kubectl).await.trim(), "", "cascading delete");

    // --cascade=orphan leaves them, without the owner's reference.
    kubectl.run_with_input(&["-n", "staging", "apply", "-f", "-"], MYAPP).await;
    kubectl.ok(&["-n", "staging", "rollout", "status", "deployment/myapp-deployment", "--timeout=30s"]).await;
    kubectl.ok(&["-n", "staging", "delete", "deployment", "myapp-deployment", "--cascade=orphan"]).await;
    let owners = kubectl
        .ok(&[
            "-n",
            "staging",
            "get",
            "rs",
            "-l",
            "app=myapp",
            "-o",
            "jsonpath={.items[*].metadata.ownerReferences}",
        ])
        .await;
    assert!(!myapp_replica_sets_and_pods(&kubectl).await.trim().is_empty(), "orphaned, not deleted");
    assert_eq!(owners.trim(), "", "no owner left");
}

async fn myapp_replica_sets_and_pods(kubectl: &Kubectl) -> String {
    kubectl.ok(&["-n", "staging", "get", "rs,pods", "-l", "app=myapp", "-o", "name"]).await
}

/// Errors come back as Status objects kubectl prints in the API server's words.
#[tokio::test(flavor = "multi_thread")]
async fn errors_in_kubectl_words() {
    let (_sandbox, kubectl) = Kubectl::start().await;
    let namespace = |name: &str| {
        format!("{{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {{\"name\": \"{name}\"}}}}")
    };
    let (ok, _, err) = kubectl.run_with_input(&["create", "-f", "-"], &namespace("Not_Valid")).await;
    assert!(!ok);
    assert!(err.contains("is invalid") && err.contains("RFC 1123"), "{err}");
    let (ok, _, err) = kubectl.run_with_input(&["create", "-f", "-"], &namespace("staging")).await;
    assert!(!ok);
    assert!(err.contains("already exists"), "{err}");
    // Generator commands send protobuf; its errors come back in protobuf, in the same words.
    let (ok, _, err) = kubectl.run(&["create", "namespace", "Not_Valid"]).await;
    assert!(!ok);
    assert!(err.contains("is invalid") && err.contains("RFC 1123"), "{err}");
    let (ok, _, err) = kubectl.run(&["get", "widgets"]).await;
    assert!(!ok);
    assert!(err.contains("the server doesn't have a resource type \"widgets\""), "{err}");
    let (ok, _, err) = kubectl.run_with_input(&["-n", "nowhere", "create", "-f", "-"], MYAPP).await;
    assert!(!ok);
    assert!(err.contains("namespaces \"nowhere\" not found"), "{err}");
}

/// kubectl's generator commands and `auth can-i` speak protobuf, both ways; what they create is
/// what the same command creates on a real cluster, and RBAC answers for the tokens they mint.
#[tokio::test(flavor = "multi_thread")]
async fn generator_commands_speak_protobuf() {
    let (_sandbox, kubectl) = Kubectl::start().await;
    let (ok, out, err) = kubectl.run(&["create", "namespace", "qa", "-v=8"]).await;
    assert!(ok && out.contains("namespace/qa created"), "{out}{err}");
    // -v=8 prints both bodies in hex: each starts with protobuf's "k8s\0" magic.
    let bodies = |kind: &str| err.lines().skip_while(|l| !l.contains(kind)).nth(1).unwrap_or("").to_owned();
    assert!(bodies("\"Request Body\"").contains("6b 38 73 00"), "kubectl sent protobuf:\n{err}");
    assert!(bodies("\"Response Body\"").contains("6b 38 73 00"), "the sandbox answered in protobuf:\n{err}");

    kubectl
        .ok(&[
            "-n",
            "qa",
            "create",
            "deployment",
            "web",
            "--image=registry.example/web:4f2a9c1",
            "--replicas=0",
            "--port=8080",
        ])
        .await;
    kubectl
        .ok(&["-n", "qa", "create", "deployment", "worker", "--image=busybox:1.36", "--", "sleep", "3600"])
        .await;
    let web: serde_json::Value =
        serde_json::from_str(&kubectl.ok(&["-n", "qa", "get", "deployment", "web", "-o", "json"]).await)
            .unwrap();
    assert_eq!(web["spec"]["replicas"], 0, "an explicit zero is kept");
    assert_eq!(web["spec"]["selector"]["matchLabels"]["app"], "web");
    let container = &web["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example/web:4f2a9c1");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(container["imagePullPolicy"], "IfNotPresent", "defaulted as on a real server");
    assert!(container.get("stdin").is_none() && container.get("workingDir").is_none(), "{container}");
    assert!(web["metadata"]["creationTimestamp"].is_string(), "{web}");
    let command = kubectl
        .ok(&[
            "-n",
            "qa",
            "get",
            "deployment",
            "worker",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].command}",
        ])
        .await;
    assert_eq!(command, r#"["sleep","3600"]"#);
    kubectl.ok(&["rollout", "status", "-n", "qa", "deployment/worker", "--timeout=60s"]).await;

    // A service account with one Role, bound by generator commands, asked about by `auth can-i`.
    kubectl.ok(&["-n", "qa", "create", "serviceaccount", "reader"]).await;
    kubectl
        .ok(&["-n", "qa", "create", "role", "pod-reader", "--verb=get,list", "--resource=pods,pods/log"])
        .await;
    kubectl
        .ok(&[
            "-n",
            "qa",
            "create",
            "rolebinding",
            "reader",
            "--role=pod-reader",
            "--serviceaccount=qa:reader",
        ])
        .await;
    kubectl.ok(&["create", "clusterrole", "ns-viewer", "--verb=get", "--resource=namespaces"]).await;
    kubectl
        .ok(&[
            "create",
            "clusterrolebinding",
            "reader-ns",
            "--clusterrole=ns-viewer",
            "--serviceaccount=qa:reader",
        ])
        .await;
    assert_eq!(kubectl.ok(&["auth", "can-i", "delete", "namespaces"]).await.trim(), "yes", "the admin may");
    let token = kubectl.ok(&["-n", "qa", "create", "token", "reader", "--duration=10m"]).await;
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let as_reader = |args: &[&str]| {
        let mut all = vec!["--token", token];
        all.extend_from_slice(args);
        all.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>()
    };
    for (args, answer) in [
        (vec!["auth", "can-i", "list", "pods", "-n", "qa"], "yes"),
        (vec!["auth", "can-i", "get", "pods", "--subresource=log", "-n", "qa"], "yes"),
        (vec!["auth", "can-i", "delete", "pods", "-n", "qa"], "no"),
        (vec!["auth", "can-i", "list", "pods", "-n", "staging"], "no"),
        (vec!["auth", "can-i", "get", "namespaces/qa"], "yes"),
        (vec!["auth", "can-i", "create", "deployments", "-n", "qa"], "no"),
    ] {
        let args = as_reader(&args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, out, err) = kubectl.run(&args).await;
        assert_eq!(out.trim(), answer, "{args:?}: {err}");
        assert_eq!(ok, answer == "yes", "can-i exits 0 only for yes");
    }
    let args = as_reader(&["-n", "qa", "get", "pods", "-o", "name"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(kubectl.ok(&args).await.contains("pod/worker-"), "the token works for what it may do");
    let args = as_reader(&["-n", "qa", "delete", "deployment", "worker"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, _, err) = kubectl.run(&args).await;
    assert!(!ok && err.contains("forbidden") && err.contains("system:serviceaccount:qa:reader"), "{err}");
}

/// The walk-through's release through kubectl: roll out, change the image, watch the rollout
/// complete, undo it, and see a bad image miss its progress deadline.
#[tokio::test(flavor = "multi_thread")]
async fn rollout_status_undo_and_deadline() {
    let (_sandbox, kubectl) = Kubectl::start().await;
    kubectl.create(MYAPP).await;
    let status = |timeout: &'static str| {
        let kubectl = &kubectl;
        async move {
            kubectl
                .run(&["rollout", "status", "deployment/myapp-deployment", &format!("--timeout={timeout}")])
                .await
        }
    };
    let (ok, out, err) = status("60s").await;
    assert!(ok && out.contains("successfully rolled out"), "{out}{err}");

    kubectl.ok(&["set", "image", "deployment/myapp-deployment", "busybox=busybox:1.37"]).await;
    let (ok, out, err) = status("60s").await;
    assert!(ok && out.contains("successfully rolled out"), "{out}{err}");
    let images = kubectl
        .ok(&["get", "pods", "-l", "app=myapp", "-o", "jsonpath={.items[*].spec.containers[0].image}"])
        .await;
    assert_eq!(images, "busybox:1.37 busybox:1.37");
    let sets = kubectl.ok(&["get", "rs", "-l", "app=myapp", "-o", "name"]).await;
    assert_eq!(sets.lines().count(), 2, "one replica set per template: {sets}");

    kubectl.ok(&["rollout", "undo", "deployment/myapp-deployment"]).await;
    let (ok, out, err) = status("60s").await;
    assert!(ok, "{out}{err}");
    let image = kubectl
        .ok(&[
            "get",
            "deploy",
            "myapp-deployment",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
        .await;
    assert_eq!(image, "busybox");
    let history = kubectl.ok(&["rollout", "history", "deployment/myapp-deployment"]).await;
    assert!(history.contains('2') && history.contains('3'), "{history}");

    kubectl
        .ok(&[
            "patch",
            "deployment",
            "myapp-deployment",
            "--type=merge",
            "-p",
            r#"{"spec":{"progressDeadlineSeconds":2}}"#,
        ])
        .await;
    kubectl.ok(&["set", "image", "deployment/myapp-deployment", "busybox=busybox:0.0-missing"]).await;
    let (ok, out, err) = status("60s").await;
    assert!(!ok, "a rollout that cannot pull its image must not succeed: {out}");
    assert!(err.contains("exceeded its progress deadline"), "{err}");
    let reasons = kubectl
        .ok(&[
            "get",
            "pods",
            "-l",
            "app=myapp",
            "-o",
            "jsonpath={.items[*].status.containerStatuses[0].state.waiting.reason}",
        ])
        .await;
    assert!(reasons.contains("ImagePullBackOff") || reasons.contains("ErrImagePull"), "{reasons}");
    let events = kubectl.ok(&["get", "events"]).await;
    assert!(events.contains("ScalingReplicaSet") && events.contains("Failed"), "{events}");
}

/// The walk-through's check: the pods print the greeting, and after `kubectl set env` the
/// new pods print the new one. Logs of a pod that cannot start say why.
#[tokio::test(flavor = "multi_thread")]
async fn logs_follow_the_environment() {
    let (_sandbox, kubectl) = Kubectl::start().await;
    let manifest = MYAPP.replace(
        "        command: ['sh', '-c', 'echo ${DEMO_GREETING} && sleep 3600']\n",
        "        command: ['sh', '-c', 'echo ${DEMO_GREETING} && sleep 3600']\n        env:\n        - name: DEMO_GREETING\n          value: \"Hello Kubernetes!\"\n",
    );
    kubectl.create(&manifest).await;
    kubectl.ok(&["rollout", "status", "deployment/myapp-deployment", "--timeout=60s"]).await;
    let logs = kubectl.ok(&["logs", "deployment/myapp-deployment"]).await;
    assert_eq!(logs, "Hello Kubernetes!\n");
    // A script's lines are all printed at its start: a tail still has them.
    let tail = kubectl.ok(&["logs", "deployment/myapp-deployment", "--tail=1"]).await;
    assert_eq!(tail, "Hello Kubernetes!\n");

    kubectl
        .ok(&["set", "env", "deployment/myapp-deployment", "DEMO_GREETING=Another Hello Kubernetes!"])
        .await;
    kubectl.ok(&["rollout", "status", "deployment/myapp-deployment", "--timeout=60s"]).await;
    let pods = kubectl.ok(&["get", "pods", "-l", "app=myapp", "-o", "name"]).await;
    assert_eq!(pods.lines().count(), 2, "{pods}");
    for pod in pods.lines() {
        let logs = kubectl.ok(&["logs", pod, "--timestamps"]).await;
        assert!(logs.ends_with(" Another Hello Kubernetes!\n"), "{pod}: {logs:?}");
    }

    kubectl.ok(&["set", "image", "deployment/myapp-deployment", "busybox=busybox:0.0-missing"]).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let waiting = kubectl
        .ok(&["get", "pods", "-l", "app=myapp", "--field-selector=status.phase=Pending", "-o", "name"])
        .await;
    let pod = waiting.lines().next().expect("a pod waiting for its image");
    let (ok, _, err) = kubectl.run(&["logs", pod]).await;
    assert!(!ok);
    assert!(err.contains("is waiting to start"), "{err}");
}

/// An application printing 2,000 request lines a second (the sandbox's log rate knob): a
/// tail is exactly that many of the newest lines.
#[tokio::test(flavor = "multi_thread")]
async fn logs_at_a_given_rate() {
    let (_sandbox, kubectl) = Kubectl::start().await;
    kubectl.ok(&["create", "deployment", "busy", "--image=busybox"]).await;
    kubectl.ok(&["set", "env", "deployment/busy", "SANDBOX_LOG_LINES_PER_SECOND=2000"]).await;
    kubectl.ok(&["rollout", "status", "deployment/busy", "--timeout=60s"]).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let tail = kubectl.ok(&["logs", "deployment/busy", "--tail=2500"]).await;
    assert_eq!(tail.lines().count(), 2500);
    assert!(tail.lines().all(|l| l.contains("ms ip=10.0.")), "request lines: {:?}", tail.lines().next());
    let all = kubectl.ok(&["logs", "deployment/busy"]).await;
    assert!(all.lines().count() >= 4000, "two seconds at least: {}", all.lines().count());
    // Read later, the whole may have a second more: the tail lies within it, whole.
    assert!(all.contains(&tail), "the tail is part of the whole");
}

/// The demo world: the walk-through's app with its release history in both environments,
/// a few more apps, and one rollout stuck on an image that was never pushed.
#[tokio::test(flavor = "multi_thread")]
async fn demo_world() {
    let (_sandbox, kubectl) = Kubectl::start_with(World::Demo).await;
    for namespace in ["staging", "production"] {
        let (ok, out, err) = kubectl
            .run(&["-n", namespace, "rollout", "status", "deployment/myapp-deployment", "--timeout=60s"])
            .await;
        assert!(ok, "{namespace}: {out}{err}");
    }
    let image = kubectl
        .ok(&[
            "-n",
            "staging",
            "get",
            "deploy",
            "myapp-deployment",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
        .await;
    assert_eq!(image, "myapp:e93d5f1");
    let history = kubectl.ok(&["-n", "staging", "rollout", "history", "deployment/myapp-deployment"]).await;
    assert_eq!(
        history.lines().filter(|l| l.trim_start().starts_with(char::is_numeric)).count(),
        4,
        "{history}"
    );
    let logs = kubectl.ok(&["-n", "staging", "logs", "deployment/myapp-deployment"]).await;
    assert_eq!(logs, "Hello Kubernetes!\n");
    let all = kubectl.ok(&["get", "deploy", "-A", "-o", "name"]).await;
    assert_eq!(all.lines().count(), 7, "{all}");
    let stuck = kubectl
        .ok(&[
            "-n",
            "staging",
            "get",
            "pods",
            "-l",
            "app=report-worker",
            "-o",
            "jsonpath={.items[*].status.containerStatuses[0].state.waiting.reason}",
        ])
        .await;
    assert!(stuck.contains("ErrImagePull") || stuck.contains("ImagePullBackOff"), "{stuck}");
}

/// A container whose command fails restarts with a growing back-off, and its previous
/// instance's output is there to read.
#[tokio::test(flavor = "multi_thread")]
async fn crash_loop_and_previous_logs() {
    let (_sandbox, kubectl) = Kubectl::start().await;
    let manifest = MYAPP.replace(
        "command: ['sh', '-c', 'echo ${DEMO_GREETING} && sleep 3600']",
        "command: ['sh', '-c', 'echo starting && echo \"fatal: no database\" && exit 2']",
    );
    kubectl.create(&manifest).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let pods = kubectl.ok(&["get", "pods", "-l", "app=myapp", "-o", "name"]).await;
    let pod = pods.lines().next().expect("a pod");
    let status = kubectl.ok(&["get", pod, "-o", "jsonpath={.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].lastState.terminated.exitCode} {.status.containerStatuses[0].state.waiting.reason}"]).await;
    assert_eq!(status, "1 2 CrashLoopBackOff");
    let previous = kubectl.ok(&["logs", pod, "--previous"]).await;
    assert_eq!(previous, "starting\nfatal: no database\n");
    let table = kubectl.ok(&["get", "pods", "-l", "app=myapp"]).await;
    assert!(table.contains("CrashLoopBackOff"), "{table}");
    let events = kubectl.ok(&["get", "events", "--field-selector", "reason=BackOff"]).await;
    assert!(events.contains("Back-off restarting failed container"), "{events}");
}

/// `kubectl apply -f`, as a pipeline's deploy step runs it: the first apply creates, the next
/// one patches what changed (kubectl learns from `/openapi/v3` that the server validates).
#[tokio::test(flavor = "multi_thread")]
async fn apply_from_a_file() {
    let (_sandbox, kubectl) = Kubectl::start().await;
    let (ok, out, err) = kubectl.run_with_input(&["-n", "staging", "apply", "-f", "-"], MYAPP).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "deployment.apps/myapp-deployment created");
    kubectl.ok(&["-n", "staging", "rollout", "status", "deploy/myapp-deployment", "--timeout=60s"]).await;
    let changed =
        format!("{MYAPP}        env:\n        - name: DEMO_GREETING\n          value: \"Applied Hello!\"\n");
    let (ok, out, err) = kubectl.run_with_input(&["-n", "staging", "apply", "-f", "-"], &changed).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "deployment.apps/myapp-deployment configured");
    kubectl.ok(&["-n", "staging", "rollout", "status", "deploy/myapp-deployment", "--timeout=60s"]).await;
    let logs = kubectl.ok(&["-n", "staging", "logs", "deploy/myapp-deployment"]).await;
    assert!(logs.contains("Applied Hello!"), "{logs}");
    let (ok, out, _) = kubectl.run_with_input(&["-n", "staging", "apply", "-f", "-"], &changed).await;
    assert!(ok);
    assert_eq!(out.trim(), "deployment.apps/myapp-deployment unchanged");
}
