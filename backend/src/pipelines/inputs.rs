//! What a release may carry besides "the latest commit": pipeline variables and a source
//! revision override, checked as CodePipeline checks them (names, lengths, a commit hash or an
//! image digest) when they come in, and against the pipeline's declaration (declared variables,
//! existing source actions) when the change is previewed.

use aws_sdk_codepipeline::types::{PipelineVariable, SourceRevisionOverride, SourceRevisionType};
use serde::{Deserialize, Serialize};

use super::ids::CommitSha;
use super::read::Declaration;

/// CodePipeline takes at most this many variables per execution.
const MAX_VARIABLES: usize = 50;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseInputs {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<Variable>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<Revision>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    pub name: String,
    pub value: String,
}

/// Which revision a source action releases instead of its branch head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    pub action: String,
    pub kind: RevisionKind,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevisionKind {
    /// A git commit (CodeCommit, GitHub, Bitbucket… sources).
    CommitId,
    /// An image digest (an Amazon ECR source).
    ImageDigest,
}

impl RevisionKind {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "commit-id" => Ok(Self::CommitId),
            "image-digest" => Ok(Self::ImageDigest),
            other => Err(format!("{other:?} is not a kind of revision (commit-id, image-digest)")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CommitId => "commit-id",
            Self::ImageDigest => "image-digest",
        }
    }
}

fn variable_name_ok(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'@' | b'-' | b'_'))
}

fn action_name_ok(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'@' | b'-' | b'_'))
}

