#!/usr/bin/env bash
# Creates (once) the virtual environment with the official Alibaba Cloud Python SDK for
# ResourceDirectoryMaster 2022-04-19 that server/tests/automation_sdk.rs drives the server with.
# Idempotent: a venv that already holds the pinned version is left as it is.
# Exit codes: 0 ready, 3 the package registry could not be reached, anything else another failure.
set -euo pipefail

VENV="${SDK_VENV:-$HOME/.cache/phone-console/sdk-venv}"
SDK_VERSION="${SDK_VERSION:-2.3.1}"
PACKAGE="alibabacloud-resourcedirectorymaster20220419"

# The SDK tests run in parallel and each calls this: on a fresh machine two of them made the venv
# at once and one failed ("… are the same file"). One at a time; the later ones find it ready.
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$SDK_VERSION" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
sys.exit(0 if version("alibabacloud-resourcedirectorymaster20220419") == sys.argv[1] else 1)
PY
  echo "sdk-venv: $PACKAGE $SDK_VERSION already in $VENV"
  exit 0
fi

python3 -m venv "$VENV"
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -q "$PACKAGE==$SDK_VERSION" 2>"$VENV.pip.log"; then
  cat "$VENV.pip.log" >&2
  if grep -qiE "Could not find a version|NewConnectionError|Temporary failure in name resolution|Network is unreachable|ConnectTimeout|ProxyError|No matching distribution" "$VENV.pip.log"; then
    echo "sdk-venv: the package registry could not be reached" >&2
    exit 3
  fi
  exit 1
fi
echo "sdk-venv: installed $PACKAGE $SDK_VERSION in $VENV"
