//! The layer around every Kubernetes client that counts its calls in the metrics, by
//! operation (`list deployments`, `get pods/log`, `watch pods`, …) and outcome.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Method, Request, Response, Uri};
use tower::{Layer, Service};

use crate::metrics::{self, CallOutcome};

/// Wraps a client's HTTP service in [`Counted`].
#[derive(Debug, Clone, Copy)]
pub struct CountCalls;

impl<S> Layer<S> for CountCalls {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted(inner)
    }
}

#[derive(Debug, Clone)]
pub struct Counted<S>(S);

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for Counted<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResponseBody: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<RequestBody>) -> Self::Future {
        let operation = operation(request.method(), request.uri());
        let answer = self.0.call(request);
        Box::pin(async move {
            let result = answer.await;
            let outcome = match &result {
                Ok(response) => CallOutcome::of_status(response.status().as_u16()),
                Err(_) => CallOutcome::Unreachable,
            };
            metrics::upstream_call("kubernetes", &operation, outcome);
            result
        })
    }
}

/// The verb and resource of a request, as RBAC names them: `update deployments`,
/// `get pods/log`, `watch pods`; the path itself for anything that is not a resource.
fn operation(method: &Method, uri: &Uri) -> String {
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let rest = match segments.first() {
        Some(&"api") => segments.get(2..),
        Some(&"apis") => segments.get(3..),
        _ => None,
    };
    let Some(mut rest) = rest.filter(|r| !r.is_empty()) else {
        return format!("{} {}", method.as_str().to_lowercase(), uri.path());
    };
    // A namespaced resource, unless the namespace itself is the object.
    if rest[0] == "namespaces" && rest.len() >= 3 {
        rest = &rest[2..];
    }
    let (resource, name, sub) = (rest[0], rest.get(1), rest.get(2));
    let watching = uri.query().is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    let verb = match *method {
        Method::GET if watching => "watch",
        Method::GET if name.is_some() => "get",
        Method::GET => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if name.is_some() => "delete",
        Method::DELETE => "deletecollection",
        _ => "other",
    };
    match sub {
        Some(sub) => format!("{verb} {resource}/{sub}"),
        None => format!("{verb} {resource}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_as_rbac_names_them() {
        let op = |method: Method, uri: &str| operation(&method, &uri.parse().unwrap());
        assert_eq!(op(Method::GET, "/apis/apps/v1/namespaces/web/deployments"), "list deployments");
        assert_eq!(
            op(Method::GET, "/apis/apps/v1/namespaces/web/deployments?watch=true&rv=1"),
            "watch deployments"
        );
        assert_eq!(op(Method::PUT, "/apis/apps/v1/namespaces/web/deployments/api"), "update deployments");
        assert_eq!(op(Method::GET, "/api/v1/namespaces/web/pods/api-1/log?follow=true"), "get pods/log");
        assert_eq!(
            op(Method::POST, "/api/v1/namespaces/web/serviceaccounts/d/token"),
            "create serviceaccounts/token"
        );
        assert_eq!(op(Method::GET, "/api/v1/namespaces/web"), "get namespaces");
        assert_eq!(op(Method::GET, "/api/v1/namespaces"), "list namespaces");
        assert_eq!(op(Method::DELETE, "/api/v1/namespaces/web/pods"), "deletecollection pods");
        assert_eq!(op(Method::GET, "/version"), "get /version");
        assert_eq!(op(Method::GET, "/apis"), "get /apis");
    }
}
