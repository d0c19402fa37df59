//! Who in Rollgate did it. CodePipeline records the AWS identity that made a call — Rollgate's
//! own, for everyone — so the person's name rides along in the free text AWS keeps with the
//! call (a transition's reason, a stop's reason, an approval's comment) and is read back from
//! there: the CodePipeline console shows it too.

const OPEN: &str = " (by ";
const CLOSE: &str = " in Rollgate)";

/// `text` signed by `user` (the name keeps only what CodePipeline's reason pattern allows).
pub fn sign(text: &str, user: &str) -> String {
    let name: String =
        user.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '@' | '-')).collect();
    format!("{}{OPEN}{name}{CLOSE}", text.trim())
}

/// The text without its signature, and who signed it when Rollgate did.
pub fn read(text: &str) -> (&str, Option<&str>) {
    if let Some(rest) = text.strip_suffix(CLOSE)
        && let Some(at) = rest.rfind(OPEN)
    {
        let name = &rest[at + OPEN.len()..];
        if !name.is_empty() && !name.contains(' ') {
            return (&rest[..at], Some(name));
        }
    }
    (text, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_text_reads_back() {
        let signed = sign(" code freeze (sale) ", "ada");
        assert_eq!(signed, "code freeze (sale) (by ada in Rollgate)");
        assert_eq!(read(&signed), ("code freeze (sale)", Some("ada")));
        assert_eq!(read("set by hand in the console"), ("set by hand in the console", None));
        assert_eq!(sign("x", "jo_ann:1"), "x (by joann1 in Rollgate)");
    }
}
