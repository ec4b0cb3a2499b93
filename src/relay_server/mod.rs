//! The relay server: TiDB Cloud's serverless HTTP SQL API in front of a MySQL-protocol
//! database, plus our extensions (typed parameters, atomic batches, deadlines). Feature
//! `relay-server`; the binary `tidb-connect-relay` wraps [`serve`].
//!
//! ```no_run
//! # async fn run() -> Result<(), tidb_connect::Error> {
//! use tidb_connect::relay_server::{RelayConfig, serve};
//!
//! let config = RelayConfig::new("mysql://gateway01-privatelink.example.internal:4000/test");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
//! serve(config, listener, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```
//!
//! Every answer carries the header `TiDB-Connect-Relay: 1` and echoes `X-Debug-Trace-Id` (a
//! request id is made up when the client sent none); logs carry that id and never SQL text,
//! parameter values, passwords or tokens.

mod auth;
mod limits;
mod metrics;
mod sessions;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::Semaphore;

use crate::connector::{Connector, IsolationLevel, Statement, TxOptions};
use crate::direct::DirectConnector;
use crate::error::{Error, Result};
use crate::relay::protocol::{
    self, BatchResponse, Capabilities, ErrorBody, SqlRequest, SqlResponse, TxAction,
};
use crate::value::{ResultSet, Value};

pub use auth::AuthMode;
pub use limits::Limits;

use auth::{Pools, Principal, Upstream};
use sessions::{Held, Lookup, OpenError, Sessions};

/// How a relay runs.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The database: `mysql://host:port/default_db?ssl-ca=…` (TLS rules as for any client).
    /// In [`AuthMode::Tokens`] it also holds the database user and password.
    pub upstream: String,
    /// How clients authenticate.
    pub auth: AuthMode,
    /// Refuse statements that write.
    pub read_only: bool,
    /// Size, count and time limits.
    pub limits: Limits,
    /// How long shutdown waits for requests in flight before rolling back what is left.
    pub shutdown_grace: Duration,
    /// A short name of this relay put into session tokens (`p1.<instance>.…`), so a balancer in
    /// front of several relays can send a session's requests to the relay that holds it.
    pub instance: Option<String>,
}

impl RelayConfig {
    /// Defaults: Basic credentials passed to the database, writes allowed, default limits,
    /// 30 s of shutdown grace.
    pub fn new(upstream: impl Into<String>) -> Self {
        RelayConfig {
            upstream: upstream.into(),
            auth: AuthMode::Basic,
            read_only: false,
            limits: Limits::default(),
            shutdown_grace: Duration::from_secs(30),
            instance: None,
        }
    }
}

/// The log filter the binary uses: our own events at `level`, the direct backend's at most
/// at info (its debug events show statement text, which may hold literal values).
pub fn log_filter(level: &str) -> String {
    format!("{level},tidb_connect::direct=info,hyper=info,mysql_async=warn")
}

struct App {
    upstream: Upstream,
    auth: AuthMode,
    read_only: bool,
    limits: Limits,
    pools: Pools,
    sessions: Sessions,
    permits: Semaphore,
    /// Body bytes, one permit per byte.
    body_budget: Semaphore,
    draining: AtomicBool,
    metrics: metrics::Metrics,
}

type Failure = (u16, ErrorBody);

