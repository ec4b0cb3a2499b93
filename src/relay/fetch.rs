//! The relay client's HTTP exchange inside a Worker: `fetch` through a service binding (a
//! Workers VPC service in production, which carries HTTP to the relay through the tunnel) or
//! the global `fetch` for `relay+https://`. The runtime does TLS and gzip.

use async_trait::async_trait;
use worker::wasm_bindgen::JsCast;
use worker::{Fetch, Fetcher, Headers, Method, Request, RequestInit, Response};

use super::transport::{HttpRequest, HttpResponse, Transport};
use crate::config::{Config, RelayTransport};
use crate::error::{Error, Result};

/// Where requests go.
enum Route {
    /// A service binding's `fetch`; the URL's host only names the binding in logs.
    Binding(Fetcher),
    /// The global `fetch`.
    Global,
}

/// `fetch` as the relay client's transport.
pub(crate) struct FetchTransport {
    route: Route,
    base: String,
}

impl FetchTransport {
    /// For `relay+vpc://…@BINDING/db`: the binding from the Worker's environment.
    pub(crate) fn binding(config: &Config, env: &worker::Env) -> Result<FetchTransport> {
        let name = config.host();
        let fetcher = env.service(name).map_err(|_| {
            Error::config(format!(
                "the Worker has no service binding {name}: add [[vpc_services]] binding = \
                 \"{name}\" with the VPC service's id to wrangler.toml (or [[services]] for \
                 another Worker)"
            ))
        })?;
        Ok(FetchTransport {
            route: Route::Binding(fetcher),
            base: format!("http://{}", name.to_ascii_lowercase().replace('_', "-")),
        })
    }

    /// For `relay+https://host/db` (and `relay+http://`): the global `fetch`.
    pub(crate) fn global(config: &Config) -> Result<FetchTransport> {
        if config.tls().ca().is_some() || config.tls().server_name().is_some() {
            return Err(Error::config(
                "ssl-ca and tls-server-name cannot be used in a Worker: the runtime verifies \
                 the relay's certificate against the host with its own trust store",
            ));
        }
        let scheme = match config.relay_transport() {
            Some(RelayTransport::Http) => "http",
            _ => "https",
        };
        Ok(FetchTransport {
            route: Route::Global,
            base: format!("{scheme}://{}:{}", config.host(), config.port()),
        })
    }
}

/// A fetch that failed without an HTTP answer. `fetch` does not say whether the request left,
/// so only a capabilities probe (a GET, which changes nothing) counts as a connect failure.
fn fetch_error(e: worker::Error, request: &HttpRequest) -> Error {
    if request.method == "GET" {
        Error::connect(format!("cannot reach the relay: {e}"))
    } else {
        Error::connection_lost(format!("the http request to the relay ({e})"))
    }
}

#[async_trait(?Send)]
impl Transport for FetchTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        let headers = Headers::new();
        for (name, value) in &request.headers {
            headers
                .set(name, value)
                .map_err(|_| Error::usage(format!("header {name} is not valid for fetch")))?;
        }
        let mut init = RequestInit::new();
        init.with_method(if request.method == "GET" {
            Method::Get
        } else {
            Method::Post
        })
        .with_headers(headers);
        if !request.body.is_empty() {
            let body = worker::js_sys::Uint8Array::from(request.body.as_slice());
            init.with_body(Some(body.into()));
        }
        let url = format!("{}{}", self.base, request.path);
        let outgoing = Request::new_with_init(&url, &init)
            .map_err(|e| Error::usage(format!("relay request: {e}")))?;

        let mut response = match &self.route {
            Route::Global => Fetch::Request(outgoing).send().await,
            Route::Binding(fetcher) => fetch_binding(fetcher, outgoing).await,
        }
        .map_err(|e| fetch_error(e, &request))?;

        let status = response.status_code();
        let headers = response.headers().entries().collect();
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::connection_lost(format!("the relay's answer ({e})")))?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

/// A service binding's `fetch`, called on the JavaScript object so the answer is a plain
/// `Response` whichever optional features of the `worker` crate the application enables.
async fn fetch_binding(fetcher: &Fetcher, request: Request) -> worker::Result<Response> {
    let sys: &worker::worker_sys::Fetcher =
        AsRef::<worker::wasm_bindgen::JsValue>::as_ref(fetcher).unchecked_ref();
    let promise = sys.fetch(request.inner())?;
    let answer = worker::wasm_bindgen_futures::JsFuture::from(promise).await?;
    let response: worker::web_sys::Response = answer.dyn_into()?;
    Ok(Response::from(response))
}
