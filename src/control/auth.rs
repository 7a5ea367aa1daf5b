//! The bearer-token check in front of `/status` and `/api/v1/*`: constant-time comparison,
//! 401 with a JSON body, `control_requests_total{route,result}` for every protected request,
//! and a log line for every mutating one (caller address, route, result; never the token).

use crate::config::Secret;
use crate::control::{result_of, ROUTES};
use crate::ops::metrics::Metrics;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// What the check needs: the token in force (none: everything allowed, a loopback bind or
/// `http.allow_unauthenticated`) and the metrics to count in.
#[derive(Clone)]
pub struct Guard {
    pub token: Option<Secret>,
    pub metrics: Arc<Metrics>,
}

/// Whether an `Authorization` header value carries `token`. The comparison takes the same time
/// wherever the first difference is (`subtle`); only the length of a wrong token can show.
pub fn authorized(token: Option<&Secret>, header: Option<&str>) -> bool {
    let Some(token) = token else { return true };
    let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    given
        .trim()
        .as_bytes()
        .ct_eq(token.expose().as_bytes())
        .into()
}

/// The caller's address, when the server records it.
pub fn remote(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Middleware of the protected routes.
pub async fn check(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let route = ROUTES.iter().find(|r| r.path == path);
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let response = if authorized(guard.token.as_ref(), header) {
        next.run(req).await
    } else {
        if route.is_some_and(|r| r.mutating) {
            tracing::warn!(remote = %remote(&req), route = %path, result = "unauthorized", "control request refused");
        }
        unauthorized()
    };
    if let Some(route) = route {
        guard
            .metrics
            .control_request(route.path, result_of(response.status().as_u16()));
    }
    response
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(json!({"error": "unauthorized: send Authorization: Bearer <http.token>"})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let t = Secret::new("s3cr3t-token");
        let t = Some(&t);
        assert!(authorized(t, Some("Bearer s3cr3t-token")));
        for bad in [
            None,
            Some("Bearer "),
            Some("Bearer s3cr3t-tokem"),
            Some("Bearer s3cr3t-token2"),
            Some("Bearer s3cr3t"),
            Some("s3cr3t-token"),
            Some("Basic s3cr3t-token"),
        ] {
            assert!(!authorized(t, bad), "{bad:?} must be refused");
        }
        assert!(authorized(None, None), "no token configured: open");
    }
}
