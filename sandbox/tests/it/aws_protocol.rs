//! The AWS JSON 1.1 front door, spoken raw: targets, bodies and error shapes as AWS sends them,
//! for input no SDK would produce.

use reqwest::header::CONTENT_TYPE;
use sandbox::{Endpoints, Sandbox, World};
use serde_json::Value;

/// POSTs `body` with `target`; returns the status, the `X-Amzn-ErrorType` header and the body.
async fn call(addr: std::net::SocketAddr, target: Option<&str>, body: &str) -> (u16, String, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("http://{addr}/"))
        .header(CONTENT_TYPE, "application/x-amz-json-1.1")
        .body(body.to_owned());
    if let Some(target) = target {
        request = request.header("X-Amz-Target", target);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let kind =
        response.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let body = response.json().await.expect("a JSON body");
    (status, kind, body)
}

/// Bad requests get the AWS error shape and name, never a crash; the service keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_aws_errors() {
    let sandbox = Sandbox::start(Endpoints::any_free(), World::Empty).await.expect("sandbox starts");
    let (ssm, codepipeline) = (sandbox.endpoints.ssm, sandbox.endpoints.codepipeline);
    let cases = [
        (ssm, Some("AmazonSSM.LaunchRockets"), "{}", "UnknownOperationException"),
        (ssm, Some("CodePipeline_20150709.ListPipelines"), "{}", "UnknownOperationException"),
        (ssm, None, "{}", "MissingAction"),
        (ssm, Some("AmazonSSM.GetParameter"), "{\"Name\": ", "SerializationException"),
        (ssm, Some("AmazonSSM.GetParameter"), "[1, 2]", "SerializationException"),
        (ssm, Some("AmazonSSM.GetParameter"), "{\"Name\": 7}", "SerializationException"),
        (ssm, Some("AmazonSSM.GetParameter"), "{}", "ValidationException"),
        (ssm, Some("AmazonSSM.GetParameter"), "{\"Name\": \"no such\"}", "ValidationException"),
        (codepipeline, Some("CodePipeline_20150709.LaunchRockets"), "{}", "UnknownOperationException"),
        (codepipeline, Some("CodePipeline_20150709.GetPipeline"), "not json", "SerializationException"),
    ];
    for (addr, target, body, expected) in cases {
        let (status, kind, error) = call(addr, target, body).await;
        assert_eq!((status, error["__type"].as_str()), (400, Some(expected)), "{target:?} {body}");
        assert_eq!(kind, expected, "the error type header");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{error}");
    }
    let (status, _, fine) =
        call(ssm, Some("AmazonSSM.GetParameter"), "{\"Name\": \"/rollgate/staging/k8s-bear-token\"}").await;
    assert_eq!((status, fine["Parameter"]["Type"].as_str()), (200, Some("SecureString")));
}
