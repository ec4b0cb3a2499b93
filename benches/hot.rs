//! Criterion benches of the client-side hot code, without a server: row decoding in both
//! MySQL protocols (text: Hyperdrive path and wire client; binary: prepared statements on the
//! direct path), client-side parameter interpolation (`tidb_connect::interpolate`), and the
//! relay's JSON answers (encoding on the relay, decoding in the relay client).
//!
//! `cargo bench --features bench-internals --bench hot`. The packets are built here the way a
//! server sends them for a sysbench-like row (BIGINT, INT, two utf8mb4 VARCHARs).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::packets::Column;
use mysql_common::proto::MySerialize;
use tidb_connect::__bench::{binary_rows, columns, text_rows};
use tidb_connect::relay::protocol::{SqlResponse, decode_result, encode_result};
use tidb_connect::{Escaping, ResultSet, Value, interpolate};

const UTF8MB4_BIN: u16 = 46;
const BINARY: u16 = 63;

fn column_packets() -> Vec<Vec<u8>> {
    let def = |name: &[u8], ty, charset, flags| {
        let mut buf = Vec::new();
        Column::new(ty)
            .with_schema(b"test")
            .with_table(b"bench_rows")
            .with_org_table(b"bench_rows")
            .with_name(name)
            .with_org_name(name)
            .with_character_set(charset)
            .with_flags(flags)
            .serialize(&mut buf);
        buf
    };
    let not_null = ColumnFlags::NOT_NULL_FLAG;
    vec![
        def(
            b"id",
            ColumnType::MYSQL_TYPE_LONGLONG,
            BINARY,
            not_null | ColumnFlags::PRI_KEY_FLAG,
        ),
        def(b"k", ColumnType::MYSQL_TYPE_LONG, BINARY, not_null),
        def(
            b"c",
            ColumnType::MYSQL_TYPE_VAR_STRING,
            UTF8MB4_BIN,
            not_null,
        ),
        def(
            b"pad",
            ColumnType::MYSQL_TYPE_VAR_STRING,
            UTF8MB4_BIN,
            not_null,
        ),
    ]
}

fn lenenc_str(buf: &mut Vec<u8>, s: &[u8]) {
    assert!(s.len() < 251);
    buf.push(s.len() as u8);
    buf.extend_from_slice(s);
}

fn cells(i: u64) -> (i64, i32, String, String) {
    (
        i as i64,
        (i * 7 % 1000) as i32,
        format!("{i:0>10}-{}", "c".repeat(109)),
        format!("{i:0>10}-{}", "p".repeat(49)),
    )
}

/// Text-protocol rows: every cell a length-encoded string.
fn text_packets(n: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let (id, k, c, pad) = cells(i);
            let mut buf = Vec::new();
            lenenc_str(&mut buf, id.to_string().as_bytes());
            lenenc_str(&mut buf, k.to_string().as_bytes());
            lenenc_str(&mut buf, c.as_bytes());
            lenenc_str(&mut buf, pad.as_bytes());
            buf
        })
        .collect()
}

/// Binary-protocol rows: header 0x00, NULL bitmap (offset 2), then typed values.
fn binary_packets(n: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let (id, k, c, pad) = cells(i);
            let mut buf = vec![0x00, 0x00];
            buf.extend_from_slice(&id.to_le_bytes());
            buf.extend_from_slice(&k.to_le_bytes());
            lenenc_str(&mut buf, c.as_bytes());
            lenenc_str(&mut buf, pad.as_bytes());
            buf
        })
        .collect()
}

fn decode(c: &mut Criterion) {
    let cols = columns(&column_packets()).expect("column definitions");
    let mut group = c.benchmark_group("decode rows");
    for n in [1u64, 100] {
        let text = text_packets(n);
        let binary = binary_packets(n);
        assert_eq!(
            text_rows(&cols, &text).unwrap(),
            binary_rows(&cols, &binary).unwrap()
        );
        group.throughput(Throughput::Elements(n));
        group.bench_with_input(BenchmarkId::new("text protocol", n), &text, |b, p| {
            b.iter(|| black_box(text_rows(&cols, black_box(p)).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("binary protocol", n), &binary, |b, p| {
            b.iter(|| black_box(binary_rows(&cols, black_box(p)).unwrap()))
        });
    }
    group.finish();
}

fn interpolation(c: &mut Criterion) {
    let mut group = c.benchmark_group("interpolate");
    let point = "SELECT id, k, c, pad FROM bench_rows WHERE id = ?";
    let id = [Value::from(4242i64)];
    group.bench_function("point select, 1 integer", |b| {
        b.iter(|| black_box(interpolate(black_box(point), &id, Escaping::Backslash).unwrap()))
    });
    let insert = "INSERT INTO bench_log (k, c, pad, blob) VALUES (?, ?, ?, ?)";
    let row = [
        Value::from(7i32),
        Value::from("O'Brien said \"hi\"\\n and left; 120 chars of text follow ........"),
        Value::from("pad-0123456789"),
        Value::Bytes((0u8..=255).collect()),
    ];
    for escaping in [Escaping::Backslash, Escaping::NoBackslash] {
        group.bench_function(format!("insert, 4 values, {escaping:?}"), |b| {
            b.iter(|| black_box(interpolate(black_box(insert), &row, escaping).unwrap()))
        });
    }
    group.finish();
}

fn relay_json(c: &mut Criterion) {
    let cols = columns(&column_packets()).expect("column definitions");
    let mut group = c.benchmark_group("relay json");
    for n in [1u64, 100] {
        let rows = text_rows(&cols, &text_packets(n)).unwrap();
        let rs = ResultSet {
            columns: rows[0].columns().to_vec().into(),
            rows,
            ..ResultSet::default()
        };
        let body = serde_json::to_vec(&encode_result(&rs, true)).unwrap();
        let back = decode_result(serde_json::from_slice::<SqlResponse>(&body).unwrap()).unwrap();
        assert_eq!(back.rows.len(), rs.rows.len());
        group.throughput(Throughput::Elements(n));
        group.bench_with_input(BenchmarkId::new("encode answer", n), &rs, |b, rs| {
            b.iter(|| black_box(serde_json::to_vec(&encode_result(black_box(rs), true)).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("decode answer", n), &body, |b, body| {
            b.iter(|| {
                let resp: SqlResponse = serde_json::from_slice(black_box(body)).unwrap();
                black_box(decode_result(resp).unwrap())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decode, interpolation, relay_json);
criterion_main!(benches);
