#!/usr/bin/env python3
"""Checks a server built with --features embed-site (scripts/test.sh embed).

    check-embedded-site.py BASE_URL SITE_ROOT

The server runs where it cannot see SITE_ROOT (an empty folder, LEPTOS_SITE_ROOT pointing at
nothing), so every file it answers comes from its own binary. Waits for /healthz, then asks for
every file cargo-leptos wrote under SITE_ROOT and compares the bytes, checks the types of the
WASM, JS and CSS, that the ETag revalidates to 304, that a file never built is 404, and that the
sign-in page names the scripts it embeds. Prints one line per check; exits 1 at the first failure.
"""

import os
import sys
import time
import urllib.error
import urllib.request

BASE, ROOT = sys.argv[1].rstrip("/"), sys.argv[2]
TYPES = {
    "pkg/console.wasm": "application/wasm",
    "pkg/console.js": "text/javascript",
    "pkg/console.css": "text/css",
}


def fail(message):
    print(f"embed: FAIL {message}", flush=True)
    sys.exit(1)


def get(path, headers=None):
    request = urllib.request.Request(f"{BASE}/{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def wait_ready():
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if get("healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    fail("the server did not answer /healthz within 120 s")


wait_ready()
files = []
for folder, _, names in os.walk(ROOT):
    for name in names:
        full = os.path.join(folder, name)
        files.append(os.path.relpath(full, ROOT).replace(os.sep, "/"))
if "pkg/console.wasm" not in files:
    fail(f"no pkg/console.wasm under {ROOT}: build the site first")

total = 0
for path in sorted(files):
    with open(os.path.join(ROOT, path), "rb") as f:
        on_disk = f.read()
    status, headers, body = get(path)
    if status != 200 or body != on_disk:
        fail(f"/{path}: status {status}, {len(body)} bytes, expected 200 and the {len(on_disk)} bytes on disk")
    total += len(body)
print(f"embed: PASS {len(files)} files ({total} bytes) answered from the binary, byte for byte", flush=True)

for path, expected in TYPES.items():
    status, headers, body = get(path)
    kind = headers.get("Content-Type", "")
    if not kind.startswith(expected):
        fail(f"/{path}: Content-Type {kind!r}, expected {expected}")
    etag = headers.get("ETag")
    if not etag:
        fail(f"/{path}: no ETag")
    again, _, body = get(path, {"If-None-Match": etag})
    if again != 304 or body:
        fail(f"/{path}: If-None-Match {etag} answered {again} with {len(body)} bytes, expected an empty 304")
    print(f"embed: PASS /{path} is {kind}, ETag {etag} revalidates to 304", flush=True)

status, _, _ = get("pkg/never-built.wasm")
if status != 404:
    fail(f"/pkg/never-built.wasm answered {status}, expected 404")
print("embed: PASS a file that was never built is 404", flush=True)

status, _, page = get("login")
if status != 200 or b"/pkg/console.js" not in page:
    fail(f"/login answered {status} without naming /pkg/console.js")
print("embed: PASS the sign-in page loads and names /pkg/console.js", flush=True)
