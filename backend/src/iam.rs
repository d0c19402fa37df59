//! The IAM policy the configuration needs (`rollgate iam-policy`): exactly the AWS operations
//! Rollgate sends, on the configured pipelines, SSM prefixes and KMS keys only.
//!
//! Resources are written as IAM's service authorization reference names them: a pipeline's
//! ARN for its reads and controls; `<pipeline>/<stage>` for a transition and
//! `<pipeline>/<stage>/<action>` for an approval, granted as `<pipeline>/*` because the
//! configuration does not name stages; `parameter/<path>` for parameters; the events queue's
//! ARN (`GetQueueUrl` only when the configuration names the queue rather than giving its URL).
//! `ssm:DescribeParameters` takes no resource but `*`: Rollgate filters it by path, and it
//! returns metadata, never values. The server's tests run every feature against the sandbox,
//! which records each operation and resource it is asked for, and check the policy both ways:
//! it allows each of them, and each statement's action on each resource was used.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde_json::{Value, json};

use crate::config::{Config, Environment};

/// Reading pipelines, their executions, their actions' runs and their condition rules' runs
/// (pages and pollers).
pub const PIPELINE_READS: [&str; 6] = [
    "codepipeline:GetPipeline",
    "codepipeline:GetPipelineExecution",
    "codepipeline:GetPipelineState",
    "codepipeline:ListActionExecutions",
    "codepipeline:ListPipelineExecutions",
    "codepipeline:ListRuleExecutions",
];

/// The change desk's pipeline changes.
pub const PIPELINE_CONTROLS: [&str; 4] = [
    "codepipeline:RetryStageExecution",
    "codepipeline:RollbackStage",
    "codepipeline:StartPipelineExecution",
    "codepipeline:StopPipelineExecution",
];

/// Freezing a transition, deciding a manual approval, overriding a stage condition.
pub const STAGE_CONTROLS: [&str; 4] = [
    "codepipeline:DisableStageTransition",
    "codepipeline:EnableStageTransition",
    "codepipeline:OverrideStageCondition",
    "codepipeline:PutApprovalResult",
];

/// The Tokens page's list and each parameter's metadata (by name filter).
pub const PARAMETER_LISTING: &str = "ssm:DescribeParameters";

/// A parameter's history, tags and (revealed, or the cluster token) value.
pub const PARAMETER_READS: [&str; 3] =
    ["ssm:GetParameter", "ssm:GetParameterHistory", "ssm:ListTagsForResource"];

/// Creating (with tags), new versions, labels, the expiry tag of a rotated token, deleting.
pub const PARAMETER_WRITES: [&str; 4] =
    ["ssm:AddTagsToResource", "ssm:DeleteParameter", "ssm:LabelParameterVersion", "ssm:PutParameter"];

/// What Parameter Store asks of a customer-managed key for its caller: decrypting a read,
/// encrypting a Standard parameter, a data key for an Advanced one.
pub const KEY_USE: [&str; 3] = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"];

/// Reading CodePipeline's events from the queue an EventBridge rule delivers them to
/// (`DeleteMessageBatch` is authorized as `DeleteMessage`).
pub const EVENT_READS: [&str; 2] = ["sqs:DeleteMessage", "sqs:ReceiveMessage"];

/// Finding that queue's URL when the configuration names it.
pub const EVENT_QUEUE_LOOKUP: &str = "sqs:GetQueueUrl";

/// An AWS account id: twelve digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountId(String);