/// Runs the relay on `listener` until `shutdown` completes; then stops accepting, lets
/// requests in flight finish (at most the shutdown grace), rolls back open sessions and closes
/// the pools.
///
/// # Errors
///
/// A configuration error for a bad upstream URL; IO errors of the listener.
pub async fn serve(
    config: RelayConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let upstream = Upstream::parse(&config.upstream, &config.auth)?;
    if let Some(name) = &config.instance {
        let ok = (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(Error::config(
                "the relay instance name must be 1 to 32 letters, digits, `-` or `_`",
            ));
        }
    }
    let app = Arc::new(App {
        upstream,
        auth: config.auth.clone(),
        read_only: config.read_only,
        limits: config.limits,
        pools: Pools::new(config.limits.max_pools),
        sessions: Sessions::new(config.instance.clone()),
        permits: Semaphore::new(config.limits.max_concurrent_requests.max(1)),
        body_budget: Semaphore::new(
            config
                .limits
                .max_inflight_body_bytes
                .clamp(config.limits.max_body_bytes.max(1), u32::MAX as usize),
        ),
        draining: AtomicBool::new(false),
        metrics: metrics::Metrics::default(),
    });

    let reaper = {
        let app = app.clone();
        let timeout = config.limits.session_idle_timeout;
        let period = (timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let n = app.sessions.expire(timeout);
                if n > 0 {
                    app.metrics
                        .sessions_expired
                        .fetch_add(n as u64, Ordering::Relaxed);
                    tracing::info!(tidb_relay.sessions = n, "idle sessions rolled back");
                }
            }
        })
    };

    const COMPRESS_ABOVE: u16 = 1400;
    let router = Router::new()
        .route(protocol::SQL_PATH, post(sql))
        .route(protocol::CAPABILITIES_PATH, get(capabilities))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(app.clone(), envelope))
        // Small answers (a point select's is a few hundred bytes) cost more CPU to compress on
        // both sides than they save on the wire.
        .layer(
            tower_http::compression::CompressionLayer::new()
                .gzip(true)
                .compress_when(tower_http::compression::predicate::SizeAbove::new(
                    COMPRESS_ABOVE,
                )),
        )
        .with_state(app.clone());

    tracing::info!(
        tidb_relay.listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        tidb_relay.upstream = app.upstream.host_port(),
        tidb_relay.read_only = app.read_only,
        "relay listening"
    );

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let signal = {
        let app = app.clone();
        async move {
            shutdown.await;
            app.draining.store(true, Ordering::Release);
            let _ = stop_tx.send(true);
            tracing::info!("shutting down: no new requests, finishing those in flight");
        }
    };
    let server = axum::serve(listener, router).with_graceful_shutdown(signal);
    let server = tokio::spawn(async move { server.await });

    // The server ends by itself once the shutdown signal came and requests finished; past
    // the grace period, what is left is cut off.
    let mut stop_rx = stop_rx;
    let outcome = tokio::select! {
        r = server => r,
        _ = async {
            let _ = stop_rx.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(config.shutdown_grace).await;
        } => {
            tracing::warn!("shutdown grace period over; cutting off requests in flight");
            Ok(Ok(()))
        }
    };
    reaper.abort();
    app.sessions.drain().await;
    app.pools.close_all().await;
    tracing::info!("relay stopped");
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::connect("the relay's listener failed").with_source(e)),
        Err(e) => Err(Error::protocol(format!(
            "the relay's server task failed: {e}"
        ))),
    }
}

