//! The conformance suite: the same cases and the same expected values for every backend.
//!
//! A backend's test file builds a [`Target`] (how to turn a local server's `mysql://` URL
//! into that backend's URL) and expands [`conformance_tests!`], which creates one test per
//! case. The cases only use the public API: `tidb_connect::connect` and the `Connector` trait.

#![allow(dead_code)]

use std::time::Duration;

use serde::Deserialize;
use tidb_connect::{
    Client, Config, Connector, Date, DateTime, Decimal, IsolationLevel, Statement, Time, TxOptions,
    Value, params,
};

use crate::common::{self, Server};

/// How one backend reaches the local servers.
pub struct Target {
    /// Short name, used to keep each backend's tables apart.
    pub name: &'static str,
    /// Turns a local server's `mysql://` URL into this backend's URL.
    pub url_for: fn(&str) -> String,
}

impl Target {
    fn table(&self, case: &str) -> String {
        format!("{}_{case}", self.name)
    }

    /// Connects to a server through this backend, with extra URL parameters.
    pub async fn connect_to(&self, server_url: &str, params: &str) -> Client {
        let url = (self.url_for)(&common::with_params(server_url, params));
        let config = Config::parse(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
        tidb_connect::connect(&config)
            .await
            .unwrap_or_else(|e| panic!("connect {config}: {e}"))
    }

    /// Connects to the main local server.
    pub async fn connect(&self, params: &str) -> Client {
        self.connect_to(&common::main_server().url, params).await
    }

    /// Connects to the second server (4M packets, 3 s idle timeout, `db.internal` cert).
    pub async fn connect_alt(&self, params: &str) -> Client {
        let alt = common::alt_server();
        let url = common::with_params(&alt.url, "tls-server-name=db.internal");
        self.connect_to(&url, params).await
    }
}

/// A direct connection for setup and inspection, independent of the backend under test.
pub async fn admin(server: &Server) -> Client {
    let config = Config::parse(&server.url).unwrap();
    tidb_connect::connect(&config).await.unwrap()
}

async fn admin_alt() -> Client {
    let alt = common::alt_server();
    let url = common::with_params(&alt.url, "tls-server-name=db.internal");
    tidb_connect::connect(&Config::parse(&url).unwrap())
        .await
        .unwrap()
}

async fn recreate(db: &Client, table: &str, columns: &str) {
    db.execute(&format!("DROP TABLE IF EXISTS {table}"), &[])
        .await
        .unwrap();
    db.execute(&format!("CREATE TABLE {table} ({columns})"), &[])
        .await
        .unwrap();
}

async fn count(db: &Client, sql: &str, params: &[Value]) -> i64 {
    db.query(sql, params).await.unwrap().rows[0]
        .try_get::<i64, _>(0)
        .unwrap()
}

/// Expands to one `#[tokio::test]` per conformance case for the target returned by `$target`.
#[macro_export]
macro_rules! conformance_tests {
    ($target:expr) => {
        $crate::conformance_tests!(@cases $target;
            types_round_trip_in_both_protocols,
            rows_decode_into_structs,
            parameters_of_every_kind,
            execute_reports_changes,
            batch_is_atomic,
            transactions_commit_and_roll_back,
            dropped_transaction_rolls_back,
            statements_that_end_a_transaction_are_caught,
            deadlock_victim_accepts_no_more_statements,
            isolation_levels,
            server_errors_keep_errno_and_sqlstate,
            multi_statement_text_is_reported,
            server_version_is_parsed,
            begin_through_query_never_reaches_the_next_user,
            c07_no_hidden_statements,
            c07_configured_session_settings_only,
            c08_utf8mb4_is_negotiated,
            c10_text_and_bytes_by_charset,
            c11_zero_and_partial_dates,
            c12_integer_parameters,
            c14_idle_connection_dropped_by_server,
            c14_connection_lost_in_transaction,
            c15_commit_outcome_unknown,
            c17_values_around_the_16mib_packet_boundary,
            c17_oversize_value_is_refused_and_connection_evicted
        );
    };
    (@cases $target:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let target = $target;
                $crate::conformance::$case(&target).await;
            }
        )*
    };
}

fn dec(s: &str) -> Value {
    Value::Decimal(s.parse::<Decimal>().unwrap())
}
fn date(s: &str) -> Value {
    Value::Date(s.parse::<Date>().unwrap())
}
fn time(s: &str) -> Value {
    Value::Time(s.parse::<Time>().unwrap())
}
fn datetime(s: &str) -> Value {
    Value::DateTime(s.parse::<DateTime>().unwrap())
}

const TYPE_COLUMNS: &str = "id INT PRIMARY KEY, ti TINYINT, si SMALLINT, mi MEDIUMINT, i INT, \
    bi BIGINT, ubi BIGINT UNSIGNED, uti TINYINT UNSIGNED, de DECIMAL(65,30), f FLOAT, d DOUBLE, \
    vc VARCHAR(100), txt MEDIUMTEXT, vb VARBINARY(300), bl LONGBLOB, dt DATE, tm TIME(6), \
    dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, yr YEAR, bt BIT(64), js JSON, \
    en ENUM('a','b')";

