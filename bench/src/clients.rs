//! The paths under test and the workload operations, written once per client API the way an
//! application would write them with that client.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::ValueEnum;
use serde::Serialize;
use tidb_connect::{Config, Connector, Statement, TxOptions, Value};

use crate::target::Target;

/// Rows in the table that point and range selects read.
pub const ROWS: u64 = 10_000;

const POINT: &str = "SELECT id, k, c, pad FROM bench_rows WHERE id = ?";
const RANGE: &str = "SELECT id, k, c, pad FROM bench_rows WHERE id BETWEEN ? AND ?";
const INSERT: &str = "INSERT INTO bench_log (k, c, pad) VALUES (?, ?, ?)";
const LOCK: &str = "SELECT k FROM bench_rows WHERE id = ? FOR UPDATE";
const UPDATE: &str = "UPDATE bench_rows SET k = ? WHERE id = ?";
/// The large result of the memory case.
pub const BIG: &str = "SELECT id, k, c, pad FROM bench_big";

const C: &str = "insert-c-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789-\
                 0123456789-0123456789-01234567";
const PAD: &str = "insert-pad-0123456789-0123456789-0123456789-0123456789-01";

/// The environment variable prefix the Hyperdrive path reads its origin from natively.
pub const HYPERDRIVE_VAR: &str = "CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_";

/// A row of `bench_rows`, as each client decodes it.
type Row = (i64, i32, String, String);

/// The same row for sqlx, whose MySQL driver reads a column with the `utf8mb4_bin` collation
/// (TiDB's default) as VARBINARY and refuses to decode it into `String`.
type SqlxRow = (i64, i32, Vec<u8>, Vec<u8>);

/// One way from the application to the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathKind {
    /// Raw mysql_async (a peer, the baseline of every ratio).
    MysqlAsync,
    /// Raw sqlx (a peer).
    Sqlx,
    /// tidb-connect direct (`mysql://`, on mysql_async).
    Direct,
    /// tidb-connect direct on the crate's own wire client (`mysql://…?client=wire`).
    DirectWire,
    /// tidb-connect's Hyperdrive code path (`hyperdrive://`: wire client, text protocol,
    /// parameters bound on the client).
    Hyperdrive,
    /// tidb-connect over the VPC relay (`relay+http://`, native client → relay → database).
    Relay,
}

impl PathKind {
    /// Every path, in report order.
    pub const ALL: [PathKind; 6] = [
        PathKind::MysqlAsync,
        PathKind::Sqlx,
        PathKind::Direct,
        PathKind::DirectWire,
        PathKind::Hyperdrive,
        PathKind::Relay,
    ];

    /// The name in tables.
    pub fn name(self) -> &'static str {
        match self {
            PathKind::MysqlAsync => "mysql_async (raw)",
            PathKind::Sqlx => "sqlx (raw)",
            PathKind::Direct => "tidb-connect direct",
            PathKind::DirectWire => "tidb-connect direct, wire client",
            PathKind::Hyperdrive => "tidb-connect hyperdrive path",
            PathKind::Relay => "tidb-connect relay",
        }
    }

    /// Whether the path talks to the relay rather than the database.
    pub fn via_relay(self) -> bool {
        self == PathKind::Relay
    }
}

/// A named workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// `SELECT … WHERE id = ?` by primary key.
    PointSelect,
    /// `SELECT … WHERE id BETWEEN ? AND ?`, 100 rows.
    Range100,
    /// One `INSERT` of one row.
    Insert,
    /// Ten single-row `INSERT`s applied atomically.
    Batch10,
    /// A transaction: `SELECT … FOR UPDATE`, `UPDATE`, `COMMIT`.
    Rmw,
}

impl Workload {
    /// Every workload, in report order.
    pub const ALL: [Workload; 5] = [
        Workload::PointSelect,
        Workload::Range100,
        Workload::Insert,
        Workload::Batch10,
        Workload::Rmw,
    ];

