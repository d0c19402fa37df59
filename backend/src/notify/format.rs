//! What each kind of target is sent: Slack's `text` message, a Teams adaptive card, Rollgate's
//! own JSON, or a CloudEvent (structured mode) whose data is a CDEvent. A webhook's body is
//! signed: `X-Rollgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, so
//! a receiver can check who sent it and refuse an old one replayed.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Event, EventKind};
use crate::clock::Timestamp;
use crate::config::{NotifyFormat, NotifyKind, NotifyTarget};

/// The CDEvents specification version the CloudEvents' data follows.
pub const CDEVENTS_VERSION: &str = "0.4.1";

/// The CDEvents type of an event; `change` is what a change did (its kind of action).
pub fn cdevent_type(kind: EventKind, change: Option<&str>) -> &'static str {
    match (kind, change) {
        (EventKind::ChangeExecuted, Some("rollback" | "roll back stage")) => {
            "dev.cdevents.service.rolledback.0.2.0"
        }
        (EventKind::ChangeExecuted, Some("deploy image")) => "dev.cdevents.service.upgraded.0.2.0",
        (EventKind::ChangeExecuted, Some("release" | "redeploy commit")) => {
            "dev.cdevents.service.deployed.0.2.0"
        }
        (EventKind::ChangeExecuted, _) => "dev.cdevents.change.merged.0.2.0",
        (EventKind::ApprovalWaiting, _) => "dev.cdevents.change.reviewed.0.2.0",
        (EventKind::ChangeFailed, _) => "dev.cdevents.change.abandoned.0.2.0",
        (EventKind::PipelineSucceeded | EventKind::PipelineFailed, _) => {
            "dev.cdevents.pipelinerun.finished.0.2.0"
        }
        (EventKind::RolloutDegraded, _) => "dev.cdevents.incident.detected.0.2.0",
        (EventKind::RolloutRecovered, _) => "dev.cdevents.incident.resolved.0.2.0",
        (EventKind::TokenExpiring, _) => "dev.rollgate.token.expiring.0.1.0",
        (EventKind::FreezeStarting, _) => "dev.rollgate.freeze.started.0.1.0",
        (EventKind::Test, _) => "dev.rollgate.test.0.1.0",
    }
}

/// A request ready to send: its body, content type and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub body: String,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
}

/// What `target` is sent for `event` (delivery `id`); `link` is the deep link made absolute,
/// `key` the webhook's signing key.
pub fn outgoing(
    target: &NotifyTarget,
    event: &Event,
    id: &str,
    link: Option<&str>,
    key: Option<&str>,
    now: Timestamp,
) -> Outgoing {
    let (body, content_type) = match (target.kind, target.format) {
        (NotifyKind::Slack, _) => (slack(event, link), "application/json"),
        (NotifyKind::Teams, _) => (teams(event, link), "application/json"),
        (NotifyKind::Webhook, NotifyFormat::Json) => (json_body(event, id, link), "application/json"),
        (NotifyKind::Webhook, NotifyFormat::Cloudevents) => {
            (cloudevent(event, id, link), "application/cloudevents+json")
        }
    };
    let body = body.to_string();
    let mut headers =
        vec![("X-Rollgate-Delivery", id.to_owned()), ("X-Rollgate-Event", event.kind.as_str().to_owned())];
    if let Some(key) = key {
        headers.push(("X-Rollgate-Signature", signature(key, now.millis() / 1000, &body)));
    }
    Outgoing { body, content_type, headers }
}

/// `t=<seconds>,v1=<hex HMAC-SHA256(key, "<seconds>.<body>")>`.
pub fn signature(key: &str, seconds: i64, body: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{seconds}.{body}").as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={seconds},v1={hex}")
}

fn lines(event: &Event) -> String {
    match &event.detail {
        Some(detail) => format!("{}\n{detail}", event.title),
        None => event.title.clone(),
    }
}

fn slack(event: &Event, link: Option<&str>) -> Value {
    // Slack's mrkdwn: `<url|text>` is a link; &, < and > are escaped in the text.
    let escape = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut text = format!("*[{}]* {}", escape(&event.environment), escape(&lines(event)));
    if let Some(link) = link {
        text.push_str(&format!("\n<{link}|Open in Rollgate>"));
    }
    json!({ "text": text })
}

fn teams(event: &Event, link: Option<&str>) -> Value {
    let mut body = vec![
        json!({ "type": "TextBlock", "text": format!("[{}] {}", event.environment, event.title), "weight": "Bolder", "wrap": true }),
    ];
    if let Some(detail) = &event.detail {
        body.push(json!({ "type": "TextBlock", "text": detail, "wrap": true }));
    }
    let actions: Vec<Value> = link
        .map(|l| json!({ "type": "Action.OpenUrl", "title": "Open in Rollgate", "url": l }))
        .into_iter()
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "type": "AdaptiveCard",
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "version": "1.4",
                "body": body,
                "actions": actions,
            },
        }],
    })
}

