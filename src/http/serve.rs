//! The HTTP server's accept loop (hyper over the router). A stop never resets a connection:
//! it stops accepting, serves what the kernel had already accepted for us (the backlog) and the
//! requests in flight, then closes. Request heads up to [`MAX_HEAD_BYTES`] are read, so that an
//! over-long URL reaches the router and gets the JSON error shape instead of hyper's empty 414;
//! a request line longer than hyper can parse at all (64 KiB) is answered here, in that shape.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tower::ServiceExt as _;

/// The largest request head (request line and headers) read; a longer one is refused by hyper.
pub const MAX_HEAD_BYTES: usize = 1024 * 1024 + 64 * 1024;
/// A client must send its request head within this time (slow clients cannot hold a slot).
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `router` on `listener` until `shutdown` resolves; then drains as described above and
/// returns when every connection is done.
pub async fn serve<L>(mut listener: L, router: Router, shutdown: impl Future<Output = ()> + Send)
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    // Dropped when the stop begins: every connection task then shuts down gracefully.
    let (stop_tx, stop_rx) = watch::channel(());
    // Each connection holds a receiver; all dropped means all connections are done.
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // (The listener retries failed accepts itself, pausing on errors such as running out
        // of file descriptors.)
        tokio::select! {
            (stream, addr) = listener.accept() => spawn_connection(stream, addr, &router, &stop_rx, &done_rx),
            () = &mut shutdown => break,
        }
    }
    // Connections the kernel completed before the stop are ours to answer, not to reset.
    while let Ok((stream, addr)) = tokio::time::timeout(Duration::from_millis(5), listener.accept()).await {
        spawn_connection(stream, addr, &router, &stop_rx, &done_rx);
    }
    drop(listener);
    drop(stop_rx);
    drop(stop_tx);
    drop(done_rx);
    done_tx.closed().await;
}

/// How long a connection accepted before (or during) the stop may take to send its first
/// request, which is then answered.
const FIRST_REQUEST_GRACE: Duration = Duration::from_secs(2);

fn spawn_connection<S>(
    stream: S,
    addr: SocketAddr,
    router: &Router,
    stop: &watch::Receiver<()>,
    done: &watch::Receiver<()>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    // Whether this connection has sent a request yet, and whether the server is stopping (a
    // response then closes the connection).
    let started = Arc::new(AtomicBool::new(false));
    let closing = Arc::new(AtomicBool::new(stop.has_changed().is_err()));
    let (seen, close) = (started.clone(), closing.clone());
    let service = router
        .clone()
        .map_request(move |mut req: axum::http::Request<Incoming>| {
            seen.store(true, Ordering::Relaxed);
            req.extensions_mut().insert(ConnectInfo(addr));
            req.map(axum::body::Body::new)
        })
        .map_response(move |mut resp: axum::response::Response| {
            if close.load(Ordering::Relaxed) {
                resp.headers_mut()
                    .insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
            }
            resp
        });
    let service = TowerToHyperService::new(service);
    let (mut stop, done) = (stop.clone(), done.clone());
    tokio::spawn(async move {
        let Some(stream) = first_line_fits(stream).await else {
            drop(done);
            return;
        };
        let mut builder = http1::Builder::new();
        builder.max_buf_size(MAX_HEAD_BYTES).timer(TokioTimer::new()).header_read_timeout(HEAD_TIMEOUT);
        let conn = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
        let mut conn = std::pin::pin!(conn);
        // Until the stop: serve. At the stop: a connection that has had a request is closed
        // gracefully (a request in flight finishes); one that has not sent its first request
        // yet gets a moment to send it and is answered, with `Connection: close`.
        let mut stopping_since = closing.load(Ordering::Relaxed).then(tokio::time::Instant::now);
        let mut shut = false;
        loop {
            let grace = async {
                match stopping_since {
                    Some(t) if !shut => {
                        if !started.load(Ordering::Relaxed) {
                            tokio::time::sleep_until(t + FIRST_REQUEST_GRACE).await;
                        }
                    }
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    break;
                }
                _ = stop.changed(), if stopping_since.is_none() => {
                    closing.store(true, Ordering::Relaxed);
                    stopping_since = Some(tokio::time::Instant::now());
                }
                () = grace => {
                    shut = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
        drop(done);
    });
}

/// The longest request line hyper can parse (the `http` crate's URI limit), with room for the
/// method and version.
const MAX_REQUEST_LINE: usize = 65_000;

/// Reads the start of the first request: a request line too long for hyper gets 414 in the
/// error shape and the connection is closed (`None`); otherwise the bytes read are replayed to
/// hyper.
async fn first_line_fits<S>(mut stream: S) -> Option<Prefixed<S>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let read = async {
        while buf.len() <= MAX_REQUEST_LINE && !buf.windows(2).any(|w| w == b"\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    // A client that sends nothing is hyper's to time out; only a long line is refused here.
    let _ = tokio::time::timeout(HEAD_TIMEOUT, read).await;
    let line_end = buf.windows(2).position(|w| w == b"\r\n").unwrap_or(buf.len());
    if line_end > MAX_REQUEST_LINE {
        let body = serde_json::json!({"error": {"code": "uri_too_long", "message": format!(
            "the request URL is longer than {} bytes; send long queries in a POST body", super::MAX_URL_BYTES)}})
        .to_string();
        let resp = format!(
            "HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(resp.as_bytes()).await;
        let _ = stream.shutdown().await;
        return None;
    }
    Some(Prefixed { prefix: buf, at: 0, stream })
}

/// A stream that first yields bytes already read from it.
struct Prefixed<S> {
    prefix: Vec<u8>,
    at: usize,
    stream: S,
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        out: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.at < self.prefix.len() {
            let n = out.remaining().min(self.prefix.len() - self.at);
            let at = self.at;
            out.put_slice(&self.prefix[at..at + n]);
            self.at += n;
            if self.at == self.prefix.len() {
                self.prefix = Vec::new();
                self.at = 0;
            }
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.stream).poll_read(cx, out)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, data)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