impl FromStr for AccountId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!("{s:?} is not an AWS account id (twelve digits)"))
        }
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The policy document for every configured environment. Without `account` the ARNs name
/// any account (`*`), and an environment without a region any region.
pub fn policy(config: &Config, account: Option<&AccountId>) -> Value {
    let account = account.map_or("*", |a| a.0.as_str());
    let mut pipelines = BTreeSet::new();
    let mut stages = BTreeSet::new();
    let mut prefixes = BTreeSet::new();
    let mut tokens = BTreeSet::new();
    let mut keys = BTreeSet::new();
    let mut queues = BTreeSet::new();
    let mut named_queues = BTreeSet::new();
    for env in &config.environments {
        let arn = Arn::new(env, account);
        if let Some(queue) = &env.aws.events_queue {
            match queue_arn(queue) {
                Some(by_url) => queues.insert(by_url),
                None => {
                    named_queues.insert(arn.of("sqs", queue));
                    queues.insert(arn.of("sqs", queue))
                }
            };
        }
        for pipeline in &env.aws.pipelines {
            pipelines.insert(arn.of("codepipeline", pipeline));
            stages.insert(arn.of("codepipeline", &format!("{pipeline}/*")));
        }
        for prefix in &env.ssm_prefixes {
            let path = prefix.trim_matches('/');
            let under =
                if path.is_empty() { "parameter/*".to_owned() } else { format!("parameter/{path}/*") };
            prefixes.insert(arn.of("ssm", &under));
        }
        // Under a prefix the token is covered there (and only there may it be rotated).
        if let Some(token) = env.cluster.token_parameter()
            && !crate::tokens::rules::under_prefixes(token, &env.ssm_prefixes)
        {
            tokens.insert(arn.of("ssm", &format!("parameter/{}", token.trim_start_matches('/'))));
        }
        keys.extend(env.aws.kms_keys.iter().cloned());
    }
    let listing = if prefixes.is_empty() && tokens.is_empty() {
        BTreeSet::new()
    } else {
        BTreeSet::from(["*".to_owned()])
    };
    let parameter_actions: Vec<&str> = PARAMETER_READS.iter().chain(&PARAMETER_WRITES).copied().collect();
    let statements: Vec<Value> = [
        statement("ReadPipelines", &PIPELINE_READS, &pipelines),
        statement("ControlPipelines", &PIPELINE_CONTROLS, &pipelines),
        statement("ControlStages", &STAGE_CONTROLS, &stages),
        statement("ListParameters", &[PARAMETER_LISTING], &listing),
        statement("ParametersUnderPrefixes", &parameter_actions, &prefixes),
        statement("ReadClusterTokens", &PARAMETER_READS, &tokens),
        statement("UseParameterKeys", &KEY_USE, &keys),
        statement("ReadPipelineEvents", &EVENT_READS, &queues),
        statement("FindPipelineEventQueues", &[EVENT_QUEUE_LOOKUP], &named_queues),
    ]
    .into_iter()
    .flatten()
    .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// For each events queue: the EventBridge rule that sends the queue's pipelines' state changes
/// there, and the queue policy that lets that rule (and nothing else) send to it.
pub fn event_delivery(config: &Config, account: Option<&AccountId>) -> Value {
    let account_id = account.map_or("*", |a| a.0.as_str());
    // Queue ARN → (the rule's region, the pipelines whose events it takes).
    let mut queues: std::collections::BTreeMap<String, (String, BTreeSet<String>)> = Default::default();
    for env in &config.environments {
        let Some(queue) = &env.aws.events_queue else { continue };
        let arn = queue_arn(queue).unwrap_or_else(|| Arn::new(env, account_id).of("sqs", queue));
        let region = arn.split(':').nth(3).unwrap_or("*").to_owned();
        queues
            .entry(arn)
            .or_insert_with(|| (region, BTreeSet::new()))
            .1
            .extend(env.aws.pipelines.iter().cloned());
    }
    let deliveries: Vec<Value> = queues
        .into_iter()
        .map(|(queue, (region, pipelines))| {
            let name = queue.rsplit(':').next().unwrap_or("rollgate-pipeline-events").to_owned();
            let rule = format!("arn:{}:events:{region}:{account_id}:rule/{name}", partition(&region));
            json!({
                "queue": queue,
                "rule": {
                    "Name": name,
                    "EventPattern": {
                        "source": ["aws.codepipeline"],
                        "detail-type": crate::pipelines::events::DETAIL_TYPES,
                        "detail": { "pipeline": pipelines },
                    },
                },
                "queuePolicy": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "EventBridgeDeliversPipelineEvents",
                        "Effect": "Allow",
                        "Principal": { "Service": "events.amazonaws.com" },
                        "Action": "sqs:SendMessage",
                        "Resource": queue,
                        "Condition": { "ArnEquals": { "aws:SourceArn": rule } },
                    }],
                },
            })
        })
        .collect();
    json!({ "deliveries": deliveries })
}

