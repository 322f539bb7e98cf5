#!/bin/sh
# `make install` / `make uninstall` into a temporary DESTDIR: the header, both libraries (the .so
# with its soname and links, exporting only rl_* API symbols, no libcurl), rabbitllm.pc, the CLI
# and the man page (a section for every command of src/cli/main.c); a program compiled with
# `pkg-config --cflags --libs rabbitllm` from there runs (shared), and links statically with
# `pkg-config --static --libs` (no -lcurl); uninstall leaves no file behind.
set -u
B=${RL_BUILD:-build}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
unset MAKEFLAGS MFLAGS MAKELEVEL
command -v pkg-config >/dev/null || fail "pkg-config missing (sh scripts/deps.sh)"
D="$T/dest"; P=/opt/rl
make -s install BUILD="$B" PREFIX=$P DESTDIR="$D" >"$T/log" 2>&1 || fail "make install: $(tail -n 5 "$T/log")"
V=$(sed -n 's/^#define RL_VERSION_STRING "\(.*\)"/\1/p' include/rabbitllm.h)
for f in bin/rabbitllm include/rabbitllm.h lib/librabbitllm.a lib/librabbitllm.so.$V lib/pkgconfig/rabbitllm.pc share/man/man1/rabbitllm.1; do
  [ -f "$D$P/$f" ] || fail "not installed: $f"
done
[ "$(readlink "$D$P/lib/librabbitllm.so")" = librabbitllm.so.0 ] || fail "librabbitllm.so link"
[ "$(readlink "$D$P/lib/librabbitllm.so.0")" = "librabbitllm.so.$V" ] || fail "soname link"
readelf -d "$D$P/lib/librabbitllm.so.$V" | grep -q 'SONAME.*\[librabbitllm.so.0\]' || fail "soname"
readelf -d "$D$P/lib/librabbitllm.so.$V" | grep -q 'NEEDED.*curl' && fail "the shared library needs libcurl"
bad=$(nm -D --defined-only "$D$P/lib/librabbitllm.so.$V" | awk '$2 ~ /^[TDBR]$/ {print $3}' | grep -v '^rl_' | head -n 3)
[ -z "$bad" ] || fail "exported non-API symbols: $bad"
for f in $(nm -D --defined-only "$D$P/lib/librabbitllm.so.$V" | awk '$2 == "T" {print $3}'); do
  grep -q "RL_API.*\b$f(" include/rabbitllm.h || fail "exported but not RL_API in the header: $f"
done
"$D$P/bin/rabbitllm" --version | grep -qx "rabbitllm $V" || fail "--version"

# the man page covers every command
for c in $(sed -n 's/^ *{"\([a-z-]*\)", cmd_.*/\1/p' src/cli/main.c); do
  grep -q "^\.SS $(echo "$c" | sed 's/-/\\\\-/g') " docs/rabbitllm.1 || fail "man page lacks command $c"
done
[ -n "$(sed -n 's/^ *{"\([a-z-]*\)", cmd_.*/\1/p' src/cli/main.c)" ] || fail "no commands parsed from main.c"

export PKG_CONFIG_PATH="$D$P/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$D"
[ "$(pkg-config --modversion rabbitllm)" = "$V" ] || fail "pkg-config version"
case " $(pkg-config --libs rabbitllm) $(pkg-config --static --libs rabbitllm) " in *curl*) fail "pkg-config lists libcurl";; esac
SAN=""; [ -n "${RL_SANITIZED:-}" ] && SAN="-fsanitize=address,undefined"
cat >"$T/v.c" <<'C'
#include <rabbitllm.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    if (strcmp(rl_version(), RL_VERSION_STRING)) return 1;
    if (rl_model_open("/nonexistent/model", NULL)) return 1;
    printf("%s|%s\n", rl_version(), rl_last_error());
    return 0;
}
C
cc -std=c11 $SAN -o "$T/v_shared" "$T/v.c" $(pkg-config --cflags --libs rabbitllm) -Wl,-rpath,"$D$P/lib" 2>"$T/err" || fail "shared link: $(cat "$T/err")"
out=$("$T/v_shared") || fail "shared program"
case "$out" in "$V|"*nonexistent*) ;; *) fail "shared program output: $out";; esac
cc -std=c11 $SAN -o "$T/v_static" "$T/v.c" $(pkg-config --cflags rabbitllm) "$D$P/lib/librabbitllm.a" \
   $(pkg-config --static --libs rabbitllm | sed 's/-lrabbitllm//; s/-L[^ ]*//') 2>"$T/err" || fail "static link: $(cat "$T/err")"
"$T/v_static" >/dev/null || fail "static program"
ldd "$T/v_static" | grep -q rabbitllm && fail "static program uses the shared library"

make -s uninstall BUILD="$B" PREFIX=$P DESTDIR="$D" >"$T/log" 2>&1 || fail "make uninstall: $(cat "$T/log")"
left=$(find "$D" -type f -o -type l)
[ -z "$left" ] || fail "left after uninstall: $left"
echo "ok"
