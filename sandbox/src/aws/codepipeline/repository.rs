//! The simulated source repositories: a branch's history of commits, each with its hash,
//! message, author and time. An execution's Source action takes the branch head (or the commit
//! a `sourceRevisions` override names).

use std::time::SystemTime;

use super::super::ids;

#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// The full 40-hex hash.
    pub id: String,
    pub message: String,
    pub author: String,
    pub date: SystemTime,
}

impl Commit {
    /// Whether this is a commit at all: an execution of an empty repository has none.
    pub fn exists(&self) -> bool {
        !self.id.is_empty()
    }

    /// The short hash images are tagged with (`myapp:e93d5f1`).
    pub fn short(&self) -> &str {
        &self.id[..7.min(self.id.len())]
    }
}

#[derive(Debug, Clone)]
pub struct Repository {
    pub branch: String,
    /// Oldest first; the last is the branch head.
    pub commits: Vec<Commit>,
}

impl Repository {
    pub fn head(&self) -> Option<&Commit> {
        self.commits.last()
    }

    /// A commit by its full hash or an unambiguous prefix of at least 7 characters.
    pub fn find(&self, revision: &str) -> Option<&Commit> {
        if revision.len() < 7 {
            return None;
        }
        let mut matching = self.commits.iter().filter(|c| c.id.starts_with(revision));
        let found = matching.next()?;
        matching.next().is_none().then_some(found)
    }

    pub fn commit(&mut self, message: &str, author: &str) -> Commit {
        let commit = Commit {
            id: ids::hex(&ids::random_bytes::<20>()),
            message: message.to_owned(),
            author: author.to_owned(),
            date: SystemTime::now(),
        };
        self.commits.push(commit.clone());
        commit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Revisions are found by full hash or an unambiguous prefix of 7 or more characters.
    #[test]
    fn find_by_prefix() {
        let mut repository = Repository { branch: "main".into(), commits: Vec::new() };
        let a = repository.commit("a", "Ann");
        let b = repository.commit("b", "Ben");
        assert_eq!(repository.head(), Some(&b));
        assert_eq!(repository.find(&a.id), Some(&a));
        assert_eq!(repository.find(&a.id[..7]), Some(&a));
        assert_eq!(repository.find(&a.id[..6]), None, "too short to be sure");
        assert_eq!(repository.find("zzzzzzz"), None);
        assert_eq!((a.id.len(), a.short().len()), (40, 7));
    }
}
