#!/usr/bin/env bash
# Set everything up on a fresh Debian machine, then run the demo or the test suite.
#   ./quickstart.sh demo    both drivers in simulation under a real indiserver, with a scripted client session
#   ./quickstart.sh test    the whole test suite
set -euo pipefail
cd "$(dirname "$0")"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

setup() {
    if ! command -v indiserver >/dev/null 2>&1; then
        echo "== installing Debian's indi-bin (indiserver, indi_getprop, indi_setprop)"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq indi-bin >/dev/null
    fi
    if [ ! -x .venv/bin/python ]; then
        echo "== creating .venv"
        python3 -m venv .venv
    fi
    echo "== installing indi_astrojolo and its test tools into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
    # pyindi-client's wheel bundles its own libindiclient; its declared dependencies (dbus-python among them) are
    # not needed to run it and do not build here, so it is installed without them.
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -r tests/requirements-client.txt
}

setup_ekos() {
    # tests/integration/test_ekos.py runs Debian's KStars/Ekos under Xvfb with a private D-Bus session;
    # tests/integration/test_rotator_rotctl.py drives the mount with hamlib's rotctl (libhamlib-utils).
    local missing=() package
    for package in kstars xvfb dbus-x11 qdbus-qt5 libhamlib-utils; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "== installing Debian's ${missing[*]} (KStars/Ekos and hamlib's rotctl for the tests; about two minutes)"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

case "${1:-}" in
    demo)
        setup
        shift
        exec .venv/bin/python -m indi_astrojolo.demo "$@"
        ;;
    test)
        setup
        setup_ekos
        shift
        exec .venv/bin/python -m pytest "$@"
        ;;
    setup)
        setup
        setup_ekos
        ;;
    *)
        echo "usage: $0 demo|test|setup" >&2
        exit 2
        ;;
esac
