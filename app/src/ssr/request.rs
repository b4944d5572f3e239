//! What a request tells about its caller: the client address and the session cookie.

use crate::ssr::config::TrustedProxies;
use crate::ssr::session::token_from_cookie_header;
use http::HeaderMap;
use std::net::{IpAddr, SocketAddr};

#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub client_ip: String,
    pub token: Option<String>,
}

/// The value of cookie `name` in a request's `Cookie` headers, if it sent one.
pub fn cookie_in(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_string())
}

impl RequestMeta {
    pub fn from_parts(
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
        proxies: &TrustedProxies,
    ) -> RequestMeta {
        let client_ip = client_address(headers, peer.map(|p| p.ip()), proxies)
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".into());
        let token = headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(token_from_cookie_header);
        RequestMeta { client_ip, token }
    }
}

/// The client as our own proxies saw it. The hops are the socket peer, then the
/// `X-Forwarded-For` entries from the right (each proxy appends whom it heard from); we step left
/// past every hop a trusted proxy wrote and stop at the first one it did not. The client writes
/// whatever it likes to the left of that, so the leftmost entry means nothing.
pub fn client_address(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    proxies: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    if *proxies == TrustedProxies::None {
        return Some(peer);
    }
    // Several header lines are one list, in order (RFC 9110, section 5.3).
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    // An entry that is no address ends the chain: nothing further left can be trusted.
    let hops: Vec<IpAddr> = std::iter::once(peer)
        .chain(forwarded.iter().rev().map_while(|entry| parse_hop(entry)))
        .collect();
    let client = match proxies {
        TrustedProxies::None => 0,
        TrustedProxies::Hops(n) => (*n).min(hops.len() - 1),
        TrustedProxies::Cidrs(trusted) => {
            let mut i = 0;
            while i + 1 < hops.len() && trusted.iter().any(|c| c.contains(hops[i])) {
                i += 1;
            }
            i
        }
    };
    Some(hops[client])
}

/// `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn forwarded(values: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append("x-forwarded-for", HeaderValue::from_static(v));
        }
        map
    }

    fn client(values: &[&'static str], peer: &str, proxies: &str) -> IpAddr {
        let proxies = TrustedProxies::parse(proxies).unwrap();
        client_address(&forwarded(values), Some(ip(peer)), &proxies).unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        assert_eq!(
            client(&["198.51.100.1"], "203.0.113.9", ""),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_hop_count_takes_the_entry_that_many_from_the_right() {
        let spoofed = &["198.51.100.1, 203.0.113.7"];
        assert_eq!(client(spoofed, "10.0.0.2", "1"), ip("203.0.113.7"));
        assert_eq!(
            client(&["198.51.100.1, 203.0.113.7, 10.0.0.1"], "10.0.0.2", "2"),
            ip("203.0.113.7")
        );
        // Fewer entries than hops: the farthest hop we have.
        assert_eq!(client(&["203.0.113.7"], "10.0.0.2", "3"), ip("203.0.113.7"));
        // No header at all: the peer itself.
        assert_eq!(client(&[], "203.0.113.9", "1"), ip("203.0.113.9"));
        // Several header lines read as one list.
        assert_eq!(
            client(&["198.51.100.1", "203.0.113.7"], "10.0.0.2", "1"),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn a_cidr_list_walks_left_past_trusted_proxies_only() {
        let proxies = "10.0.0.0/8, 127.0.0.1";
        assert_eq!(
            client(
                &["198.51.100.1, 203.0.113.7, 10.1.1.1"],
                "127.0.0.1",
                proxies
            ),
            ip("203.0.113.7")
        );
        // A peer that is not one of ours is the client, whatever it wrote.
        assert_eq!(
            client(&["198.51.100.1"], "203.0.113.9", proxies),
            ip("203.0.113.9")
        );
        // Every hop trusted: the leftmost (a proxy talking to us on its own behalf).
        assert_eq!(client(&["10.9.9.9"], "10.0.0.2", proxies), ip("10.9.9.9"));
        // Junk ends the chain at the last proxy that wrote a real address.
        assert_eq!(
            client(&["198.51.100.1, not-an-ip"], "10.0.0.2", proxies),
            ip("10.0.0.2")
        );
        // Ports and brackets are the proxy's formatting, not part of the address.
        assert_eq!(
            client(&["[2001:db8::5]:4711, 10.0.0.3:80"], "10.0.0.2", proxies),
            ip("2001:db8::5")
        );
        // A dual-stack socket shows an IPv4 peer as ::ffff:a.b.c.d.
        assert_eq!(
            client(&["203.0.113.7"], "::ffff:10.0.0.2", proxies),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn no_peer_is_an_unknown_client() {
        let meta = RequestMeta::from_parts(
            &forwarded(&["198.51.100.1"]),
            None,
            &TrustedProxies::Hops(1),
        );
        assert_eq!(meta.client_ip, "unknown");
    }
}