fn type_rows() -> Vec<Vec<Value>> {
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let big_text = "héllo 🦀 ".repeat(100_000);
    let big_blob: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    vec![
        vec![
            Value::Int(1),
            Value::Int(-128),
            Value::Int(-32768),
            Value::Int(-8388608),
            Value::Int(i64::from(i32::MIN)),
            Value::Int(i64::MIN),
            Value::UInt(u64::MAX),
            Value::UInt(255),
            dec("-12345678901234567890123456789012345.123456789012345678901234567890"),
            Value::Float(1.5),
            Value::Double(std::f64::consts::PI),
            Value::Text("héllo wörld 🦀 中文 \u{0}'\"\\".into()),
            Value::Text(big_text),
            Value::Bytes(all_bytes),
            Value::Bytes(big_blob),
            date("2024-02-29"),
            time("-838:59:59"),
            datetime("9999-12-31 23:59:59.999999"),
            datetime("2038-01-19 03:14:07.999999"),
            Value::Year(2155),
            Value::Bit(u64::MAX),
            Value::Json(r#"{"a": [1, 2, {"b": null}], "n": 12345678901234567890}"#.into()),
            Value::Text("b".into()),
        ],
        vec![
            Value::Int(2),
            Value::Int(127),
            Value::Int(32767),
            Value::Int(8388607),
            Value::Int(i64::from(i32::MAX)),
            Value::Int(i64::MAX),
            Value::UInt(0),
            Value::UInt(0),
            dec("0.000000000000000000000000000001"),
            Value::Float(-0.25),
            Value::Double(-1.0e300),
            Value::Text(String::new()),
            Value::Text(String::new()),
            Value::Bytes(Vec::new()),
            Value::Bytes(Vec::new()),
            date("1000-01-01"),
            time("12:34:56.789012"),
            datetime("1000-01-01 00:00:00"),
            datetime("1970-01-02 00:00:00.000001"),
            Value::Year(1901),
            Value::Bit(0),
            Value::Json("[]".into()),
            Value::Text("a".into()),
        ],
        std::iter::once(Value::Int(3))
            .chain(std::iter::repeat_n(Value::Null, 22))
            .collect(),
    ]
}

/// JSON may come back as JSON (TiDB, MySQL) or as text (MariaDB stores it as LONGTEXT); in
/// both cases the document must be the same.
fn assert_same(column: &str, got: &Value, want: &Value) {
    match (got, want) {
        (Value::Json(g) | Value::Text(g), Value::Json(w)) => {
            let g: serde_json::Value = serde_json::from_str(g).unwrap();
            let w: serde_json::Value = serde_json::from_str(w).unwrap();
            assert_eq!(g, w, "column {column}");
        }
        (Value::Text(g), Value::Text(w)) if g.len() > 200 => {
            assert!(
                g == w,
                "column {column}: long text differs (len {} vs {})",
                g.len(),
                w.len()
            )
        }
        (Value::Bytes(g), Value::Bytes(w)) if g.len() > 200 => {
            assert!(
                g == w,
                "column {column}: long bytes differ (len {} vs {})",
                g.len(),
                w.len()
            )
        }
        _ => assert_eq!(got, want, "column {column}"),
    }
}

pub async fn types_round_trip_in_both_protocols(t: &Target) {
    let db = t.connect("").await;
    let table = t.table("types");
    recreate(&db, &table, TYPE_COLUMNS).await;
    let rows = type_rows();
    let placeholders = vec!["?"; rows[0].len()].join(", ");
    for row in &rows {
        db.execute(&format!("INSERT INTO {table} VALUES ({placeholders})"), row)
            .await
            .unwrap();
    }

    // Without parameters: text protocol. With a parameter: binary protocol (where the
    // backend binds on the server). Both must give the same values.
    let text = db
        .query(&format!("SELECT * FROM {table} ORDER BY id"), &[])
        .await
        .unwrap();
    assert_eq!(text.rows.len(), 3);
    for (got, want) in text.rows.iter().zip(&rows) {
        for ((col, g), w) in got.columns().iter().zip(got.values()).zip(want) {
            assert_same(&col.name, g, w);
        }
    }
    for want in &rows {
        let id = want[0].clone();
        let bin = db
            .query(&format!("SELECT * FROM {table} WHERE id = ?"), &[id])
            .await
            .unwrap();
        let got = &bin.rows[0];
        for ((col, g), w) in got.columns().iter().zip(got.values()).zip(want) {
            assert_same(&col.name, g, w);
        }
    }

    // Column metadata: types, unsigned flag and the binary charset.
    let cols = &text.columns;
    let by_name = |n: &str| cols.iter().find(|c| c.name == n).unwrap();
    assert!(by_name("ubi").flags.is_unsigned());
    assert!(!by_name("bi").flags.is_unsigned());
    assert!(by_name("vb").is_binary());
    assert!(!by_name("vc").is_binary());
    assert_eq!(by_name("dtm").decimals, 6);
    assert_eq!(by_name("id").column_type, tidb_connect::ColumnType::Long);
}

#[derive(Debug, Deserialize, PartialEq)]
struct TypedRow {
    id: i32,
    bi: Option<i64>,
    ubi: Option<u64>,
    de: Option<Decimal>,
    d: Option<f64>,
    vc: Option<String>,
    vb: Option<Vec<u8>>,
    dt: Option<Date>,
    tm: Option<Time>,
    dtm: Option<DateTime>,
    yr: Option<u16>,
    bt: Option<u64>,
}

pub async fn rows_decode_into_structs(t: &Target) {
    let db = t.connect("").await;
    let table = t.table("decode");
    recreate(&db, &table, TYPE_COLUMNS).await;
    let placeholders = vec!["?"; 23].join(", ");
    for row in type_rows() {
        db.execute(
            &format!("INSERT INTO {table} VALUES ({placeholders})"),
            &row,
        )
        .await
        .unwrap();
    }
    let rows: Vec<TypedRow> = db
        .query(&format!("SELECT * FROM {table} ORDER BY id"), &[])
        .await
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(rows[0].ubi, Some(u64::MAX));
    assert_eq!(rows[0].bi, Some(i64::MIN));
    assert_eq!(
        rows[0].de.as_ref().unwrap().as_str(),
        "-12345678901234567890123456789012345.123456789012345678901234567890"
    );
    assert_eq!(
        rows[0].vb.as_deref(),
        Some(&(0..=255u8).collect::<Vec<_>>()[..])
    );
    assert_eq!(rows[0].tm.unwrap().to_string(), "-838:59:59");
    assert_eq!(rows[0].yr, Some(2155));
    assert_eq!(rows[0].bt, Some(u64::MAX));
    assert_eq!(rows[1].vc.as_deref(), Some(""));
    assert_eq!(rows[1].vb.as_deref(), Some(&[][..]));
    assert_eq!(
        rows[2],
        TypedRow {
            id: 3,
            bi: None,
            ubi: None,
            de: None,
            d: None,
            vc: None,
            vb: None,
            dt: None,
            tm: None,
            dtm: None,
            yr: None,
            bt: None,
        }
    );

    // A NULL into a non-Option field, and a value that does not fit: errors naming the column.
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Strict {
        id: i32,
        vc: String,
    }
    let e = db
        .query(&format!("SELECT id, vc FROM {table} WHERE id = 3"), &[])
        .await
        .unwrap()
        .decode::<Strict>()
        .unwrap_err();
    assert!(e.is_decode() && e.to_string().contains("`vc`"), "{e}");
    let e = db
        .query(&format!("SELECT ubi FROM {table} WHERE id = 1"), &[])
        .await
        .unwrap()
        .decode::<(i64,)>()
        .unwrap_err();
    assert!(e.to_string().contains("`ubi`"), "{e}");
}

pub async fn parameters_of_every_kind(t: &Target) {
    let db = t.connect("").await;
    let rs = db
        .query(
            "SELECT ? AS a, ? AS b, ? AS c, ? AS d, ? AS e, ? AS f",
            &params![
                -5i32,
                u64::MAX,
                "it's a \"quote\" \\ 🦀",
                None::<i32>,
                2.5f64,
                ""
            ],
        )
        .await
        .unwrap();
    let row = &rs.rows[0];
    assert_eq!(row.try_get::<i64, _>("a").unwrap(), -5);
    assert_eq!(row.try_get::<u64, _>("b").unwrap(), u64::MAX);
    assert_eq!(
        row.try_get::<String, _>("c").unwrap(),
        "it's a \"quote\" \\ 🦀"
    );
    assert_eq!(row.get("d"), Some(&Value::Null));
    assert_eq!(row.try_get::<f64, _>("e").unwrap(), 2.5);
    assert_eq!(row.try_get::<String, _>("f").unwrap(), "");

    // Parameters are data, never SQL.
    let table = t.table("params");
    recreate(&db, &table, "id INT PRIMARY KEY, s VARCHAR(100)").await;
    let hostile = "x'); DROP TABLE nope; -- ";
    db.execute(
        &format!("INSERT INTO {table} VALUES (?, ?)"),
        &params![1, hostile],
    )
    .await
    .unwrap();
    let rs = db
        .query(
            &format!("SELECT s FROM {table} WHERE s = ?"),
            &params![hostile],
        )
        .await
        .unwrap();
    assert_eq!(rs.rows[0].try_get::<String, _>(0).unwrap(), hostile);

    // Wrong parameter counts: a clear error, nothing sent.
    let e = db
        .query(
            &format!("SELECT * FROM {table} WHERE id = ? AND s = ?"),
            &params![1],
        )
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("2 placeholders but 1 parameter was given"),
        "{e}"
    );
    let e = db.query("SELECT ?", &[]).await.unwrap_err();
    assert!(
        e.to_string().contains("1 placeholder but 0 parameters"),
        "{e}"
    );
    // A `?` inside a literal is not a placeholder.
    let rs = db.query("SELECT '?' AS q", &[]).await.unwrap();
    assert_eq!(rs.rows[0].try_get::<String, _>(0).unwrap(), "?");
    // Dates and times out of range are refused, not stored as zero.
    let bad_time = Value::Time(Time {
        hours: 900,
        ..Time::default()
    });
    let e = db.query("SELECT ?", &[bad_time]).await.unwrap_err();
    assert!(e.to_string().contains("parameter 1"), "{e}");
}

