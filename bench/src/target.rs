//! The database under test, read from one `mysql://` URL, and the URL each path uses.

use anyhow::{Context, Result, bail};
use percent_encoding::percent_decode_str;

/// The server every path talks to, as given by `--url` / `TIDB_URL`.
#[derive(Clone)]
pub struct Target {
    /// `user:password` exactly as written in the URL (percent-encoded).
    userinfo: String,
    /// Decoded user.
    pub user: String,
    /// Decoded password.
    pub password: String,
    /// Host (an IP literal or name).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database.
    pub database: String,
    /// The query string without `?` (TLS settings and the like), as written.
    query: String,
    /// Decoded `ssl-ca` path, if any.
    pub ca: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("user", &self.user)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Reads a `mysql://user:password@host:port/db?params` URL.
    pub fn parse(url: &str) -> Result<Target> {
        let rest = url
            .strip_prefix("mysql://")
            .context("the URL must start with mysql://")?;
        let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, database) = main.split_once('/').unwrap_or((main, ""));
        let (userinfo, hostport) = authority
            .rsplit_once('@')
            .context("the URL needs user:password@")?;
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().context("port")?),
            None => (hostport, 4000),
        };
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let mut ca = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let key = k.to_ascii_lowercase().replace(['-', '_'], "");
            if key == "sslca" {
                ca = Some(decode(v));
            }
        }
        if host.is_empty() {
            bail!("the URL has no host");
        }
        Ok(Target {
            userinfo: userinfo.to_owned(),
            user: decode(user),
            password: decode(password),
            host: host.to_owned(),
            port,
            database: decode(database),
            query: query.to_owned(),
            ca,
        })
    }

    /// The server's socket address (the host must be an IP literal or `localhost`).
    pub fn addr(&self) -> Result<std::net::SocketAddr> {
        use std::net::ToSocketAddrs;
        (self.host.as_str(), self.port)
            .to_socket_addrs()?
            .next()
            .context("resolve the server's host")
    }

    /// A tidb-connect direct URL to `port` on the same host (a proxy in front of the server),
    /// with extra parameters.
    pub fn mysql_url(&self, port: u16, extra: &str) -> String {
        let mut q = self.query.clone();
        for p in extra.split('&').filter(|p| !p.is_empty()) {
            if !q.is_empty() {
                q.push('&');
            }
            q.push_str(p);
        }
        let db = &self.database;
        let (userinfo, host) = (&self.userinfo, &self.host);
        if q.is_empty() {
            format!("mysql://{userinfo}@{host}:{port}/{db}")
        } else {
            format!("mysql://{userinfo}@{host}:{port}/{db}?{q}")
        }
    }

    /// The relay's upstream URL: the server at `port`, without credentials (the relay takes
    /// them from each request).
    pub fn relay_upstream(&self, port: u16) -> String {
        let (host, db) = (&self.host, &self.database);
        if self.query.is_empty() {
            format!("mysql://{host}:{port}/{db}")
        } else {
            format!("mysql://{host}:{port}/{db}?{}", self.query)
        }
    }

    /// A tidb-connect relay URL to a relay on 127.0.0.1:`port`.
    pub fn relay_url(&self, port: u16) -> String {
        format!(
            "relay+http://{}@127.0.0.1:{port}/{}",
            self.userinfo, self.database
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_local_server_url() {
        let t = Target::parse(
            "mysql://4zX9Tq1Local.root:p%40ss%3Aw%2Frd%3F%231@127.0.0.1:3307/test?\
             ssl-mode=verify_identity&ssl-ca=%2Ftmp%2Fca.pem",
        )
        .unwrap();
        assert_eq!(t.user, "4zX9Tq1Local.root");
        assert_eq!(t.password, "p@ss:w/rd?#1");
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 3307));
        assert_eq!(t.ca.as_deref(), Some("/tmp/ca.pem"));
        assert_eq!(
            t.mysql_url(4000, "pool-size=8"),
            "mysql://4zX9Tq1Local.root:p%40ss%3Aw%2Frd%3F%231@127.0.0.1:4000/test?\
             ssl-mode=verify_identity&ssl-ca=%2Ftmp%2Fca.pem&pool-size=8"
        );
        assert_eq!(
            t.relay_upstream(9),
            "mysql://127.0.0.1:9/test?ssl-mode=verify_identity&ssl-ca=%2Ftmp%2Fca.pem"
        );
        assert!(!format!("{t:?}").contains("ss:w"));
    }
}
