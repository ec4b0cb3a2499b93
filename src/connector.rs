//! The one seam between applications and network paths.

use std::fmt;

use async_trait::async_trait;

use crate::config::Backend;
use crate::error::Result;
use crate::value::{ExecResult, ResultSet, Value};
use crate::version::ServerVersion;

/// `Send + Sync` on native targets, nothing on wasm32 where JavaScript handles are neither.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSendSync: Send + Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + Sync + ?Sized> MaybeSendSync for T {}

/// `Send + Sync` on native targets, nothing on wasm32 where JavaScript handles are neither.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSendSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSendSync for T {}

/// One statement of a batch: SQL with `?` placeholders and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The SQL text.
    pub sql: String,
    /// The parameters, one per `?`.
    pub params: Vec<Value>,
}

impl Statement {
    /// A statement with parameters.
    pub fn new(sql: impl Into<String>, params: Vec<Value>) -> Self {
        Statement {
            sql: sql.into(),
            params,
        }
    }
}

impl From<&str> for Statement {
    fn from(sql: &str) -> Self {
        Statement::new(sql, Vec::new())
    }
}

/// Transaction isolation levels.
///
/// TiDB supports `ReadCommitted` and `RepeatableRead` (its default, snapshot isolation);
/// it answers `Serializable` and `ReadUncommitted` with error 8048
/// ([`codes::TIDB_UNSUPPORTED_ISOLATION_LEVEL`](crate::codes::TIDB_UNSUPPORTED_ISOLATION_LEVEL)),
/// which [`Error::is_unsupported`](crate::Error::is_unsupported) reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IsolationLevel {
    /// READ UNCOMMITTED (not on TiDB).
    ReadUncommitted,
    /// READ COMMITTED.
    ReadCommitted,
    /// REPEATABLE READ (TiDB: snapshot isolation).
    RepeatableRead,
    /// SERIALIZABLE (not on TiDB).
    Serializable,
}

impl IsolationLevel {
    /// The SQL spelling.
    pub fn as_sql(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "READ UNCOMMITTED",
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        }
    }
}

/// How to start a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxOptions {
    /// The isolation level; `None` keeps the session's.
    pub isolation: Option<IsolationLevel>,
    /// Start a read-only transaction.
    pub read_only: bool,
}

impl TxOptions {
    /// The statements that open the transaction: an optional `SET TRANSACTION`, then `START
    /// TRANSACTION`.
    pub(crate) fn statements(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(2);
        if let Some(level) = self.isolation {
            out.push(format!(
                "SET TRANSACTION ISOLATION LEVEL {}",
                level.as_sql()
            ));
        }
        out.push(if self.read_only {
            "START TRANSACTION READ ONLY".to_owned()
        } else {
            "START TRANSACTION".to_owned()
        });
        out
    }
}

/// A database reachable through one of the paths.
///
/// Every backend implements this trait and passes the same conformance suite. Futures are
/// `Send` on native targets and not on wasm32.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait Connector: MaybeSendSync {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// Runs a statement with `?` parameters and returns its rows.
    ///
    /// # Errors
    ///
    /// Connection, timeout or server errors; `unsupported` when the text holds several
    /// statements (use [`Connector::batch`]).
    async fn query(&self, sql: &str, params: &[Value]) -> Result<ResultSet>;

    /// Runs a statement with `?` parameters and returns what it changed.
    ///
    /// # Errors
    ///
    /// As [`Connector::query`].
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<ExecResult> {
        let rs = self.query(sql, params).await?;
        Ok(ExecResult {
            affected_rows: rs.affected_rows,
            last_insert_id: rs.last_insert_id,
            warnings: rs.warnings,
        })
    }

    /// Runs statements atomically: all are applied or, if one fails, none.
    ///
    /// The statements run in one transaction. DDL (`CREATE`, `ALTER`, `DROP`…) commits
    /// implicitly on MySQL, MariaDB and TiDB, so a batch holding DDL is not atomic.
    ///
    /// # Errors
    ///
    /// The failing statement's error wrapped with its index ([`Error::batch_index`]); or
    /// "outcome unknown" if the connection broke during the final COMMIT.
    ///
    /// [`Error::batch_index`]: crate::Error::batch_index
    async fn batch(&self, statements: &[Statement]) -> Result<Vec<ResultSet>>;

    /// Starts an interactive transaction on one connection.
    ///
    /// # Errors
    ///
    /// Connection errors, or the server's error for the options (e.g. 8048 on TiDB for
    /// SERIALIZABLE).
    async fn begin(&self, options: TxOptions) -> Result<Transaction>;

    /// The server's version, as it announced itself.
    ///
    /// # Errors
    ///
    /// Connection errors.
    async fn server_version(&self) -> Result<ServerVersion>;

    /// Closes the connections and waits for them to end, for connections still checked out
    /// (open transactions) at most the connect timeout. Further calls fail.
    ///
    /// # Errors
    ///
    /// A timeout when connections stayed checked out, or errors while closing (the connector
    /// is closed anyway).
    async fn close(&self) -> Result<()>;
}