    /// The name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Workload::PointSelect => "point select",
            Workload::Range100 => "100-row range",
            Workload::Insert => "insert",
            Workload::Batch10 => "batch of 10 inserts",
            Workload::Rmw => "read-modify-write tx",
        }
    }

    /// Statements one operation sends (transaction control included).
    pub fn statements(self) -> u32 {
        match self {
            Workload::PointSelect | Workload::Range100 | Workload::Insert => 1,
            Workload::Batch10 => 12,
            Workload::Rmw => 4,
        }
    }
}

/// A connected client of one path. Clones share the pool.
#[derive(Clone)]
pub enum Client {
    /// Raw mysql_async.
    MysqlAsync(mysql_async::Pool),
    /// Raw sqlx.
    Sqlx(sqlx::MySqlPool),
    /// Any tidb-connect path.
    Tidb(tidb_connect::Client),
}

/// Where a client connects: the database (or a proxy in front of it), or the relay (or a
/// proxy in front of it).
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    /// Port on the target's host (database side) or on 127.0.0.1 (relay side).
    pub port: u16,
}

/// The Hyperdrive binding name whose local variable points at `port`.
pub fn hyperdrive_binding(port: u16) -> String {
    format!("BENCH_{port}")
}

/// Connects a path. mysql_async and sqlx pools open connections lazily, so time to the first
/// row is what cold measurements compare.
pub async fn connect(kind: PathKind, target: &Target, at: Endpoint, pool: usize) -> Result<Client> {
    let tidb = |url: String| async move {
        let config = Config::parse(&url).context("tidb-connect URL")?;
        let client = tidb_connect::connect(&config).await?;
        Ok::<_, anyhow::Error>(Client::Tidb(client))
    };
    match kind {
        PathKind::MysqlAsync => {
            let mut ssl = mysql_async::SslOpts::default();
            if let Some(ca) = &target.ca {
                ssl = ssl.with_root_certs(vec![std::path::PathBuf::from(ca).into()]);
            }
            // min = max: mysql_async closes idle connections above `min` at once by default
            // (inactive_connection_ttl 0), so a pool with min 0 reconnects for every
            // operation. Everything else is mysql_async's default, including
            // COM_RESET_CONNECTION when a connection goes back to the pool.
            let constraints =
                mysql_async::PoolConstraints::new(pool, pool).context("pool constraints")?;
            let opts = mysql_async::OptsBuilder::default()
                .ip_or_hostname(target.host.clone())
                .tcp_port(at.port)
                .user(Some(target.user.clone()))
                .pass(Some(target.password.clone()))
                .db_name(Some(target.database.clone()))
                .ssl_opts(ssl)
                .pool_opts(mysql_async::PoolOpts::default().with_constraints(constraints));
            Ok(Client::MysqlAsync(mysql_async::Pool::new(opts)))
        }
        PathKind::Sqlx => {
            use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlSslMode};
            let mut opts = MySqlConnectOptions::new()
                .host(&target.host)
                .port(at.port)
                .username(&target.user)
                .password(&target.password)
                .database(&target.database)
                .ssl_mode(MySqlSslMode::VerifyIdentity);
            if let Some(ca) = &target.ca {
                opts = opts.ssl_ca(ca);
            }
            let pool = MySqlPoolOptions::new()
                .max_connections(pool as u32)
                .acquire_timeout(Duration::from_secs(30))
                .connect_lazy_with(opts);
            Ok(Client::Sqlx(pool))
        }
        PathKind::Direct => tidb(target.mysql_url(at.port, &format!("pool-size={pool}"))).await,
        PathKind::DirectWire => {
            tidb(target.mysql_url(at.port, &format!("pool-size={pool}&client=wire"))).await
        }
        PathKind::Hyperdrive => tidb(format!("hyperdrive://{}", hyperdrive_binding(at.port))).await,
        PathKind::Relay => tidb(target.relay_url(at.port)).await,
    }
}

