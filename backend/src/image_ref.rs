//! Container image references (`[registry[:port]/]path[:tag][@algorithm:hex]`), checked
//! by the grammar the OCI distribution reference uses, so a typo is refused with a reason
//! before it becomes a pod stuck in ErrImagePull.

use crate::checked::checked_string;

checked_string!(
    /// A container image reference that passed [`check`].
    ImageRef,
    |s| check(s).map(drop)
);

impl ImageRef {
    /// The commit its tag names, when the tag looks like a commit hash.
    pub fn commit(&self) -> Option<&str> {
        tag_of(self).and_then(commit_of_tag)
    }
}

const MAX_NAME: usize = 255;
const MAX_TAG: usize = 128;

/// Why `reference` is not an image reference, or `Ok` with its tag when it has one.
pub fn check(reference: &str) -> Result<Option<&str>, String> {
    let fail = |why: &str| Err(format!("{reference:?} is not an image reference: {why}"));
    let wrap = |why: String| format!("{reference:?} is not an image reference: {why}");
    if reference.is_empty() {
        return fail("it is empty");
    }
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (reference, None),
    };
    if let Some(digest) = digest
        && let Err(why) = check_digest(digest)
    {
        return fail(&why);
    }
    // A tag follows the last ':' unless that colon is a registry port (then a '/' follows it).
    let (name, tag) = match rest.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (rest, None),
    };
    if let Some(tag) = tag {
        let valid = !tag.is_empty()
            && tag.len() <= MAX_TAG
            && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid {
            return fail(
                "a tag is letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-')",
            );
        }
    }
    if name.len() > MAX_NAME {
        return fail("the name is longer than 255 characters");
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    let first = parts[0];
    if parts.len() > 1 && (first.contains('.') || first.contains(':') || first == "localhost") {
        check_registry(first).map_err(wrap)?;
        parts.remove(0);
    }
    for part in parts {
        check_path_component(part).map_err(wrap)?;
    }
    Ok(tag)
}

fn check_registry(registry: &str) -> Result<(), String> {
    let (host, port) = match registry.find(']') {
        Some(end) if registry.starts_with('[') => {
            let (host, after) = registry.split_at(end + 1);
            (host, if after.is_empty() { None } else { Some(after.strip_prefix(':').unwrap_or(after)) })
        }
        _ => match registry.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (registry, None),
        },
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.parse::<u16>().is_err())
    {
        return Err(format!("{port:?} is not a port"));
    }
    let host_ok = if let Some(ip) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        ip.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    if host_ok { Ok(()) } else { Err(format!("{host:?} is not a registry host")) }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn check_path_component(part: &str) -> Result<(), String> {
    let why = || {
        Err(format!(
            "{part:?}: a path component is lowercase letters and digits, joined by '.', '_', '__' or dashes"
        ))
    };
    let bytes = part.as_bytes();
    if bytes.is_empty() || !is_lower_alnum(bytes[0]) || !is_lower_alnum(bytes[bytes.len() - 1]) {
        return why();
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_lower_alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_lower_alnum(bytes[i]) {
            i += 1;
        }
        let sep = &part[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return why();
        }
    }
    Ok(())
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn check_digest(digest: &str) -> Result<(), String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err("a digest is algorithm:hex, e.g. sha256:…".into());
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.starts_with(|c: char| c.is_ascii_alphabetic())
        && algorithm.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '.'));
    if !algorithm_ok {
        return Err(format!("{algorithm:?} is not a digest algorithm"));
    }
    if hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("a digest's value is at least 32 hexadecimal digits".into());
    }
    Ok(())
}

/// The commit a tag names, when it looks like a (short or full) git commit hash.
pub fn commit_of_tag(tag: &str) -> Option<&str> {
    (tag.len() >= 7 && tag.len() <= 40 && tag.bytes().all(|b| b.is_ascii_hexdigit())).then_some(tag)
}

/// The tag of an image reference that passed [`check`], or `None`.
pub fn tag_of(reference: &str) -> Option<&str> {
    let rest = reference.split_once('@').map_or(reference, |(r, _)| r);
    rest.rsplit_once(':').map(|(_, t)| t).filter(|t| !t.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_registries_accept() {
        for ok in [
            "nginx",
            "nginx:1.27",
            "library/nginx:latest",
            "registry.example.com:5000/team/my-app:5d6e7f8",
            "localhost/app",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/myapp:1a2b3c4d",
            "ghcr.io/a__b/c.d-e:v1.2.3_rc",
            "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "[::1]:5000/app:1",
        ] {
            assert!(check(ok).is_ok(), "{ok}: {:?}", check(ok));
        }
        assert_eq!(check("registry:5000/myapp:5d6e7f8").unwrap(), Some("5d6e7f8"));
        assert_eq!(check("registry:5000/myapp").unwrap(), None);
    }

    #[test]
    fn refuses_with_a_reason() {
        for (bad, why) in [
            ("", "empty"),
            ("MyApp:1", "lowercase"),
            ("app:", "tag"),
            ("app:-x", "tag"),
            ("app with space", "lowercase"),
            ("reg.io:http/app", "port"),
            ("bad_host.io/app", "registry host"),
            ("app@sha256:abc", "32 hexadecimal"),
            ("a//b", "path component"),
            ("app-", "path component"),
        ] {
            let e = check(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn commits_in_tags() {
        assert_eq!(tag_of("registry:5000/myapp:5d6e7f8").and_then(commit_of_tag), Some("5d6e7f8"));
        assert_eq!(tag_of("registry:5000/myapp").and_then(commit_of_tag), None);
        assert_eq!(tag_of("myapp:latest").and_then(commit_of_tag), None);
    }
}
