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
    for needle in ["release portal", "--config", "check-config", "ROLLGATE_LISTEN", "sandbox"] {
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
