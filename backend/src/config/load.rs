//! Reading the configuration: a TOML file (or the built-in sandbox one), then environment
//! overrides, then validation.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};

use super::{Config, ConfigError, validate};

/// The built-in configuration: the sandbox and its demo environments.
const SANDBOX_DEFAULT: &str = include_str!("sandbox.toml");

/// The top-level keys that `ROLLGATE_<KEY>` variables may override. Environments are not
/// among them: a list of tables does not map onto flat variables without surprises.
pub const OVERRIDABLE_KEYS: [&str; 6] =
    ["listen", "database_url", "sandbox", "sandbox_state", "site_root", "public_url"];

/// Where the configuration comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// No file given: the embedded sandbox with its demo environments.
    SandboxDefault,
    File(PathBuf),
}

/// Loads, overrides and validates. The error names the key and the problem.
pub fn load(source: &Source) -> Result<Config, ConfigError> {
    let base = match source {
        Source::SandboxDefault => Toml::string(SANDBOX_DEFAULT),
        Source::File(path) => {
            check_readable(path)?;
            Toml::file_exact(path)
        }
    };
    let mut config: Config = Figment::from(base)
        .merge(Env::prefixed("ROLLGATE_").only(&OVERRIDABLE_KEYS))
        .extract()
        .map_err(|e| ConfigError::Parse(describe(e)))?;
    validate::validate(&config)?;
    for env in &mut config.environments {
        env.freezes.extend(config.freezes.iter().cloned());
        env.recurring_freezes.extend(config.recurring_freezes.iter().cloned());
    }
    Ok(config)
}

/// Figment reports a missing file as "no such file" only once extraction fails; checking first
/// gives the clearer message.
fn check_readable(path: &Path) -> Result<(), ConfigError> {
    std::fs::metadata(path)
        .map(|_| ())
        .map_err(|e| ConfigError::Read { path: path.to_owned(), reason: e.to_string() })
}

