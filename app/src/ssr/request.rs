//! What a request tells about its caller: the client address and the session cookie.

use crate::ssr::session::token_from_cookie_header;
use http::HeaderMap;
use std::net::SocketAddr;

#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub client_ip: String,
    pub token: Option<String>,
}

impl RequestMeta {
    pub fn from_parts(
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
        trust_proxy: bool,
    ) -> RequestMeta {
        let forwarded = trust_proxy
            .then(|| {
                headers
                    .get("x-forwarded-for")?
                    .to_str()
                    .ok()?
                    .split(',')
                    .next()
                    .map(|s| s.trim().to_string())
            })
            .flatten()
            .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok());
        let client_ip = forwarded
            .or_else(|| peer.map(|p| p.ip().to_string()))
            .unwrap_or_else(|| "unknown".into());
        let token = headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(token_from_cookie_header);
        RequestMeta { client_ip, token }
    }
}
