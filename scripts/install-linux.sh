#!/usr/bin/env bash
# Installs kassir-agent as a systemd service (docs/INSTALL.md, "Linux").
#
#   sudo scripts/install-linux.sh [--binary FILE] [--till-dir DIR] [--share-dir DIR] [--no-start] [--zabbix | --no-zabbix]
#   sudo scripts/install-linux.sh --uninstall [--purge]
#
# Install (safe to run again; that is also how to upgrade):
#   - user and group kassir-agent (systemd-sysusers, or useradd without it)
#   - /opt/kassir-agent/kassir-agent      the single executable (npm run build:sea)
#   - /etc/kassir-agent/agent.yaml        from systemd/agent.yaml, only if absent (root:kassir-agent 0640)
#   - /var/lib/kassir-agent, /var/log/kassir-agent   data and logs (kassir-agent, 0700)
#   - /etc/systemd/system/kassir-agent.service, plus a drop-in making the till
#     folder and the share writable when --till-dir/--share-dir are given
#   - checks the config as the service user, then enables and (re)starts the service
#   - for the Zabbix agent (--zabbix, or by itself when a zabbix user exists;
#     --no-zabbix: never): /etc/sudoers.d/kassir-agent-zabbix (user zabbix may run
#     exactly `kassir-agent status --json|--discovery` for this config, as
#     kassir-agent) and kassir-agent.conf in the Zabbix agent's include folder
# Uninstall stops and removes the service and the program; the config, the
# data (it may hold reports not yet delivered) and the logs stay unless --purge.
#
# --root DIR installs into DIR instead of / (a package build or a test): no
# systemctl, and the service user is created in DIR's /etc/passwd.
set -euo pipefail

NAME=kassir-agent
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$SCRIPT_DIR/.." && pwd)

usage() {
  sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}
die() {
  echo "install-linux.sh: $*" >&2
  exit 1
}

ROOT=/
BINARY=""
TILL_DIR=""
SHARE_DIR=""
START=1
UNINSTALL=0
PURGE=0
ZABBIX=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) BINARY=${2:?--binary needs a file}; shift 2 ;;
    --till-dir) TILL_DIR=${2:?--till-dir needs a folder}; shift 2 ;;
    --share-dir) SHARE_DIR=${2:?--share-dir needs a folder}; shift 2 ;;
    --root) ROOT=${2:?--root needs a folder}; shift 2 ;;
    --no-start) START=0; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge) PURGE=1; shift ;;
    --zabbix) ZABBIX=1; shift ;;
    --no-zabbix) ZABBIX=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "install-linux.sh: unknown option $1" >&2; usage 2 ;;
  esac
done

# R prefixes every installed path: empty for the live system.
R=${ROOT%/}
LIVE=0
[ -z "$R" ] && LIVE=1
if [ "$(id -u)" -ne 0 ] && [ "$LIVE" -eq 1 ]; then
  die "run as root (sudo), or use --root DIR to install into a folder"
fi
# systemctl only on a live system that is running systemd (not in a container or a chroot).
SYSTEMD=0
if [ "$LIVE" -eq 1 ] && [ -d /run/systemd/system ]; then SYSTEMD=1; fi

UNIT_DIR=$R/etc/systemd/system
UNIT=$UNIT_DIR/$NAME.service
DROPIN_DIR=$UNIT_DIR/$NAME.service.d
SYSUSERS=$R/usr/lib/sysusers.d/$NAME.conf
PROG_DIR=$R/opt/$NAME
CONF_DIR=$R/etc/$NAME
DATA_DIR=$R/var/lib/$NAME
LOG_DIR=$R/var/log/$NAME
SUDOERS=$R/etc/sudoers.d/$NAME-zabbix
# Zabbix agent 2, then the classic agent (Debian's and Zabbix's own packages).
ZABBIX_CONF_DIRS=("$R/etc/zabbix/zabbix_agent2.d" "$R/etc/zabbix/zabbix_agentd.conf.d" "$R/etc/zabbix/zabbix_agentd.d")