/// Figment's messages already name the key and the source; strip its profile prefix
/// (`default.`) so the key reads as it is written in the file.
fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| e.to_string().replace("\"default.", "\"").replace("`default.", "`"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment's own (large) Error.
mod tests {
    use super::*;
    use crate::config::{ClusterConnection, NameBinding};
    use figment::Jail;

    fn load_file(jail: &mut Jail, toml: &str) -> Result<Config, ConfigError> {
        jail.create_file("rollgate.toml", toml).expect("write config");
        load(&Source::File(jail.directory().join("rollgate.toml")))
    }

    const MINIMAL: &str = r#"
        [[environment]]
        name = "prod"
        cluster = { kind = "kubeconfig", context = "eks-prod" }
        namespaces = ["shop"]
    "#;

    /// No file: the sandbox with the demo world's two environments, production protected.
    #[test]
    fn default_is_the_sandbox() {
        Jail::expect_with(|_| {
            let config = load(&Source::SandboxDefault).expect("default loads");
            assert!(config.sandbox);
            let names: Vec<_> = config.environments.iter().map(|e| e.name.as_str()).collect();
            assert_eq!(names, ["staging", "production"]);
            assert!(config.environment("production").unwrap().protected);
            assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
            Ok(())
        });
    }

    /// Approval quorums: the sandbox's rule for production's approval; actions without a rule
    /// need one person, not the releaser where the environment is protected; people's groups
    /// from `groups` and from their single-sign-on provider; rules that cannot be meant are
    /// refused with their key.
    #[test]
    fn approval_quorums() {
        Jail::expect_with(|jail| {
            let config = load(&Source::SandboxDefault).expect("default loads");
            let production = config.environment("production").unwrap();
            let rule = production.quorum("myapp-production", "Approval", "ManualApproval");
            assert_eq!(
                (rule.required, rule.groups.as_slice(), rule.exclude_releaser),
                (2, &["release-managers".to_owned(), "security".to_owned()][..], true)
            );
            let other = production.quorum("myapp-production", "Approval", "SecondLook");
            assert_eq!((other.required, other.groups.len(), other.exclude_releaser), (1, 0, true));
            assert!(
                !config
                    .environment("staging")
                    .unwrap()
                    .quorum("myapp-staging", "Approval", "ManualApproval")
                    .exclude_releaser
            );
            assert_eq!(config.groups_of("ada"), ["security"]);
            assert!(config.groups_of("dana").is_empty());
            config.sso_accounts.remember(
                "olivia",
                Some(crate::config::SsoIdentity {
                    subject: "sandbox sandbox-olivia".into(),
                    verified_email: None,
                    groups: vec!["release-managers".into()],
                }),
            );
            assert_eq!(config.groups_of("olivia"), ["release-managers"]);

            let with =
                |rule: &str| format!("{MINIMAL}aws = {{ pipelines = [\"web\"], approvals = [{rule}] }}\n");
            let ok = load_file(jail, &with(r#"{ pipeline = "web", stage = "Approve", action = "Manual", required = 3, groups = ["sec"] }"#)).expect("loads");
            assert_eq!(ok.environments[0].quorum("web", "Approve", "Manual").required, 3);
            for (rule, problem) in [
                (
                    r#"{ pipeline = "api", stage = "A", action = "M", required = 2 }"#,
                    "is not one of this environment's aws.pipelines",
                ),
                (
                    r#"{ pipeline = "web", stage = "A", action = "M", required = 0 }"#,
                    "required must be 1 to 10",
                ),
                (
                    r#"{ pipeline = "web", stage = "A", action = "M", required = 11 }"#,
                    "required must be 1 to 10",
                ),
                (r#"{ pipeline = "web", stage = "A b", action = "M", required = 1 }"#, "CodePipeline names"),
                (
                    r#"{ pipeline = "web", stage = "A", action = "M", required = 2, groups = ["x", "x"] }"#,
                    "listed twice",
                ),
                (
                    r#"{ pipeline = "web", stage = "A", action = "M", required = 1 }, { pipeline = "web", stage = "A", action = "M", required = 2 }"#,
                    "has a rule already",
                ),
            ] {
                let err = load_file(jail, &with(rule)).expect_err(rule).to_string();
                assert!(err.contains("aws.approvals[") && err.contains(problem), "{rule}: {err}");
            }
            Ok(())
        });
    }

    /// An environment is `/<name>/…`: a name that is a page of its own is refused.
    #[test]
    fn environment_names_that_are_pages() {
        Jail::expect_with(|jail| {
            for name in ["overview", "sign-in", "api"] {
                let file = MINIMAL.replacen("name = \"prod\"", &format!("name = \"{name}\""), 1);
                let err = load_file(jail, &file).expect_err(name).to_string();
                assert!(err.contains("is a page of its own"), "{name}: {err}");
            }
            Ok(())
        });
    }

    /// Notification targets: a webhook must have its signing key, only a webhook has one or
    /// sends CloudEvents, and names are DNS labels used once.
    #[test]
    fn notification_targets() {
        let with = |targets: &str| format!("{MINIMAL}{targets}");
        let target = |body: &str| format!("\n[[environment.notify]]\n{body}\n");
        Jail::expect_with(|jail| {
            let fine = target(
                "name = \"hook\"\nkind = \"webhook\"\nurl = { env = \"U\" }\nsecret = { env = \"K\" }\nformat = \"cloudevents\"\nevents = [\"pipeline-failed\"]",
            );
            let config = load_file(jail, &with(&fine)).expect("loads");
            assert_eq!(config.environments[0].notify[0].events, [crate::notify::EventKind::PipelineFailed]);
            for (body, problem) in [
                ("name = \"hook\"\nkind = \"webhook\"\nurl = { env = \"U\" }", "needs the key"),
                (
                    "name = \"chat\"\nkind = \"slack\"\nurl = { env = \"U\" }\nsecret = { env = \"K\" }",
                    "only a webhook's body is signed",
                ),
                (
                    "name = \"chat\"\nkind = \"teams\"\nurl = { env = \"U\" }\nformat = \"cloudevents\"",
                    "only a webhook sends CloudEvents",
                ),
                ("name = \"Chat_1\"\nkind = \"slack\"\nurl = { env = \"U\" }", "not a DNS label"),
                ("name = \"chat\"\nkind = \"slack\"\nurl = \"https://hooks.example.com/T/B/x\"", "url"),
            ] {
                let err = load_file(jail, &with(&target(body))).expect_err(problem).to_string();
                assert!(err.contains("notify") && err.contains(problem), "{body}: {err}");
            }
            let twice = target("name = \"chat\"\nkind = \"slack\"\nurl = { env = \"U\" }").repeat(2);
            assert!(load_file(jail, &with(&twice)).expect_err("twice").to_string().contains("used twice"));
            Ok(())
        });
    }

    /// A file without `sandbox` is not a sandbox; its values are used.
    #[test]
    fn file_values() {
        Jail::expect_with(|jail| {
            let config = load_file(jail, MINIMAL).expect("loads");
            assert!(!config.sandbox);
            let env = &config.environments[0];
            assert_eq!(env.title(), "prod");
            assert_eq!(env.required_approvals, 1);
            assert_eq!(
                env.cluster,
                ClusterConnection::Kubeconfig { context: Some("eks-prod".into()), path: None }
            );
            Ok(())
        });
    }

    /// A `url` cluster's CA is a PEM file read at load: a missing file, another kind of PEM or
    /// no PEM at all is named with its key, not found at the first call.
    #[test]
    fn a_url_clusters_certificate_authority() {
        const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBeTCCAR+gAwIBAgIUFOgV+BqJaqcl1C4Z3g8Fynwntr4wCgYIKoZIzj0EAwIw\nEjEQMA4GA1UEAwwHdGVzdC1jYTAeFw0yNjEyMDMxNjQ5MTVaFw0zNjExMzAxNjQ5\nMTVaMBIxEDAOBgNVBAMMB3Rlc3QtY2EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC\nAARF7hgJX25vFSPZY0G2my+61bmxzrC/nRp/VSLoiXuyr9hHQHrEv6wp9z6YuSzA\naIjD9DwT4ha9gicgKmdZM/iro1MwUTAdBgNVHQ4EFgQUCS0wlZEzyjxfAc/tvqyX\n3rUqFyIwHwYDVR0jBBgwFoAUCS0wlZEzyjxfAc/tvqyX3rUqFyIwDwYDVR0TAQH/\nBAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEA9+k3Y7zPNdLvqVNeqLohFpErQeZB\nVeNH1KFaYlXRf1QCIFwHUH0SWvL+fTd/8TpihlFHDqDCT07Sx9UrZcfYmRrY\n-----END CERTIFICATE-----";
        let url = |ca: &str| {
            format!(
                "[[environment]]\nname = \"p\"\nnamespaces = [\"a\"]\ncluster = {{ kind = \"url\", server = \"https://k:6443\", token = {{ env = \"T\" }}, certificate_authority = \"{ca}\" }}\n"
            )
        };
        Jail::expect_with(|jail| {
            jail.create_file("ca.crt", CA)?;
            jail.create_file("key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")?;
            jail.create_file("notes.txt", "not a certificate")?;
            let config = load_file(jail, &url("ca.crt")).expect("loads");
            let ClusterConnection::Url { certificate_authority, .. } = &config.environments[0].cluster else {
                panic!("a url cluster");
            };
            assert_eq!(certificate_authority.as_deref(), Some(std::path::Path::new("ca.crt")));
            assert_eq!(
                crate::kube::client::read_certificates(std::path::Path::new("ca.crt")).unwrap().len(),
                1
            );
            for (file, says) in [
                ("missing.crt", "cannot read missing.crt"),
                ("key.pem", "holds no PEM certificate"),
                ("notes.txt", "holds no PEM certificate"),
            ] {
                let error = load_file(jail, &url(file)).unwrap_err().to_string();
                assert!(error.contains("environment[0] (p).cluster.certificate_authority"), "{error}");
                assert!(error.contains(says), "{file}: {error}");
            }
            Ok(())
        });
    }

    /// `ROLLGATE_<KEY>` overrides the file; other ROLLGATE_ variables are not config keys.
    #[test]
    fn environment_overrides() {
        Jail::expect_with(|jail| {
            jail.set_env("ROLLGATE_LISTEN", "0.0.0.0:8080");
            jail.set_env("ROLLGATE_DATABASE_URL", "postgres://db/rollgate");
            jail.set_env("ROLLGATE_CONFIG", "ignored.toml");
            let config = load_file(jail, MINIMAL).expect("loads");
            assert_eq!(config.listen.to_string(), "0.0.0.0:8080");
            assert_eq!(config.database_url, "postgres://db/rollgate");
            Ok(())
        });
    }

    fn error_of(toml: &str) -> String {
        let mut message = String::new();
        Jail::expect_with(|jail| {
            message = load_file(jail, toml).expect_err("must be rejected").to_string();
            Ok(())
        });
        message
    }

    /// Each bad value fails with the key and the problem in the message.
    #[test]
    fn errors_name_the_key() {
        let cases: &[(&str, &[&str])] = &[
            ("listen = \"nowhere\"\n", &["listen"]),
            ("sandbox = \"yes\"\n", &["sandbox", "bool"]),
            ("colour = \"blue\"\n", &["unknown field", "colour"]),
            ("drain_seconds = 3600\n", &["drain_seconds", "at most 120"]),
            ("codepipeline_reads_per_second = 0.0\n", &["codepipeline_reads_per_second", "between 0.01"]),
            ("codepipeline_reads_per_second = nan\n", &["codepipeline_reads_per_second", "NaN"]),
            ("", &["environment", "at least one"]),
        ];
        for (prefix, needles) in cases {
            let toml = format!("{prefix}{}", if prefix.is_empty() { "" } else { MINIMAL });
            let message = error_of(&toml);
            for needle in *needles {
                assert!(message.contains(needle), "{needle:?} missing from {message:?}");
            }
        }
        let env_cases: &[(&str, &[&str])] = &[
            (
                "name = \"Prod_1\"\ncluster = { kind = \"in-cluster\" }\nnamespaces = [\"a\"]",
                &["environment[0].name", "DNS label"],
            ),
            (
                "name = \"p\"\ncluster = { kind = \"sandbox\" }\nnamespaces = [\"a\"]",
                &["cluster.kind", "sandbox = true"],
            ),
            (
                "name = \"p\"\ncluster = { kind = \"in-cluster\" }\nnamespaces = [\"Bad NS\"]",
                &["namespaces[0]", "Bad NS"],
            ),
            (
                "name = \"p\"\ncluster = { kind = \"in-cluster\" }\nnamespaces = []",
                &["namespaces", "at least one"],
            ),
            (
                "name = \"p\"\ncluster = { kind = \"in-cluster\" }\nnamespaces = [\"a\"]\naws = { region = \"mars\" }",
                &["aws.region", "mars"],
            ),
            (
                "name = \"p\"\ncluster = { kind = \"in-cluster\" }\nnamespaces = [\"a\"]\naws = { sandbox = true }",
                &["aws.sandbox", "sandbox = true"],
            ),
            (
                "name = \"p\"\ncluster = { kind = \"in-cluster\" }\nnamespaces = [\"a\"]\nssm_prefixes = [\"nope\"]",
                &["ssm_prefixes[0]", "start with '/'"],
            ),
            (
                "name = \"p\"\ncluster = { kind = \"url\", server = \"https://k:6443\", token = { ssm-parameter = \"k8s-bear-token\" } }\nnamespaces = [\"a\"]",
                &["token.ssm-parameter"],
            ),
            ("name = \"p\"\ncluster = { kind = \"warp\" }\nnamespaces = [\"a\"]", &["warp"]),
            (
                "name = \"p\"\nprotected = true\nrequired_approvals = 0\ncluster = { kind = \"in-cluster\" }\nnamespaces = [\"a\"]",
                &["required_approvals"],
            ),
        ];
        for (body, needles) in env_cases {
            let message = error_of(&format!("[[environment]]\n{body}\n"));
            for needle in *needles {
                assert!(message.contains(needle), "{needle:?} missing from {message:?}");
            }
        }
    }

    /// Single sign-on's keys: each mistake names its key.
    #[test]
    fn oidc_errors_name_the_key() {
        let oidc = |body: &str| format!("[auth.oidc]\n{body}\n{MINIMAL}");
        let names = |body: &str| {
            oidc(&format!(
                "issuer = \"https://login.example.com\"\nclient_id = \"r\"\n[auth.oidc.names]\n{body}"
            ))
        };
        let cases: &[(String, &[&str])] = &[
            (oidc("issuer = \"sandbox\""), &["auth.oidc.issuer", "sandbox = true"]),
            (
                oidc("issuer = \"http://login.example.com\"\nclient_id = \"r\""),
                &["auth.oidc.issuer", "https"],
            ),
            (oidc("issuer = \"https://login.example.com\""), &["auth.oidc.client_id", "required"]),
            (oidc("issuer = \"not a url\"\nclient_id = \"r\""), &["issuer", "neither"]),
            (
                oidc(
                    "issuer = \"https://login.example.com\"\nclient_id = \"r\"\nclient_secret = \"hunter2\"",
                ),
                &["client_secret"],
            ),
            (
                oidc(
                    "issuer = \"https://login.example.com\"\nclient_id = \"r\"\nscopes = [\"openid\", \"a b\"]",
                ),
                &["auth.oidc.scopes[1]"],
            ),
            (
                oidc(
                    "issuer = \"https://login.example.com\"\nclient_id = \"r\"\ngroup_roles = { ops = \"boss\" }",
                ),
                &["group_roles", "boss"],
            ),
            (
                oidc(
                    "issuer = \"https://login.example.com\"\nclient_id = \"r\"\nusername_claim = \"nickname\"",
                ),
                &["username_claim", "nickname"],
            ),
            (
                oidc(
                    "issuer = \"https://login.example.com\"\nclient_id = \"r\"\nredirect_url = \"ftp://x/cb\"",
                ),
                &["auth.oidc.redirect_url"],
            ),
            (
                format!("{MINIMAL}group_roles = {{ ops = \"admin\" }}\n"),
                &["environment[0] (prod).group_roles", "[auth.oidc]"],
            ),
            (names("Ada = { subject = \"s-1\" }"), &["auth.oidc.names.Ada", "lowercase"]),
            (
                names("ada = { subject = \"s-1\", email = \"ada@example.com\" }"),
                &["auth.oidc.names.ada", "exactly one"],
            ),
            (names("ada = {}"), &["auth.oidc.names.ada", "exactly one"]),
            (names("ada = { subject = \" \" }"), &["auth.oidc.names.ada.subject", "empty"]),
            (
                names("ada = { email = \"ada at example.com\" }"),
                &["auth.oidc.names.ada.email", "not an email"],
            ),
            (names("ada = { sub = \"s-1\" }"), &["names", "sub"]),
        ];
        for (toml, needles) in cases {
            let message = error_of(toml);
            for needle in *needles {
                assert!(message.contains(needle), "{needle:?} missing from {message:?}");
            }
        }
    }

    /// A working provider section, with the secret from an environment variable.
    #[test]
    fn oidc_settings() {
        Jail::expect_with(|jail| {
            jail.set_env("OIDC_SECRET", " s3cret \n");
            let toml = format!(
                "[auth.oidc]\nissuer = \"https://login.example.com/realms/acme\"\nclient_id = \"rollgate\"\n\
                 client_secret = {{ env = \"OIDC_SECRET\" }}\n[auth.oidc.group_roles]\nops = \"admin\"\n\
                 [auth.oidc.names]\nada = {{ subject = \"00u1a\" }}\npat = {{ email = \"pat@example.com\" }}\n{MINIMAL}"
            );
            let config = load_file(jail, &toml).expect("loads");
            let oidc = config.auth.oidc.as_ref().unwrap();
            assert_eq!(oidc.display_name, "single sign-on");
            assert_eq!(oidc.scopes, ["openid", "profile", "email"]);
            assert_eq!(oidc.groups_claim, "groups");
            assert_eq!(oidc.names["ada"], NameBinding { subject: Some("00u1a".into()), email: None });
            assert_eq!(oidc.names["pat"].email.as_deref(), Some("pat@example.com"));
            assert_eq!(oidc.client_secret.as_ref().unwrap().read().unwrap(), "s3cret");
            let missing = crate::config::SecretSource::Env("NOT_SET_ANYWHERE".into()).read().unwrap_err();
            assert_eq!(missing, "environment variable NOT_SET_ANYWHERE is not set");
            Ok(())
        });
    }

    #[test]
    fn missing_file_is_named() {
        let err = load(&Source::File("/nonexistent/rollgate.toml".into())).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/rollgate.toml"), "{err}");
    }
}
