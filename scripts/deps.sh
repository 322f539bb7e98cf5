#!/bin/sh
# Installs the Debian packages rabbitllm needs to build and test, only where missing.
# libvulkan-dev, glslc and mesa-vulkan-drivers (lavapipe, a CPU Vulkan driver) build and test the vulkan backend;
# nodejs (with npm) and chromium run the server's openai-check and chat-page tests.
set -e
PKGS="make gcc clang libcjson-dev libpcre2-dev libutf8proc-dev libreadline-dev libmicrohttpd-dev libcurl4-openssl-dev python3 python3-jsonschema pkg-config libvulkan-dev glslc mesa-vulkan-drivers nodejs chromium"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
command -v npm >/dev/null 2>&1 || missing="$missing npm"   # (NodeSource's nodejs bundles it)
if [ -n "$missing" ]; then
  echo "deps: installing$missing" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