fn statement(sid: &str, actions: &[&str], resources: &BTreeSet<String>) -> Option<Value> {
    (!resources.is_empty())
        .then(|| json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources }))
}

/// The ARN of a queue given by its AWS URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`);
/// `None` for a name, or a URL of another endpoint (then the environment's region applies).
fn queue_arn(queue: &str) -> Option<String> {
    let url = url::Url::parse(queue).ok()?;
    let region = url.host_str()?.strip_prefix("sqs.")?.split('.').next()?.to_owned();
    let mut path = url.path_segments()?;
    let (account, name) = (path.next()?, path.next()?);
    account.parse::<AccountId>().ok()?;
    Some(format!("arn:{}:sqs:{region}:{account}:{name}", partition(&region)))
}

/// The partition a region is in.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The start of an environment's ARNs: partition, region, account.
struct Arn<'a> {
    partition: &'static str,
    region: &'a str,
    account: &'a str,
}

impl<'a> Arn<'a> {
    fn new(env: &'a Environment, account: &'a str) -> Self {
        let region = env.aws.region.as_deref().unwrap_or("*");
        Self { partition: partition(region), region, account }
    }

    fn of(&self, service: &str, resource: &str) -> String {
        format!("arn:{}:{service}:{}:{}:{resource}", self.partition, self.region, self.account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Source, load};

    fn statements(policy: &Value) -> Vec<(String, Vec<String>, Vec<String>)> {
        let strings = |v: &Value| -> Vec<String> {
            v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()
        };
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["Sid"].as_str().unwrap().to_owned(), strings(&s["Action"]), strings(&s["Resource"])))
            .collect()
    }

    #[test]
    fn a_queue_given_by_url_needs_no_lookup() {
        let mut config = load(&Source::SandboxDefault).unwrap();
        config.environments[0].aws.events_queue =
            Some("https://sqs.eu-west-1.amazonaws.com/210987654321/release-events".into());
        config.environments[1].aws.events_queue = None;
        let all = statements(&policy(&config, Some(&"123456789012".parse().unwrap())));
        let reads = all.iter().find(|(s, _, _)| s == "ReadPipelineEvents").unwrap();
        assert_eq!(reads.2, ["arn:aws:sqs:eu-west-1:210987654321:release-events"]);
        assert!(all.iter().all(|(s, _, _)| s != "FindPipelineEventQueues"));
    }

    #[test]
    fn the_sandbox_configuration() {
        let config = load(&Source::SandboxDefault).unwrap();
        let policy = policy(&config, Some(&"123456789012".parse().unwrap()));
        assert_eq!(policy["Version"], "2012-10-17");
        let arn = |rest: &str| format!("arn:aws:{rest}");
        let all = statements(&policy);
        let resources = |sid: &str| all.iter().find(|(s, _, _)| s == sid).unwrap().2.clone();
        let pipelines = vec![
            arn("codepipeline:us-east-1:123456789012:myapp-production"),
            arn("codepipeline:us-east-1:123456789012:myapp-staging"),
        ];
        assert_eq!(resources("ReadPipelines"), pipelines);
        assert_eq!(resources("ControlPipelines"), pipelines);
        assert_eq!(
            resources("ControlStages"),
            vec![
                arn("codepipeline:us-east-1:123456789012:myapp-production/*"),
                arn("codepipeline:us-east-1:123456789012:myapp-staging/*"),
            ]
        );
        assert_eq!(resources("ListParameters"), vec!["*"]);
        assert_eq!(
            resources("ParametersUnderPrefixes"),
            vec![
                arn("ssm:us-east-1:123456789012:parameter/rollgate/production/*"),
                arn("ssm:us-east-1:123456789012:parameter/rollgate/staging/*"),
            ]
        );
        // The staging token is under staging's prefix; no keys are configured.
        let sids: Vec<&str> = all.iter().map(|(s, _, _)| s.as_str()).collect();
        assert_eq!(
            sids,
            [
                "ReadPipelines",
                "ControlPipelines",
                "ControlStages",
                "ListParameters",
                "ParametersUnderPrefixes",
                "ReadPipelineEvents",
                "FindPipelineEventQueues"
            ]
        );
        // Both environments share the sandbox's events queue.
        let queue = vec![arn("sqs:us-east-1:123456789012:rollgate-pipeline-events")];
        assert_eq!(resources("ReadPipelineEvents"), queue);
        assert_eq!(resources("FindPipelineEventQueues"), queue);
        assert!(
            all.iter().flat_map(|(_, actions, _)| actions).all(|a| !a.contains('*')),
            "no wildcard action"
        );
    }

    #[test]
    fn a_token_outside_the_prefixes_keys_regions_and_accounts() {
        let mut config = load(&Source::SandboxDefault).unwrap();
        let staging = &mut config.environments[0];
        staging.cluster = crate::config::ClusterConnection::Url {
            server: "https://k8s.example.com".parse().unwrap(),
            token: crate::config::TokenSource::SsmParameter("/platform/k8s-token".into()),
            certificate_authority: None,
        };
        staging.aws.region = Some("cn-north-1".into());
        staging.aws.kms_keys = vec!["arn:aws-cn:kms:cn-north-1:123456789012:key/abc-123".into()];
        config.environments[1].aws.region = None;
        config.environments[1].ssm_prefixes = vec!["/".into()];
        let all = statements(&policy(&config, None));
        let find = |sid: &str| all.iter().find(|(s, _, _)| s == sid).unwrap().clone();
        let (_, actions, resources) = find("ReadClusterTokens");
        assert_eq!(actions, PARAMETER_READS, "read, never written: rotation stays under the prefixes");
        assert_eq!(resources, ["arn:aws-cn:ssm:cn-north-1:*:parameter/platform/k8s-token"]);
        assert_eq!(find("UseParameterKeys").2, ["arn:aws-cn:kms:cn-north-1:123456789012:key/abc-123"]);
        assert_eq!(
            find("ParametersUnderPrefixes").2,
            ["arn:aws-cn:ssm:cn-north-1:*:parameter/rollgate/staging/*", "arn:aws:ssm:*:*:parameter/*"]
        );
        assert_eq!(
            find("ReadPipelines").2,
            [
                "arn:aws-cn:codepipeline:cn-north-1:*:myapp-staging",
                "arn:aws:codepipeline:*:*:myapp-production"
            ]
        );
    }

    #[test]
    fn nothing_configured_nothing_granted() {
        let mut config = load(&Source::SandboxDefault).unwrap();
        for env in &mut config.environments {
            env.aws.pipelines.clear();
            env.aws.deploys.clear();
            env.aws.events_queue = None;
            env.ssm_prefixes.clear();
            env.cluster = crate::config::ClusterConnection::InCluster;
        }
        assert_eq!(policy(&config, None)["Statement"], json!([]));
    }

    #[test]
    fn account_ids() {
        assert!("123456789012".parse::<AccountId>().is_ok());
        for bad in ["12345678901", "1234567890123", "12345678901a", ""] {
            assert!(bad.parse::<AccountId>().is_err(), "{bad:?}");
        }
    }
}
