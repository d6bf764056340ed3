#!/usr/bin/env bash
# Builds the Debian package with CPack in the build directory and checks what it holds.
# Usage: check_deb.sh BUILD_DIR VERSION
set -euo pipefail
build=$1
version=$2
cd "$build"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if ! cpack -G DEB -B "$out" > "$out/cpack.log" 2>&1; then
  cat "$out/cpack.log"
  echo "check_deb: cpack -G DEB failed"
  exit 1
fi
deb=$(ls "$out"/skvq-studio_*.deb)
echo "package: $(basename "$deb")"
[ "$(dpkg-deb -f "$deb" Package)" = "skvq-studio" ] || { echo "check_deb: wrong package name"; exit 1; }
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || { echo "check_deb: version $(dpkg-deb -f "$deb" Version), expected $version"; exit 1; }
contents=$(dpkg-deb --contents "$deb")
echo "$contents"
for f in ./usr/bin/skvq ./usr/bin/skvq-studio ./usr/share/applications/skvq-studio.desktop \
         ./usr/share/icons/hicolor/scalable/apps/skvq-studio.svg \
         ./usr/share/icons/hicolor/256x256/apps/skvq-studio.png \
         ./usr/share/metainfo/io.github.skvq.studio.metainfo.xml; do
  if ! grep -q " ${f}\$" <<< "$contents"; then
    echo "check_deb: $f is missing from the package"
    exit 1
  fi
done
deps=$(dpkg-deb -f "$deb" Depends)
echo "depends: $deps"
grep -q "libqt6widgets6" <<< "$deps" || { echo "check_deb: Depends lacks Qt 6 Widgets"; exit 1; }
# The packaged program starts: --help lists the options.
mkdir -p "$out/root"
dpkg-deb -x "$deb" "$out/root"
QT_QPA_PLATFORM=offscreen "$out/root/usr/bin/skvq-studio" --help | grep -q -- "--batch" || { echo "check_deb: skvq-studio --help does not list --batch"; exit 1; }
"$out/root/usr/bin/skvq" --version
echo "check_deb: package contents as expected"
