//! The web files under `assets/`, embedded in the binary (rust-embed with `debug-embed`, so
//! tests serve the embedded copies), and how one is served.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::http::error::ApiError;

/// The files under `assets/`, embedded in the binary.
#[derive(RustEmbed)]
#[folder = "assets/"]
pub struct Assets;

/// Whether `path` (already percent-decoded) may name a web file: plain segments of letters,
/// digits, `.`, `_` and `-` only, so no backslash, encoded separator, `.`/`..` segment or other
/// spelling can reach a file the check below means to hide; and never the demo shop's source
/// files, which are data for `init --demo`, not web pages.
fn servable(path: &str) -> bool {
    let plain = |seg: &str| {
        !seg.is_empty()
            && seg != "."
            && seg != ".."
            && seg.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    path.split('/').all(plain) && !path.split('/').next().is_some_and(|first| first.eq_ignore_ascii_case("demo"))
}

pub fn response(path: &str) -> Response {
    let file = if servable(path) { Assets::get(path) } else { None };
    match file {
        Some(file) => {
            let mime = file.metadata.mimetype().to_owned();
            let mut resp = Response::new(Body::from(file.data.into_owned()));
            if let Ok(v) = HeaderValue::from_str(&mime) {
                resp.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            resp
        }
        None => ApiError::not_found("asset").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::servable;

    #[test]
    fn only_plain_asset_paths_are_served() {
        for ok in ["app.js", "style.css", "favicon.svg", "api-docs.html"] {
            assert!(servable(ok), "{ok}");
        }
        for bad in [
            "demo/orders.json",
            "demo\\orders.json",
            "Demo/orders.json",
            "./demo/orders.json",
            "x/../demo/orders.json",
            "demo%5corders.json",
            "demo%2forders.json",
            "",
            "/etc/passwd",
            "app.js\0",
            "app.js\u{0}",
        ] {
            assert!(!servable(bad), "{bad:?}");
        }
    }
}
