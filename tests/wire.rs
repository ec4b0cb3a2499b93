//! The crate's own wire client (the one Workers run) against the local TLS-only server:
//! the conformance suite over the direct path (`client=wire`, binary protocol) and over the
//! Hyperdrive path (text protocol, client-side binding, Hyperdrive's refusals), plus the
//! escaping round trips of field case C13 and the refusals of field case C09.

mod common;
mod conformance;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use tidb_connect::{Backend, Config, Connector, Value};

/// `mysql://…` → `mysql://…&client=wire`.
fn wire_url(url: &str) -> String {
    common::with_params(url, "client=wire")
}

/// `mysql://…` → `hyperdrive://NAME`, with NAME's local connection string set to the URL
/// (the variable wrangler reads; one name per distinct URL).
fn hyperdrive_url(url: &str) -> String {
    static NAMES: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let mut names = NAMES.get_or_init(Default::default).lock().unwrap();
    let next = names.len();
    let name = names
        .entry(url.to_owned())
        .or_insert_with(|| {
            let name = format!("TEST_{next}");
            // Set once per name under this lock; std serialises environment access, and the
            // tests call no C code that reads the environment.
            unsafe {
                std::env::set_var(
                    format!("CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_{name}"),
                    url,
                )
            };
            name
        })
        .clone();
    format!("hyperdrive://{name}")
}

mod wire_direct {
    use super::*;

    fn target() -> conformance::Target {
        conformance::Target {
            name: "wire",
            url_for: wire_url,
        }
    }

    conformance_tests!(target());
}

mod hyperdrive {
    use super::*;

    fn target() -> conformance::Target {
        conformance::Target {
            name: "hyperdrive",
            url_for: hyperdrive_url,
        }
    }

    conformance_tests!(target());
}