pub async fn execute_reports_changes(t: &Target) {
    let db = t.connect("").await;
    let table = t.table("exec");
    recreate(
        &db,
        &table,
        "id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, v INT UNIQUE",
    )
    .await;
    let r = db
        .execute(
            &format!("INSERT INTO {table} (v) VALUES (?), (?), (?)"),
            &params![1, 2, 3],
        )
        .await
        .unwrap();
    assert_eq!(r.affected_rows, 3);
    assert_eq!(r.last_insert_id, Some(1));
    let r = db
        .execute(&format!("INSERT INTO {table} (v) VALUES (10)"), &[])
        .await
        .unwrap();
    assert_eq!(r.last_insert_id, Some(4));
    let r = db
        .execute(
            &format!("UPDATE {table} SET v = v + 100 WHERE v < ?"),
            &params![3],
        )
        .await
        .unwrap();
    assert_eq!(r.affected_rows, 2);
    assert_eq!(r.last_insert_id, None);
    // A duplicate under INSERT IGNORE is a warning, not an error.
    let r = db
        .execute(&format!("INSERT IGNORE INTO {table} (v) VALUES (10)"), &[])
        .await
        .unwrap();
    assert_eq!((r.affected_rows, r.warnings), (0, 1));
}

pub async fn batch_is_atomic(t: &Target) {
    let db = t.connect("").await;
    let table = t.table("batch");
    recreate(&db, &table, "id INT PRIMARY KEY, s VARCHAR(10)").await;

    let ok = db
        .batch(&[
            Statement::new(
                format!("INSERT INTO {table} VALUES (?, ?)"),
                params![1, "a"],
            ),
            Statement::new(
                format!("INSERT INTO {table} VALUES (?, ?)"),
                params![2, "b"],
            ),
            Statement::new(format!("SELECT COUNT(*) FROM {table}"), vec![]),
        ])
        .await
        .unwrap();
    assert_eq!(ok.len(), 3);
    assert_eq!(ok[0].affected_rows, 1);
    assert_eq!(ok[2].rows[0].try_get::<i64, _>(0).unwrap(), 2);

    let e = db
        .batch(&[
            Statement::new(
                format!("INSERT INTO {table} VALUES (?, ?)"),
                params![3, "c"],
            ),
            Statement::new(format!("UPDATE {table} SET s = 'z'"), vec![]),
            Statement::new(
                format!("INSERT INTO {table} VALUES (?, ?)"),
                params![1, "dup"],
            ),
        ])
        .await
        .unwrap_err();
    assert_eq!(e.batch_index(), Some(2));
    assert_eq!(e.code(), Some(1062));
    assert_eq!(e.sql_state(), Some("23000"));
    // Nothing of the failed batch is visible.
    assert_eq!(
        count(&db, &format!("SELECT COUNT(*) FROM {table}"), &[]).await,
        2
    );
    assert_eq!(
        count(
            &db,
            &format!("SELECT COUNT(*) FROM {table} WHERE s = 'z'"),
            &[]
        )
        .await,
        0
    );
    // And the connector is still usable.
    assert_eq!(count(&db, "SELECT 1", &[]).await, 1);
}

