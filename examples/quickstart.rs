//! Quickstart: connect with the URL in `TIDB_URL`, create a table, write typed rows and read
//! them back.
//!
//! ```sh
//! TIDB_URL='mysql://<prefix>.root:<password>@gateway01.<region>.prod.aws.tidbcloud.com:4000/test' \
//!     cargo run --example quickstart
//! ```
//!
//! The code names no backend: changing `TIDB_URL` changes the path. It drops and recreates
//! the table `quickstart_orders` in the URL's database.

use serde::Deserialize;
use tidb_connect::{Config, Connector, Date, Decimal, Statement, TxOptions, params};

#[derive(Debug, Deserialize)]
struct Order {
    id: u64,
    customer: String,
    total: Decimal,
    placed_on: Date,
    paid: bool,
    note: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    // Display never shows the password.
    println!("connecting to {config}");
    let db = tidb_connect::connect(&config).await?;
    let version = db.server_version().await?;
    println!("backend: {}, server: {version}", config.backend());

    db.execute("DROP TABLE IF EXISTS quickstart_orders", &[])
        .await?;
    db.execute(
        "CREATE TABLE quickstart_orders (
            id BIGINT UNSIGNED PRIMARY KEY,
            customer VARCHAR(64) NOT NULL,
            total DECIMAL(12, 2) NOT NULL,
            placed_on DATE NOT NULL,
            paid BOOLEAN NOT NULL DEFAULT FALSE,
            note TEXT NULL
        )",
        &[],
    )
    .await?;

    // Three rows in one atomic batch: all are written or none.
    let insert = "INSERT INTO quickstart_orders (id, customer, total, placed_on, note) \
                  VALUES (?, ?, ?, ?, ?)";
    db.batch(&[
        Statement::new(
            insert,
            params![
                1u64,
                "Zoë",
                "19.99".parse::<Decimal>()?,
                "2026-12-01".parse::<Date>()?,
                None::<String>
            ],
        ),
        Statement::new(
            insert,
            params![
                2u64,
                "José",
                "1250.00".parse::<Decimal>()?,
                "2026-12-02".parse::<Date>()?,
                "gift wrap 🎁"
            ],
        ),
        Statement::new(
            insert,
            params![
                3u64,
                "Łukasz",
                "0.05".parse::<Decimal>()?,
                "2026-12-03".parse::<Date>()?,
                ""
            ],
        ),
    ])
    .await?;

    // An interactive transaction.
    let mut tx = db.begin(TxOptions::default()).await?;
    tx.execute(
        "UPDATE quickstart_orders SET paid = TRUE WHERE id = ?",
        &params![2u64],
    )
    .await?;
    tx.commit().await?;

    let orders: Vec<Order> = db
        .query(
            "SELECT id, customer, total, placed_on, paid, note FROM quickstart_orders ORDER BY id",
            &[],
        )
        .await?
        .decode()?;
    println!(
        "{:>3}  {:<8} {:>9}  {:<10}  {:<5}  note",
        "id", "customer", "total", "placed_on", "paid"
    );
    for o in &orders {
        println!(
            "{:>3}  {:<8} {:>9}  {:<10}  {:<5}  {}",
            o.id,
            o.customer,
            o.total,
            o.placed_on,
            o.paid,
            match &o.note {
                None => "NULL",
                Some(n) if n.is_empty() => "''",
                Some(n) => n,
            }
        );
    }

    db.close().await?;
    Ok(())
}
