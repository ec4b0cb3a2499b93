//! An example Cloudflare Worker that runs SQL through tidb-connect.
//!
//! The Worker names no backend: `tidb_connect::workers::connect(&env)` reads `TIDB_URL`
//! (`mysql://…`, `hyperdrive://BINDING` or `relay+vpc://…@BINDING/db`) and every operation goes
//! through the `Connector` trait. The routes make each trait method reachable over HTTP, so the
//! workerd tests in `tests/workerd/` can drive them:
//!
//! | route | body | answer |
//! |---|---|---|
//! | `GET /` | | the route list (no database needed) |
//! | `GET /version` | | the server's version |
//! | `POST /sql` | `{"sql", "params"}` | columns and rows |
//! | `POST /exec` | `{"sql", "params"}` | affected rows, last insert id, warnings |
//! | `POST /batch` | `{"statements": [{"sql", "params"}, …]}` | one result per statement |
//! | `POST /tx` | `{"statements", "isolation"?, "read_only"?, "end"?, "on_error"?}` | one result per statement |
//!
//! Values travel as tagged JSON (see [`wire`]); errors as `{"error": {…}}` with the library
//! error's questions answered (see [`wire::error`]).

mod wire;

use serde::Deserialize;
use serde_json::{Value as Json, json};
use tidb_connect::{Client, Connector, Statement, TxOptions};
use worker::{Context, Env, Method, Request, Response, event};

use crate::wire::Failure;

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let answer = route(&mut req, &env).await;
    let (status, body) = match answer {
        Ok(body) => (200, body),
        Err(failure) => failure.into_response(),
    };
    Ok(Response::from_json(&body)?.with_status(status))
}

async fn route(req: &mut Request, env: &Env) -> Result<Json, Failure> {
    match (req.method(), req.path().as_str()) {
        (Method::Get, "/") => Ok(json!({
            "routes": ["GET /version", "POST /sql", "POST /exec", "POST /batch", "POST /tx"]
        })),
        (Method::Get, "/version") => with_db(env, version).await,
        (Method::Post, "/sql") => {
            let body: SqlBody = body(req).await?;
            with_db(env, |db| sql(db, body)).await
        }
        (Method::Post, "/exec") => {
            let body: SqlBody = body(req).await?;
            with_db(env, |db| exec(db, body)).await
        }
        (Method::Post, "/batch") => {
            let body: BatchBody = body(req).await?;
            with_db(env, |db| batch(db, body)).await
        }
        (Method::Post, "/tx") => {
            let body: TxBody = body(req).await?;
            with_db(env, |db| transaction(db, body)).await
        }
        (method, path) => Err(Failure::not_found(&format!("{method:?} {path}"))),
    }
}

/// Connects with the Worker's `TIDB_URL`, runs `op`, and closes the connection: Workers may not
/// keep sockets open from one request to the next.
async fn with_db<F, Fut>(env: &Env, op: F) -> Result<Json, Failure>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<Json, Failure>>,
{
    let db = tidb_connect::workers::connect(env)
        .await
        .map_err(|e| Failure::db("connect", e))?;
    let answer = op(db.clone()).await;

    if let Err(e) = db.close().await {
        worker::console_warn!("closing the connection failed: {e}");
    }
    answer
}

#[derive(Deserialize)]
struct SqlBody {
    sql: String,
    #[serde(default)]
    params: Vec<Json>,
}

impl SqlBody {
    fn statement(self) -> Result<Statement, Failure> {
        Ok(Statement::new(self.sql, wire::params(&self.params)?))
    }
}

#[derive(Deserialize)]
struct BatchBody {
    statements: Vec<SqlBody>,
}

#[derive(Deserialize)]
struct TxBody {
    statements: Vec<SqlBody>,
    /// `READ COMMITTED`, `REPEATABLE READ`, … as SQL spells them.
    isolation: Option<String>,
    #[serde(default)]
    read_only: bool,
    /// How to end the transaction (default `commit`).
    end: Option<String>,
    /// On a failing statement: `rollback` and answer with its error (default), or `continue`,
    /// putting `{"error": …}` in its place in the results (the transaction stays open after a
    /// statement error, as on the server).
    on_error: Option<String>,
}

