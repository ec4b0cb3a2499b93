//! MySQL protocol pieces that do no IO and serve every backend that speaks MySQL.
//!
//! Today the native direct backend uses them through mysql_async; the Workers wire client
//! (TODO(#3)) reuses the same decoding so both paths give identical values.

pub(crate) mod decode;
