#!/bin/sh
# Installs what the transport tests need besides npm packages: ProFTPD (the
# real FTP server the FTP tests start, mod_lang built in), its TLS module
# (proftpd-mod-crypto: mod_tls for the FTPS tests) and openssl (test
# certificates and the FTP user's password hash). Idempotent and quiet:
# does nothing when everything is already there. Debian/Ubuntu, as root
# (or with sudo available).
set -eu

need=""
[ -x /usr/sbin/proftpd ] || need="$need proftpd-core"
[ -f /usr/lib/proftpd/mod_tls.so ] || need="$need proftpd-mod-crypto"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
# test/ops (systemd unit and install-linux.sh): systemd-analyze checks the
# unit offline; its unit library and systemd-sysusers come with it.
command -v systemd-analyze >/dev/null 2>&1 || need="$need systemd"

if [ -z "$need" ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
# The package must not start a system-wide daemon on port 21: tests run their own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
echo "installed:$need"