async fn body<T: for<'de> Deserialize<'de>>(req: &mut Request) -> Result<T, Failure> {
    let text = req
        .text()
        .await
        .map_err(|e| Failure::bad_request(&format!("cannot read the body: {e}")))?;
    serde_json::from_str(&text).map_err(|e| Failure::bad_request(&format!("bad JSON body: {e}")))
}

async fn version(db: Client) -> Result<Json, Failure> {
    let v = db
        .server_version()
        .await
        .map_err(|e| Failure::db("server_version", e))?;
    Ok(json!({
        "flavor": format!("{:?}", v.flavor),
        "version": v.version.map(|(a, b, c)| [a, b, c]),
        "serverless": v.serverless,
        "raw": v.raw,
    }))
}

async fn sql(db: Client, body: SqlBody) -> Result<Json, Failure> {
    let st = body.statement()?;
    let rs = db
        .query(&st.sql, &st.params)
        .await
        .map_err(|e| Failure::db("query", e))?;
    Ok(wire::result_set(&rs))
}

async fn exec(db: Client, body: SqlBody) -> Result<Json, Failure> {
    let st = body.statement()?;
    let done = db
        .execute(&st.sql, &st.params)
        .await
        .map_err(|e| Failure::db("execute", e))?;
    Ok(wire::exec_result(&done))
}

async fn batch(db: Client, body: BatchBody) -> Result<Json, Failure> {
    let statements = body
        .statements
        .into_iter()
        .map(SqlBody::statement)
        .collect::<Result<Vec<_>, _>>()?;
    let results = db
        .batch(&statements)
        .await
        .map_err(|e| Failure::db("batch", e))?;
    Ok(json!({ "results": results.iter().map(wire::result_set).collect::<Vec<_>>() }))
}

async fn transaction(db: Client, body: TxBody) -> Result<Json, Failure> {
    let options = TxOptions {
        isolation: body.isolation.as_deref().map(wire::isolation).transpose()?,
        read_only: body.read_only,
    };
    let commit = match body.end.as_deref() {
        None | Some("commit") => true,
        Some("rollback") => false,
        Some(other) => {
            return Err(Failure::bad_request(&format!(
                "`end` is `commit` or `rollback`, not `{other}`"
            )));
        }
    };
    let keep_going = match body.on_error.as_deref() {
        None | Some("rollback") => false,
        Some("continue") => true,
        Some(other) => {
            return Err(Failure::bad_request(&format!(
                "`on_error` is `rollback` or `continue`, not `{other}`"
            )));
        }
    };
    let statements = body
        .statements
        .into_iter()
        .map(SqlBody::statement)
        .collect::<Result<Vec<_>, _>>()?;

    let mut tx = db
        .begin(options)
        .await
        .map_err(|e| Failure::db("begin", e))?;
    let mut results = Vec::with_capacity(statements.len());
    for (index, st) in statements.iter().enumerate() {
        match tx.query(&st.sql, &st.params).await {
            Ok(rs) => results.push(wire::result_set(&rs)),
            Err(e) if keep_going => results.push(json!({ "error": wire::error("query", &e) })),
            Err(e) => {
                // Roll back explicitly so the answer does not depend on drop order; the
                // statement's error is the one to report.
                if let Err(rollback) = tx.rollback().await {
                    worker::console_warn!("rollback after a failed statement failed: {rollback}");
                }
                return Err(Failure::db("transaction statement", e).at_statement(index));
            }
        }
    }

    // A failed end still reports what the statements did.
    let ended = if commit {
        tx.commit().await.map_err(|e| Failure::db("commit", e))
    } else {
        tx.rollback().await.map_err(|e| Failure::db("rollback", e))
    };
    ended.map_err(|f| f.with_results(&results))?;
    Ok(json!({
        "results": results,
        "ended": if commit { "commit" } else { "rollback" },
    }))
}
