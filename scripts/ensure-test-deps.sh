#!/usr/bin/env bash
# Installs the programs the integration tests drive (a C FTP server from Debian;
# curl and ncftpput for -u curl / -u ncftpput) when they are missing and this
# machine can install them (root with apt-get).
# Elsewhere it only says what is missing: those tests then skip, except under CI=true.
set -u
need=()
command -v pure-ftpd >/dev/null 2>&1 || [ -x /usr/sbin/pure-ftpd ] || need+=(pure-ftpd)
command -v pure-pw >/dev/null 2>&1 || need+=(pure-ftpd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v ncftpput >/dev/null 2>&1 || need+=(ncftp)
[ ${#need[@]} -eq 0 ] && exit 0
pkgs=$(printf '%s\n' "${need[@]}" | sort -u | tr '\n' ' ')
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-deps: installing $pkgs"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq $pkgs >/dev/null || {
    echo "ensure-test-deps: could not install $pkgs" >&2
    [ "${CI:-}" = true ] && exit 1
  }
else
  echo "ensure-test-deps: missing $pkgs (not root or no apt-get): tests that need them will skip"
fi
exit 0
