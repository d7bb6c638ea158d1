//! The control page's HTTP server, on a loopback port. Everything lives
//! under `/<key>/`, a random key printed with the address: other accounts
//! on the machine can reach loopback ports but cannot guess it, and
//! another web site cannot make the teacher's browser press a button
//! (it would need the key in the form's address).
//!
//! - `GET /<key>/`: the page (`page::full`);
//! - `GET /<key>/live`: its live part, fetched every second;
//! - `POST /<key>/<action>`: a button (`actions::Action::parse`), then a
//!   redirect (303) to the page.

use std::convert::Infallible;
use std::net::TcpListener;
use std::rc::Rc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, LOCATION};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::actions::{Action, Demo};
use super::page::{self, View};
use crate::stack::StackError;

/// Serves the control page until the future is dropped.
pub async fn serve(demo: Rc<Demo>, listener: TcpListener) -> Result<(), StackError> {
    let failed = |e: std::io::Error| StackError::Failed(format!("control page: {e}"));
    listener.set_nonblocking(true).map_err(failed)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(failed)?;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let demo = demo.clone();
        tokio::task::spawn_local(async move {
            let service = hyper::service::service_fn(move |request| {
                let demo = demo.clone();
                async move { Ok::<_, Infallible>(handle(&demo, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(demo: &Rc<Demo>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let prefix = format!("/{}/", demo.token);
    let Some(rest) = request.uri().path().strip_prefix(&prefix) else {
        return answer(StatusCode::NOT_FOUND, "text/plain", "not found\n".into());
    };
    match (request.method(), rest) {
        (&Method::GET, "") => answer(
            StatusCode::OK,
            "text/html; charset=utf-8",
            page::full(&view(demo).await),
        ),
        (&Method::GET, "live") => answer(
            StatusCode::OK,
            "text/html; charset=utf-8",
            page::live(&view(demo).await),
        ),
        (&Method::POST, path) => match Action::parse(path) {
            Some(action) => {
                demo.perform(action).await;
                let mut response = answer(StatusCode::SEE_OTHER, "text/plain", String::new());
                if let Ok(location) = HeaderValue::from_str(&prefix) {
                    response.headers_mut().insert(LOCATION, location);
                }
                response
            }
            None => answer(
                StatusCode::NOT_FOUND,
                "text/plain",
                "no such button\n".into(),
            ),
        },
        _ => answer(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}

async fn view(demo: &Demo) -> View<'_> {
    let servers = demo.servers().await;
    let redis = match demo.redis {
        Some(_) => Some(demo.redis_sessions().await),
        None => None,
    };
    View {
        strategy: &demo.strategy,
        scenario: &demo.scenario,
        store_words: &demo.store_words,
        app_url: &demo.urls.app,
        stats_url: &demo.urls.stats,
        servers,
        redis,
        log: demo.log.borrow().clone(),
        busy: demo.busy.get(),
    }
}

fn answer(status: StatusCode, kind: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