/// What a backend provides for an open transaction. [`Transaction`] wraps it.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait TransactionBackend: MaybeSendSync {
    /// Runs a statement inside the transaction.
    ///
    /// # Errors
    ///
    /// Server errors (the transaction stays open); "connection lost in transaction".
    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<ResultSet>;
    /// Commits.
    ///
    /// # Errors
    ///
    /// The server's error; "outcome unknown" if the connection broke after COMMIT was sent.
    async fn commit(&mut self) -> Result<()>;
    /// Rolls back.
    ///
    /// # Errors
    ///
    /// Connection errors.
    async fn rollback(&mut self) -> Result<()>;
    /// Called when the transaction is dropped without commit or rollback: roll back in the
    /// background if the backend can, or discard the connection.
    fn abandon(&mut self);
}

/// An open transaction. Commit or roll it back; dropping it rolls back.
pub struct Transaction {
    backend: Backend,
    inner: Option<Box<dyn TransactionBackend>>,
}

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("backend", &self.backend)
            .field("open", &self.inner.is_some())
            .finish()
    }
}

impl Transaction {
    /// Wraps a backend's transaction.
    pub fn new(backend: Backend, inner: Box<dyn TransactionBackend>) -> Self {
        Transaction {
            backend,
            inner: Some(inner),
        }
    }

    /// The backend the transaction runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn open(&mut self) -> &mut Box<dyn TransactionBackend> {
        self.inner
            .as_mut()
            .expect("a transaction is open until commit or rollback consumes it")
    }

    /// Runs a statement in the transaction and returns its rows.
    ///
    /// # Errors
    ///
    /// Server errors (the transaction stays open); "connection lost in transaction" if the
    /// connection broke (the transaction is gone).
    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<ResultSet> {
        self.open().query(sql, params).await
    }

    /// Runs a statement in the transaction and returns what it changed.
    ///
    /// # Errors
    ///
    /// As [`Transaction::query`].
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<ExecResult> {
        let rs = self.open().query(sql, params).await?;
        Ok(ExecResult {
            affected_rows: rs.affected_rows,
            last_insert_id: rs.last_insert_id,
            warnings: rs.warnings,
        })
    }

    /// Commits the transaction.
    ///
    /// # Errors
    ///
    /// The server's error; or "outcome unknown" if the connection broke after COMMIT was sent
    /// (nothing is retried).
    pub async fn commit(mut self) -> Result<()> {
        let mut inner = self.inner.take().expect("open transaction");
        inner.commit().await
    }

    /// Rolls the transaction back.
    ///
    /// # Errors
    ///
    /// Connection errors (the server rolls back by itself when a connection breaks).
    pub async fn rollback(mut self) -> Result<()> {
        let mut inner = self.inner.take().expect("open transaction");
        inner.rollback().await
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if let Some(mut inner) = self.inner.take() {
            inner.abandon();
        }
    }
}

// Compile-time proof that a backend holding `!Send` JavaScript handles can implement the
// trait on wasm32 (an `Rc` stands in for such a handle).
#[cfg(target_arch = "wasm32")]
const _: () = {
    use std::rc::Rc;

    struct LocalOnly(Rc<()>);

    #[async_trait(?Send)]
    impl Connector for LocalOnly {
        fn backend(&self) -> Backend {
            Backend::Direct
        }
        async fn query(&self, _sql: &str, _params: &[Value]) -> Result<ResultSet> {
            let _held_across_await = self.0.clone();
            Ok(ResultSet::default())
        }
        async fn batch(&self, _statements: &[Statement]) -> Result<Vec<ResultSet>> {
            Ok(Vec::new())
        }
        async fn begin(&self, _options: TxOptions) -> Result<Transaction> {
            Err(crate::Error::unsupported("test", "transactions"))
        }
        async fn server_version(&self) -> Result<ServerVersion> {
            Ok(ServerVersion::parse(""))
        }
        async fn close(&self) -> Result<()> {
            Ok(())
        }
    }
};

/// Asks the server for its version string (`SELECT VERSION()`), for backends that do not see
/// the handshake's.
pub(crate) async fn select_version<C: Connector + ?Sized>(db: &C) -> Result<ServerVersion> {
    let rs = db.query("SELECT VERSION()", &[]).await?;
    let raw: String = rs
        .first()
        .ok_or_else(|| crate::error::Error::protocol("SELECT VERSION() returned no row"))?
        .try_get(0)?;
    Ok(ServerVersion::parse(&raw))
}
