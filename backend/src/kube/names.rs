//! Kubernetes object names, checked as the API server checks them, before one reaches a
//! client call, a URL path or a change request. One function per kind of name, so every
//! caller (the change desk, the pages, the log stream, the configuration) agrees:
//! namespaces and container names are DNS-1123 labels; deployments, replica sets and pods
//! are DNS-1123 subdomains (dots allowed, up to 253 characters).

use crate::checked::checked_string;
use crate::dns::{is_dns_label, is_dns_subdomain};

checked_string!(
    /// A namespace name (whether the environment shows it is the environment's rule).
    Namespace,
    |s| check(NameKind::Namespace, s)
);
checked_string!(
    /// A deployment name.
    DeploymentName,
    |s| check(NameKind::Deployment, s)
);
checked_string!(
    /// A container name within a pod template.
    ContainerName,
    |s| check(NameKind::Container, s)
);
checked_string!(
    /// A pod name.
    PodName,
    |s| check(NameKind::Pod, s)
);

/// What a name names: its rule and the word the messages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Namespace,
    Deployment,
    Container,
    Pod,
    ServiceAccount,
}

impl NameKind {
    fn word(self) -> &'static str {
        match self {
            NameKind::Namespace => "namespace",
            NameKind::Deployment => "deployment",
            NameKind::Container => "container",
            NameKind::Pod => "pod",
            NameKind::ServiceAccount => "ServiceAccount",
        }
    }

    fn is_label(self) -> bool {
        matches!(self, NameKind::Namespace | NameKind::Container)
    }
}

/// Checks `name` as a name of `kind`; the message says what is wrong in words.
pub fn check(kind: NameKind, name: &str) -> Result<(), String> {
    let ok = if kind.is_label() { is_dns_label(name) } else { is_dns_subdomain(name) };
    if ok {
        return Ok(());
    }
    // Shown to people: keep whatever they sent short.
    let shown: String = name.chars().take(80).collect();
    let rule = if kind.is_label() {
        "lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63"
    } else {
        "lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253"
    };
    Err(format!("{shown:?} is not a {} name ({rule})", kind.word()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deployment may have dots (as Kubernetes allows); a namespace may not; the message
    /// names the kind and does not echo a huge input.
    #[test]
    fn each_kind_its_rule() {
        assert!(check(NameKind::Deployment, "myapp.v2").is_ok());
        let e = check(NameKind::Namespace, "myapp.v2").unwrap_err();
        assert!(e.contains("not a namespace name"), "{e}");
        let e = check(NameKind::Pod, &"x/".repeat(5000)).unwrap_err();
        assert!(e.len() < 400, "{e}");
    }
}
