//! Where a browser may be sent after a form: only a path on this site.
//!
//! `next` after sign-in and `return_to` after a form post come from the browser, so each is
//! parsed exactly as a browser would resolve it (the WHATWG URL standard, which the `url`
//! crate implements) against this site's origin, and accepted only when it stays on that
//! origin. Checking the raw string instead misses what browsers forgive: `/\t/evil.example`
//! (tabs and newlines are dropped, leaving `//evil.example`), `/\evil` (a backslash is a
//! slash), and their many cousins. What is sent back is the parsed path, re-serialized, so
//! no raw byte of the input reaches the `Location` header.

use url::Url;

/// Longest path accepted; longer ones are not links people follow.
const MAX: usize = 2048;

/// The path (with its query) `raw` leads to, when it stays on this site.
pub fn local_path(raw: &str) -> Option<String> {
    // A reserved name stands for "this site": only the origin is compared, never shown.
    let here = Url::parse("http://rollgate.invalid/").ok()?;
    if raw.is_empty() || raw.len() > MAX || !raw.starts_with('/') {
        return None;
    }
    let target = here.join(raw).ok()?;
    if target.origin() != here.origin() || !target.username().is_empty() || target.password().is_some() {
        return None;
    }
    let mut path = target.path().to_owned();
    if let Some(query) = target.query() {
        path.push('?');
        path.push_str(query);
    }
    // Still a path after the round trip (it always is for this base, but the header must be).
    (path.starts_with('/') && !path.starts_with("//") && path.len() <= MAX).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn paths_on_this_site_pass() {
        assert_eq!(local_path("/production/approvals?x=1").as_deref(), Some("/production/approvals?x=1"));
        assert_eq!(local_path("/").as_deref(), Some("/"));
        // Dot segments resolve as a browser resolves them, and stay on the site.
        assert_eq!(local_path("/a/../b").as_deref(), Some("/b"));
        // Encoded slashes are path characters, not a host: the browser asks this site for them.
        assert_eq!(local_path("/%2F%2Fevil.example").as_deref(), Some("/%2F%2Fevil.example"));
        assert_eq!(local_path("/%09/evil.example").as_deref(), Some("/%09/evil.example"));
    }

    /// What an attacker puts in a link, and what a browser would make of it.
    #[test]
    fn everything_else_is_refused() {
        for hostile in [
            "//evil.example/x",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "\t//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\\/evil.example",
            "https://evil.example",
            "http://rollgate.invalid@evil.example/",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "evil.example",
            "",
            " //evil.example",
        ] {
            assert_eq!(local_path(hostile), None, "{hostile:?}");
        }
    }

    /// Look-alike characters never become a host: they stay (percent-encoded) in the path.
    #[test]
    fn unicode_look_alikes_stay_paths() {
        for tricky in ["/／evil.example", "/\u{2215}\u{2215}evil.example", "/%E2%88%95evil"] {
            let path = local_path(tricky).expect(tricky);
            assert!(
                path.is_ascii() && path.starts_with('/') && !path.starts_with("//"),
                "{tricky:?} → {path}"
            );
        }
        assert_eq!(local_path("／／evil.example"), None, "a look-alike is not a leading slash");
    }
}
