#!/usr/bin/env bash
# Installs what smoke needs on a fresh machine, and nothing when it is there:
# the npm packages, Prometheus's promtool and server (the distribution's
# `prometheus` package, for the metrics tests), PostgreSQL's server (the
# distribution's `postgresql` package; the tests start their own servers), a
# check for kubectl's kustomize (for the deploy/ manifest tests), then a
# Chromium (Playwright's own where its download works, else the
# distribution's `chromium` package).
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd="sudo"
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  echo "setup: installing the distribution's prometheus package (promtool and the server, for the metrics tests)"
  if command -v apt-get >/dev/null 2>&1; then
    $sudo_cmd apt-get update -qq
    # Without recommends: the node exporter is not needed.
    $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
    # The package enables a system Prometheus on :9090; the tests start their own on free ports.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled prometheus >/dev/null 2>&1; then
      $sudo_cmd systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
  else
    echo "setup: no apt-get: install Prometheus 2.x yourself so that prometheus and promtool are on PATH" >&2
    exit 1
  fi
fi

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "setup: installing the distribution's postgresql package (the store tests start their own servers in temp folders)"
  if command -v apt-get >/dev/null 2>&1; then
    $sudo_cmd apt-get update -qq
    $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql
    # The package creates and starts a system cluster on :5432; the tests need none: stop it and keep it from starting.
    for start_conf in /etc/postgresql/*/main/start.conf; do
      [ -f "$start_conf" ] || continue
      $sudo_cmd pg_ctlcluster "$(basename "$(dirname "$(dirname "$start_conf")")")" main stop >/dev/null 2>&1 || true
      echo manual | $sudo_cmd tee "$start_conf" >/dev/null
    done
  else
    echo "setup: no apt-get: install PostgreSQL's server binaries yourself under /usr/lib/postgresql/<version>/bin" >&2
    exit 1
  fi
fi

# `kubectl kustomize` builds the deploy/kubernetes overlays in
# server/deploy/manifests.test.ts; they use `resources: [../../base]` and
# `patches`, which need kustomize v4+ (kubectl 1.21+). Debian 12's
# kubernetes-client is 1.20 (kustomize v2.0.3, too old) and no other source
# is reachable here, so this only says what is missing; the test then fails
# naming it.
kustomize_major() {
  kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\)\..*/\1/p'
}
if ! command -v kubectl >/dev/null 2>&1 || [ "$(kustomize_major)" -lt 4 ] 2>/dev/null || [ -z "$(kustomize_major)" ]; then
  echo "setup: kubectl with kustomize v4+ (kubectl 1.21 or later) is needed for the deploy/ manifest tests; install it from your Kubernetes distribution" >&2
fi

has_browser() {
  node -e '
    const fs = require("fs");
    let bundled = "";
    try { bundled = require("playwright-core").chromium.executablePath(); } catch {}
    const found = [bundled, process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].some((p) => p && fs.existsSync(p));
    process.exit(found ? 0 : 1);
  '
}

if has_browser; then
  exit 0
fi

echo "setup: no Chromium found; trying Playwright's installer"
if timeout 300 npx --no-install playwright install chromium >/tmp/smoke-playwright-install.log 2>&1 && has_browser; then
  exit 0
fi

echo "setup: Playwright's download is not reachable here; installing the distribution's chromium package"
if command -v apt-get >/dev/null 2>&1; then
  $sudo_cmd apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
else
  echo "setup: no apt-get either: install Chromium yourself and set CHROMIUM_PATH" >&2
  exit 1
fi
has_browser || { echo "setup: Chromium is still missing after the install" >&2; exit 1; }
