//! Server version strings: TiDB, MariaDB and MySQL say who they are in different ways.

use std::fmt;

/// Which server product answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerFlavor {
    /// TiDB (self-hosted, Dedicated or Serverless).
    TiDB,
    /// MariaDB.
    MariaDB,
    /// MySQL (or a server that looks like it).
    MySQL,
    /// The version string was not understood.
    Unknown,
}

/// A parsed server version.
///
/// ```
/// use tidb_connect::{ServerFlavor, ServerVersion};
///
/// let v = ServerVersion::parse("8.0.11-TiDB-v8.5.3-serverless");
/// assert_eq!(v.flavor, ServerFlavor::TiDB);
/// assert_eq!(v.version, Some((8, 5, 3)));
/// assert!(v.serverless);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerVersion {
    /// The product.
    pub flavor: ServerFlavor,
    /// The product's own version (TiDB's, not the MySQL version it emulates).
    pub version: Option<(u16, u16, u16)>,
    /// A pre-release tag, e.g. `alpha` for `v7.2.0-alpha-69-gabcdef`.
    pub pre_release: Option<String>,
    /// TiDB Cloud Serverless (`-serverless` suffix).
    pub serverless: bool,
    /// The MySQL protocol version the server claims (the part before `-TiDB`).
    pub mysql_compat: Option<(u16, u16, u16)>,
    /// The string as the server sent it.
    pub raw: String,
}

impl ServerVersion {
    /// Parses a version string; never fails, unknown strings give [`ServerFlavor::Unknown`].
    pub fn parse(raw: &str) -> ServerVersion {
        let mut v = ServerVersion {
            flavor: ServerFlavor::Unknown,
            version: None,
            pre_release: None,
            serverless: false,
            mysql_compat: None,
            raw: raw.to_owned(),
        };

        if let Some(pos) = raw.find("-TiDB-") {
            v.mysql_compat = triple(&raw[..pos]).map(|(t, _)| t);
            let rest = &raw[pos + "-TiDB-".len()..];
            let rest = rest.strip_prefix(['v', 'V']).unwrap_or(rest);
            if let Some((t, tail)) = triple(rest) {
                v.flavor = ServerFlavor::TiDB;
                v.version = Some(t);
                let tags: Vec<&str> = tail.split('-').filter(|s| !s.is_empty()).collect();
                v.serverless = tags.contains(&"serverless");
                v.pre_release = tags
                    .iter()
                    .find(|t| {
                        let t = t.to_ascii_lowercase();
                        t.starts_with("alpha") || t.starts_with("beta") || t.starts_with("rc")
                    })
                    .map(|t| (*t).to_owned());
            }
            return v;
        }

        // MariaDB prefixes "5.5.5-" so old clients that only read the first number still work.
        let body = raw.strip_prefix("5.5.5-").unwrap_or(raw);
        if body.contains("MariaDB") {
            if let Some((t, _)) = triple(body) {
                v.flavor = ServerFlavor::MariaDB;
                v.version = Some(t);
            }
            return v;
        }

        if let Some((t, tail)) = triple(raw) {
            if tail.is_empty() || tail.starts_with(['-', ' ']) {
                v.flavor = ServerFlavor::MySQL;
                v.version = Some(t);
                v.mysql_compat = Some(t);
            }
        }
        v
    }

    /// Whether the server is TiDB.
    pub fn is_tidb(&self) -> bool {
        self.flavor == ServerFlavor::TiDB
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.flavor {
            ServerFlavor::TiDB => "TiDB",
            ServerFlavor::MariaDB => "MariaDB",
            ServerFlavor::MySQL => "MySQL",
            ServerFlavor::Unknown => return write!(f, "unknown server ({})", self.raw),
        };
        write!(f, "{name}")?;
        if let Some((a, b, c)) = self.version {
            write!(f, " {a}.{b}.{c}")?;
        }
        if let Some(pre) = &self.pre_release {
            write!(f, "-{pre}")?;
        }
        if self.serverless {
            write!(f, " (serverless)")?;
        }
        Ok(())
    }
}

/// Reads `X.Y.Z` at the start of `s`, returning the numbers and the rest.
fn triple(s: &str) -> Option<((u16, u16, u16), &str)> {
    let mut nums = [0u16; 3];
    let mut rest = s;
    for (i, slot) in nums.iter_mut().enumerate() {
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if end == 0 || end > 5 {
            return None;
        }
        *slot = rest[..end].parse().ok()?;
        rest = &rest[end..];
        if i < 2 {
            rest = rest.strip_prefix('.')?;
        }
    }
    Some(((nums[0], nums[1], nums[2]), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c16_version_strings() {
        let v = ServerVersion::parse("8.0.11-TiDB-v8.5.3-serverless");
        assert_eq!(
            (v.flavor, v.version, v.serverless, v.pre_release.as_deref()),
            (ServerFlavor::TiDB, Some((8, 5, 3)), true, None)
        );
        assert_eq!(v.mysql_compat, Some((8, 0, 11)));
        assert_eq!(v.to_string(), "TiDB 8.5.3 (serverless)");

        let v = ServerVersion::parse("5.7.25-TiDB-v7.0.0");
        assert_eq!(
            (v.flavor, v.version, v.serverless),
            (ServerFlavor::TiDB, Some((7, 0, 0)), false)
        );

        let v = ServerVersion::parse("8.0.11-TiDB-v7.2.0-alpha-69-gabcdef");
        assert_eq!(v.version, Some((7, 2, 0)));
        assert_eq!(v.pre_release.as_deref(), Some("alpha"));
        assert_eq!(v.to_string(), "TiDB 7.2.0-alpha");

        let v = ServerVersion::parse("5.5.5-10.11.6-MariaDB-0+deb12u1");
        assert_eq!(
            (v.flavor, v.version),
            (ServerFlavor::MariaDB, Some((10, 11, 6)))
        );

        let v = ServerVersion::parse("11.8.6-MariaDB-5ubuntu0.1 from Ubuntu-log");
        assert_eq!(
            (v.flavor, v.version),
            (ServerFlavor::MariaDB, Some((11, 8, 6)))
        );

        let v = ServerVersion::parse("8.0.36");
        assert_eq!(
            (v.flavor, v.version),
            (ServerFlavor::MySQL, Some((8, 0, 36)))
        );

        for garbage in [
            "",
            "garbage",
            "8",
            "8.0",
            "99999999.1.1",
            "-TiDB-",
            "8.0.11-TiDB-vx",
            "1.2.3x",
            "\u{0}\u{ff}",
        ] {
            let v = ServerVersion::parse(garbage);
            assert_eq!(v.flavor, ServerFlavor::Unknown, "{garbage:?}");
            assert_eq!(v.version, None);
        }
    }
}
