#!/bin/sh
# Makes sure the host has what building, booting and debugging the kernel need, installing
# missing pieces from Debian's packages. Called by the Makefile (once per top-level make).
#
#   tools/ensure-tools.sh                 check (and install) compiler, QEMU, OpenSBI, gdb
#   tools/ensure-tools.sh gdb-safe-path DIR
#                                         let gdb auto-load DIR/.gdbinit
#
# Environment: TOOLPREFIX (as for make), QEMU (default qemu-system-riscv64).
# Everything we print is one line per event, prefixed "ensure-tools:", on stderr.

QEMU=${QEMU:-qemu-system-riscv64}
OPENSBI_FW=${OPENSBI_FW:-/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin}
# Oldest QEMU that has everything we use: virtio-mmio's force-legacy property (modern
# virtio-mmio, QEMU 5.0) and a bundled OpenSBI with the SBI HSM extension.
QEMU_MIN=5.0

say() { echo "ensure-tools: $*" >&2; }

have() { command -v "$1" >/dev/null 2>&1; }

# The cross compiler prefix make will use: the given TOOLPREFIX, or the first one on PATH.
find_prefix() {
  if [ -n "$TOOLPREFIX" ]; then
    have "${TOOLPREFIX}gcc" && echo "$TOOLPREFIX"
    return
  fi
  for p in riscv64-unknown-elf- riscv64-linux-gnu- riscv64-elf- riscv64-none-elf-; do
    if have "${p}gcc"; then echo "$p"; return; fi
  done
}

# Prints the Debian packages that are missing, space separated.
missing_packages() {
  pkgs=""
  if [ -z "$(find_prefix)" ]; then
    case "$TOOLPREFIX" in
      riscv64-linux-gnu-) pkgs=gcc-riscv64-linux-gnu ;;
      *) pkgs=gcc-riscv64-unknown-elf ;;
    esac
  fi
  have gcc || pkgs="$pkgs gcc libc6-dev"
  have perl || pkgs="$pkgs perl"
  have "$QEMU" || pkgs="$pkgs qemu-system-misc"
  [ -f "$OPENSBI_FW" ] || pkgs="$pkgs opensbi"
  have gdb-multiarch || pkgs="$pkgs gdb-multiarch"
  have python3 || pkgs="$pkgs python3"
  echo $pkgs
}

install_packages() {
  pkgs="$1"
  if ! have apt-get; then
    say "missing tools; please install these (Debian/Ubuntu package names): $pkgs"
    return 1
  fi
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    if ! have sudo; then
      say "missing tools and no sudo; as root run: apt-get install $pkgs"
      return 1
    fi
    sudo=sudo
  fi
  say "installing $pkgs with apt-get"
  log=$(mktemp "${TMPDIR:-/tmp}/ensure-tools.XXXXXX")
  apt="$sudo env DEBIAN_FRONTEND=noninteractive apt-get -q"
  if ! { $apt update && $apt install -y $pkgs; } >"$log" 2>&1 </dev/null; then
    tail -n 15 "$log" >&2
    say "apt-get failed (full log: $log); install by hand: $pkgs"
    return 1
  fi
  rm -f "$log"
}

# Refuses a QEMU too old for our command line, naming the version instead of hanging.
check_qemu_version() {
  have "$QEMU" || return 0    # not installed: only reachable with a custom QEMU=, let make fail
  ver=$("$QEMU" --version 2>/dev/null | sed -n '1s/.*version \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p')
  [ -n "$ver" ] || { say "cannot tell the version of $QEMU; need >= $QEMU_MIN"; return 0; }
  # Compared as numbers: major * 1000 + minor.
  if [ $((${ver%%.*} * 1000 + ${ver#*.})) -lt $((${QEMU_MIN%%.*} * 1000 + ${QEMU_MIN#*.})) ]; then
    say "$QEMU $ver is too old: need >= $QEMU_MIN (apt-get install qemu-system-misc)"
    return 1
  fi
}

# gdb only reads ./.gdbinit from directories the user declared safe; declare this tree's.
gdb_safe_path() {
  line="add-auto-load-safe-path $1/.gdbinit"
  # gdb reads the first of these that exists as the user's init file.
  cfg="${XDG_CONFIG_HOME:-$HOME/.config}/gdb/gdbinit"
  [ ! -f "$cfg" ] && [ -f "$HOME/.gdbinit" ] && cfg="$HOME/.gdbinit"
  grep -qxF "$line" "$cfg" 2>/dev/null && return 0
  say "letting gdb load $1/.gdbinit (adding a line to $cfg)"
  mkdir -p "$(dirname "$cfg")" && echo "$line" >>"$cfg"
}

case "$1" in
  gdb-safe-path) gdb_safe_path "$2"; exit $? ;;
  "") ;;
  *) say "unknown command $1"; exit 2 ;;
esac

pkgs=$(missing_packages)
if [ -n "$pkgs" ]; then
  install_packages "$pkgs" || exit 1
  pkgs=$(missing_packages)
  [ -z "$pkgs" ] || { say "still missing after installing: $pkgs"; exit 1; }
fi
check_qemu_version
