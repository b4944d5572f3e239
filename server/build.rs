//! With the `embed-site` feature, finds the site `cargo leptos` built (`LEPTOS_SITE_ROOT`, relative
//! to the workspace as cargo-leptos gives it, or absolute) and hands it to `src/site.rs` as
//! `CONSOLE_SITE_DIR`. A missing site stops the build: a binary without its front end would start
//! and serve pages whose scripts all answer 404.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LEPTOS_SITE_ROOT");
    println!("cargo:rerun-if-env-changed=LEPTOS_SITE_PKG_DIR");
    println!("cargo:rerun-if-env-changed=LEPTOS_OUTPUT_NAME");
    if env::var_os("CARGO_FEATURE_EMBED_SITE").is_none() {
        return;
    }
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir
        .parent()
        .expect("server/ sits in the workspace");
    let root = env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into());
    let root = PathBuf::from(root);
    let root = if root.is_absolute() {
        root
    } else {
        workspace.join(root)
    };
    let pkg = env::var("LEPTOS_SITE_PKG_DIR").unwrap_or_else(|_| "pkg".into());
    let output = env::var("LEPTOS_OUTPUT_NAME").unwrap_or_else(|_| "console".into());
    let wasm = root.join(&pkg).join(format!("{output}.wasm"));
    if !wasm.is_file() {
        eprintln!(
            "error: the embed-site feature embeds the built site, but {} is missing.\n\
             Build the site first, with the feature on for the server only:\n  \
             cargo leptos build --release --precompress --bin-features embed-site\n\
             (--precompress also makes cargo-leptos finish the site before it builds the server).",
            wasm.display()
        );
        std::process::exit(1);
    }
    println!("cargo:rustc-env=CONSOLE_SITE_DIR={}", root.display());
    // A directory: cargo rebuilds when anything under it changes.
    println!("cargo:rerun-if-changed={}", root.display());
}
