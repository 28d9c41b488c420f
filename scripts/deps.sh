# Sourced by scripts/demo and scripts/test: installs, when missing, the Debian packages qcdesk
# needs, by purpose. One list, so the desk and the suite build the same way on a fresh machine.
#   qcdesk_deps build   the C code qcdesk links: libjpeg-turbo (turbojpeg-sys: cmake, nasm)
#                       and CharLS (charls-sys: cmake, a C++ compiler)
#   qcdesk_deps desk    what the desk window loads at run time (winit dlopens the X libraries,
#                       glow needs GL/EGL)
#   qcdesk_deps test    the test peers and tools (DCMTK, Orthanc, dicom3tools, OpenJPEG's
#                       tools, Graphviz, Xvfb, openssl, pydicom, util-linux for namespaces)
# Several purposes may be given at once; apt-get runs once, and only when something is missing.

qcdesk_deps() {
  local packages=()
  want_pkg() { dpkg -s "$1" >/dev/null 2>&1 || packages+=("$1"); }
  want_cmd() { command -v "$1" >/dev/null 2>&1 || packages+=("$2"); }
  local purpose
  for purpose in "$@"; do
    case "$purpose" in
      build)
        want_cmd cmake cmake
        want_cmd nasm nasm
        want_cmd g++ g++
        want_cmd pkg-config pkg-config
        ;;
      desk)
        for p in libx11-6 libxcursor1 libxrandr2 libxi6 libxkbcommon-x11-0 libegl1 libgl1 libgl1-mesa-dri; do
          want_pkg "$p"
        done
        ;;
      test)
        want_cmd dcmdump dcmtk
        # The archive of the send tests.
        want_cmd Orthanc orthanc
        # Certificates of the TLS tests.
        want_cmd openssl openssl
        want_cmd dciodvfy dicom3tools
        # JPEG 2000 images made by OpenJPEG (opj_compress) for the imaging tests.
        want_cmd opj_compress libopenjp2-tools
        # The node map's DOT is checked with Graphviz.
        want_cmd dot graphviz
        want_cmd Xvfb xvfb
        # Permission tests run qcdesk as `nobody`; the full-disk test mounts a small file
        # system in a mount namespace (unshare, nsenter).
        want_cmd setpriv util-linux
        want_cmd nsenter util-linux
        # pydicom for the python3 on PATH: pip where that python allows it (pyenv, venv),
        # else Debian's.
        if ! python3 -c 'import pydicom' >/dev/null 2>&1; then
          python3 -m pip install --quiet pydicom==3.0.2 >/dev/null 2>&1 || packages+=(python3-pydicom)
        fi
        ;;
      *)
        echo "qcdesk_deps: unknown purpose $purpose" >&2
        return 2
        ;;
    esac
  done
  if ((${#packages[@]})); then
    echo "installing ${packages[*]} (Debian packages qcdesk needs)" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
  fi
}