pub async fn transactions_commit_and_roll_back(t: &Target) {
    let db = t.connect("").await;
    let table = t.table("tx");
    recreate(&db, &table, "id INT PRIMARY KEY").await;

    let mut tx = db.begin(TxOptions::default()).await.unwrap();
    tx.execute(&format!("INSERT INTO {table} VALUES (?)"), &params![1])
        .await
        .unwrap();
    // Inside: visible. Outside: not yet.
    let inside = tx
        .query(&format!("SELECT COUNT(*) FROM {table}"), &[])
        .await
        .unwrap();
    assert_eq!(inside.rows[0].try_get::<i64, _>(0).unwrap(), 1);
    assert_eq!(
        count(&db, &format!("SELECT COUNT(*) FROM {table}"), &[]).await,
        0
    );
    // A failing statement leaves the transaction usable.
    let e = tx
        .execute(&format!("INSERT INTO {table} VALUES (?)"), &params![1])
        .await
        .unwrap_err();
    assert!(e.is_duplicate_key(), "{e}");
    tx.commit().await.unwrap();
    assert_eq!(
        count(&db, &format!("SELECT COUNT(*) FROM {table}"), &[]).await,
        1
    );

    let mut tx = db.begin(TxOptions::default()).await.unwrap();
    tx.execute(&format!("INSERT INTO {table} VALUES (2)"), &[])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        count(&db, &format!("SELECT COUNT(*) FROM {table}"), &[]).await,
        1
    );
}

