//! MySQL protocol pieces that do no IO and serve every backend that speaks MySQL.
//!
//! The native direct backend uses them through mysql_async, and the wire client (Workers,
//! Hyperdrive, `client=wire`) directly, so both give identical values.

pub(crate) mod decode;
