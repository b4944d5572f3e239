//! The site's static files: the WASM modules, their JavaScript, the CSS and the assets, as
//! `cargo leptos` writes them to the site root.
//!
//! With the `embed-site` feature (the release build: see README, "One binary") they are compiled
//! into the server, so one file runs anywhere without `LEPTOS_SITE_ROOT`, and are answered from
//! memory with their content type, an `ETag` and, where the build precompressed them
//! (`--precompress`), their brotli or gzip form. Without it (development, tests) they are read
//! from disk by Leptos's file handler, so `cargo leptos watch` serves each rebuild at once.

use http::{HeaderMap, HeaderValue, StatusCode, header};

/// One file as the build wrote it, and what its answer needs to know about it.
pub struct SiteFile<'a> {
    pub bytes: &'a [u8],
    /// A strong validator of the bytes (a hash of them).
    pub etag: String,
}

/// The precompressed forms of a file that exist beside it, best first.
pub struct Variants<'a> {
    pub plain: SiteFile<'a>,
    pub brotli: Option<SiteFile<'a>>,
    pub gzip: Option<SiteFile<'a>>,
}

/// The type of a file the site holds, by its extension.
pub fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map_or("", |(_, e)| e);
    match extension.to_ascii_lowercase().as_str() {
        "wasm" => "application/wasm",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "webp" => "image/webp",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Whether the file's name carries a hash of its content (`console.<22 base64url chars>.wasm`,
/// as `cargo leptos` names files with `hash-files`): such a name never changes meaning, so the
/// browser may keep it for a year; any other name is revalidated with its `ETag`.
pub fn is_content_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.split('.').any(|part| {
        part.len() == 22
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && part.bytes().any(|b| b.is_ascii_alphanumeric())
    })
}

/// Whether the client takes `coding` (`br`, `gzip`) by its `Accept-Encoding`; `q=0` refuses.
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            name.eq_ignore_ascii_case(coding) && !refused
        })
}

/// The answer for `path` from its `variants`: `304` when the client's `If-None-Match` names the
/// form it would get, else the bytes of the best form it accepts.
pub fn respond(
    path: &str,
    variants: Variants<'_>,
    request: &HeaderMap,
) -> http::Response<axum::body::Body> {
    let (file, encoding) = match (variants.brotli, variants.gzip) {
        (Some(br), _) if accepts(request, "br") => (br, Some("br")),
        (_, Some(gz)) if accepts(request, "gzip") => (gz, Some("gzip")),
        _ => (variants.plain, None),
    };
    let etag = format!("\"{}\"", file.etag);
    let not_modified = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        });
    let cache = if is_content_hashed(path) {
        "public, max-age=31536000, immutable"
    } else {
        // `max-age=0` rather than `no-cache`: the security middleware keeps a `max-age`, and
        // `must-revalidate` makes the browser ask with `If-None-Match` before each use.
        "public, max-age=0, must-revalidate"
    };
    let mut builder = http::Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, cache)
        .header(header::VARY, "accept-encoding");
    if not_modified {
        builder = builder.status(StatusCode::NOT_MODIFIED);
        return builder
            .body(axum::body::Body::empty())
            .expect("static headers are valid");
    }
    builder = builder.header(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    if let Some(encoding) = encoding {
        builder = builder.header(header::CONTENT_ENCODING, encoding);
    }
    builder
        .body(axum::body::Body::from(file.bytes.to_vec()))
        .expect("static headers are valid")
}

#[cfg(feature = "embed-site")]
mod embedded {
    use super::{SiteFile, Variants};
    use app::ssr::state::AppState;
    use axum::body::Body;
    use axum::extract::{Request, State};
    use axum::response::Response;
    use http::Uri;
    use rust_embed::RustEmbed;
    use std::future::Future;
    use std::pin::Pin;

    /// The site root `cargo leptos` built, found by `build.rs` (`CONSOLE_SITE_DIR`).
    #[derive(RustEmbed)]
    #[folder = "$CONSOLE_SITE_DIR"]
    struct Site;

    type Answer = Pin<Box<dyn Future<Output = Response> + Send + 'static>>;

    fn file(path: &str) -> Option<(rust_embed::EmbeddedFile, String)> {
        let file = Site::get(path)?;
        let etag = hex::encode(&file.metadata.sha256_hash()[..16]);
        Some((file, etag))
    }

