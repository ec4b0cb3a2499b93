//! The crate's own MySQL client: `mysql_common` packets over any async byte stream, with a
//! pluggable TLS upgrade. It is what runs in a Worker (over `worker::Socket`), and natively it
//! carries the Hyperdrive path and `mysql://…?client=wire`, so the same code is tested against
//! a real server here.

mod conn;
pub(crate) mod connector;
mod io;
#[cfg(feature = "native")]
pub(crate) mod native;
mod pool;
#[cfg(feature = "native")]
pub(crate) mod tls;
#[cfg(all(target_arch = "wasm32", feature = "worker"))]
pub(crate) mod worker;
