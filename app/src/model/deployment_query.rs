//! What the Deployments page asks for: a text, a health, an order. The server applies it to
//! the first rows it renders (from the page's address, so a link keeps the view); the browser
//! applies the same to every row once it holds them all.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::{DeploymentRow, Health};

/// How many rows the server renders into the page: a tall screen's worth. The browser gets
/// the rest from the live stream and renders only those on screen.
pub const FIRST_ROWS: usize = 30;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentQuery {
    /// Part of a name, namespace or image, any case.
    pub text: String,
    pub health: HealthFilter,
    pub order: Order,
}

/// One choice of a select: its value in the address and its words on screen.
pub trait Choice: Copy + Default + PartialEq + 'static {
    const ALL: &'static [Self];
    fn param(self) -> &'static str;
    fn label(self) -> &'static str;

    /// An unknown value (an address edited by hand) is the default: a view, not a change, so
    /// nothing is lost by showing everything.
    fn parse(param: &str) -> Self {
        Self::ALL.iter().copied().find(|c| c.param() == param).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum HealthFilter {
    #[default]
    All,
    Degraded,
    Progressing,
    Paused,
    Complete,
}

impl Choice for HealthFilter {
    const ALL: &'static [Self] =
        &[Self::All, Self::Degraded, Self::Progressing, Self::Paused, Self::Complete];

    fn param(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Degraded => "degraded",
            Self::Progressing => "progressing",
            Self::Paused => "paused",
            Self::Complete => "complete",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::All => "All",
            Self::Degraded => "Degraded",
            Self::Progressing => "Progressing",
            Self::Paused => "Paused",
            Self::Complete => "Complete",
        }
    }
}

impl HealthFilter {
    fn keeps(self, health: &Health) -> bool {
        matches!(
            (self, health),
            (Self::All, _)
                | (Self::Degraded, Health::Degraded(_))
                | (Self::Progressing, Health::Progressing)
                | (Self::Paused, Health::Paused)
                | (Self::Complete, Health::Complete)
        )
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Order {
    #[default]
    Name,
    Namespace,
    /// Worst first.
    Health,
    /// Newest first.
    Changed,
}

impl Choice for Order {
    const ALL: &'static [Self] = &[Self::Name, Self::Namespace, Self::Health, Self::Changed];

    fn param(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Namespace => "namespace",
            Self::Health => "health",
            Self::Changed => "changed",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Name => "Name",
            Self::Namespace => "Namespace",
            Self::Health => "Health (worst first)",
            Self::Changed => "Last change (newest first)",
        }
    }
}

impl DeploymentQuery {
    /// From the page's address (`?q=…&health=…&sort=…`).
    pub fn from_params(text: Option<&str>, health: Option<&str>, order: Option<&str>) -> Self {
        Self {
            text: text.unwrap_or_default().trim().to_owned(),
            health: health.map(HealthFilter::parse).unwrap_or_default(),
            order: order.map(Order::parse).unwrap_or_default(),
        }
    }

    /// The address parameters that differ from the defaults, for the page's address.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let mut params = Vec::new();
        if !self.text.is_empty() {
            params.push(("q", self.text.clone()));
        }
        if self.health != HealthFilter::default() {
            params.push(("health", self.health.param().to_owned()));
        }
        if self.order != Order::default() {
            params.push(("sort", self.order.param().to_owned()));
        }
        params
    }

    /// The rows it keeps, in its order.
    pub fn select<'a, R: Listed>(&self, rows: impl IntoIterator<Item = &'a R>) -> Vec<&'a R> {
        // Names and namespaces are lowercase ASCII (Kubernetes names) and image references
        // ASCII: ASCII case folding is exact here, and keeps Unicode's tables out of the wasm.
        let needle = self.text.trim().to_ascii_lowercase();
        let mut kept: Vec<&R> = rows
            .into_iter()
            .filter(|r| self.health.keeps(r.health()) && (needle.is_empty() || contains(*r, &needle)))
            .collect();
        kept.sort_unstable_by(|a, b| self.compare(*a, *b));
        kept
    }

    fn compare(&self, a: &impl Listed, b: &impl Listed) -> Ordering {
        let by_name = || a.name().cmp(b.name()).then_with(|| a.namespace().cmp(b.namespace()));
        match self.order {
            Order::Name => by_name(),
            Order::Namespace => a.namespace().cmp(b.namespace()).then_with(|| a.name().cmp(b.name())),
            Order::Health => severity(a.health()).cmp(&severity(b.health())).then_with(by_name),
            // Never changed sorts last.
            Order::Changed => b.last_change_ms().cmp(&a.last_change_ms()).then_with(by_name),
        }
    }
}

