//! What every request passes before its handler: the bearer token (when one is set), a free
//! slot (else 503 with Retry-After), the request timeout (408), and the metrics.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::routes::error_response;
use super::AppState;

/// The routes answered without a token and outside the slots: a load balancer's probe.
const OPEN: &str = "/health";

pub async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Unknown paths share one label: a scanner cannot grow the metrics without bound.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("other", |p| p.as_str())
        .to_owned();
    let response = if route == OPEN {
        next.run(request).await
    } else if !authorized(state.token.as_deref(), request.headers()) {
        let mut response = error_response(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token (Authorization: Bearer TOKEN)",
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    } else {
        match Arc::clone(&state.slots).try_acquire_owned() {
            Err(_) => {
                let mut response = error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "every slot is busy (--max-concurrent); retry after a second",
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
            Ok(_permit) => {
                state.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
                let answered = tokio::time::timeout(state.request_timeout, next.run(request)).await;
                state.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
                answered.unwrap_or_else(|_| {
                    error_response(
                        StatusCode::REQUEST_TIMEOUT,
                        "the request took longer than --request-timeout-secs",
                    )
                    .into_response()
                })
            }
        }
    };
    state
        .metrics
        .record(&route, response.status().as_u16(), started.elapsed());
    response
}

/// Whether the request carries the token (always, when none is set). Compared in constant time
/// over the token's length: the time taken says nothing of how many bytes were right.
fn authorized(token: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(token) = token else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_is_authorized() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert!(authorized(None, &HeaderMap::new()));
        assert!(authorized(Some("s3cret"), &with("Bearer s3cret")));
        for wrong in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "bearer s3cret",
            "s3cret",
            "Bearer S3cret",
        ] {
            assert!(!authorized(Some("s3cret"), &with(wrong)), "{wrong}");
        }
        assert!(!authorized(Some("s3cret"), &HeaderMap::new()));
    }
}
