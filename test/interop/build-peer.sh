#!/usr/bin/env bash
# Builds test/interop/lane-v1-peer (an independent Rust quinn + rustls implementation of
# Shipping Lane v1, used by test/integration/interop-v1.test.ts) fully offline, from the
# Rust crate sources Debian 12 packages as librust-*-dev under /usr/share/cargo/registry.
#
# Idempotent: installs missing Debian packages (apt-get update first; needs root or sudo),
# then `cargo build --release --offline` (a no-op when up to date).
# stdout: the absolute path of the binary, as the only line. Logs go to stderr.
# Exit status: 0 on success, non-zero with a message on stderr on failure.
# Environment: LANE_PEER_SKIP_APT=1 skips the apt step; CARGO=/path/to/cargo picks cargo.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
crate="$here/lane-v1-peer"
bin="$crate/target/release/lane-v1-peer"

fail() { echo "build-peer.sh: $*" >&2; exit 1; }
log() { echo "build-peer.sh: $*" >&2; }

# Crate sources (quinn 0.9, rustls 0.20, tokio 1.24, sha2 0.10, openssl 0.10 in bookworm)
# plus what openssl-sys links against. rcgen is not packaged in Debian 12, so the peer
# makes its self-signed certificate with the openssl crate.
packages=(librust-quinn-dev librust-rustls-dev librust-tokio-dev librust-sha2-dev
  librust-openssl-dev libssl-dev pkg-config gcc)

find_cargo() {
  if [[ -n "${CARGO:-}" ]]; then echo "$CARGO"; return; fi
  if command -v cargo >/dev/null 2>&1; then command -v cargo; return; fi
  if [[ -x "${HOME:-/root}/.cargo/bin/cargo" ]]; then echo "${HOME:-/root}/.cargo/bin/cargo"; return; fi
  return 1
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ! find_cargo >/dev/null; then missing+=(cargo); fi

if ((${#missing[@]})) && [[ "${LANE_PEER_SKIP_APT:-}" != 1 ]]; then
  command -v apt-get >/dev/null 2>&1 || fail "missing ${missing[*]} and no apt-get (needs Debian 12 / bookworm)"
  sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null 2>&1 || fail "missing ${missing[*]}; run as root or install them: apt-get install ${missing[*]}"
    sudo=(sudo)
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update -q >&2 \
    || fail "apt-get update failed"
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}" >&2 \
    || fail "apt-get install ${missing[*]} failed (these are Debian 12 bookworm package names)"
fi

cargo_bin="$(find_cargo)" || fail "no cargo found (install Debian's 'cargo' package or rustup)"
[[ -d /usr/share/cargo/registry ]] || fail "/usr/share/cargo/registry is missing (librust-*-dev packages not installed)"

cd "$crate"
build() { "$cargo_bin" build --release --offline --quiet >&2; }
if ! build; then
  # A Cargo.lock left from other package versions cannot resolve offline: re-resolve once.
  log "build failed; retrying after removing Cargo.lock"
  rm -f Cargo.lock
  build || fail "cargo build --release --offline failed in $crate (see the cargo output above)"
fi
[[ -x "$bin" ]] || fail "build finished but $bin is missing"
echo "$bin"
