#!/bin/sh
# Installs what the tests need besides npm packages: ProFTPD (the
# real FTP server the FTP tests start, mod_lang built in), its TLS module
# (proftpd-mod-crypto: mod_tls for the FTPS tests), openssl (test
# certificates and the FTP user's password hash), and the monitoring engines
# the monitoring tests start on loopback ports (Prometheus with promtool,
# prometheus-node-exporter, Zabbix agent 2, and sudo for its rule). Idempotent and quiet:
# does nothing when everything is already there. Debian/Ubuntu, as root
# (or with sudo available). Then the Windows test job's tools (Wine, Node's
# Windows build, a Windows 10 Wine prefix): .ci/install-windows-test-deps.sh.
set -eu

windows_tools() {
  sh "$(dirname "$0")/install-windows-test-deps.sh" >/dev/null
}

need=""
[ -x /usr/sbin/proftpd ] || need="$need proftpd-core"
[ -f /usr/lib/proftpd/mod_tls.so ] || need="$need proftpd-mod-crypto"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
# test/ops (systemd unit and install-linux.sh): systemd-analyze checks the
# unit offline; its unit library and systemd-sysusers come with it.
command -v systemd-analyze >/dev/null 2>&1 || need="$need systemd"
# test/monitoring: promtool comes with the prometheus package; the tests run
# their own instances (the packages' system daemons are kept from starting).
[ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] || need="$need prometheus"
[ -x /usr/bin/prometheus-node-exporter ] || need="$need prometheus-node-exporter"
[ -x /usr/sbin/zabbix_agent2 ] || need="$need zabbix-agent2"
# test/monitoring/zabbix-till: the Zabbix agent runs `status` through the sudo
# rule install-linux.sh installs (and visudo checks it).
command -v sudo >/dev/null 2>&1 || need="$need sudo"

if [ -z "$need" ]; then
  windows_tools
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
# The packages must not start system-wide daemons (FTP on port 21, Prometheus,
# node_exporter, the Zabbix agent): tests run their own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
echo "installed:$need"
windows_tools