# Paths go into a unit file (space-separated) and a sed expression: keep them plain.
check_dir_arg() {
  case "$2" in
    /*) ;;
    *) die "$1 $2: must be an absolute path" ;;
  esac
  case "$2" in
    *[[:space:]\|\\]*) die "$1 $2: must not contain spaces, '|' or '\\'" ;;
  esac
}
[ -n "$TILL_DIR" ] && check_dir_arg --till-dir "$TILL_DIR"
[ -n "$SHARE_DIR" ] && check_dir_arg --share-dir "$SHARE_DIR"

# uid/gid of the service user as recorded in R's passwd/group (names would be
# looked up on the live system, which is wrong under --root).
id_in_root() { awk -F: -v n="${2:-$NAME}" '$1 == n { print $3 }' "$R/etc/$1"; }

uninstall() {
  if [ "$SYSTEMD" -eq 1 ]; then
    systemctl disable --now "$NAME.service" 2>/dev/null || true
  fi
  rm -f "$UNIT" "$SUDOERS"
  rm -rf "$DROPIN_DIR" "$PROG_DIR"
  for d in "${ZABBIX_CONF_DIRS[@]}"; do rm -f "$d/$NAME.conf"; done
  if [ "$SYSTEMD" -eq 1 ]; then
    systemctl daemon-reload
    systemctl reset-failed "$NAME.service" 2>/dev/null || true
  fi
  if [ "$PURGE" -eq 1 ]; then
    rm -rf "$CONF_DIR" "$DATA_DIR" "$LOG_DIR"
    rm -f "$SYSUSERS"
    if [ -n "$(id_in_root passwd 2>/dev/null || true)" ]; then
      if [ "$LIVE" -eq 1 ]; then userdel "$NAME"; else userdel --root "$ROOT" "$NAME"; fi
    fi
    echo "$NAME: removed, with its config, data, logs and user"
  else
    echo "$NAME: removed; kept $CONF_DIR, $DATA_DIR (undelivered reports may be there) and $LOG_DIR (--purge removes them)"
  fi
}

create_user() {
  # systemd-sysusers and useradd --root expect the target's /etc to exist.
  [ "$LIVE" -eq 1 ] || install -d -m 0755 "$R/etc"
  install -D -m 0644 "$SRC/systemd/$NAME.sysusers.conf" "$SYSUSERS"
  if command -v systemd-sysusers >/dev/null 2>&1; then
    if [ "$LIVE" -eq 1 ]; then systemd-sysusers "$SYSUSERS"; else systemd-sysusers --root="$ROOT" "$SYSUSERS"; fi
  elif [ -z "$(id_in_root passwd 2>/dev/null || true)" ]; then
    local rootopt=()
    [ "$LIVE" -eq 1 ] || rootopt=(--root "$ROOT")
    useradd "${rootopt[@]}" --system --user-group --home-dir "/var/lib/$NAME" --no-create-home \
      --shell /usr/sbin/nologin --comment "Kassir 5 exchange agent" "$NAME"
  fi
}

write_dropin() {
  local paths=()
  [ -n "$TILL_DIR" ] && paths+=("$TILL_DIR")
  [ -n "$SHARE_DIR" ] && paths+=("$SHARE_DIR")
  [ "${#paths[@]}" -gt 0 ] || return 0
  install -d -m 0755 "$DROPIN_DIR"
  {
    echo "# Written by scripts/install-linux.sh: folders the agent must write besides its own."
    echo "[Service]"
    echo "ReadWritePaths=${paths[*]}"
  } >"$DROPIN_DIR/10-paths.conf.new"
  chmod 0644 "$DROPIN_DIR/10-paths.conf.new"
  mv -f "$DROPIN_DIR/10-paths.conf.new" "$DROPIN_DIR/10-paths.conf"
}

install_config() {
  local conf=$CONF_DIR/agent.yaml
  if [ -e "$conf" ]; then
    echo "$NAME: keeping the existing $conf"
    return 0
  fi
  local sedexpr=()
  [ -n "$TILL_DIR" ] && sedexpr+=(-e "s|/srv/kassir/exchange|$TILL_DIR|")
  [ -n "$SHARE_DIR" ] && sedexpr+=(-e "s|/mnt/backoffice|$SHARE_DIR|")
  sed "${sedexpr[@]}" -e '' "$SRC/systemd/agent.yaml" >"$conf.new"
  chmod 0640 "$conf.new"
  chown_if_root root "$GID" "$conf.new"
  mv -f "$conf.new" "$conf"
  echo "$NAME: wrote $conf from the example: set the till folder and the transport there"
}

# The Zabbix agent runs as user zabbix: it may read neither the config nor the
# control socket, so it runs `status` as the service user through sudo, for
# the two read-only command lines of monitoring/zabbix/kassir-agent.sudoers and
# nothing else (a group with access to the socket would also let it send
# exchange-now/retry/resend, and read the config's passwords).
install_zabbix() {
  local want=$ZABBIX
  if [ "$want" = auto ]; then
    want=0
    [ -n "$(id_in_root passwd zabbix 2>/dev/null || true)" ] && want=1
  fi
  [ "$want" -eq 1 ] || return 0
  local src=$SRC/monitoring/zabbix
  [ -d "$R/etc/sudoers.d" ] || install -d -m 0755 "$R/etc/sudoers.d"
  install -m 0440 "$src/$NAME.sudoers" "$SUDOERS.new"
  # A drop-in sudo cannot parse disables sudo altogether: check it before it goes live.
  if command -v visudo >/dev/null 2>&1; then
    if ! visudo -cqf "$SUDOERS.new"; then
      rm -f "$SUDOERS.new"
      die "$src/$NAME.sudoers does not pass visudo -c: not installed"
    fi
  else
    echo "$NAME: sudo is not installed: the Zabbix agent cannot ask kassir-agent until it is (apt-get install sudo)" >&2
  fi
  chown_if_root root 0 "$SUDOERS.new"
  mv -f "$SUDOERS.new" "$SUDOERS"
  local d placed=""
  for d in "${ZABBIX_CONF_DIRS[@]}"; do
    if [ -d "$d" ]; then
      install -m 0644 "$src/$NAME.conf" "$d/$NAME.conf"
      placed="$d/$NAME.conf"
      break
    fi
  done
  if [ -z "$placed" ]; then
    echo "$NAME: no Zabbix agent include folder found: copy $src/$NAME.conf into it" >&2
  fi
  if [ "$SYSTEMD" -eq 1 ]; then
    # Loads the new UserParameters into a running Zabbix agent; does nothing where none runs.
    systemctl try-restart zabbix-agent2.service zabbix-agent.service 2>/dev/null || true
  fi
  echo "$NAME: Zabbix agent may run 'kassir-agent status' as $NAME ($SUDOERS${placed:+, $placed})"
}

# Ownership needs root; an unprivileged --root install (a package build) leaves it to the packager.
chown_if_root() {
  if [ "$(id -u)" -eq 0 ]; then chown "$1:$2" "${@:3}"; fi
}

install_all() {
  if [ -z "$BINARY" ]; then
    for candidate in "$SCRIPT_DIR/$NAME" "$SRC/dist-sea/linux-x64/$NAME"; do
      if [ -x "$candidate" ]; then BINARY=$candidate; break; fi
    done
    [ -n "$BINARY" ] || die "no executable: build it with 'npm run build:sea' or pass --binary FILE"
  fi
  [ -x "$BINARY" ] || die "--binary $BINARY: not an executable file"

  create_user
  UID_=$(id_in_root passwd)
  GID=$(id_in_root group)
  if [ -z "$UID_" ] || [ -z "$GID" ]; then die "user $NAME was not created in $R/etc/passwd"; fi

  install -d -m 0755 "$PROG_DIR"
  install -d -m 0750 "$CONF_DIR"
  chown_if_root root "$GID" "$CONF_DIR"
  install -d -m 0700 "$DATA_DIR" "$LOG_DIR"
  chown_if_root "$UID_" "$GID" "$DATA_DIR" "$LOG_DIR"

  # Copy beside, then rename: a running agent keeps its old file, and an
  # interrupted copy never leaves half an executable under the real name.
  install -m 0755 "$BINARY" "$PROG_DIR/$NAME.new"
  mv -f "$PROG_DIR/$NAME.new" "$PROG_DIR/$NAME"
  local license
  license="$(dirname "$BINARY")/NODE-LICENSE.txt"
  if [ -f "$license" ]; then install -m 0644 "$license" "$PROG_DIR/NODE-LICENSE.txt"; fi
  if [ -f "$SRC/docs/INSTALL.md" ]; then install -m 0644 "$SRC/docs/INSTALL.md" "$PROG_DIR/INSTALL.md"; fi

  install_config
  install -D -m 0644 "$SRC/systemd/$NAME.service" "$UNIT"
  write_dropin
  install_zabbix

  # The same check ExecStartPre runs, as the service user on a live system, so
  # a config the service cannot read fails here and not at the first start.
  local check=("$PROG_DIR/$NAME" check-config --config "$CONF_DIR/agent.yaml")
  if [ "$LIVE" -eq 1 ] && command -v runuser >/dev/null 2>&1; then check=(runuser -u "$NAME" -- "${check[@]}"); fi
  if ! "${check[@]}"; then
    die "the config does not pass check-config: fix $CONF_DIR/agent.yaml, then run this script again"
  fi

  if [ "$SYSTEMD" -eq 1 ]; then
    systemctl daemon-reload
    systemctl enable "$NAME.service"
    # restart, not start: an upgrade must run the new executable.
    if [ "$START" -eq 1 ]; then systemctl restart "$NAME.service"; fi
    echo "$NAME: installed; systemctl status $NAME, journalctl -u $NAME"
  else
    echo "$NAME: installed into ${ROOT}; systemd is not running here, so nothing was enabled or started"
  fi
}

if [ "$UNINSTALL" -eq 1 ]; then uninstall; else install_all; fi
