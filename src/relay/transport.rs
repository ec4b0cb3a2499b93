//! The HTTP exchange under the relay client: request bytes and headers in, status, headers and
//! body out. One small trait, so the Workers backend can put `fetch` (a VPC service binding or
//! the global one) where the native client uses reqwest.

use async_trait::async_trait;

use crate::connector::MaybeSendSync;
use crate::error::Result;

/// One HTTP request to the relay.
#[derive(Clone)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The path, e.g. `/v1beta/sql`.
    pub path: &'static str,
    /// Headers, including `Authorization`.
    pub headers: Vec<(&'static str, String)>,
    /// The body (JSON), empty for `GET`.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for HttpRequest {
    /// Shows the method, the path and the header names only: headers carry credentials and
    /// session tokens, and the body carries parameter values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| *k).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The relay's answer, with the body already decompressed.
#[derive(Clone)]
pub struct HttpResponse {
    /// The HTTP status.
    pub status: u16,
    /// Headers (names in any case).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header of that name, compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// Sends one request and returns the answer. Errors are for requests that got no HTTP answer
/// at all (connect failure, broken connection, timeout); any status is a response.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait Transport: MaybeSendSync {
    /// Sends `request` and reads the whole response.
    ///
    /// # Errors
    ///
    /// Connect errors when nothing was sent; "connection lost" when the request may have
    /// reached the relay.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse>;
}

#[cfg(feature = "native")]
pub(crate) use native::NativeTransport;

#[cfg(feature = "native")]
mod native {
    use std::time::Duration;

    use async_trait::async_trait;

    use super::{HttpRequest, HttpResponse, Transport};
    use crate::config::{Config, RelayTransport, SslMode};
    use crate::error::{Error, Result};

    /// Upper bound for one HTTP exchange: the relay's own deadline ends statements earlier;
    /// this only guards against a relay that stops answering.
    const REQUEST_TIMEOUT: Duration = Duration::from_secs(330);

    /// reqwest over rustls (ring), keep-alive, gzip.
    pub(crate) struct NativeTransport {
        client: reqwest::Client,
        base: String,
    }

    impl NativeTransport {
        pub(crate) fn new(config: &Config) -> Result<NativeTransport> {
            let https = config.relay_transport() != Some(RelayTransport::Http);
            let mut builder = reqwest::Client::builder()
                .connect_timeout(config.connect_timeout())
                .timeout(REQUEST_TIMEOUT)
                .pool_idle_timeout(Duration::from_secs(60))
                .no_proxy()
                .gzip(true);
            let scheme = if https { "https" } else { "http" };
            let mut host = config.host().to_owned();
            // reqwest builds a TLS client even for plain HTTP; give it ours (ring), so no
            // process-wide crypto provider is needed.
            builder = builder.tls_backend_preconfigured(if https {
                tls_config(config)?
            } else {
                crate::wire::tls::client_config(config)?
            });
            if https {
                // Verify (and send as SNI) another name than the address: connect to the
                // configured host, name the other one in the URL.
                if let Some(name) = config.tls().server_name() {
                    let addr = resolve(config)?;
                    builder = builder.resolve(name, addr);
                    host = name.to_owned();
                }
            }
            let client = builder.build().map_err(|e| {
                Error::config("the relay's http client cannot be built").with_source(e)
            })?;
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host
            };
            Ok(NativeTransport {
                client,
                base: format!("{scheme}://{host}:{}", config.port()),
            })
        }
    }

    fn resolve(config: &Config) -> Result<std::net::SocketAddr> {
        use std::net::ToSocketAddrs;
        (config.host(), config.port())
            .to_socket_addrs()
            .ok()
            .and_then(|mut it| it.next())
            .ok_or_else(|| Error::connect(format!("cannot resolve relay host {}", config.host())))
    }

    /// The wire client's TLS settings (every `ssl-mode`, `ssl-ca`, the web roots), speaking
    /// HTTP/1.1. `disabled` and `preferred` mean nothing on `relay+https://`: it is always TLS.
    fn tls_config(config: &Config) -> Result<rustls::ClientConfig> {
        let mode = config.tls().mode();
        if matches!(mode, SslMode::Disabled | SslMode::Preferred) {
            return Err(Error::config(format!(
                "ssl-mode={mode} does not apply to relay+https://, which always uses TLS; use \
                 relay+http:// for a relay on a private link without TLS"
            )));
        }
        let mut tls = crate::wire::tls::client_config(config)?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(tls)
    }

    #[async_trait]
    impl Transport for NativeTransport {
        async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
            let url = format!("{}{}", self.base, request.path);
            let mut builder = match request.method {
                "GET" => self.client.get(url),
                _ => self.client.post(url).body(request.body),
            };
            for (name, value) in request.headers {
                builder = builder.header(name, value);
            }
            let response = builder
                .send()
                .await
                .map_err(|e| transport_error(&e, true))?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect();
            let body = response
                .bytes()
                .await
                .map_err(|e| transport_error(&e, false))?
                .to_vec();
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        }
    }

    /// A failed exchange: a connect failure sent nothing (retryable); anything later may have
    /// reached the relay.
    fn transport_error(e: &reqwest::Error, sending: bool) -> Error {
        // The URL is ours (no credentials in it), but keep it out of messages anyway.
        let detail = error_chain(e);
        if sending && e.is_connect() {
            Error::connect(format!("cannot connect to the relay: {detail}"))
        } else if e.is_timeout() {
            Error::timeout("the http request to the relay", REQUEST_TIMEOUT)
        } else {
            Error::connection_lost(format!("the http request to the relay ({detail})"))
        }
    }

    fn error_chain(e: &reqwest::Error) -> String {
        let mut parts = Vec::new();
        let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(err) = cur {
            parts.push(err.to_string());
            cur = err.source();
        }
        if parts.is_empty() {
            "no answer".to_owned()
        } else {
            parts.join(": ")
        }
    }
}
