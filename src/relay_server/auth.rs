//! Who a request comes from, and the connection pools that serve each user.
//!
//! In the default mode the Basic credentials are the database user's: the relay keeps no
//! password of its own, and the database checks them when the user's pool opens its first
//! connection. In token mode the relay holds the database credentials (in the upstream URL)
//! and checks the client's token in constant time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::config::{Config, Secret};
use crate::direct::DirectConnector;
use crate::error::{Error, Result};
use crate::relay::protocol;

use super::sessions::constant_time_eq;

/// How clients authenticate.
#[derive(Clone)]
pub enum AuthMode {
    /// Basic credentials are the database user's (the default).
    Basic,
    /// The relay holds the database credentials; clients present one of these tokens, as
    /// `Authorization: Bearer <token>` or as the password of Basic credentials.
    Tokens(Vec<String>),
}

impl std::fmt::Debug for AuthMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthMode::Basic => f.write_str("Basic"),
            AuthMode::Tokens(t) => write!(f, "Tokens(<{} redacted>)", t.len()),
        }
    }
}

/// An authenticated request's identity and the database credentials to use for it.
pub(crate) struct Principal {
    /// Binds sessions: the user name, or `token:<n>` in token mode.
    pub(crate) name: String,
    user: String,
    password: Secret,
}

/// Reads the credentials of a request. `None` when they are missing or (token mode) wrong;
/// Basic credentials are checked by the database when the pool is fetched.
pub(crate) fn authenticate(
    mode: &AuthMode,
    upstream: &Upstream,
    authorization: Option<&str>,
) -> Option<Principal> {
    let header = authorization?;
    match mode {
        AuthMode::Basic => {
            let (user, password) = protocol::parse_basic_auth(header)?;
            if user.is_empty() {
                return None;
            }
            Some(Principal {
                name: user.clone(),
                user,
                password: Secret::from(password),
            })
        }
        AuthMode::Tokens(tokens) => {
            let presented = match header.trim().split_once(' ') {
                Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => {
                    rest.trim().to_owned()
                }
                _ => protocol::parse_basic_auth(header)?.1,
            };
            // Compare with every token, without stopping at a match.
            let mut matched = None;
            for (i, token) in tokens.iter().enumerate() {
                if constant_time_eq(token.as_bytes(), presented.as_bytes()) {
                    matched = Some(i);
                }
            }
            let index = matched?;
            Some(Principal {
                name: format!("token:{index}"),
                user: upstream.user.clone(),
                password: upstream.password.clone(),
            })
        }
    }
}

/// The database the relay forwards to, parsed once from the upstream URL.
pub(crate) struct Upstream {
    scheme: String,
    /// `host[:port]` as written, without credentials.
    authority: String,
    /// `host:port` to probe for readiness.
    address: String,
    /// The URL's query, without `?`.
    query: String,
    /// The database when a request names none.
    default_database: String,
    /// Token mode: the credentials in the URL.
    user: String,
    password: Secret,
}

impl Upstream {
    /// Parses `mysql://[user:password@]host[:port][/db][?params]` and checks it with the
    /// configuration rules.
    pub(crate) fn parse(url: &str, mode: &AuthMode) -> Result<Upstream> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| Error::config("the upstream must be a mysql:// url"))?;
        if !matches!(scheme, "mysql" | "tidb") {
            return Err(Error::config(
                "the upstream must be a mysql:// (or tidb://) url of the database",
            ));
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority_with_creds, tail) = rest.split_at(end);
        let (creds, authority) = match authority_with_creds.rfind('@') {
            Some(at) => (
                Some(&authority_with_creds[..at]),
                &authority_with_creds[at + 1..],
            ),
            None => (None, authority_with_creds),
        };
        let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| Error::config("the upstream url is not valid utf-8 when decoded"))
        };
        let default_database = decode(path.trim_start_matches('/'))?;
        let (user, password) = match (mode, creds) {
            (AuthMode::Basic, Some(_)) => {
                return Err(Error::config(
                    "with --auth basic the client's credentials are used: remove user:password \
                     from the upstream url, or use --auth tokens to keep them in the relay",
                ));
            }
            (AuthMode::Basic, None) => (String::new(), Secret::default()),
            (AuthMode::Tokens(_), None) => {
                return Err(Error::config(
                    "with --auth tokens the upstream url must hold the database user and password",
                ));
            }
            (AuthMode::Tokens(_), Some(c)) => {
                let (u, p) = c.split_once(':').unwrap_or((c, ""));
                (decode(u)?, Secret::from(decode(p)?))
            }
        };
        let mut upstream = Upstream {
            scheme: scheme.to_owned(),
            authority: authority.to_owned(),
            address: String::new(),
            query: query.to_owned(),
            default_database,
            user,
            password,
        };
        // The same rules as any client configuration (TLS, TiDB Cloud, parameters).
        let checked =
            upstream.config_for("prefix.relay_check", &Secret::from("x".to_owned()), "")?;
        upstream.address = if checked.host().contains(':') {
            format!("[{}]:{}", checked.host(), checked.port())
        } else {
            format!("{}:{}", checked.host(), checked.port())
        };
        Ok(upstream)
    }

    /// `host:port` of the database.
    pub(crate) fn host_port(&self) -> &str {
        &self.address
    }

    /// The configuration for one user and database.
    fn config_for(&self, user: &str, password: &Secret, database: &str) -> Result<Config> {
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let database = if database.is_empty() {
            &self.default_database
        } else {
            database
        };
        let mut url = format!(
            "{}://{}:{}@{}/{}",
            self.scheme,
            enc(user),
            enc(password.expose()),
            self.authority,
            enc(database)
        );
        if !self.query.is_empty() {
            url.push('?');
            url.push_str(&self.query);
        }
        Config::parse(&url)
    }
}

