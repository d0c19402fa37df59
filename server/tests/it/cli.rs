//! The `rollgate` binary's command line: help, configuration checks and their errors.

use std::process::Command;

fn rollgate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(args)
        .env_remove("ROLLGATE_CONFIG")
        .env_remove("ROLLGATE_LISTEN")
        .output()
        .expect("run rollgate")
}

#[test]
fn help_describes_the_portal() {
    let out = rollgate(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["release portal", "--config", "check-config", "healthcheck", "ROLLGATE_LISTEN", "sandbox"]
    {
        assert!(text.contains(needle), "{needle:?} missing from --help:\n{text}");
    }
}

#[test]
fn check_config_accepts_the_default_and_the_example() {
    let out = rollgate(&["check-config"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("staging, production"));
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../rollgate.example.toml");
    let out = rollgate(&["--config", example, "check-config"]);
    assert!(out.status.success(), "example config: {}", String::from_utf8_lossy(&out.stderr));
}

/// A bad configuration stops the start with exit code 2 and the key in the message.
#[test]
fn invalid_config_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[[environment]]\nname = \"prod\"\ncluster = { kind = \"in-cluster\" }\nnamespaces = [\"web\", \"Not_A_Namespace\"]\n",
    )
    .unwrap();
    let out = rollgate(&["--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("environment[0] (prod).namespaces[1]"), "{stderr}");
    assert!(stderr.contains("Not_A_Namespace"), "{stderr}");
}

/// `rollgate` serves until SIGTERM, then finishes in-flight work and exits cleanly.
#[test]
fn sigterm_stops_gracefully() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("pkg")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .env_remove("ROLLGATE_CONFIG")
        .env("ROLLGATE_LISTEN", "127.0.0.1:0")
        .env("ROLLGATE_SITE_ROOT", site.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rollgate");
    // Logs are JSON lines (stdout is a pipe); the listening line carries the address. The
    // reader keeps draining so the server never writes into a closed pipe.
    let stdout = child.stdout.take().unwrap();
    let (found, addr) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let event: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
            if let Some(a) = event["addr"].as_str() {
                let _ = found.send(a.to_owned());
            }
        }
    });
    let addr = addr.recv_timeout(Duration::from_secs(20)).expect("rollgate logged its address");
    assert!(std::net::TcpStream::connect(&addr).is_ok(), "not serving on {addr}");

    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

/// Runs `rollgate ARGS` against the store at `url`, with `stdin` as its input: whether it
/// succeeded, its output and its errors.
fn rollgate_on(url: &str, args: &[&str], stdin: &str) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(args)
        .env_remove("ROLLGATE_CONFIG")
        .env("ROLLGATE_DATABASE_URL", url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run rollgate");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `rollgate user add|passwd|disable|enable|list` against the configured store; passwords come
/// from standard input, and a bad one is refused with the rule.
#[test]
fn user_commands_manage_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("users.db").display());
    let run = |args: &[&str], stdin: &str| rollgate_on(&url, args, stdin);
    assert_eq!(run(&["user", "add", "bob"], "a long password\n").1.trim(), "created user bob");
    let (ok, _, err) = run(&["user", "add", "bob"], "a long password\n");
    assert!(!ok && err.contains("a user named bob already exists"), "{err}");
    let (ok, _, err) = run(&["user", "add", "carl"], "short\n");
    assert!(!ok && err.contains("at least 10 characters"), "{err}");
    let (ok, _, err) = run(&["user", "add", "Bad Name"], "a long password\n");
    assert!(!ok && err.contains("not a user name"), "{err}");
    assert!(run(&["user", "passwd", "bob"], "another long one\n").0);
    assert!(run(&["user", "disable", "bob"], "").0);
    let (_, list, _) = run(&["user", "list"], "");
    assert!(list.lines().any(|l| l.starts_with("bob") && l.contains("disabled")), "{list}");
    assert!(run(&["user", "enable", "bob"], "").0);
    let (_, list, _) = run(&["user", "list"], "");
    assert!(list.lines().any(|l| l.starts_with("bob") && l.contains("active")), "{list}");
}

/// Locked out by failed sign-ins, a person gets back in at once when an admin runs
/// `rollgate user unlock`, which the audit trail records.
#[tokio::test]
async fn user_unlock_lets_a_locked_out_person_back_in() {
    use backend::audit::{Caller, Filter};
    use backend::auth::{SignInError, sign_in};
    use backend::clock::Timestamp;
    use backend::config::AuthSettings;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("users.db").display());
    assert!(rollgate_on(&url, &["user", "add", "bob"], "bobs long password\n").0);
    let store = backend::store::Store::open(&url).await.unwrap();
    let settings = AuthSettings::default();
    let from = Caller { user: String::new(), source_ip: Some("10.0.0.5".into()), request_id: None };
    let now = Timestamp::now();
    for _ in 0..settings.max_failures_per_user {
        let e = sign_in(&store, &settings, &from, "bob", "a guess", now).await.unwrap_err();
        assert!(matches!(e, SignInError::BadCredentials), "{e}");
    }
    let locked = sign_in(&store, &settings, &from, "bob", "bobs long password", now).await.unwrap_err();
    assert!(matches!(locked, SignInError::TooManyAttempts { .. }), "{locked}");

    let (ok, out, err) = rollgate_on(&url, &["user", "unlock", "bob"], "");
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "unlocked bob (5 recent failed sign-in(s) forgotten)");
    let (ok, _, err) = rollgate_on(&url, &["user", "unlock", "nobody"], "");
    assert!(!ok && err.contains("there is no user named nobody"), "{err}");
    sign_in(&store, &settings, &from, "bob", "bobs long password", Timestamp::now()).await.unwrap();

    let filter = Filter { action: Some("user.unlock".into()), ..Default::default() };
    let unlocks = backend::audit::list(&store, &filter, 0, 10).await.unwrap().records;
    assert_eq!(unlocks.len(), 1);
    assert!(unlocks[0].actor.starts_with("cli:"), "{:?}", unlocks[0]);
    assert_eq!(unlocks[0].target.as_deref(), Some("bob"));
}