fn digest_ok(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

impl ReleaseInputs {
    /// From a release form: `variables` one `NAME=value` per line (blank lines skipped), and an
    /// optional revision (`value` empty: none).
    pub fn parse(variables: &str, action: &str, kind: &str, value: &str) -> Result<Self, String> {
        let mut parsed: Vec<Variable> = Vec::new();
        for (i, line) in variables.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let Some((name, value)) = line.split_once('=') else {
                return Err(format!("Variables, line {}: write NAME=value", i + 1));
            };
            let name = name.trim();
            if !variable_name_ok(name) {
                return Err(format!(
                    "Variables, line {}: {name:?} is not a variable name (1 to 128 of A-Z a-z 0-9 @ - _)",
                    i + 1
                ));
            }
            if value.is_empty() || value.chars().count() > 1000 {
                return Err(format!("Variables: the value of {name} must be 1 to 1000 characters"));
            }
            if parsed.iter().any(|v| v.name == name) {
                return Err(format!("Variables: {name} is given twice"));
            }
            parsed.push(Variable { name: name.to_owned(), value: value.to_owned() });
        }
        if parsed.len() > MAX_VARIABLES {
            return Err(format!("Variables: at most {MAX_VARIABLES} per release"));
        }
        let value = value.trim();
        let revision = if value.is_empty() {
            None
        } else {
            let action = action.trim();
            if !action_name_ok(action) {
                return Err(format!("Source revision: {action:?} is not a source action name"));
            }
            let kind = RevisionKind::parse(kind).map_err(|e| format!("Source revision: {e}"))?;
            match kind {
                RevisionKind::CommitId => {
                    CommitSha::parse(value).map_err(|e| format!("Source revision: {e}"))?;
                }
                RevisionKind::ImageDigest if !digest_ok(value) => {
                    return Err(format!(
                        "Source revision: {:?} is not an image digest (sha256: and 64 lowercase hex digits)",
                        value.chars().take(80).collect::<String>()
                    ));
                }
                RevisionKind::ImageDigest => {}
            }
            Some(Revision { action: action.to_owned(), kind, value: value.to_owned() })
        };
        Ok(Self { variables: parsed, revision })
    }

    pub fn is_empty(&self) -> bool {
        self.variables.is_empty() && self.revision.is_none()
    }

    /// " with RELEASE_NOTE=\"hotfix\", at commit 4d1c9a7 (Source)".
    pub fn describe(&self) -> String {
        let mut out = String::new();
        if !self.variables.is_empty() {
            let set: Vec<String> =
                self.variables.iter().map(|v| format!("{}={:?}", v.name, v.value)).collect();
            out.push_str(&format!(" with {}", set.join(", ")));
        }
        if let Some(r) = &self.revision {
            let what = match r.kind {
                RevisionKind::CommitId => "commit",
                RevisionKind::ImageDigest => "image",
            };
            out.push_str(&format!(" at {what} {} ({})", r.value, r.action));
        }
        out
    }

    /// The commit it releases, when it names one.
    pub fn commit(&self) -> Option<&str> {
        self.revision.as_ref().filter(|r| r.kind == RevisionKind::CommitId).map(|r| r.value.as_str())
    }

    /// Refuses, in words, what the pipeline would refuse: a variable it does not declare, a
    /// source action it does not have.
    pub fn check(&self, pipeline: &str, declared: &Declaration) -> Result<(), String> {
        if let Some(v) = self.variables.iter().find(|v| !declared.variables.iter().any(|d| d.name == v.name))
        {
            let names: Vec<&str> = declared.variables.iter().map(|d| d.name.as_str()).collect();
            return Err(if names.is_empty() {
                format!("{pipeline} declares no variables, so {} cannot be set", v.name)
            } else {
                format!("{pipeline} declares no variable {}; it declares {}", v.name, names.join(", "))
            });
        }
        if let Some(r) = &self.revision
            && !declared.source_actions.contains(&r.action)
        {
            return Err(format!(
                "{pipeline} has no source action {}; its source actions are {}",
                r.action,
                declared.source_actions.join(", ")
            ));
        }
        Ok(())
    }

    pub fn sdk_variables(&self) -> Option<Vec<PipelineVariable>> {
        let vars: Vec<PipelineVariable> = self
            .variables
            .iter()
            .filter_map(|v| PipelineVariable::builder().name(&v.name).value(&v.value).build().ok())
            .collect();
        (!vars.is_empty()).then_some(vars)
    }

    pub fn sdk_revision(&self) -> Option<SourceRevisionOverride> {
        let r = self.revision.as_ref()?;
        let kind = match r.kind {
            RevisionKind::CommitId => SourceRevisionType::CommitId,
            RevisionKind::ImageDigest => SourceRevisionType::ImageDigest,
        };
        SourceRevisionOverride::builder()
            .action_name(&r.action)
            .revision_type(kind)
            .revision_value(&r.value)
            .build()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipelines::read::DeclaredVariable;

    #[test]
    fn forms_are_checked_as_aws_checks() {
        let ok =
            ReleaseInputs::parse("RELEASE_NOTE=hot fix = now\n\n", "Source", "commit-id", "4d1c9a7").unwrap();
        assert_eq!(ok.variables, [Variable { name: "RELEASE_NOTE".into(), value: "hot fix = now".into() }]);
        assert_eq!(ok.commit(), Some("4d1c9a7"));
        assert_eq!(ok.describe(), " with RELEASE_NOTE=\"hot fix = now\" at commit 4d1c9a7 (Source)");
        let digest = format!("sha256:{}", "ab".repeat(32));
        let image = ReleaseInputs::parse("", "Image", "image-digest", &digest).unwrap();
        assert_eq!(image.commit(), None);
        assert!(ReleaseInputs::parse("", "", "commit-id", "").unwrap().is_empty());
        let refused = [
            ("NOTE", "", "commit-id", "", "write NAME=value"),
            ("bad name=x", "", "commit-id", "", "not a variable name"),
            ("A=", "", "commit-id", "", "1 to 1000"),
            ("A=1\nA=2", "", "commit-id", "", "given twice"),
            ("", "Source", "commit-id", "xyz", "not a commit hash"),
            ("", "Source", "image-digest", "sha256:AB", "not an image digest"),
            ("", "Source", "tag", "v1", "not a kind of revision"),
            ("", "no spaces", "commit-id", "4d1c9a7", "not a source action name"),
        ];
        for (vars, action, kind, value, words) in refused {
            let e = ReleaseInputs::parse(vars, action, kind, value).unwrap_err();
            assert!(e.contains(words), "{e} should say {words}");
        }
        let many: String = (0..51).map(|i| format!("V{i}=x\n")).collect();
        assert!(ReleaseInputs::parse(&many, "", "commit-id", "").unwrap_err().contains("at most 50"));
    }

    #[test]
    fn checked_against_the_declaration() {
        let declared = Declaration {
            mode: "SUPERSEDED".into(),
            variables: vec![DeclaredVariable {
                name: "RELEASE_NOTE".into(),
                default: None,
                description: None,
            }],
            source_actions: vec!["Source".into()],
            stages: vec![],
        };
        let inputs =
            |vars: &str, action: &str| ReleaseInputs::parse(vars, action, "commit-id", "4d1c9a7").unwrap();
        assert!(inputs("RELEASE_NOTE=x", "Source").check("p", &declared).is_ok());
        let e = inputs("OTHER=x", "Source").check("p", &declared).unwrap_err();
        assert_eq!(e, "p declares no variable OTHER; it declares RELEASE_NOTE");
        let e = inputs("", "Checkout").check("p", &declared).unwrap_err();
        assert_eq!(e, "p has no source action Checkout; its source actions are Source");
    }
}