/// The settings the Hyperdrive path reads for a database reached at `port` (a variable name
/// and its `mysql://` value).
pub fn hyperdrive_env(target: &Target, port: u16, pool: usize) -> (String, String) {
    (
        format!("{HYPERDRIVE_VAR}{}", hyperdrive_binding(port)),
        target.mysql_url(port, &format!("pool-size={pool}")),
    )
}

impl Client {
    /// Runs one operation of `w`, with `key` choosing the rows; returns the rows read.
    pub async fn run(&self, w: Workload, key: u64) -> Result<usize> {
        let id = 1 + (key % ROWS) as i64;
        let lo = 1 + (key % (ROWS - 99)) as i64;
        let k = (key % 1_000_000) as i32;
        match self {
            Client::MysqlAsync(pool) => mysql_async_op(pool, w, id, lo, k).await,
            Client::Sqlx(pool) => sqlx_op(pool, w, id, lo, k).await,
            Client::Tidb(db) => tidb_op(db, w, id, lo, k).await,
        }
    }

    /// Reads the large table whole (the memory case).
    pub async fn read_big(&self) -> Result<usize> {
        use mysql_async::prelude::Queryable;
        Ok(match self {
            Client::MysqlAsync(pool) => {
                let mut conn = pool.get_conn().await?;
                conn.query::<Row, _>(BIG).await?.len()
            }
            Client::Sqlx(pool) => sqlx::query_as::<_, SqlxRow>(BIG)
                .fetch_all(pool)
                .await?
                .len(),
            Client::Tidb(db) => db.query(BIG, &[]).await?.decode::<Row>()?.len(),
        })
    }

    /// Closes the pool and waits for its connections to end.
    pub async fn close(self) {
        match self {
            Client::MysqlAsync(pool) => {
                let _ = pool.disconnect().await;
            }
            Client::Sqlx(pool) => pool.close().await,
            Client::Tidb(db) => {
                let _ = db.close().await;
            }
        }
    }
}

async fn mysql_async_op(
    pool: &mysql_async::Pool,
    w: Workload,
    id: i64,
    lo: i64,
    k: i32,
) -> Result<usize> {
    use mysql_async::prelude::Queryable;
    let mut conn = pool.get_conn().await?;
    Ok(match w {
        Workload::PointSelect => conn
            .exec_first::<Row, _, _>(POINT, (id,))
            .await?
            .iter()
            .count(),
        Workload::Range100 => conn.exec::<Row, _, _>(RANGE, (lo, lo + 99)).await?.len(),
        Workload::Insert => {
            conn.exec_drop(INSERT, (k, C, PAD)).await?;
            0
        }
        Workload::Batch10 => {
            let mut tx = conn
                .start_transaction(mysql_async::TxOpts::default())
                .await?;
            for i in 0..10 {
                tx.exec_drop(INSERT, (k + i, C, PAD)).await?;
            }
            tx.commit().await?;
            0
        }
        Workload::Rmw => {
            let mut tx = conn
                .start_transaction(mysql_async::TxOpts::default())
                .await?;
            let old: Option<i32> = tx.exec_first(LOCK, (id,)).await?;
            tx.exec_drop(UPDATE, (old.unwrap_or(0) + 1, id)).await?;
            tx.commit().await?;
            1
        }
    })
}