pub async fn dropped_transaction_rolls_back(t: &Target) {
    let db = t.connect("pool-size=2").await;
    let table = t.table("txdrop");
    recreate(&db, &table, "id INT PRIMARY KEY").await;
    {
        let mut tx = db.begin(TxOptions::default()).await.unwrap();
        tx.execute(&format!("INSERT INTO {table} VALUES (1)"), &[])
            .await
            .unwrap();
        // Dropped without commit.
    }
    // The row lock must be released: this insert would wait for a lock otherwise.
    let mut released = false;
    for _ in 0..50 {
        if count(&db, &format!("SELECT COUNT(*) FROM {table}"), &[]).await == 0
            && db
                .execute(&format!("INSERT INTO {table} VALUES (1)"), &[])
                .await
                .is_ok()
        {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(released, "the dropped transaction was not rolled back");
}

pub async fn statements_that_end_a_transaction_are_caught(t: &Target) {
    let db = t.connect("").await;
    let table = t.table("txend");
    recreate(&db, &table, "id INT PRIMARY KEY").await;

    // A COMMIT inside the transaction ends it on the server; later statements must not run
    // on their own, and neither commit() nor rollback() may pretend otherwise.
    let mut tx = db.begin(TxOptions::default()).await.unwrap();
    tx.execute(&format!("INSERT INTO {table} VALUES (1)"), &[])
        .await
        .unwrap();
    // BEGIN inside would commit silently: it is refused before sending, and the
    // transaction goes on.
    let e = tx.execute("BEGIN", &[]).await.unwrap_err();
    assert!(e.to_string().contains("would commit it"), "{e}");
    tx.execute("COMMIT", &[]).await.unwrap();
    let e = tx
        .execute(&format!("INSERT INTO {table} VALUES (2)"), &[])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("ended the transaction"), "{e}");
    assert!(!e.is_retryable());
    let e = tx.rollback().await.unwrap_err();
    assert!(e.to_string().contains("ended the transaction"), "{e}");
    let ids: Vec<(i32,)> = db
        .query(&format!("SELECT id FROM {table} ORDER BY id"), &[])
        .await
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(
        ids,
        vec![(1,)],
        "row 1 was committed by the COMMIT, row 2 never ran"
    );

    // The same inside a batch: the batch stops and says so.
    let e = db
        .batch(&[
            Statement::new(format!("INSERT INTO {table} VALUES (10)"), vec![]),
            Statement::from("COMMIT"),
            Statement::new(format!("INSERT INTO {table} VALUES (11)"), vec![]),
        ])
        .await
        .unwrap_err();
    assert_eq!(e.batch_index(), Some(1), "{e}");
    assert_eq!(
        count(
            &db,
            &format!("SELECT COUNT(*) FROM {table} WHERE id = 11"),
            &[]
        )
        .await,
        0
    );
}

pub async fn deadlock_victim_accepts_no_more_statements(t: &Target) {
    let db = t.connect("pool-size=4").await;
    let table = t.table("deadlock");
    recreate(&db, &table, "id INT PRIMARY KEY, v INT").await;
    db.execute(&format!("INSERT INTO {table} VALUES (1, 0), (2, 0)"), &[])
        .await
        .unwrap();

    let update = format!("UPDATE {table} SET v = v + 1 WHERE id = ?");
    let mut a = db.begin(TxOptions::default()).await.unwrap();
    let mut b = db.begin(TxOptions::default()).await.unwrap();
    a.execute(&update, &params![1]).await.unwrap();
    b.execute(&update, &params![2]).await.unwrap();

    // a waits for row 2 while b asks for row 1: the server picks one victim.
    let sql = update.clone();
    let waiting = tokio::spawn(async move {
        let r = a.execute(&sql, &params![2]).await;
        (a, r)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rb = b.execute(&update, &params![1]).await;
    let (a, ra) = waiting.await.unwrap();

    let (mut victim, err, mut other) = match (ra, rb) {
        (Err(e), Ok(_)) => (a, e, b),
        (Ok(_), Err(e)) => (b, e, a),
        (ra, rb) => panic!("expected one deadlock victim: {ra:?} / {rb:?}"),
    };
    assert_eq!(err.code(), Some(1213), "{err}");
    assert!(err.is_write_conflict() && !err.is_retryable(), "{err}");

    // The victim's transaction is gone: a further statement would autocommit, so it is
    // refused; rollback() succeeds because nothing is left to undo.
    let e = victim
        .execute(&format!("INSERT INTO {table} VALUES (100, 100)"), &[])
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("rolled this transaction back"),
        "{e}"
    );
    victim.rollback().await.unwrap();
    other.execute("SELECT 1", &[]).await.unwrap();
    other.commit().await.unwrap();
    assert_eq!(
        count(
            &db,
            &format!("SELECT COUNT(*) FROM {table} WHERE id = 100"),
            &[]
        )
        .await,
        0
    );

    // A batch chosen as the victim was rolled back whole, so running it again is safe. The
    // interactive transaction changes more rows, so the server picks the batch.
    let mut heavy = db.begin(TxOptions::default()).await.unwrap();
    heavy.execute(&update, &params![1]).await.unwrap();
    for id in 1000..1050 {
        heavy
            .execute(&format!("INSERT INTO {table} VALUES (?, 0)"), &params![id])
            .await
            .unwrap();
    }
    let batch_db = db.clone();
    let batch_sql = update.clone();
    let batch = tokio::spawn(async move {
        batch_db
            .batch(&[
                Statement::new(batch_sql.clone(), params![2]),
                Statement::new(batch_sql, params![1]),
            ])
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    heavy.execute(&update, &params![2]).await.unwrap();
    heavy.rollback().await.unwrap();
    let e = batch.await.unwrap().unwrap_err();
    assert_eq!((e.code(), e.batch_index()), (Some(1213), Some(1)), "{e}");
    assert!(e.is_retryable() && e.is_write_conflict(), "{e}");
}

pub async fn isolation_levels(t: &Target) {
    let db = t.connect("").await;
    let table = t.table("iso");
    recreate(&db, &table, "id INT PRIMARY KEY").await;
    for level in [
        IsolationLevel::ReadCommitted,
        IsolationLevel::RepeatableRead,
    ] {
        let mut tx = db
            .begin(TxOptions {
                isolation: Some(level),
                read_only: false,
            })
            .await
            .unwrap_or_else(|e| panic!("{level:?}: {e}"));
        tx.execute(
            &format!("INSERT INTO {table} VALUES (?)"),
            &params![level as i32],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(
        count(&db, &format!("SELECT COUNT(*) FROM {table}"), &[]).await,
        2
    );

    // A read-only transaction refuses writes with the server's error.
    let mut tx = db
        .begin(TxOptions {
            isolation: None,
            read_only: true,
        })
        .await
        .unwrap();
    let e = tx
        .execute(&format!("INSERT INTO {table} VALUES (99)"), &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(1792), "{e}");
    tx.rollback().await.unwrap();
}

pub async fn server_errors_keep_errno_and_sqlstate(t: &Target) {
    let db = t.connect("").await;
    let e = db.query("SELEC 1", &[]).await.unwrap_err();
    assert_eq!(e.code(), Some(1064), "{e}");
    assert_eq!(e.sql_state(), Some("42000"));
    assert!(e.server_message().unwrap().contains("SELEC 1"));
    assert!(!e.is_retryable());

    let e = db
        .query("SELECT * FROM table_that_does_not_exist_anywhere", &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(1146));
    assert_eq!(e.sql_state(), Some("42S02"));

    let table = t.table("errs");
    recreate(&db, &table, "id INT PRIMARY KEY").await;
    db.execute(&format!("INSERT INTO {table} VALUES (1)"), &[])
        .await
        .unwrap();
    let e = db
        .execute(&format!("INSERT INTO {table} VALUES (?)"), &params![1])
        .await
        .unwrap_err();
    assert!(e.is_duplicate_key());
    assert_eq!((e.code(), e.sql_state()), (Some(1062), Some("23000")));
    assert!(
        e.to_string().starts_with("server error 1062 (23000)"),
        "{e}"
    );
}

/// `query()` returns one result set. A text with several statements is refused before it is
/// sent; if a backend only learns of them from the server's answer, it says that they ran.
pub async fn multi_statement_text_is_reported(t: &Target) {
    let db = t.connect("").await;
    let table = t.table("multi");
    recreate(&db, &table, "id INT PRIMARY KEY").await;
    let e = db
        .query(
            &format!("INSERT INTO {table} VALUES (1); INSERT INTO {table} VALUES (2)"),
            &[],
        )
        .await
        .unwrap_err();
    assert!(e.is_unsupported(), "{e}");
    let ran = count(&db, &format!("SELECT COUNT(*) FROM {table}"), &[]).await;
    match ran {
        2 => assert!(e.to_string().contains("which all ran"), "{e}"),
        0 => assert!(!e.to_string().contains("ran"), "{e}"),
        n => panic!("{n} of 2 statements ran"),
    }
    assert_eq!(count(&db, "SELECT 3", &[]).await, 3);

    // A compound statement is one statement, and a procedure's rows come back from CALL.
    let one = format!("{table}_one");
    let two = format!("{table}_two");
    for (name, body) in [(&one, "SELECT 7 AS n;"), (&two, "SELECT 1; SELECT 2;")] {
        db.execute(&format!("DROP PROCEDURE IF EXISTS {name}"), &[])
            .await
            .unwrap();
        db.execute(&format!("CREATE PROCEDURE {name}() BEGIN {body} END"), &[])
            .await
            .unwrap();
    }
    assert_eq!(count(&db, &format!("CALL {one}()"), &[]).await, 7);
    let e = db.query(&format!("CALL {two}()"), &[]).await.unwrap_err();
    assert!(e.to_string().contains("returned 2 result sets"), "{e}");
}

pub async fn server_version_is_parsed(t: &Target) {
    let db = t.connect("").await;
    let v = db.server_version().await.unwrap();
    assert_eq!(v.flavor, tidb_connect::ServerFlavor::MariaDB, "{v:?}");
    assert!(v.version.unwrap().0 >= 10, "{v:?}");
}

/// Statements the server logged for one connection, from the general log.
async fn logged_statements(admin: &Client, thread: u64) -> Vec<(String, String)> {
    admin
        .query(
            "SELECT command_type, CONVERT(argument USING utf8mb4) FROM mysql.general_log \
             WHERE thread_id = ? ORDER BY event_time",
            &params![thread],
        )
        .await
        .unwrap()
        .decode()
        .unwrap()
}

fn statements_only(log: Vec<(String, String)>) -> Vec<String> {
    log.into_iter()
        .filter(|(kind, _)| matches!(kind.as_str(), "Query" | "Prepare" | "Execute" | "Init DB"))
        .map(|(_, arg)| arg)
        .collect()
}

pub async fn c07_no_hidden_statements(t: &Target) {
    let admin = admin(common::main_server()).await;
    let db = t.connect("pool-size=1").await;
    let probe = "SELECT CONNECTION_ID() AS c07_probe";
    let id: u64 = db.query(probe, &[]).await.unwrap().rows[0]
        .try_get(0)
        .unwrap();
    let statements = statements_only(logged_statements(&admin, id).await);
    assert_eq!(
        statements,
        vec![probe.to_owned()],
        "statements on the connection"
    );
}

/// A `BEGIN` sent through `query()` must not leave its transaction on a pooled connection for
/// whoever checks it out next (a pool of one makes that the very next call).
pub async fn begin_through_query_never_reaches_the_next_user(t: &Target) {
    let db = t.connect("pool-size=1").await;
    db.execute("BEGIN", &[]).await.unwrap();
    let rs = db.query("SELECT @@in_transaction", &[]).await.unwrap();
    assert_eq!(rs.rows[0].try_get::<i64, _>(0).unwrap(), 0);
}

pub async fn c07_configured_session_settings_only(t: &Target) {
    let admin = admin(common::main_server()).await;
    let db = t
        .connect("pool-size=1&time-zone=%2B02:00&sql-mode=STRICT_ALL_TABLES")
        .await;
    let probe = "SELECT CONNECTION_ID(), @@session.time_zone, @@session.sql_mode";
    let (id, tz, mode): (u64, String, String) = db.query(probe, &[]).await.unwrap().rows[0]
        .decode()
        .unwrap();
    assert_eq!(tz, "+02:00");
    assert_eq!(mode, "STRICT_ALL_TABLES");
    let statements = statements_only(logged_statements(&admin, id).await);
    let setup = "SET time_zone = '+02:00', sql_mode = 'STRICT_ALL_TABLES'";
    assert!(!statements.is_empty());
    assert_eq!(statements.last().map(String::as_str), Some(probe));
    for s in &statements[..statements.len() - 1] {
        assert_eq!(
            s, setup,
            "only the documented setup statement may run: {statements:?}"
        );
    }
}

pub async fn c08_utf8mb4_is_negotiated(t: &Target) {
    let db = t.connect("").await;
    let (client, conn, results): (String, String, String) = db
        .query(
            "SELECT @@character_set_client, @@collation_connection, @@character_set_results",
            &[],
        )
        .await
        .unwrap()
        .rows[0]
        .decode()
        .unwrap();
    assert_eq!(client, "utf8mb4");
    assert!(conn.starts_with("utf8mb4_"), "{conn}");
    assert_eq!(results, "utf8mb4");
}

pub async fn c10_text_and_bytes_by_charset(t: &Target) {
    let db = t.connect("").await;
    let table = t.table("c10");
    recreate(
        &db,
        &table,
        "a VARCHAR(20) COLLATE utf8mb4_bin, b VARBINARY(20), c VARCHAR(20) COLLATE utf8mb4_general_ci",
    )
    .await;
    db.execute(
        &format!("INSERT INTO {table} VALUES ('héllo', x'00FF', 'Ünï')"),
        &[],
    )
    .await
    .unwrap();
    let want = [
        Value::Text("héllo".into()),
        Value::Bytes(vec![0x00, 0xFF]),
        Value::Text("Ünï".into()),
    ];
    let text = db
        .query(&format!("SELECT a, b, c FROM {table}"), &[])
        .await
        .unwrap();
    assert_eq!(text.rows[0].values(), &want);
    let binary = db
        .query(
            &format!("SELECT a, b, c FROM {table} WHERE 1 = ?"),
            &params![1],
        )
        .await
        .unwrap();
    assert_eq!(binary.rows[0].values(), &want);
}

pub async fn c11_zero_and_partial_dates(t: &Target) {
    // sql_mode='' for every connection of this connector, as the case asks.
    let db = t.connect("sql-mode=").await;
    let table = t.table("c11");
    db.execute(&format!("DROP TABLE IF EXISTS {table}"), &[])
        .await
        .unwrap();
    db.execute(
        &format!(
            "CREATE TABLE {table} (id INT PRIMARY KEY, d DATE NOT NULL, dt DATETIME NOT NULL, \
             dn DATETIME NULL)"
        ),
        &[],
    )
    .await
    .unwrap();
    db.execute(
        &format!(
            "INSERT INTO {table} VALUES (1,'0000-00-00','0000-00-00 00:00:00',NULL), \
             (2,'2016-07-00','2016-07-00 10:00:00','0000-00-00 00:00:00')"
        ),
        &[],
    )
    .await
    .unwrap();
    let want = vec![
        vec![
            Value::Int(1),
            date("0000-00-00"),
            datetime("0000-00-00 00:00:00"),
            Value::Null,
        ],
        vec![
            Value::Int(2),
            date("2016-07-00"),
            datetime("2016-07-00 10:00:00"),
            datetime("0000-00-00 00:00:00"),
        ],
    ];
    let text = db
        .query(&format!("SELECT * FROM {table} ORDER BY id"), &[])
        .await
        .unwrap();
    let binary = db
        .query(
            &format!("SELECT * FROM {table} WHERE id > ? ORDER BY id"),
            &params![0],
        )
        .await
        .unwrap();
    for rs in [&text, &binary] {
        let got: Vec<Vec<Value>> = rs.rows.iter().map(|r| r.values().to_vec()).collect();
        assert_eq!(got, want);
    }

    // The values round-trip as parameters.
    db.execute(
        &format!("INSERT INTO {table} VALUES (?, ?, ?, ?)"),
        &[
            Value::Int(3),
            want[1][1].clone(),
            want[1][2].clone(),
            want[1][3].clone(),
        ],
    )
    .await
    .unwrap();
    let back = db
        .query(&format!("SELECT d, dt, dn FROM {table} WHERE id = 3"), &[])
        .await
        .unwrap();
    assert_eq!(back.rows[0].values(), &want[1][1..]);

    // A strict date type refuses a zero date with an error naming the column.
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Strict {
        d: chrono::NaiveDate,
    }
    let e = text.rows[1].decode::<Strict>().unwrap_err();
    assert!(e.is_decode() && e.to_string().contains("`d`"), "{e}");
    let e = text.rows[0].decode::<Strict>().unwrap_err();
    assert!(e.to_string().contains("`d`"), "{e}");
}

pub async fn c12_integer_parameters(t: &Target) {
    let db = t.connect("").await;
    let table = t.table("c12");
    recreate(&db, &table, "id INT PRIMARY KEY").await;
    db.execute(&format!("INSERT INTO {table} VALUES (1), (2), (3)"), &[])
        .await
        .unwrap();
    for limit in [Value::Int(1), Value::UInt(1)] {
        let rs = db
            .query(
                &format!("SELECT id FROM {table} ORDER BY id LIMIT ?"),
                &[limit],
            )
            .await
            .unwrap();
        assert_eq!(rs.rows.len(), 1);
    }
    let rs = db
        .query("SELECT ? + 0", &params![9223372036854775807i64])
        .await
        .unwrap();
    assert_eq!(
        rs.rows[0].try_get::<i64, _>(0).unwrap(),
        9223372036854775807
    );
    assert!(matches!(
        rs.rows[0].values()[0],
        Value::Int(_) | Value::Decimal(_)
    ));
}

pub async fn c14_idle_connection_dropped_by_server(t: &Target) {
    // The alt server closes connections idle for 3 s.
    let db = t.connect_alt("pool-size=1").await;
    assert_eq!(count(&db, "SELECT 1", &[]).await, 1);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(count(&db, "SELECT 1", &[]).await, 1);
}

pub async fn c14_connection_lost_in_transaction(t: &Target) {
    let admin = admin_alt().await;
    let table = t.table("c14");
    recreate(&admin, &table, "id INT PRIMARY KEY").await;
    let db = t.connect_alt("pool-size=1").await;
    let mut tx = db.begin(TxOptions::default()).await.unwrap();
    tx.execute(&format!("INSERT INTO {table} VALUES (1)"), &[])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let e = tx
        .execute(&format!("INSERT INTO {table} VALUES (2)"), &[])
        .await
        .unwrap_err();
    assert!(e.is_lost_in_transaction(), "{e}");
    assert!(!e.is_retryable());
    let e = tx.commit().await.unwrap_err();
    assert!(e.is_lost_in_transaction(), "{e}");
    // Nothing was applied or retried, and the connector recovers with a new connection.
    assert_eq!(
        count(&db, &format!("SELECT COUNT(*) FROM {table}"), &[]).await,
        0
    );
}

pub async fn c15_commit_outcome_unknown(t: &Target) {
    let server = common::main_server();
    let admin = admin(server).await;
    let table = t.table("c15");
    recreate(
        &admin,
        &table,
        // No unique constraint on the business key: a silent re-run would add a second row.
        "id INT AUTO_INCREMENT PRIMARY KEY, order_key VARCHAR(40), amount INT",
    )
    .await;

    let proxy = common::proxy::Proxy::start(server.port).await;
    let url = common::with_address(&server.url, "127.0.0.1", proxy.port);
    let db = t.connect_to(&url, "pool-size=1").await;
    let mut tx = db.begin(TxOptions::default()).await.unwrap();
    tx.execute(
        &format!("INSERT INTO {table} (order_key, amount) VALUES (?, ?)"),
        &params!["order-1", 10],
    )
    .await
    .unwrap();
    let connections_before = proxy.recorded().len();
    proxy.arm_cut();
    let e = tx.commit().await.unwrap_err();
    assert!(e.is_outcome_unknown(), "{e}");
    assert!(!e.is_retryable());
    assert_eq!(proxy.cuts(), 1);
    // Not re-run: no new connection was opened to try again.
    assert_eq!(proxy.recorded().len(), connections_before);
    let n = count(
        &admin,
        &format!("SELECT COUNT(*) FROM {table} WHERE order_key = ?"),
        &params!["order-1"],
    )
    .await;
    assert!(n <= 1, "{n} rows");
}

pub async fn c17_values_around_the_16mib_packet_boundary(t: &Target) {
    let db = t.connect("pool-size=1").await;
    let table = t.table("c17");
    recreate(&db, &table, "id INT PRIMARY KEY, b LONGBLOB").await;
    for (id, len) in [(1, 16_777_215usize), (2, 16_777_216), (3, 16_777_217)] {
        let value: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
        db.execute(
            &format!("INSERT INTO {table} VALUES (?, ?)"),
            &[Value::Int(id), Value::Bytes(value.clone())],
        )
        .await
        .unwrap();
        for params in [vec![], vec![Value::Int(id)]] {
            let sql = if params.is_empty() {
                format!("SELECT b FROM {table} WHERE id = {id}")
            } else {
                format!("SELECT b FROM {table} WHERE id = ?")
            };
            let rs = db.query(&sql, &params).await.unwrap();
            match rs.rows[0].get(0) {
                Some(Value::Bytes(b)) => {
                    assert_eq!(b.len(), len);
                    assert!(*b == value, "bytes differ at length {len}");
                }
                other => panic!("length {len}: {:?}", other.map(Value::kind_name)),
            }
        }
    }
}

pub async fn c17_oversize_value_is_refused_and_connection_evicted(t: &Target) {
    let admin = admin_alt().await;
    let table = t.table("c17big");
    recreate(&admin, &table, "id INT PRIMARY KEY, b LONGBLOB").await;
    let insert = format!("INSERT INTO {table} VALUES (?, ?)");
    let value = || vec![Value::Int(1), Value::Bytes(vec![7u8; 5 * 1024 * 1024])];

    // The server (max_allowed_packet=4M) closes the connection: a clear error that points at
    // the packet limit, and the broken connection is not reused.
    let db = t.connect_alt("pool-size=1").await;
    let e = db.execute(&insert, &value()).await.unwrap_err();
    assert!(
        e.code() == Some(tidb_connect::codes::PACKET_TOO_LARGE) || e.is_connection_lost(),
        "{e}"
    );
    assert!(e.to_string().contains("max_allowed_packet"), "{e}");
    assert!(!e.is_retryable());
    assert_eq!(count(&db, "SELECT 1", &[]).await, 1);

    // With the server's limit configured, the statement is refused before sending and the
    // connection stays as it was.
    let db = t.connect_alt("pool-size=1&max-allowed-packet=4M").await;
    let id_before = count(&db, "SELECT CONNECTION_ID()", &[]).await;
    let e = db.execute(&insert, &value()).await.unwrap_err();
    assert!(e.to_string().contains("max-allowed-packet"), "{e}");
    assert_eq!(count(&db, "SELECT CONNECTION_ID()", &[]).await, id_before);

    assert_eq!(
        count(&admin, &format!("SELECT COUNT(*) FROM {table}"), &[]).await,
        0
    );
}
