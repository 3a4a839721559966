#!/usr/bin/env bash
# Build the Debian package with dpkg-deb: dist/indi-astrojolo_<version>_all.deb (or in the directory given).
#   packaging/build-deb.sh [OUTPUT_DIR]
# Needs only dpkg-deb, gzip and Debian's python3 (3.11 or newer); prints the path of the package it built.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
out=$(mkdir -p "${1:-$repo/dist}" && cd "${1:-$repo/dist}" && pwd)
python=/usr/bin/python3
meta() { "$python" "$here/debian/from_pyproject.py" "$@"; }
die() { echo "build-deb.sh: $*" >&2; exit 1; }

upstream=$(meta version)
deb_version=$(sed -n '1s/^indi-astrojolo (\([^)]*\)).*/\1/p' "$here/debian/changelog")
[ "${deb_version%-*}" = "$upstream" ] \
    || die "packaging/debian/changelog starts at $deb_version but the package version is $upstream: add an entry"
[ "$(grep -o '<version>[^<]*</version>' "$here/indi_astrojolo.xml" | sort -u)" = "<version>$upstream</version>" ] \
    || die "packaging/indi_astrojolo.xml is not for version $upstream: regenerate it with indi-astrojolo-catalog print"
# Files in the package get the time of the changelog entry, so the same sources give the same package.
SOURCE_DATE_EPOCH=$(date -d "$(sed -n 's/^ -- .*>  //p' "$here/debian/changelog" | head -1)" +%s)
export SOURCE_DATE_EPOCH

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
site=$root/usr/lib/python3/dist-packages
doc=$root/usr/share/doc/indi-astrojolo
umask 022
install -d "$site" "$root/usr/bin" "$root/usr/share/indi" "$root/lib/udev/rules.d" "$root/lib/systemd/system" \
    "$root/usr/lib/sysusers.d" "$root/etc/default" "$doc" "$root/DEBIAN"

tar -C "$repo" --exclude=__pycache__ --exclude='*.pyc' -cf - indi_astrojolo | tar -C "$site" -xf -
tar -C "$repo" -cf - xml | tar -C "$site/indi_astrojolo" -xf -
meta metadata "$site"
meta scripts "$root/usr/bin"

install -m 644 "$here/indi_astrojolo.xml" "$root/usr/share/indi/indi_astrojolo.xml"
install -m 644 "$here/99-astrolink4.rules" "$root/lib/udev/rules.d/99-astrolink4.rules"
install -m 644 "$here/indiserver-astrojolo.service" "$root/lib/systemd/system/indiserver-astrojolo.service"
install -m 644 "$here/indi-astrojolo.sysusers" "$root/usr/lib/sysusers.d/indi-astrojolo.conf"
install -m 644 "$here/indiserver-astrojolo.default" "$root/etc/default/indiserver-astrojolo"
install -m 644 "$here/debian/copyright" "$doc/copyright"
gzip -9n < "$here/debian/changelog" > "$doc/changelog.Debian.gz"
gzip -9n < "$repo/README.md" > "$doc/README.md.gz"

install -m 644 "$here/debian/conffiles" "$root/DEBIAN/conffiles"
install -m 755 "$here/debian/postinst" "$here/debian/prerm" "$here/debian/postrm" "$root/DEBIAN/"
{
    cat "$here/debian/control"
    echo "Version: $deb_version"
    echo "Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)"
    echo "Depends: $(meta depends)"
} > "$root/DEBIAN/control"
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 644 "$root/DEBIAN/md5sums"
find "$root" -type d -exec chmod 755 {} +
find "$root" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

package="$out/indi-astrojolo_${deb_version}_all.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$package" >/dev/null
echo "$package"
