//! Fuzzes client-side parameter binding: any template and any parameter must either be
//! refused with an error or produce SQL in which each parameter is exactly one literal that
//! the server reads back as the original value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tidb_connect::{Escaping, Value, interpolate};

#[path = "../../src/sql/literal_reader.rs"]
mod literal_reader;

use literal_reader::read_literal;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let escaping = if selector & 1 == 0 {
        Escaping::Backslash
    } else {
        Escaping::NoBackslash
    };

    // 1. A text parameter in a fixed template reads back exactly and ends where it should.
    let text = String::from_utf8_lossy(rest).into_owned();
    let sql = interpolate("SELECT ? AS v", &[Value::Text(text.clone())], escaping)
        .expect("one placeholder, one parameter");
    let backslash_escapes = escaping == Escaping::Backslash;
    let (read, end) = read_literal(sql.as_bytes(), 7, backslash_escapes).expect("a closed literal");
    assert_eq!(read, text.as_bytes());
    assert_eq!(&sql[end..], " AS v");

    // 2. Bytes are hex and nothing else.
    let sql = interpolate("?", &[Value::Bytes(rest.to_vec())], escaping).unwrap();
    assert!(sql.starts_with("X'") && sql.ends_with('\''));
    assert!(sql[2..sql.len() - 1].bytes().all(|b| b.is_ascii_hexdigit()));

    // 3. Any template: an error or a result, never a panic; parameters never leak into
    //    errors.
    let params = vec![Value::Text("\u{1}secret\u{1}".into()); usize::from(selector >> 6)];
    match interpolate(&text, &params, escaping) {
        Ok(out) => assert!(out.len() >= text.len() - params.len()),
        Err(e) => assert!(!e.to_string().contains("secret")),
    }
});
