//! Turns a [`Config`] into mysql_async options, with no hidden session statements.

use mysql_async::{OptsBuilder, PoolConstraints, PoolOpts, SslOpts};

use crate::config::{Config, SslMode};

/// The largest packet MySQL and TiDB accept (1 GiB). Setting it on the client skips the
/// `SELECT @@max_allowed_packet` mysql_async would otherwise run at connect; the server still
/// enforces its own limit and answers oversize packets with an error.
const MAX_PACKET: usize = 1024 * 1024 * 1024;

/// How the first connection attempt turned out to need the TLS settings adjusted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Adjust {
    /// The server offers no TLS and `ssl-mode=preferred` allows plaintext.
    pub plaintext: bool,
    /// For `verify_ca`: a name the server's (chain-verified) certificate presents, checked
    /// instead of the host. mysql_async's own switch for skipping the name check does not
    /// recognise the errors of current rustls versions.
    pub verify_name: Option<String>,
}

/// Builds the options for one pool.
pub(super) fn build(config: &Config, adjust: &Adjust) -> OptsBuilder {
    let max_lifetime = config.max_lifetime();
    let pool = PoolOpts::default()
        .with_constraints(
            PoolConstraints::new(config.pool_min(), config.pool_size())
                .expect("pool-min <= pool-size is checked when the config is built"),
        )
        // No COM_RESET_CONNECTION on return: it would also drop the server's prepared
        // statements, so every checkout would prepare again (three round trips per statement
        // instead of one). Transactions always end before a connection goes back (commit,
        // rollback, or a rollback when abandoned), and a connection that a statement left
        // inside a transaction is closed instead of returned (see `DirectConnector::query`).
        .with_reset_connection(false)
        .with_abs_conn_ttl(Some(max_lifetime))
        .with_inactive_connection_ttl(max_lifetime);

    let mut opts = OptsBuilder::default()
        .ip_or_hostname(config.host().to_owned())
        .tcp_port(config.port())
        .user(Some(config.user().to_owned()))
        .pass(Some(config.password().expose().to_owned()))
        .db_name(config.database().map(str::to_owned))
        .tcp_nodelay(true)
        // mysql_async asks for @@socket on local hosts and would reconnect through it; we
        // always stay on the TCP (and TLS) connection the configuration names.
        .prefer_socket(false)
        .max_allowed_packet(Some(MAX_PACKET))
        // Also skips `SELECT @@wait_timeout`; idle connections are bounded by max-lifetime
        // and the pool checks every connection on checkout.
        .wait_timeout(Some(max_lifetime.as_secs().max(1) as usize))
        .stmt_cache_size(config.statement_cache_size())
        .pool_opts(pool);

    // `setup` runs after connecting and again after each reset, so the configured session
    // settings survive COM_RESET_CONNECTION. Nothing runs unless the config asks for it.
    if let Some(setup) = config.session_setup() {
        opts = opts.setup(vec![setup]);
    }

    if !adjust.plaintext && config.tls().mode() != SslMode::Disabled {
        opts = opts.ssl_opts(Some(ssl_opts(config, adjust.verify_name.as_deref())));
    }
    opts
}

fn ssl_opts(config: &Config, verify_name: Option<&str>) -> SslOpts {
    let tls = config.tls();
    let mut ssl = SslOpts::default();
    if let Some(ca) = tls.ca() {
        // A configured CA replaces the public roots, as with MySQL's own client.
        ssl = ssl
            .with_root_certs(vec![ca.to_path_buf().into()])
            .with_disable_built_in_roots(true);
    }
    if let Some(name) = tls.server_name().or(verify_name) {
        ssl = ssl.with_danger_tls_hostname_override(Some(name.to_owned()));
    }
    match tls.mode() {
        SslMode::Preferred | SslMode::Required => ssl
            .with_danger_accept_invalid_certs(true)
            .with_danger_skip_domain_validation(true),
        SslMode::VerifyCa => ssl.with_danger_skip_domain_validation(true),
        SslMode::VerifyIdentity | SslMode::Disabled => ssl,
    }
}
