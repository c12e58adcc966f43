#!/usr/bin/env bash
# `make test-package` (slow, as root, changes this machine's packages for its duration): the Debian package
# built by `make package` holds what it should, installs with apt-get, its relay runs as the service user with
# the shipped config and answers a Kaillera PING, a reinstall and an upgrade keep a config edit and the SQLite
# files, `dpkg -r` keeps data and configs, `dpkg -P` removes them. Only loopback is used. Everything the test
# installed or made is removed at the end, also when it fails.
# Usage: test_package.sh [DEB]   (default: build/dist/kaillera-federation_<version>_amd64.deb)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/package/lib.sh"

pkg=kaillera-federation
etc=/etc/$pkg
state=/var/lib/$pkg
version=$(sed -n 's/^project(kaillera_federation VERSION \([0-9][0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
deb=${1:-$root/build/dist/${pkg}_${version}_amd64.deb}
[ -s "$deb" ] || kf_fail "$deb not found: run make package first"
[ "$(id -u)" = 0 ] || kf_fail "run as root: the test installs and removes the package"
export DEBIAN_FRONTEND=noninteractive

# This machine must not have the package or its files: the test purges them at the end.
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "installed\|config-files"; then
  kf_fail "$pkg is installed on this machine already; the test would remove it. Purge it first"
fi
for d in "$etc" "$state"; do
  [ ! -e "$d" ] || kf_fail "$d exists already; the test would delete it. Move it away first"
done
user_existed=0
getent passwd kaillera >/dev/null && user_existed=1
kf_cleanup_package() {
  dpkg -P "$pkg" >/dev/null 2>&1 || true
  rm -rf "$etc" "$state"
  if [ "$user_existed" = 0 ] && getent passwd kaillera >/dev/null; then
    deluser --system --quiet kaillera >/dev/null 2>&1 || true
    delgroup --system --quiet kaillera >/dev/null 2>&1 || true
  fi
}
kf_on_exit+=(kf_cleanup_package)
kf_mktemp tmp
chmod 0755 "$tmp"

# ---- 1. The archive ------------------------------------------------------------------------------------
kf_log "package: $deb ($(stat -c %s "$deb") bytes)"
dpkg-deb --contents "$deb" | awk '{print $6}' | sed 's#^\./#/#; s#/$##' > "$tmp/contents"
expected=(
  /usr/bin/kaillera-relay /usr/bin/kaillera-master /usr/bin/kaillera
  $etc/relay.toml $etc/master.toml $etc/access.toml
  /lib/systemd/system/kaillera-relay.service /lib/systemd/system/kaillera-master.service
  /usr/lib/sysusers.d/$pkg.conf
  /usr/share/doc/$pkg/README.md /usr/share/doc/$pkg/OPERATING.md /usr/share/doc/$pkg/master-README.md
)
# The relay's languages (docs/OPERATING.md "Languages"), beside the binary's ../share.
for lang in en pt-BR es ja ko zh-CN ru; do
  expected+=(/usr/share/$pkg/messages/$lang.toml)
done
if grep -q '^/usr/share/man/man1/' "$tmp/contents"; then
  expected+=(/usr/share/man/man1/kaillera-relay.1.gz /usr/share/man/man1/kaillera-master.1.gz
             /usr/share/man/man1/kaillera.1.gz)
else
  expected+=(/usr/share/doc/$pkg/kaillera-relay.help.txt /usr/share/doc/$pkg/kaillera-master.help.txt
             /usr/share/doc/$pkg/kaillera.help.txt)
fi
for path in "${expected[@]}"; do
  grep -qxF "$path" "$tmp/contents" || kf_fail "dpkg-deb --contents has no $path"
done
kf_log "ok   dpkg-deb --contents: the ${#expected[@]} expected paths among $(wc -l < "$tmp/contents") entries"
# Nothing bundled: no shared library, no file outside the Debian layout.
if grep -E '\.so(\.|$)|^/usr/local|^/opt' "$tmp/contents"; then
  kf_fail "the package bundles libraries or uses /usr/local or /opt (above)"
fi
[ "$(dpkg-deb --field "$deb" Package)" = "$pkg" ] || kf_fail "Package field"
[ "$(dpkg-deb --field "$deb" Version)" = "$version" ] || kf_fail "Version field is not $version"
[ "$(dpkg-deb --field "$deb" Architecture)" = amd64 ] || kf_fail "Architecture field"
depends=$(dpkg-deb --field "$deb" Depends)
for dep in adduser procps libc6 libstdc++6 libsqlite3-0 'libgrpc++1.51' libprotobuf32; do
  printf '%s' "$depends" | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -qxF "$dep" ||
    kf_fail "Depends has no $dep: $depends"
done
kf_log "ok   Depends: $depends"
dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$tmp" ./conffiles ./postinst ./prerm ./postrm
for f in relay.toml master.toml access.toml; do
  grep -qxF "$etc/$f" "$tmp/conffiles" || kf_fail "conffiles has no $etc/$f"
done
kf_log "ok   conffiles, postinst, prerm, postrm in the control archive"

# ---- 2. Install ----------------------------------------------------------------------------------------
apt-get install -y -qq --no-install-recommends "$deb" > "$tmp/apt.log" 2>&1 ||
  kf_fail "apt-get install $deb: $(tail -20 "$tmp/apt.log")"
dpkg-query -W -f='${Status} ${Version}' "$pkg" | grep -qx "install ok installed $version" ||
  kf_fail "dpkg does not show $pkg $version installed"
commit=unknown
if top=$(git -C "$root" rev-parse --show-toplevel 2>/dev/null) && [ "$(realpath "$top")" = "$root" ]; then
  commit=$(git -C "$root" rev-parse --short HEAD)
fi
for p in kaillera-relay kaillera-master kaillera; do
  got=$("/usr/bin/$p" --version)
  [ "$got" = "$p $version (git $commit)" ] || kf_fail "/usr/bin/$p --version: '$got', expected '$p $version (git $commit)'"
done
kf_log "ok   installed; /usr/bin/kaillera-relay --version: $(/usr/bin/kaillera-relay --version)"
getent passwd kaillera > /dev/null || kf_fail "postinst made no user kaillera"
[ "$(stat -c '%U:%G %a' "$state")" = "kaillera:kaillera 750" ] ||
  kf_fail "$state: $(stat -c '%U:%G %a' "$state"), expected kaillera:kaillera 750"
for f in relay.toml master.toml access.toml; do
  [ "$(stat -c '%U:%G %a' "$etc/$f")" = "root:kaillera 640" ] ||
    kf_fail "$etc/$f: $(stat -c '%U:%G %a' "$etc/$f"), expected root:kaillera 640"
done
if command -v man >/dev/null && grep -q '^/usr/share/man/man1/' "$tmp/contents"; then
  man -w kaillera-relay > /dev/null || kf_fail "man -w kaillera-relay finds no page"
fi
if command -v systemd-analyze >/dev/null; then
  out=$(systemd-analyze verify /lib/systemd/system/kaillera-relay.service \
        /lib/systemd/system/kaillera-master.service 2>&1) || kf_fail "systemd-analyze verify: $out"
  [ -z "$out" ] || kf_fail "systemd-analyze verify of the installed units is not clean: $out"
  kf_log "ok   systemd-analyze verify of the installed units: clean"
fi
kf_log "ok   user kaillera, $state (kaillera 750), configs root:kaillera 640"

# ---- 3. The installed relay, as the service user, with the shipped config --------------------------------
as_kaillera=(setpriv --reuid=kaillera --regid=kaillera --init-groups --inh-caps=-all)
run_relay() {  # [FLAG...]: starts the installed relay on loopback ephemeral ports; sets relay_pid, relay_port
  rm -f "$tmp/relay.ready"
  "${as_kaillera[@]}" /usr/bin/kaillera-relay --config "$etc/relay.toml" \
    --listen 127.0.0.1:0 --game-ports 0 --ready-file "$tmp/relay.ready" "$@" \
    > "$tmp/relay.log" 2>&1 &
  relay_pid=$!
  kf_pids+=("$relay_pid")
  kf_wait_until 20 "$relay_pid" "installed relay ready" test -s "$tmp/relay.ready"
  relay_port=$(kf_json_number "$tmp/relay.ready" handshake_port)
  [ -n "$relay_port" ] || kf_fail "no handshake_port in the ready file"
}
ping_relay() {
  /usr/bin/kaillera ping "127.0.0.1:$relay_port" --count 2 --timeout-ms 2000 > "$tmp/ping.txt" ||
    kf_fail "no PONG from the installed relay: $(cat "$tmp/ping.txt" "$tmp/relay.log")"
  grep -q "2/2" "$tmp/ping.txt" || kf_fail "expected 2/2 PONGs: $(cat "$tmp/ping.txt")"
}
chown kaillera:kaillera "$tmp"
run_relay --metrics 127.0.0.1:0  # not the shipped 127.0.0.1:9100, which a local `make run` may hold
ping_relay
kf_log "ok   installed relay (user kaillera, shipped relay.toml) answers PING on 127.0.0.1:$relay_port"
kf_stop "$relay_pid"
[ "$kf_stop_rc" = 0 ] || kf_fail "the relay exited $kf_stop_rc on SIGTERM: $(cat "$tmp/relay.log")"
[ -s "$state/relay.db" ] || kf_fail "the relay made no $state/relay.db (state_db of the shipped relay.toml)"
[ "$(stat -c %U "$state/relay.db")" = kaillera ] || kf_fail "$state/relay.db is not the service user's"

# The master's database, as the service user: a relay token, to find again after the upgrade.
"${as_kaillera[@]}" /usr/bin/kaillera-master relay add "Package test relay" --config "$etc/master.toml" \
  > "$tmp/token.txt" 2>&1 || kf_fail "kaillera-master relay add: $(cat "$tmp/token.txt")"
[ -s "$state/master.db" ] || kf_fail "no $state/master.db (db of the shipped master.toml)"
kf_log "ok   relay.db and master.db in $state, owned by kaillera"

# ---- 4. An operator's edit, then a reinstall and an upgrade ---------------------------------------------
# The relay.toml edit turns metrics off: a relay that runs with the kept file shows metrics_port 0 in its
# ready file, one that got the shipped file back would serve metrics on 127.0.0.1:9100.
sed -i 's/^name = .*/name = "Edited by the package test"/; s/^metrics = .*/metrics = ""/' "$etc/relay.toml"
grep -qx 'metrics = ""' "$etc/relay.toml" || kf_fail "could not edit metrics in $etc/relay.toml"
printf '\n# operator note: kept across upgrades\n' >> "$etc/access.toml"
edited_relay=$(sha256sum < "$etc/relay.toml")
edited_access=$(sha256sum < "$etc/access.toml")
db_sum=$(sha256sum < "$state/relay.db")
check_kept() {  # WHAT
  [ "$(sha256sum < "$etc/relay.toml")" = "$edited_relay" ] || kf_fail "$1: the edit of relay.toml is gone"
  [ "$(sha256sum < "$etc/access.toml")" = "$edited_access" ] || kf_fail "$1: the edit of access.toml is gone"
  [ "$(sha256sum < "$state/relay.db")" = "$db_sum" ] || kf_fail "$1: $state/relay.db changed"
  "${as_kaillera[@]}" /usr/bin/kaillera-master relay list --config "$etc/master.toml" | grep -q "Package test relay" ||
    kf_fail "$1: the master's database lost its relay"
}
dpkg -i "$deb" < /dev/null > "$tmp/dpkg.log" 2>&1 || kf_fail "reinstall: $(cat "$tmp/dpkg.log")"
check_kept "reinstall"
kf_log "ok   reinstall kept the config edits, relay.db and master.db"

# A newer version of the same package (same files, version +upgradetest): what an upgrade does to conffiles.
dpkg-deb -R "$deb" "$tmp/next"
sed -i "s/^Version: .*/Version: ${version}+upgradetest/" "$tmp/next/DEBIAN/control"
echo "# changed by the upgrade test" >> "$tmp/next$etc/master.toml"  # a conffile the operator did not edit
dpkg-deb --root-owner-group -b "$tmp/next" "$tmp/next.deb" > /dev/null
dpkg -i "$tmp/next.deb" < /dev/null > "$tmp/dpkg.log" 2>&1 || kf_fail "upgrade: $(cat "$tmp/dpkg.log")"
dpkg-query -W -f='${Version}' "$pkg" | grep -qx "${version}+upgradetest" || kf_fail "upgrade: version not updated"
check_kept "upgrade"
tail -n 1 "$etc/master.toml" | grep -qx "# changed by the upgrade test" ||
  kf_fail "upgrade: the unedited conffile master.toml did not get the new version"
run_relay  # no --metrics flag: the edited relay.toml decides
ping_relay
[ "$(kf_json_number "$tmp/relay.ready" metrics_port)" = 0 ] ||
  kf_fail "the upgraded relay serves metrics: it did not read the edited relay.toml ($(cat "$tmp/relay.ready"))"
kf_stop "$relay_pid"
[ "$kf_stop_rc" = 0 ] || kf_fail "the upgraded relay exited $kf_stop_rc"
kf_log "ok   upgrade to ${version}+upgradetest kept the edits and the SQLite files, updated the unedited conffile;" \
  "the relay runs with the kept config"

# ---- 5. Remove, then purge ----------------------------------------------------------------------------
dpkg -r "$pkg" > "$tmp/dpkg.log" 2>&1 || kf_fail "dpkg -r: $(cat "$tmp/dpkg.log")"
[ ! -e /usr/bin/kaillera-relay ] || kf_fail "dpkg -r left /usr/bin/kaillera-relay"
[ ! -e /lib/systemd/system/kaillera-relay.service ] || kf_fail "dpkg -r left the relay's unit"
[ -s "$state/relay.db" ] && [ -s "$state/master.db" ] || kf_fail "dpkg -r removed the data in $state"
[ "$(sha256sum < "$etc/relay.toml")" = "$edited_relay" ] || kf_fail "dpkg -r removed or changed relay.toml"
dpkg-query -W -f='${Status}' "$pkg" | grep -q "config-files" || kf_fail "dpkg -r: status is not config-files"
kf_log "ok   dpkg -r removed the programs, kept $state and $etc"
dpkg -P "$pkg" > "$tmp/dpkg.log" 2>&1 || kf_fail "dpkg -P: $(cat "$tmp/dpkg.log")"
[ ! -e "$state" ] || kf_fail "dpkg -P left $state"
[ ! -e "$etc" ] || kf_fail "dpkg -P left $etc: $(ls -la "$etc")"
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "installed\|config-files"; then
  kf_fail "dpkg -P: the package is still known"
fi
kf_log "ok   dpkg -P removed $state and $etc"
kf_log "test-package: passed"