async fn sqlx_op(pool: &sqlx::MySqlPool, w: Workload, id: i64, lo: i64, k: i32) -> Result<usize> {
    Ok(match w {
        Workload::PointSelect => sqlx::query_as::<_, SqlxRow>(POINT)
            .bind(id)
            .fetch_optional(pool)
            .await?
            .iter()
            .count(),
        Workload::Range100 => sqlx::query_as::<_, SqlxRow>(RANGE)
            .bind(lo)
            .bind(lo + 99)
            .fetch_all(pool)
            .await?
            .len(),
        Workload::Insert => {
            sqlx::query(INSERT)
                .bind(k)
                .bind(C)
                .bind(PAD)
                .execute(pool)
                .await?;
            0
        }
        Workload::Batch10 => {
            let mut tx = pool.begin().await?;
            for i in 0..10 {
                sqlx::query(INSERT)
                    .bind(k + i)
                    .bind(C)
                    .bind(PAD)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            0
        }
        Workload::Rmw => {
            let mut tx = pool.begin().await?;
            let (old,): (i32,) = sqlx::query_as(LOCK).bind(id).fetch_one(&mut *tx).await?;
            sqlx::query(UPDATE)
                .bind(old + 1)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            1
        }
    })
}

async fn tidb_op(
    db: &tidb_connect::Client,
    w: Workload,
    id: i64,
    lo: i64,
    k: i32,
) -> Result<usize> {
    let row = |k: i32| vec![Value::from(k), Value::from(C), Value::from(PAD)];
    Ok(match w {
        Workload::PointSelect => db.query(POINT, &[id.into()]).await?.decode::<Row>()?.len(),
        Workload::Range100 => db
            .query(RANGE, &[lo.into(), (lo + 99).into()])
            .await?
            .decode::<Row>()?
            .len(),
        Workload::Insert => {
            db.execute(INSERT, &row(k)).await?;
            0
        }
        Workload::Batch10 => {
            let statements: Vec<Statement> = (0..10)
                .map(|i| Statement::new(INSERT, row(k + i)))
                .collect();
            db.batch(&statements).await?;
            0
        }
        Workload::Rmw => {
            let mut tx = db.begin(TxOptions::default()).await?;
            let (old,): (i32,) = tx
                .query(LOCK, &[id.into()])
                .await?
                .first()
                .context("the locked row is missing")?
                .decode()?;
            tx.execute(UPDATE, &[(old + 1).into(), id.into()]).await?;
            tx.commit().await?;
            1
        }
    })
}

/// Creates the tables (idempotent): `bench_rows` with [`ROWS`] rows, an empty `bench_log`,
/// and `bench_big` with `big_rows` rows. Uses tidb-connect direct.
pub async fn prepare(db: &tidb_connect::Client, big_rows: u64) -> Result<()> {
    for table in ["bench_rows", "bench_big"] {
        db.execute(
            &format!(
                "CREATE TABLE IF NOT EXISTS {table} (id BIGINT NOT NULL PRIMARY KEY, \
                 k INT NOT NULL, c VARCHAR(120) NOT NULL, pad VARCHAR(60) NOT NULL)"
            ),
            &[],
        )
        .await?;
    }
    db.execute("DROP TABLE IF EXISTS bench_log", &[]).await?;
    db.execute(
        "CREATE TABLE bench_log (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, \
         k INT NOT NULL, c VARCHAR(120) NOT NULL, pad VARCHAR(60) NOT NULL)",
        &[],
    )
    .await?;
    fill(db, "bench_rows", ROWS).await?;
    fill(db, "bench_big", big_rows).await
}

/// Fills `table` with ids 1..=n by doubling (portable to TiDB, no sequence engine).
async fn fill(db: &tidb_connect::Client, table: &str, n: u64) -> Result<()> {
    let count = |rs: tidb_connect::ResultSet| -> Result<u64> {
        Ok(rs.first().context("count")?.try_get::<i64, _>(0)? as u64)
    };
    let have = count(
        db.query(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .await?,
    )?;
    if have == n {
        return Ok(());
    }
    db.execute(&format!("DELETE FROM {table}"), &[]).await?;
    db.execute(
        &format!("INSERT INTO {table} VALUES (1, 1, REPEAT('c', 120), REPEAT('p', 60))"),
        &[],
    )
    .await?;
    let mut have = 1u64;
    while have < n {
        db.execute(
            &format!(
                "INSERT INTO {table} (id, k, c, pad) SELECT id + ?, (id + ?) % 1000, c, pad \
                 FROM {table} WHERE id + ? <= ?"
            ),
            &[have.into(), have.into(), have.into(), n.into()],
        )
        .await?;
        have = (have * 2).min(n);
    }
    Ok(())
}
