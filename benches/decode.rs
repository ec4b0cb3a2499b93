//! Client-side hot paths, without a server: URL parsing, value parsing and row decoding.
//!
//! `cargo bench --bench decode` prints one table row per case: time per operation and
//! operations per second, from the median of several timed rounds.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tidb_connect::{Column, ColumnFlags, ColumnType, Config, DateTime, Decimal, Row, Value};

const ROUNDS: usize = 7;
const ROUND_TIME: Duration = Duration::from_millis(200);

/// Runs `f` repeatedly for about `ROUND_TIME` per round; returns the median time per call.
fn measure(mut f: impl FnMut()) -> Duration {
    let mut per_op = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let mut n = 0u32;
        while started.elapsed() < ROUND_TIME {
            f();
            n += 1;
        }
        per_op.push(started.elapsed() / n);
    }
    per_op.sort();
    per_op[ROUNDS / 2]
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Order {
    id: u64,
    customer: String,
    total: Decimal,
    placed_at: DateTime,
    note: Option<String>,
}

fn column(name: &str, column_type: ColumnType, charset: u16) -> Column {
    Column {
        name: name.into(),
        table: "orders".into(),
        column_type,
        flags: ColumnFlags::default(),
        charset,
        decimals: 0,
        length: 0,
    }
}

fn main() {
    let url = "mysql://4zX9.root:p%40ss%3Aw%2Frd@gateway01.eu-central-1.prod.aws.tidbcloud.com:4000/\
               test?ssl-mode=verify_identity&connect-timeout=3&pool-size=16&max-lifetime=5m";
    let columns: Arc<[Column]> = vec![
        column("id", ColumnType::LongLong, 63),
        column("customer", ColumnType::VarString, 46),
        column("total", ColumnType::NewDecimal, 63),
        column("placed_at", ColumnType::DateTime, 63),
        column("note", ColumnType::Blob, 46),
    ]
    .into();
    let rows: Vec<Row> = (0..1000u64)
        .map(|i| {
            Row::new(
                columns.clone(),
                vec![
                    Value::UInt(i),
                    Value::Text(format!("customer {i}")),
                    Value::Decimal("1234.56".parse().unwrap()),
                    Value::DateTime("2026-12-04 10:11:12.123456".parse().unwrap()),
                    if i % 2 == 0 {
                        Value::Null
                    } else {
                        Value::Text("note".into())
                    },
                ],
            )
        })
        .collect();

    let cases: Vec<(&str, u64, Duration)> = vec![
        (
            "parse a TiDB Cloud URL",
            1,
            measure(|| {
                black_box(Config::parse(black_box(url)).unwrap());
            }),
        ),
        (
            "parse a DATETIME(6) text value",
            1,
            measure(|| {
                black_box(
                    black_box("2026-12-04 10:11:12.123456")
                        .parse::<DateTime>()
                        .unwrap(),
                );
            }),
        ),
        (
            "decode 1000 rows into a struct",
            1000,
            measure(|| {
                for row in &rows {
                    black_box(row.decode::<Order>().unwrap());
                }
            }),
        ),
    ];

    println!("| case | per operation | per item | items/s |");
    println!("|---|---:|---:|---:|");
    for (name, items, per_op) in cases {
        let per_item = per_op / items as u32;
        println!(
            "| {name} | {per_op:.2?} | {per_item:.2?} | {:.0} |",
            1.0 / per_item.as_secs_f64()
        );
    }
}
