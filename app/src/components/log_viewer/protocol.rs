//! The log stream's address and its events' plain-text payloads (the server's `log_stream`
//! documents them): no JSON, so the browser needs no parser for it.

/// Lines asked for when the reader has not chosen: enough to read, quick to load.
pub const DEFAULT_TAIL: &str = "1000";

/// The "since" choices: (query value, label).
pub const SINCE_CHOICES: [(&str, &str); 7] = [
    ("", "the start"),
    ("5m", "5 minutes ago"),
    ("15m", "15 minutes ago"),
    ("1h", "1 hour ago"),
    ("6h", "6 hours ago"),
    ("1d", "1 day ago"),
    ("7d", "7 days ago"),
];

/// Which deployment's logs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Target {
    pub env: String,
    pub namespace: String,
    pub deployment: String,
}

/// What the reader chose; changing it starts a fresh stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selection {
    /// Empty: every pod, interleaved.
    pub pod: String,
    /// Empty: the pod's first container.
    pub container: String,
    pub previous: bool,
    pub tail: String,
    pub since: String,
}

impl Target {
    /// The stream's URL. `resume_after`: seconds since the last line arrived, when picking up
    /// after a lost connection (the tail and since chosen no longer apply then).
    pub fn url(&self, s: &Selection, resume_after: Option<u64>) -> String {
        let since = resume_after.map(|seconds| (seconds + 2).to_string());
        self.with(format!("/live/{}/logs?timestamps=true", self.path()), s, since)
    }

    /// Where Download reads the log from: the cluster, through the server, every line whole
    /// (the viewer cuts lines past 1 MiB).
    pub fn download_url(&self, s: &Selection, timestamps: bool) -> String {
        self.with(format!("/{}/logs/download?timestamps={timestamps}", self.path()), s, None)
    }

    /// `{env}/deployments/{namespace}/{deployment}`, encoded.
    fn path(&self) -> String {
        format!("{}/deployments/{}/{}", encode(&self.env), encode(&self.namespace), encode(&self.deployment))
    }

    /// `url` with the selection's query; `since_instead` replaces its tail and since.
    fn with(&self, mut url: String, s: &Selection, since_instead: Option<String>) -> String {
        let mut add = |key: &str, value: &str| {
            if !value.is_empty() {
                url.push_str(&format!("&{key}={}", encode(value)));
            }
        };
        add("pod", &s.pod);
        add("container", &s.container);
        if s.previous {
            add("previous", "true");
        }
        match since_instead {
            Some(since) => add("since", &since),
            None => {
                add("tail", s.tail.trim());
                add("since", &s.since);
            }
        }
        url
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A pod as the `pods` event lists it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PodInfo {
    pub name: String,
    /// Its phase, or why it is not running well (CrashLoopBackOff).
    pub reason: String,
    pub restarts: String,
    pub containers: Vec<String>,
    pub init: Vec<String>,
}

impl PodInfo {
    pub fn label(&self) -> String {
        let mut label = self.name.clone();
        if !self.reason.is_empty() {
            label.push_str(&format!(" · {}", self.reason));
        }
        if !self.restarts.is_empty() && self.restarts != "0" {
            label.push_str(&format!(" · {} restarts", self.restarts));
        }
        label
    }
}

/// `name\treason\trestarts\tcontainers\tinit` per line.
pub fn parse_pods(data: &str) -> Vec<PodInfo> {
    let list = |s: Option<&str>| -> Vec<String> {
        s.unwrap_or("").split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect()
    };
    data.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut f = line.split('\t');
            PodInfo {
                name: f.next().unwrap_or("").to_owned(),
                reason: f.next().unwrap_or("").to_owned(),
                restarts: f.next().unwrap_or("").to_owned(),
                containers: list(f.next()),
                init: list(f.next()),
            }
        })
        .collect()
}

/// `pod\tlevel\tmessage`.
pub fn parse_notice(data: &str) -> (&str, bool, &str) {
    let mut f = data.splitn(3, '\t');
    let pod = f.next().unwrap_or("");
    let error = f.next() == Some("error");
    (pod, error, f.next().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_payloads() {
        let t = Target { env: "staging".into(), namespace: "staging".into(), deployment: "web".into() };
        let s = Selection { pod: "web-1".into(), previous: true, tail: "50".into(), ..Selection::default() };
        assert_eq!(
            t.url(&s, None),
            "/live/staging/deployments/staging/web/logs?timestamps=true&pod=web-1&previous=true&tail=50"
        );
        assert_eq!(
            t.url(&s, Some(3)),
            "/live/staging/deployments/staging/web/logs?timestamps=true&pod=web-1&previous=true&since=5"
        );
        assert_eq!(
            t.download_url(&s, false),
            "/staging/deployments/staging/web/logs/download?timestamps=false&pod=web-1&previous=true&tail=50"
        );
        let pods = parse_pods("a\tRunning\t0\tapp,side\tinit\nb\tCrashLoopBackOff\t3\tapp\t");
        assert_eq!(pods[1].label(), "b · CrashLoopBackOff · 3 restarts");
        assert_eq!((pods[0].containers.len(), pods[0].init.len(), pods[1].init.len()), (2, 1, 0));
        assert_eq!(parse_notice("a\terror\tPod a is gone."), ("a", true, "Pod a is gone."));
    }
}
