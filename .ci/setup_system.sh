#!/usr/bin/env bash
# System packages the viewer and its tests need on Debian/Ubuntu: a virtual X server (Xvfb),
# the two xcb libraries Qt's xcb platform plugin lacks on a minimal image, and the DICOM tools
# the conformance test runs (dciodvfy from dicom3tools, the standard's validator; dcm2niix).
# Idempotent; does nothing when they are present or when apt-get is not available.
set -euo pipefail
need=()
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb xauth)
ldconfig -p 2>/dev/null | grep -q libxcb-icccm.so.4 || need+=(libxcb-icccm4)
ldconfig -p 2>/dev/null | grep -q libxcb-keysyms.so.1 || need+=(libxcb-keysyms1)
command -v dciodvfy >/dev/null 2>&1 || need+=(dicom3tools)
command -v dcm2niix >/dev/null 2>&1 || need+=(dcm2niix)
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup_system: please install ${need[*]} (or your system's equivalents)" >&2
    exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
