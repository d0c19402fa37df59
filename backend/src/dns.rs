//! DNS-1123 names (RFC 1123), the rule behind Kubernetes namespaces and object names and
//! behind environment names in URLs. Its own module at the bottom of the crate, because the
//! configuration checks names as well as the Kubernetes code, and the configuration sits
//! below it.

/// RFC 1123 label: lower-case letters, digits and `-`, at most 63, not starting or ending with `-`.
pub fn is_dns_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// RFC 1123 subdomain: labels joined by dots, 253 characters at most.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_subdomains() {
        for ok in ["staging", "prod-eu-1", "a", "0"] {
            assert!(is_dns_label(ok), "{ok:?}");
            assert!(is_dns_subdomain(ok), "{ok:?}");
        }
        for bad in ["", "-a", "a-", "Prod", "a_b", "a b", "é", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad:?} accepted as a label");
        }
        assert!(is_dns_subdomain("myapp.v2") && !is_dns_label("myapp.v2"));
        for bad in ["", ".a", "a.", "a..b", "a.-b", &"a".repeat(254), "../etc", "a/b", "a%2Fb"] {
            assert!(!is_dns_subdomain(bad), "{bad:?} accepted as a subdomain");
        }
    }
}