/// Around every request: a request id, the extension header, metrics and one log line.
async fn envelope(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(protocol::TRACE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(sessions::request_id);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    request.extensions_mut().insert(RequestId(id.clone()));

    let span = tracing::info_span!("request", tidb_relay.request_id = %id);
    let mut response = tracing::Instrument::instrument(next.run(request), span.clone()).await;

    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    app.metrics.observe(status, elapsed);
    let headers = response.headers_mut();
    headers.insert(
        protocol::RELAY_HEADER,
        HeaderValue::from(protocol::EXTENSION_VERSION),
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert(protocol::TRACE_HEADER, v);
    }
    let _entered = span.enter();
    tracing::info!(
        tidb_relay.method = %method,
        tidb_relay.path = %path,
        tidb_relay.status = status,
        tidb_relay.elapsed_ms = elapsed.as_millis() as u64,
        "answered"
    );
    response
}

#[derive(Clone)]
struct RequestId(String);

async fn not_found() -> Response {
    failure(ErrorBody::unknown_endpoint())
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when not shutting down and the database's address accepts TCP connections.
async fn readyz(State(app): State<Arc<App>>) -> Response {
    if app.draining.load(Ordering::Acquire) {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response();
    }
    let addr = app.upstream.host_port().to_owned();
    let connect =
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr));
    match connect.await {
        Ok(Ok(_)) => (StatusCode::OK, "ready\n").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response(),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let text = app.metrics.render(
        app.sessions.len(),
        app.pools.len(),
        app.draining.load(Ordering::Acquire),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// `GET /v1beta/capabilities`: authenticated, so a client learns about wrong credentials here.
async fn capabilities(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let result = async {
        let principal = authenticate(&app, &headers)?;
        let database = database_header(&headers)?;
        app.pools
            .get(&app.upstream, &principal, &database)
            .await
            .map_err(|e| auth_failure(&app, &e))?;
        Ok::<_, Failure>(Capabilities {
            relay: "tidb-connect".to_owned(),
            version: protocol::EXTENSION_VERSION,
            read_only: app.read_only,
            limits: app.limits.wire(),
        })
    }
    .await;
    match result {
        Ok(caps) => json_response(serde_json::to_vec(&caps).unwrap_or_default(), None),
        Err(f) => failure(f),
    }
}

fn authenticate(app: &App, headers: &HeaderMap) -> std::result::Result<Principal, Failure> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    auth::authenticate(&app.auth, &app.upstream, authorization).ok_or_else(|| {
        app.metrics.auth_failures.fetch_add(1, Ordering::Relaxed);
        ErrorBody::unauthorized(match app.auth {
            AuthMode::Basic => {
                "missing or malformed Basic credentials (the database user and password)"
            }
            AuthMode::Tokens(_) => "missing or unknown relay token",
        })
    })
}

/// An error while fetching a user's pool; access denied counts as an authentication failure.
fn auth_failure(app: &App, e: &Error) -> Failure {
    let (status, body) = ErrorBody::from_error(e);
    if status == protocol::status::UNAUTHORIZED {
        app.metrics.auth_failures.fetch_add(1, Ordering::Relaxed);
    }
    (status, body)
}

fn database_header(headers: &HeaderMap) -> std::result::Result<String, Failure> {
    let Some(value) = headers.get(protocol::DATABASE_HEADER) else {
        return Ok(String::new());
    };
    let text = value
        .to_str()
        .map_err(|_| ErrorBody::bad_request("TiDB-Database must be ascii text"))?;
    if text.len() > 64 || text.chars().any(|c| c.is_control()) {
        return Err(ErrorBody::bad_request(
            "TiDB-Database must be a database name of at most 64 characters",
        ));
    }
    Ok(text.to_owned())
}

fn isolation_header(headers: &HeaderMap) -> std::result::Result<Option<IsolationLevel>, Failure> {
    let Some(value) = headers.get(protocol::ISOLATION_HEADER) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim().to_ascii_uppercase();
    Ok(Some(match text.as_str() {
        "READ COMMITTED" => IsolationLevel::ReadCommitted,
        "REPEATABLE READ" => IsolationLevel::RepeatableRead,
        "SERIALIZABLE" => IsolationLevel::Serializable,
        "READ UNCOMMITTED" => IsolationLevel::ReadUncommitted,
        "" => return Ok(None),
        _ => {
            return Err(ErrorBody::bad_request(
                "TiDB-Isolation-Level must be READ COMMITTED or REPEATABLE READ",
            ));
        }
    }))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stateful {
    Open,
    Close,
}

fn stateful_header(headers: &HeaderMap) -> std::result::Result<Option<Stateful>, Failure> {
    match headers
        .get(protocol::STATEFUL_HEADER)
        .map(|v| v.to_str().unwrap_or("").trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") => Ok(None),
        Some("open") => Ok(Some(Stateful::Open)),
        Some("close") => Ok(Some(Stateful::Close)),
        Some(_) => Err(ErrorBody::bad_request(
            "TiDB-Stateful-Action must be open or close",
        )),
    }
}

/// What a request asks for, once headers and body are read.
enum Op {
    Open,
    Close,
    Begin {
        read_only: bool,
    },
    End {
        commit: bool,
    },
    /// `standard`: SQL text without the extension's `params`, where `BEGIN`, `COMMIT` and
    /// `ROLLBACK` are transaction control.
    Statement {
        sql: String,
        params: Vec<Value>,
        standard: bool,
    },
    Batch(Vec<Statement>),
}

/// What a successful request answers.
enum Answer {
    One(ResultSet),
    Many(Vec<ResultSet>),
}

async fn sql(
    State(app): State<Arc<App>>,
    axum::Extension(RequestId(_id)): axum::Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let extended = headers.contains_key(protocol::RELAY_HEADER);
    let incoming_token = headers
        .get(protocol::SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_owned();
    match run_sql(&app, &headers, body, &incoming_token).await {
        Ok((answer, token)) => match encode_answer(&app, answer, extended) {
            Ok(bytes) => json_response(bytes, Some(&token)),
            Err(f) => {
                app.metrics.limit_rejections.fetch_add(1, Ordering::Relaxed);
                failure(f)
            }
        },
        Err(f) => failure(f),
    }
}

async fn run_sql(
    app: &App,
    headers: &HeaderMap,
    body: Body,
    incoming_token: &str,
) -> std::result::Result<(Answer, String), Failure> {
    let Ok(_permit) = app.permits.try_acquire() else {
        app.metrics
            .overload_rejections
            .fetch_add(1, Ordering::Relaxed);
        return Err(ErrorBody::overloaded(
            "the relay is handling its maximum of concurrent requests; try again shortly",
        ));
    };
    if app.draining.load(Ordering::Acquire) {
        app.metrics
            .overload_rejections
            .fetch_add(1, Ordering::Relaxed);
        return Err(ErrorBody::overloaded(
            "the relay is shutting down; try another one",
        ));
    }
    let principal = authenticate(app, headers)?;
    let database = database_header(headers)?;
    // The credentials are checked (by the database, in basic mode) before the body is read,
    // so only authenticated clients can make the relay hold a large body.
    let connector = app
        .pools
        .get(&app.upstream, &principal, &database)
        .await
        .map_err(|e| auth_failure(app, &e))?;

    // The body, within its limit, before anything is run.
    let limit = app.limits.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        app.metrics.limit_rejections.fetch_add(1, Ordering::Relaxed);
        return Err(body_too_large(limit));
    }
    let reserve = declared.map_or(limit, |n| n as usize).clamp(1, limit) as u32;
    let Ok(_budget) = app.body_budget.try_acquire_many(reserve) else {
        app.metrics
            .overload_rejections
            .fetch_add(1, Ordering::Relaxed);
        return Err(ErrorBody::overloaded(
            "the relay holds its maximum of request bodies in memory (max-inflight-body-bytes); \
             try again shortly",
        ));
    };
    let bytes: Bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        app.metrics.limit_rejections.fetch_add(1, Ordering::Relaxed);
        body_too_large(limit)
    })?;
    let request: SqlRequest = serde_json::from_slice(&bytes).map_err(|e| {
        ErrorBody::bad_request(format!(
            "the body is not a valid request ({:?} error at line {} column {}); send \
             {{\"query\": \"…\"}}",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;

    let isolation = isolation_header(headers)?;
    let stateful = stateful_header(headers)?;
    let op = classify(app, &request, stateful)?;
    let deadline = app.limits.deadline(request.deadline_ms);

    let session = match app.sessions.lookup(incoming_token, &principal.name) {
        Lookup::Unknown => {
            return Err(ErrorBody::session_expired(
                "unknown or expired session: it ended, idled out, or belongs to another relay \
                 or user; begin a new transaction",
            ));
        }
        Lookup::Stateless => None,
        Lookup::Session(token, s) => Some((token, s)),
    };

    let work = execute(
        app,
        &connector,
        &principal,
        op,
        isolation,
        session.clone(),
        incoming_token,
    );
    match tokio::time::timeout(deadline, work).await {
        Ok(result) => result,
        Err(_) => {
            app.metrics
                .deadline_exceeded
                .fetch_add(1, Ordering::Relaxed);
            // A statement cut off mid-way leaves its session's connection in an unknown state:
            // end the session (the transaction is rolled back).
            if let Some((token, _)) = &session {
                if let Some(s) = app.sessions.remove(token) {
                    tokio::spawn(async move { sessions::end_session(&s).await });
                }
            }
            Err(ErrorBody::deadline(format!(
                "the request ran longer than its deadline of {} ms{}",
                deadline.as_millis(),
                if session.is_some() {
                    "; the session was ended (its transaction rolled back, unless the deadline \
                     passed during its COMMIT, whose outcome is then unknown)"
                } else {
                    "; a write may or may not have been applied"
                }
            )))
        }
    }
}

fn body_too_large(limit: usize) -> Failure {
    ErrorBody::too_large(format!(
        "the request body is larger than the relay's limit of {limit} bytes (max-body-bytes)"
    ))
}

/// Decides what the request asks for and checks its shape and the read-only rule.
fn classify(
    app: &App,
    request: &SqlRequest,
    stateful: Option<Stateful>,
) -> std::result::Result<Op, Failure> {
    let has_query = !request.query.trim().is_empty();
    let exclusive = [
        stateful.is_some(),
        request.action.is_some(),
        request.batch.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if exclusive > 1 {
        return Err(ErrorBody::bad_request(
            "a request is one of: a statement, a batch, an action, or a stateful open/close",
        ));
    }
    let op = match (stateful, request.action, &request.batch) {
        (Some(_), _, _) | (_, Some(_), _) if has_query || request.params.is_some() => {
            return Err(ErrorBody::bad_request(
                "TiDB-Stateful-Action and action requests take an empty query",
            ));
        }
        (Some(Stateful::Open), _, _) => Op::Open,
        (Some(Stateful::Close), _, _) => Op::Close,
        (_, Some(TxAction::Begin), _) => Op::Begin {
            read_only: request.read_only,
        },
        (_, Some(TxAction::Commit), _) => Op::End { commit: true },
        (_, Some(TxAction::Rollback), _) => Op::End { commit: false },
        (_, _, Some(batch)) => {
            if has_query || request.params.is_some() {
                return Err(ErrorBody::bad_request(
                    "a batch request takes no query or params",
                ));
            }
            if batch.is_empty() {
                return Err(ErrorBody::bad_request("the batch is empty"));
            }
            if batch.len() > app.limits.max_batch_statements {
                app.metrics.limit_rejections.fetch_add(1, Ordering::Relaxed);
                return Err(ErrorBody::too_large(format!(
                    "the batch has {} statements, more than the relay's limit of {} \
                     (max-batch-statements)",
                    batch.len(),
                    app.limits.max_batch_statements
                )));
            }
            let mut statements = Vec::with_capacity(batch.len());
            for (i, item) in batch.iter().enumerate() {
                let params = decode_params(&item.params).map_err(|(s, mut b)| {
                    b.batch_index = Some(i);
                    (s, b)
                })?;
                check_read_only(app, &item.query).map_err(|(s, mut b)| {
                    b.batch_index = Some(i);
                    (s, b)
                })?;
                statements.push(Statement::new(item.query.clone(), params));
            }
            Op::Batch(statements)
        }
        (None, None, None) => {
            if !has_query {
                return Err(ErrorBody::bad_request("the query is empty"));
            }
            let params = match &request.params {
                Some(p) => decode_params(p)?,
                None => Vec::new(),
            };
            check_read_only(app, &request.query)?;
            Op::Statement {
                sql: request.query.clone(),
                params,
                standard: request.params.is_none(),
            }
        }
    };
    Ok(op)
}

fn decode_params(params: &[protocol::WireParam]) -> std::result::Result<Vec<Value>, Failure> {
    params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            p.decode()
                .map_err(|e| ErrorBody::bad_request(format!("parameter {}: {}", i + 1, e.detail())))
        })
        .collect()
}

fn check_read_only(app: &App, sql: &str) -> std::result::Result<(), Failure> {
    if app.read_only && !limits::allowed_when_read_only(sql) {
        return Err(ErrorBody::forbidden(
            "this relay is read-only: only SELECT, SHOW, DESCRIBE, EXPLAIN and transaction \
             control run here",
        ));
    }
    Ok(())
}

/// The one word of `COMMIT` / `ROLLBACK` text, as the official driver sends them.
fn transaction_end(sql: &str) -> Option<bool> {
    let words = crate::sql::code_words(sql);
    match words.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["COMMIT"] | ["COMMIT", "WORK"] => Some(true),
        ["ROLLBACK"] | ["ROLLBACK", "WORK"] => Some(false),
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
async fn execute(
    app: &App,
    connector: &DirectConnector,
    principal: &Principal,
    op: Op,
    isolation: Option<IsolationLevel>,
    session: Option<(String, Arc<sessions::Session>)>,
    incoming_token: &str,
) -> std::result::Result<(Answer, String), Failure> {
    let fail = |e: Error| ErrorBody::from_error(&e);
    let stateless = || sessions::stateless_token(incoming_token);

    // Standard text: BEGIN outside a session pins one; COMMIT/ROLLBACK in a transaction
    // session end it.
    let op = match op {
        Op::Statement {
            sql,
            standard: true,
            ..
        } if session.is_none() && crate::sql::starts_transaction(&sql) => Op::Begin {
            read_only: crate::sql::code_words(&sql).iter().any(|w| w == "ONLY"),
        },
        Op::Statement {
            sql,
            params,
            standard: true,
        } => {
            let in_transaction = match &session {
                Some((_, s)) => matches!(*s.held.lock().await, Some(Held::Transaction(_))),
                None => false,
            };
            match transaction_end(&sql) {
                Some(commit) if in_transaction => Op::End { commit },
                _ => Op::Statement {
                    sql,
                    params,
                    standard: true,
                },
            }
        }
        other => other,
    };

    match op {
        Op::Open => {
            if session.is_some() {
                return Err(ErrorBody::bad_request(
                    "this request already belongs to a session",
                ));
            }
            let pinned = connector.pin().await.map_err(fail)?;
            let token = open_session(app, principal, Held::Connection(pinned))?;
            Ok((Answer::One(ResultSet::default()), token))
        }
        Op::Close => {
            let Some((token, _)) = session else {
                return Err(ErrorBody::session_expired("no session to close"));
            };
            if let Some(s) = app.sessions.remove(&token) {
                sessions::end_session(&s).await;
            }
            Ok((Answer::One(ResultSet::default()), stateless()))
        }
        Op::Begin { read_only } => {
            let options = TxOptions {
                isolation,
                read_only: read_only || app.read_only,
            };
            match session {
                None => {
                    let tx = connector.begin(options).await.map_err(fail)?;
                    let token = open_session(app, principal, Held::Transaction(tx))?;
                    Ok((Answer::One(ResultSet::default()), token))
                }
                Some((token, s)) => {
                    s.touch();
                    let mut held = s.held.lock().await;
                    match held.as_mut() {
                        Some(Held::Connection(pinned)) => {
                            for statement in options.statements() {
                                pinned.query(&statement, &[]).await.map_err(fail)?;
                            }
                            Ok((Answer::One(ResultSet::default()), token))
                        }
                        _ => Err(ErrorBody::from_error(&Error::usage(
                            "a transaction is already open in this session; commit or roll it \
                             back first",
                        ))),
                    }
                }
            }
        }
        Op::End { commit } => {
            let Some((token, s)) = session else {
                return Err(ErrorBody::session_expired(
                    "no transaction to end: the session is unknown or expired",
                ));
            };
            let mut held = s.held.lock().await;
            if let Some(Held::Connection(pinned)) = held.as_mut() {
                s.touch();
                let sql = if commit { "COMMIT" } else { "ROLLBACK" };
                let rs = pinned.query(sql, &[]).await.map_err(fail)?;
                return Ok((Answer::One(rs), token));
            }
            app.sessions.remove(&token);
            let Some(Held::Transaction(tx)) = held.take() else {
                return Err(ErrorBody::session_expired(
                    "the transaction has already ended",
                ));
            };
            drop(held);
            let outcome = if commit {
                tx.commit().await
            } else {
                tx.rollback().await
            };
            outcome.map_err(fail)?;
            Ok((Answer::One(ResultSet::default()), stateless()))
        }
        Op::Statement { sql, params, .. } => {
            app.metrics.statements.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                tidb_relay.keyword = crate::sql::first_keyword(&sql).as_deref().unwrap_or(""),
                tidb_relay.params = params.len(),
                tidb_relay.in_session = session.is_some(),
                "statement"
            );
            match session {
                None => {
                    let rs = connector.query(&sql, &params).await.map_err(fail)?;
                    Ok((Answer::One(rs), stateless()))
                }
                Some((token, s)) => {
                    s.touch();
                    let mut held = s.held.lock().await;
                    let rs = match held.as_mut() {
                        Some(Held::Transaction(tx)) => tx.query(&sql, &params).await,
                        Some(Held::Connection(pinned)) => pinned.query(&sql, &params).await,
                        None => {
                            return Err(ErrorBody::session_expired("the session has ended"));
                        }
                    };
                    s.touch();
                    Ok((Answer::One(rs.map_err(fail)?), token))
                }
            }
        }
        Op::Batch(statements) => {
            if session.is_some() {
                return Err(ErrorBody::bad_request(
                    "a batch runs in its own transaction and cannot run inside a session",
                ));
            }
            app.metrics
                .statements
                .fetch_add(statements.len() as u64, Ordering::Relaxed);
            let results = connector.batch(&statements).await.map_err(fail)?;
            Ok((Answer::Many(results), stateless()))
        }
    }
}

fn open_session(
    app: &App,
    principal: &Principal,
    held: Held,
) -> std::result::Result<String, Failure> {
    match app
        .sessions
        .open(&principal.name, held, app.limits.max_sessions_per_user)
    {
        Ok(token) => {
            app.metrics.sessions_opened.fetch_add(1, Ordering::Relaxed);
            Ok(token)
        }
        // Dropping what the session would have held rolls it back.
        Err((OpenError::TooMany(n), _held)) => {
            app.metrics.limit_rejections.fetch_add(1, Ordering::Relaxed);
            Err(ErrorBody::too_many_sessions(format!(
                "this user has {n} open sessions, the relay's limit (max-sessions-per-user); \
                 commit or roll back one first"
            )))
        }
        Err((OpenError::Draining, _held)) => Err(ErrorBody::overloaded(
            "the relay is shutting down; try another one",
        )),
    }
}

/// Checks the result against the row and byte limits and encodes it.
fn encode_answer(
    app: &App,
    answer: Answer,
    extended: bool,
) -> std::result::Result<Vec<u8>, Failure> {
    let rows: usize = match &answer {
        Answer::One(rs) => rs.rows.len(),
        Answer::Many(all) => all.iter().map(|rs| rs.rows.len()).sum(),
    };
    if rows > app.limits.max_rows {
        return Err(ErrorBody::too_large(format!(
            "the result has {rows} rows, more than the relay's limit of {} (max-rows); the \
             statement ran, but its rows were not sent: add a LIMIT or page with WHERE",
            app.limits.max_rows
        )));
    }
    // The result was read whole (the direct backend returns whole results), so a refused
    // answer still cost the database and the relay its rows; the limits bound that memory.
    // Streaming rows would stop earlier (README, Limitations).
    let bytes = match answer {
        Answer::One(rs) => serde_json::to_vec(&protocol::encode_result(&rs, extended)),
        Answer::Many(all) => serde_json::to_vec(&BatchResponse {
            results: all
                .iter()
                .map(|rs| protocol::encode_result(rs, extended))
                .collect::<Vec<SqlResponse>>(),
        }),
    }
    .map_err(|_| ErrorBody::internal("the result could not be encoded"))?;
    if bytes.len() > app.limits.max_response_bytes {
        return Err(ErrorBody::too_large(format!(
            "the result takes {} bytes, more than the relay's limit of {} (max-response-bytes); \
             the statement ran, but its rows were not sent",
            bytes.len(),
            app.limits.max_response_bytes
        )));
    }
    Ok(bytes)
}

fn json_response(body: Vec<u8>, session: Option<&str>) -> Response {
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(token) = session.and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.insert(protocol::SESSION_HEADER, token);
    }
    response
}

fn failure((status, body): Failure) -> Response {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut response = json_response(bytes, None);
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}
