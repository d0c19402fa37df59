//! The sandbox's container registry: which images exist. A pod whose image is not here fails
//! to pull (`ErrImagePull`, then `ImagePullBackOff`), as it would against a real registry.
//! Builds (the simulated CodePipeline) push `<app>:<commit hash>` images into it.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

#[derive(Clone, Default)]
pub struct Registry {
    images: Arc<RwLock<HashSet<(String, String)>>>,
}

/// Public images every sandbox has.
const SEEDED: [(&str, &str); 8] = [
    ("busybox", "latest"),
    ("busybox", "1.36"),
    ("busybox", "1.37"),
    ("nginx", "latest"),
    ("nginx", "1.25"),
    ("nginx", "1.27"),
    ("redis", "7"),
    ("postgres", "16"),
];

impl Registry {
    pub fn seeded() -> Self {
        let registry = Self::default();
        for (repository, tag) in SEEDED {
            registry.push(repository, tag);
        }
        registry
    }

    pub fn push(&self, repository: &str, tag: &str) {
        self.images
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert((repository.to_owned(), tag.to_owned()));
    }

    /// Whether an image reference (`repo`, `repo:tag`, `host/repo:tag`, `repo@sha256:...`)
    /// can be pulled. Registry hosts and `library/` are ignored: the sandbox has one registry.
    pub fn has(&self, reference: &str) -> bool {
        let (name, tag) = split_reference(reference);
        let images = self.images.read().unwrap_or_else(|p| p.into_inner());
        match tag {
            Tag::Named(tag) => images.contains(&(name.to_owned(), tag.to_owned())),
            Tag::Digest => images.iter().any(|(repository, _)| repository == name),
        }
    }
}

/// The registry written to and read back from a file: its `repository:tag` list.
impl Registry {
    pub fn snapshot(&self) -> Vec<String> {
        let images = self.images.read().unwrap_or_else(|p| p.into_inner());
        let mut list: Vec<String> =
            images.iter().map(|(repository, tag)| format!("{repository}:{tag}")).collect();
        list.sort();
        list
    }

    pub fn image_count(&self) -> usize {
        self.images.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn restore(images: &[String]) -> Self {
        let registry = Self::default();
        for image in images {
            if let Some((repository, tag)) = image.rsplit_once(':') {
                registry.push(repository, tag);
            }
        }
        registry
    }
}

enum Tag<'a> {
    Named(&'a str),
    Digest,
}

fn split_reference(reference: &str) -> (&str, Tag<'_>) {
    let (name, tag) = if let Some((name, _digest)) = reference.split_once('@') {
        (name, Tag::Digest)
    } else {
        // A ':' after the last '/' separates the tag; one before it is a registry port.
        let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
        match reference[last_slash..].rfind(':') {
            Some(i) => (&reference[..last_slash + i], Tag::Named(&reference[last_slash + i + 1..])),
            None => (reference, Tag::Named("latest")),
        }
    };
    // docker.io/library/busybox and busybox are the same image.
    let mut path = name;
    if let Some((host, rest)) = path.split_once('/')
        && (host.contains('.') || host.contains(':') || host == "localhost")
    {
        path = rest;
    }
    (path.strip_prefix("library/").unwrap_or(path), tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let registry = Registry::seeded();
        registry.push("myapp", "3f2a9c1");
        for ok in [
            "busybox",
            "busybox:1.36",
            "docker.io/library/busybox:latest",
            "myapp:3f2a9c1",
            "localhost:5000/nginx:1.27",
            "nginx@sha256:abcd",
        ] {
            assert!(registry.has(ok), "{ok}");
        }
        for missing in ["busybox:0.1", "myapp", "myapp:deadbee", "ghost:1"] {
            assert!(!registry.has(missing), "{missing}");
        }
    }
}