/// What a query reads of a row: the server's [`DeploymentRow`], or what the browser's table
/// holds of one.
pub trait Listed {
    fn name(&self) -> &str;
    fn namespace(&self) -> &str;
    fn images(&self) -> impl Iterator<Item = &str>;
    fn health(&self) -> &Health;
    fn last_change_ms(&self) -> Option<i64>;
}

impl Listed for DeploymentRow {
    fn name(&self) -> &str {
        &self.name
    }
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn images(&self) -> impl Iterator<Item = &str> {
        self.images.iter().map(|i| i.image.as_str())
    }
    fn health(&self) -> &Health {
        &self.health
    }
    fn last_change_ms(&self) -> Option<i64> {
        self.last_change_ms
    }
}

fn contains(r: &impl Listed, needle: &str) -> bool {
    let has = |s: &str| s.to_ascii_lowercase().contains(needle);
    has(r.name()) || has(r.namespace()) || r.images().any(has)
}

fn severity(h: &Health) -> u8 {
    match h {
        Health::Degraded(_) => 0,
        Health::Progressing => 1,
        Health::Paused => 2,
        Health::Complete => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ImageView;

    fn row(namespace: &str, name: &str, health: Health, changed: Option<i64>) -> DeploymentRow {
        DeploymentRow {
            namespace: namespace.into(),
            name: name.into(),
            images: vec![ImageView {
                container: "web".into(),
                image: format!("registry.example/{name}:2f0c8d1"),
                commit: Some("2f0c8d1".into()),
            }],
            desired: 1,
            current: 1,
            updated: 1,
            ready: 1,
            available: 1,
            health,
            generation: 1,
            revision: None,
            strategy: "RollingUpdate".into(),
            last_change_ms: changed,
            changed_by: None,
        }
    }

    fn rows() -> Vec<DeploymentRow> {
        vec![
            row("b", "web", Health::Complete, Some(10)),
            row("a", "worker", Health::Degraded("CrashLoopBackOff".into()), None),
            row("a", "api", Health::Progressing, Some(30)),
            row("c", "api", Health::Complete, Some(20)),
        ]
    }

    fn keys(query: &DeploymentQuery, rows: &[DeploymentRow]) -> Vec<String> {
        query.select(rows).into_iter().map(DeploymentRow::key).collect()
    }

    #[test]
    fn each_order_sorts_and_ties_break_by_name_then_namespace() {
        let rows = rows();
        let by = |order| keys(&DeploymentQuery { order, ..Default::default() }, &rows);
        assert_eq!(by(Order::Name), ["a/api", "c/api", "b/web", "a/worker"]);
        assert_eq!(by(Order::Namespace), ["a/api", "a/worker", "b/web", "c/api"]);
        assert_eq!(by(Order::Health), ["a/worker", "a/api", "c/api", "b/web"]);
        assert_eq!(by(Order::Changed), ["a/api", "c/api", "b/web", "a/worker"]);
    }

    #[test]
    fn text_matches_name_namespace_or_image_in_any_case_and_health_narrows() {
        let rows = rows();
        let text = |t: &str| keys(&DeploymentQuery::from_params(Some(t), None, None), &rows);
        assert_eq!(text("API"), ["a/api", "c/api"]);
        assert_eq!(text(" b "), ["b/web"], "the namespace, the text trimmed");
        let typed = DeploymentQuery { text: "worker ".into(), ..Default::default() };
        assert_eq!(keys(&typed, &rows), ["a/worker"], "as typed, with a space after");
        assert_eq!(text("example/worker"), ["a/worker"], "the image");
        assert!(text("nothing-like-it").is_empty());
        let degraded = DeploymentQuery::from_params(None, Some("degraded"), None);
        assert_eq!(keys(&degraded, &rows), ["a/worker"]);
    }

    #[test]
    fn unknown_params_are_the_defaults_and_defaults_stay_out_of_the_address() {
        let q = DeploymentQuery::from_params(Some(""), Some("sick"), Some("size"));
        assert_eq!(q, DeploymentQuery::default());
        assert!(q.params().is_empty());
        let q = DeploymentQuery::from_params(Some("pay"), Some("paused"), Some("changed"));
        assert_eq!(
            q.params(),
            [("q", "pay".to_owned()), ("health", "paused".to_owned()), ("sort", "changed".to_owned())]
        );
        for order in Order::ALL {
            assert_eq!(Order::parse(order.param()), *order);
        }
        for health in HealthFilter::ALL {
            assert_eq!(HealthFilter::parse(health.param()), *health);
        }
    }
}
