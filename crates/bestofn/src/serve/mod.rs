//! `serve`: the grader and the verifier as an HTTP service, for RL reward loops and notebooks.
//!
//! Routes (`routes.rs`): `POST /grade`, `POST /score`, OpenRLHF's `POST /get_reward`, `GET
//! /health`, Prometheus `GET /metrics`. Every request but `/health` passes the guard
//! (`guard.rs`): the bearer token when one is set, a slot among `max_concurrent` (503 with
//! Retry-After when none is free), and the request timeout. Bodies past the limit get 413; a
//! client that sends its headers too slowly is cut off. SIGTERM or SIGINT stops accepting and
//! drains the requests in flight before the process exits.

mod guard;
mod metrics;
mod routes;
mod verifier;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

use crate::error::{Error, Result};
use crate::score::ScorerSettings;
pub use metrics::Metrics;
pub use verifier::VerifierQueue;

/// Everything the server is started with, resolved and checked.
#[derive(Debug)]
pub struct ServeOptions {
    pub address: SocketAddr,
    /// The bearer token every request but `/health` must carry, when set.
    pub token: Option<String>,
    pub body_limit: usize,
    pub max_concurrent: usize,
    pub request_timeout: Duration,
    /// How long a client may take to send its request's headers.
    pub header_timeout: Duration,
    /// How long requests in flight may take to finish after SIGTERM.
    pub drain_timeout: Duration,
    /// The in-process verifier of `/score` (and `/get_reward` without labels), with the token
    /// budget its queue gathers requests up to.
    pub verifier: Option<(ScorerSettings, usize)>,
    /// Threads the runtime answers requests on.
    pub threads: usize,
}

/// What every request handler and the guard share.
pub struct AppState {
    pub token: Option<String>,
    pub slots: Arc<tokio::sync::Semaphore>,
    pub request_timeout: Duration,
    pub verifier: Option<VerifierQueue>,
    pub metrics: Metrics,
}

/// What a server that stopped did.
#[derive(Debug)]
pub struct ServeSummary {
    pub address: SocketAddr,
    pub drained: bool,
}

/// Loads the verifier, binds, serves until SIGTERM or SIGINT, drains; `ready` is called once the
/// server listens (with the address actually bound: port 0 picks a free one).
pub fn serve(options: ServeOptions, ready: impl FnOnce(SocketAddr)) -> Result<ServeSummary> {
    let _span = tracing::info_span!("serve", address = %options.address).entered();
    let verifier = match &options.verifier {
        Some((settings, budget)) => Some(VerifierQueue::start(settings.clone(), *budget)?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| Error::Settings(format!("starting the server's runtime: {e}")))?;
    let state = Arc::new(AppState {
        token: options.token.clone(),
        slots: Arc::new(tokio::sync::Semaphore::new(options.max_concurrent)),
        request_timeout: options.request_timeout,
        verifier,
        metrics: Metrics::default(),
    });
    runtime.block_on(run(options, state, ready))
}

async fn run(
    options: ServeOptions,
    state: Arc<AppState>,
    ready: impl FnOnce(SocketAddr),
) -> Result<ServeSummary> {
    let listener = tokio::net::TcpListener::bind(options.address)
        .await
        .map_err(|e| Error::Settings(format!("binding {}: {e}", options.address)))?;
    let address = listener
        .local_addr()
        .map_err(|e| Error::Settings(format!("binding {}: {e}", options.address)))?;
    let app = routes::router(state, options.body_limit);
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout);
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(shutdown_signal());
    ready(address);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors, say: wait instead of spinning on the error.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let service = TowerToHyperService::new(app.clone());
                let connection = builder.serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection.into_owned());
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            () = &mut stop => break,
        }
    }
    drop(listener);
    tracing::info!("stopping: draining the requests in flight");
    let drained = tokio::time::timeout(options.drain_timeout, graceful.shutdown())
        .await
        .is_ok();
    Ok(ServeSummary { address, drained })
}

/// SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