    /// The embedded file at the request's path, if there is one.
    pub fn answer(uri: &Uri, headers: &http::HeaderMap) -> Option<Response> {
        let path = uri.path().trim_start_matches('/');
        if path.is_empty() || path.ends_with('/') {
            return None;
        }
        let (plain, plain_etag) = file(path)?;
        let brotli = file(&format!("{path}.br"));
        let gzip = file(&format!("{path}.gz"));
        let variants = Variants {
            plain: SiteFile {
                bytes: &plain.data,
                etag: plain_etag,
            },
            brotli: brotli.as_ref().map(|(f, etag)| SiteFile {
                bytes: &f.data,
                etag: etag.clone(),
            }),
            gzip: gzip.as_ref().map(|(f, etag)| SiteFile {
                bytes: &f.data,
                etag: etag.clone(),
            }),
        };
        Some(super::respond(path, variants, headers))
    }

    /// The router's fallback: an embedded file, else `not_found` (Leptos's handler, which renders
    /// the app's 404 page).
    pub fn first<H>(
        not_found: H,
    ) -> impl Fn(Uri, State<AppState>, Request<Body>) -> Answer + Clone + Send + Sync + 'static
    where
        H: Fn(Uri, State<AppState>, Request<Body>) -> Answer + Clone + Send + Sync + 'static,
    {
        move |uri, state, request| match answer(&uri, request.headers()) {
            Some(response) => Box::pin(async move { response }),
            None => not_found(uri, state, request),
        }
    }

    /// How many files the binary carries (logged at start).
    pub fn count() -> usize {
        Site::iter().count()
    }
}

#[cfg(feature = "embed-site")]
pub use embedded::{answer as embedded_answer, count as embedded_count, first as embedded_first};

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    fn variants<'a>(with_brotli: bool) -> Variants<'a> {
        Variants {
            plain: SiteFile {
                bytes: b"plain",
                etag: "p1".into(),
            },
            brotli: with_brotli.then(|| SiteFile {
                bytes: b"br",
                etag: "b1".into(),
            }),
            gzip: Some(SiteFile {
                bytes: b"gz",
                etag: "g1".into(),
            }),
        }
    }

    #[test]
    fn types_follow_the_extension() {
        assert_eq!(content_type("pkg/console.wasm"), "application/wasm");
        assert_eq!(
            content_type("pkg/console.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("pkg/console.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("README"), "application/octet-stream");
    }

    #[test]
    fn only_names_with_a_content_hash_are_immutable() {
        assert!(is_content_hashed("pkg/console.Ab3dEf6hIj9kLm2nOp5qRs.wasm"));
        assert!(!is_content_hashed("pkg/console.wasm"));
        // cargo-leptos's placeholder before hashing is not a hash.
        assert!(!is_content_hashed(
            "pkg/__wasm_split.______________________.js"
        ));
    }

    #[test]
    fn the_best_accepted_encoding_is_sent_with_its_own_etag() {
        let r = respond(
            "pkg/console.wasm",
            variants(true),
            &headers(&[("accept-encoding", "gzip, br")]),
        );
        assert_eq!(r.headers()["content-encoding"], "br");
        assert_eq!(r.headers()["etag"], "\"b1\"");
        assert_eq!(r.headers()["content-type"], "application/wasm");
        assert_eq!(r.headers()["vary"], "accept-encoding");
        let r = respond(
            "pkg/console.wasm",
            variants(true),
            &headers(&[("accept-encoding", "br;q=0, gzip")]),
        );
        assert_eq!(r.headers()["content-encoding"], "gzip");
        let r = respond("pkg/console.wasm", variants(false), &headers(&[]));
        assert!(r.headers().get("content-encoding").is_none());
        assert_eq!(r.headers()["etag"], "\"p1\"");
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=0, must-revalidate"
        );
    }

    #[test]
    fn a_matching_if_none_match_gets_304_without_a_body() {
        let r = respond(
            "pkg/console.css",
            variants(false),
            &headers(&[("if-none-match", "\"x\", \"p1\"")]),
        );
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let r = respond(
            "pkg/console.css",
            variants(false),
            &headers(&[("if-none-match", "\"p0\"")]),
        );
        assert_eq!(r.status(), StatusCode::OK);
    }
}
