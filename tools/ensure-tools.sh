#!/bin/sh
# Makes sure the host can build, boot and debug the kernel (TOOLPREFIX as make's), installing
# what is missing from Debian's packages; one "ensure-tools:" line per event, on stderr. Run by
# the Makefile once per top-level make, and as `ensure-tools.sh gdb-safe-path DIR` by qemu-gdb.
QEMU=${QEMU:-qemu-system-riscv64}
OPENSBI_FW=${OPENSBI_FW:-/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin}
QEMU_MIN=5.0    # modern virtio-mmio (force-legacy=false), bundled OpenSBI with the SBI HSM
say() { echo "ensure-tools: $*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

# gdb reads ./.gdbinit only from directories declared safe in the user's first init file.
if [ "$1" = gdb-safe-path ]; then
  line="add-auto-load-safe-path $2/.gdbinit"
  cfg="${XDG_CONFIG_HOME:-$HOME/.config}/gdb/gdbinit"
  [ ! -f "$cfg" ] && [ -f "$HOME/.gdbinit" ] && cfg="$HOME/.gdbinit"
  grep -qxF "$line" "$cfg" 2>/dev/null && exit 0
  say "letting gdb load $2/.gdbinit (adding a line to $cfg)"
  mkdir -p "$(dirname "$cfg")" && echo "$line" >>"$cfg"
  exit
fi
# `ensure-tools.sh plot`: gnuplot as well, for drawing measurements.
plot=""
[ "$1" = plot ] && plot=1 && shift
[ -z "$1" ] || { say "unknown command $1"; exit 2; }

# The missing Debian packages, space separated. The compiler: TOOLPREFIX's, else any on PATH.
missing_packages() {
  pkgs=gcc-riscv64-unknown-elf
  [ "$TOOLPREFIX" = riscv64-linux-gnu- ] && pkgs=gcc-riscv64-linux-gnu
  for p in ${TOOLPREFIX:-riscv64-unknown-elf- riscv64-linux-gnu- riscv64-elf- riscv64-none-elf-}; do
    have "${p}gcc" && pkgs=""
  done
  have gcc || pkgs="$pkgs gcc libc6-dev"
  have perl || pkgs="$pkgs perl"
  have "$QEMU" || pkgs="$pkgs qemu-system-misc"
  [ -f "$OPENSBI_FW" ] || pkgs="$pkgs opensbi"
  have gdb-multiarch || pkgs="$pkgs gdb-multiarch"
  have python3 || pkgs="$pkgs python3"
  [ -z "$plot" ] || have gnuplot || pkgs="$pkgs gnuplot-nox"
  echo $pkgs
}

# Installs what is missing with apt-get (through sudo unless root), else names the packages.
pkgs=$(missing_packages)
if [ -n "$pkgs" ]; then
  if ! have apt-get; then
    say "missing tools; please install these (Debian/Ubuntu package names): $pkgs"
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    have sudo || { say "missing tools and no sudo; as root run: apt-get install $pkgs"; exit 1; }
    sudo=sudo
  fi
  say "installing $pkgs with apt-get"
  log=$(mktemp "${TMPDIR:-/tmp}/ensure-tools.XXXXXX")
  apt="$sudo env DEBIAN_FRONTEND=noninteractive apt-get -q"
  if ! { $apt update && $apt install -y $pkgs; } >"$log" 2>&1 </dev/null; then
    tail -n 15 "$log" >&2
    say "apt-get failed (full log: $log); install by hand: $pkgs"
    exit 1
  fi
  rm -f "$log"
  pkgs=$(missing_packages)
  [ -z "$pkgs" ] || { say "still missing after installing: $pkgs"; exit 1; }
fi

# Refuses a QEMU too old for our command line, naming its version instead of hanging.
have "$QEMU" || exit 0    # only with a custom QEMU=: make fails on it
ver=$("$QEMU" --version 2>/dev/null | sed -n '1s/.*version \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p')
[ -n "$ver" ] || { say "cannot tell the version of $QEMU; need >= $QEMU_MIN"; exit 0; }
[ $((${ver%.*} * 1000 + ${ver#*.})) -ge $((${QEMU_MIN%.*} * 1000 + ${QEMU_MIN#*.})) ] && exit 0
say "$QEMU $ver is too old: need >= $QEMU_MIN (apt-get install qemu-system-misc)"
exit 1
