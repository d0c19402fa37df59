//! What identifies things in CodePipeline, checked once where it comes in: an execution id
//! (CodePipeline writes UUIDs) and a commit hash (7 to 40 hexadecimal digits, as git prints
//! them short or long). Every page, control and change uses these, so one rule holds.

use crate::checked::checked_string;

checked_string!(
    /// A pipeline execution's id.
    ExecutionId,
    check_execution_id
);
checked_string!(
    /// A git commit hash, short or full.
    CommitSha,
    check_commit
);

fn check_execution_id(id: &str) -> Result<(), String> {
    let groups: Vec<&str> = id.split('-').collect();
    let uuid = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()));
    if uuid { Ok(()) } else { Err(format!("{:?} is not an execution id", shown(id))) }
}

fn check_commit(commit: &str) -> Result<(), String> {
    let hex = (7..=40).contains(&commit.len()) && commit.bytes().all(|b| b.is_ascii_hexdigit());
    if hex { Ok(()) } else { Err(format!("{:?} is not a commit hash", shown(commit))) }
}

/// What a person sent, kept short for a message.
fn shown(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_ids_are_uuids() {
        assert!(ExecutionId::parse("0e0e0e0e-0000-4000-8000-000000000000").is_ok());
        assert!(ExecutionId::parse("0E0E0E0E-0000-4000-8000-00000000000A").is_ok());
        for bad in ["", "0e0e0e0e", "0e0e0e0e-0000-4000-8000-00000000000g", "../../x", &"a".repeat(64)] {
            assert!(ExecutionId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn commits_are_hex_of_git_lengths() {
        assert!(CommitSha::parse("5d6e7f8").is_ok());
        assert!(CommitSha::parse(&"a".repeat(40)).is_ok());
        for bad in ["5d6e7f", "xyz1234", &"a".repeat(41)] {
            assert!(CommitSha::parse(bad).is_err(), "{bad:?}");
        }
        let stored: CommitSha = serde_json::from_str("\"5d6e7f8\"").unwrap();
        assert_eq!(stored.as_str(), "5d6e7f8");
        assert!(serde_json::from_str::<CommitSha>("\"nope\"").is_err(), "stored JSON is checked too");
    }
}