struct PoolEntry {
    password: Secret,
    connector: DirectConnector,
    last_used: Instant,
}

/// One pool per user and database, at most `max` of them.
pub(crate) struct Pools {
    entries: Mutex<HashMap<(String, String), PoolEntry>>,
    max: usize,
}

impl Pools {
    pub(crate) fn new(max: usize) -> Pools {
        Pools {
            entries: Mutex::new(HashMap::new()),
            max: max.max(1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.lock().expect("pools").len()
    }

    /// The pool of this principal for `database`. A new pool opens one connection first, so
    /// wrong credentials fail here (access denied) and leave no pool behind.
    pub(crate) async fn get(
        &self,
        upstream: &Upstream,
        principal: &Principal,
        database: &str,
    ) -> Result<DirectConnector> {
        let key = (principal.user.clone(), database.to_owned());
        {
            let mut entries = self.entries.lock().expect("pools");
            if let Some(entry) = entries.get_mut(&key) {
                if constant_time_eq(
                    entry.password.expose().as_bytes(),
                    principal.password.expose().as_bytes(),
                ) {
                    entry.last_used = Instant::now();
                    return Ok(entry.connector.clone());
                }
            }
        }

        // A new user, or a password that differs from the pool's (changed, or wrong): let the
        // database decide.
        let config = upstream.config_for(&principal.user, &principal.password, database)?;
        let connector = DirectConnector::connect(&config).await?;

        let mut retired = Vec::new();
        {
            let mut entries = self.entries.lock().expect("pools");
            if !entries.contains_key(&key) && entries.len() >= self.max {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, e)| e.last_used)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    retired.extend(entries.remove(&k).map(|e| e.connector));
                }
            }
            let previous = entries.insert(
                key,
                PoolEntry {
                    password: principal.password.clone(),
                    connector: connector.clone(),
                    last_used: Instant::now(),
                },
            );
            retired.extend(previous.map(|e| e.connector));
        }
        for old in retired {
            tokio::spawn(async move {
                let _ = crate::Connector::close(&old).await;
            });
        }
        Ok(connector)
    }

    /// Closes every pool.
    pub(crate) async fn close_all(&self) {
        let all: Vec<DirectConnector> = self
            .entries
            .lock()
            .expect("pools")
            .drain()
            .map(|(_, e)| e.connector)
            .collect();
        for c in all {
            let _ = crate::Connector::close(&c).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls_follow_the_configuration_rules() {
        let u = Upstream::parse(
            "mysql://gateway01-privatelink.eu-central-1.prod.aws.tidbcloud.com/test",
            &AuthMode::Basic,
        )
        .unwrap();
        assert_eq!(
            u.host_port(),
            "gateway01-privatelink.eu-central-1.prod.aws.tidbcloud.com:4000"
        );
        let e = Upstream::parse("mysql://u:p@127.0.0.1:4000/test", &AuthMode::Basic)
            .err()
            .unwrap();
        assert!(e.to_string().contains("--auth tokens"), "{e}");
        let tokens = AuthMode::Tokens(vec!["t".repeat(32)]);
        assert!(Upstream::parse("mysql://127.0.0.1/test", &tokens).is_err());
        let u = Upstream::parse("mysql://app:s%40cret@127.0.0.1:3307/test", &tokens).unwrap();
        assert_eq!((u.user.as_str(), u.password.expose()), ("app", "s@cret"));
        assert!(!format!("{tokens:?}").contains("tttt"));
        // TiDB Cloud hosts are never reached in plaintext.
        let e = Upstream::parse(
            "mysql://gateway01.us-east-1.prod.aws.tidbcloud.com/test?ssl-mode=disabled",
            &AuthMode::Basic,
        )
        .err()
        .unwrap();
        assert!(e.is_config(), "{e}");
        assert!(Upstream::parse("http://x/y", &AuthMode::Basic).is_err());
    }

    #[test]
    fn tokens_are_compared_whole() {
        let upstream =
            Upstream::parse("mysql://app:pw@127.0.0.1/test", &AuthMode::Tokens(vec![])).unwrap();
        let mode = AuthMode::Tokens(vec!["a".repeat(32), "b".repeat(32)]);
        let bearer = |t: &str| format!("Bearer {t}");
        assert_eq!(
            authenticate(&mode, &upstream, Some(&bearer(&"b".repeat(32))))
                .unwrap()
                .name,
            "token:1"
        );
        for wrong in [
            "a".repeat(31),
            "a".repeat(33),
            String::new(),
            "b".repeat(31) + "a",
        ] {
            assert!(authenticate(&mode, &upstream, Some(&bearer(&wrong))).is_none());
        }
        assert!(authenticate(&mode, &upstream, None).is_none());
    }
}
