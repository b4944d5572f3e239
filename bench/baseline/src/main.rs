//! Bare axum baseline for bench/bench.sh: `GET /` answers "hello" (text/plain).
//! Listens on 127.0.0.1:$PORT (default 3900).

use axum::{Router, routing::get};

async fn hello() -> &'static str {
    "hello"
}

#[tokio::main]
async fn main() {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3900);
    let app = Router::new().route("/", get(hello));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind 127.0.0.1:$PORT");
    println!("baseline listening on http://127.0.0.1:{port}");
    axum::serve(listener, app).await.expect("serve");
}