fn json_body(event: &Event, id: &str, link: Option<&str>) -> Value {
    json!({
        "id": id,
        "event": event.kind.as_str(),
        "key": event.key,
        "environment": event.environment,
        "subject": event.subject,
        "title": event.title,
        "detail": event.detail,
        "link": link,
        "time": Timestamp(event.at_ms).rfc3339(),
    })
}

fn cloudevent(event: &Event, id: &str, link: Option<&str>) -> Value {
    let source = format!("/rollgate/{}", event.environment);
    let time = Timestamp(event.at_ms).rfc3339();
    let outcome = match event.kind {
        EventKind::PipelineSucceeded => Some("success"),
        EventKind::PipelineFailed => Some("failure"),
        _ => None,
    };
    json!({
        "specversion": "1.0",
        "id": id,
        "source": source,
        "type": event.cdevent,
        "subject": event.subject,
        "time": time,
        "datacontenttype": "application/json",
        "data": {
            "context": {
                "specversion": CDEVENTS_VERSION,
                "id": id,
                "source": source,
                "type": event.cdevent,
                "timestamp": time,
            },
            "subject": {
                "id": event.subject,
                "source": source,
                "content": {
                    "environment": { "id": event.environment },
                    "title": event.title,
                    "detail": event.detail,
                    "url": link,
                    "outcome": outcome,
                    "rollgateEvent": event.kind.as_str(),
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretSource;

    fn target(kind: NotifyKind, format: NotifyFormat) -> NotifyTarget {
        NotifyTarget {
            name: "t".into(),
            kind,
            url: SecretSource::Env("UNUSED".into()),
            secret: None,
            format,
            events: Vec::new(),
        }
    }

    fn event() -> Event {
        Event {
            key: "change-executed:c1".into(),
            kind: EventKind::ChangeExecuted,
            environment: "production".into(),
            subject: "production/myapp-deployment".into(),
            title: "dana's change ran: roll back <myapp> & co".into(),
            detail: Some("approved by avery".into()),
            link: Some("/production/approvals#change-c1".into()),
            cdevent: cdevent_type(EventKind::ChangeExecuted, Some("rollback")).into(),
            at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn the_signature_is_an_hmac_of_the_time_and_body() {
        // RFC 4231 test case 2's key and data, read as "<t>.<body>".
        let signed = signature("Jefe", 0, "what do ya want for nothing?");
        assert!(signed.starts_with("t=0,v1="));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"0.what do ya want for nothing?");
        let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(signed, format!("t=0,v1={expected}"));
        assert_ne!(signature("Jefe", 1, "what do ya want for nothing?"), signed, "the time is signed too");
    }

    #[test]
    fn each_kind_of_target_gets_its_body() {
        let url = "https://rollgate.example.com/production/approvals#change-c1";
        let link = Some(url);
        let now = Timestamp(1_700_000_000_000);
        let slack = outgoing(&target(NotifyKind::Slack, NotifyFormat::Json), &event(), "d1", link, None, now);
        let text: Value = serde_json::from_str(&slack.body).unwrap();
        assert_eq!(
            text["text"],
            "*[production]* dana's change ran: roll back &lt;myapp&gt; &amp; co\napproved by avery\n<https://rollgate.example.com/production/approvals#change-c1|Open in Rollgate>"
        );
        assert!(slack.headers.iter().all(|(h, _)| *h != "X-Rollgate-Signature"));

        let teams = outgoing(&target(NotifyKind::Teams, NotifyFormat::Json), &event(), "d1", link, None, now);
        let card: Value = serde_json::from_str(&teams.body).unwrap();
        assert_eq!(card["attachments"][0]["content"]["actions"][0]["url"], url);

        let hook =
            outgoing(&target(NotifyKind::Webhook, NotifyFormat::Json), &event(), "d1", link, Some("k"), now);
        let signature_header = hook.headers.iter().find(|(h, _)| *h == "X-Rollgate-Signature").unwrap();
        assert_eq!(signature_header.1, signature("k", 1_700_000_000, &hook.body));
        let body: Value = serde_json::from_str(&hook.body).unwrap();
        assert_eq!((body["event"].as_str(), body["link"].as_str()), (Some("change-executed"), link));

        let ce = outgoing(
            &target(NotifyKind::Webhook, NotifyFormat::Cloudevents),
            &event(),
            "d1",
            link,
            Some("k"),
            now,
        );
        assert_eq!(ce.content_type, "application/cloudevents+json");
        let ce: Value = serde_json::from_str(&ce.body).unwrap();
        assert_eq!(ce["specversion"], "1.0");
        assert_eq!(ce["type"], "dev.cdevents.service.rolledback.0.2.0");
        assert_eq!(ce["data"]["context"]["type"], ce["type"]);
        assert_eq!(ce["data"]["subject"]["content"]["url"], url);
    }
}
