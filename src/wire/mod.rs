//! The crate's own MySQL client: `mysql_common` packets over any async byte stream, with a
//! pluggable TLS upgrade. It is what runs in a Worker (over `worker::Socket`), and natively it
//! carries the Hyperdrive path and `mysql://…?client=wire`, so the same code is tested against
//! a real server here.

mod conn;
mod io;
