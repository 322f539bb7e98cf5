#!/bin/sh
# Installs the Debian packages rabbitllm needs to build and test, only where missing.
set -e
PKGS="make gcc clang libcjson-dev libpcre2-dev libutf8proc-dev libreadline-dev libmicrohttpd-dev libcurl4-openssl-dev python3 pkg-config"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "deps: installing$missing" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