async fn connect(url: &str) -> tidb_connect::Client {
    tidb_connect::connect(&Config::parse(url).unwrap())
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

/// Every string the escaper must get right, and every byte value.
fn c13_values() -> Vec<Value> {
    let mut texts: Vec<String> = [
        "plain",
        "it's",
        "back\\slash",
        "trailing\\",
        "\\'",
        "''\\\\''",
        "nul\0inside",
        "line\nfeed\rreturn",
        "ctrl-z\x1a",
        "double\"quote",
        "multibyte é 😀 中文",
        "?",
        "-- not a comment",
        "/* not a comment */",
        "%_ like wildcards",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Every character from U+0000 to U+00FF in one string.
    texts.push((0u32..=255).filter_map(char::from_u32).collect());
    let mut values: Vec<Value> = texts.into_iter().map(Value::Text).collect();
    values.push(Value::Bytes((0u8..=255).collect()));
    values.push(Value::Bytes((0u8..=255).rev().collect()));
    values.push(Value::Bytes(Vec::new()));
    values
}

async fn c13_round_trip(sql_mode: &str) {
    let server = common::main_server();
    let db = connect(&hyperdrive_url(&common::with_params(
        &server.url,
        &format!("sql-mode={sql_mode}"),
    )))
    .await;
    let table = format!(
        "c13_{}",
        if sql_mode.is_empty() {
            "default"
        } else {
            "nbe"
        }
    );
    db.execute(&format!("DROP TABLE IF EXISTS {table}"), &[])
        .await
        .unwrap();
    db.execute(
        &format!(
            "CREATE TABLE {table} (id INT PRIMARY KEY, t LONGTEXT COLLATE utf8mb4_bin, b LONGBLOB)"
        ),
        &[],
    )
    .await
    .unwrap();

    for (id, value) in c13_values().into_iter().enumerate() {
        let (t, b) = match &value {
            Value::Bytes(_) => (Value::Null, value.clone()),
            _ => (value.clone(), Value::Null),
        };
        db.execute(
            &format!("INSERT INTO {table} VALUES (?, ?, ?)"),
            &[Value::Int(id as i64), t, b],
        )
        .await
        .unwrap_or_else(|e| panic!("insert {id} under sql_mode={sql_mode:?}: {e}"));
        // Read back, and compare on the server too: the literal must equal what was stored.
        let rs = db
            .query(
                &format!("SELECT t, b, t <=> ?, b <=> ? FROM {table} WHERE id = ?"),
                &[
                    match &value {
                        Value::Bytes(_) => Value::Null,
                        v => v.clone(),
                    },
                    match &value {
                        Value::Bytes(_) => value.clone(),
                        _ => Value::Null,
                    },
                    Value::Int(id as i64),
                ],
            )
            .await
            .unwrap();
        let row = &rs.rows[0];
        match &value {
            Value::Bytes(bytes) => {
                assert_eq!(row.get(1), Some(&Value::Bytes(bytes.clone())), "{id}")
            }
            Value::Text(text) => assert_eq!(row.get(0), Some(&Value::Text(text.clone())), "{id}"),
            _ => unreachable!(),
        }
        assert_eq!(
            row.get(2),
            Some(&Value::Int(1)),
            "{id}: server-side comparison of text"
        );
        assert_eq!(
            row.get(3),
            Some(&Value::Int(1)),
            "{id}: server-side comparison of bytes"
        );
    }
}

#[tokio::test]
async fn c13_escaping_under_default_sql_mode() {
    c13_round_trip("").await;
}

#[tokio::test]
async fn c13_escaping_under_no_backslash_escapes() {
    c13_round_trip("NO_BACKSLASH_ESCAPES").await;
}

#[tokio::test]
async fn c13_mode_change_inside_the_session_is_followed() {
    // The mode is read from each OK packet's status flags, so a SET in the session is seen.
    let server = common::main_server();
    let db = connect(&hyperdrive_url(&server.url)).await;
    let mut tx = db.begin(Default::default()).await.unwrap();
    for mode in ["NO_BACKSLASH_ESCAPES", ""] {
        tx.execute(&format!("SET SESSION sql_mode = '{mode}'"), &[])
            .await
            .unwrap();
        let rs = tx.query("SELECT ?", &[Value::from("a\\'b")]).await.unwrap();
        assert_eq!(
            rs.rows[0].get(0),
            Some(&Value::from("a\\'b")),
            "mode {mode:?}"
        );
    }
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn c09_statements_hyperdrive_refuses() {
    let server = common::main_server();
    let db = connect(&hyperdrive_url(&server.url)).await;
    assert_eq!(db.backend(), Backend::Hyperdrive);
    for sql in [
        "USE other_db",
        "SELECT 1; SELECT 2",
        "PREPARE s FROM 'SELECT ?'",
    ] {
        let e = db.query(sql, &[]).await.unwrap_err();
        assert!(e.is_unsupported(), "{sql}: {e}");
        assert!(e.to_string().contains("hyperdrive"), "{sql}: {e}");
    }
    // The connection is still fine.
    let rs = db.query("SELECT ? + 1", &[Value::Int(41)]).await.unwrap();
    assert_eq!(rs.rows[0].try_get::<i64, _>(0).unwrap(), 42);
}

#[tokio::test]
async fn c09_other_backends_run_what_hyperdrive_refuses() {
    let server = common::main_server();
    let db = connect(&wire_url(&server.url)).await;
    let mut tx = db.begin(Default::default()).await.unwrap();
    tx.execute("USE test", &[]).await.unwrap();
    tx.execute("PREPARE s FROM 'SELECT ? * 2'", &[])
        .await
        .unwrap();
    tx.execute("SET @x = 21", &[]).await.unwrap();
    let rs = tx.query("EXECUTE s USING @x", &[]).await.unwrap();
    assert_eq!(rs.rows[0].try_get::<i64, _>(0).unwrap(), 42);
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn hyperdrive_without_its_variable_names_it() {
    let e = tidb_connect::connect(&Config::parse("hyperdrive://NOT_SET_ANYWHERE").unwrap())
        .await
        .unwrap_err();
    assert!(e.is_config(), "{e}");
    assert!(
        e.to_string()
            .contains("CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_NOT_SET_ANYWHERE"),
        "{e}"
    );
}
