#!/usr/bin/env bash
# `npm run setup:host`: installs the Debian packages (host tools, libpcap headers, QEMU and a guest
# kernel) that the full test suite needs, as root, skipping those already installed; .ci/run calls
# it. test/helpers/host-tools.ts maps each tool a suite declares to one of these packages.
# `--list` prints the packages (no root needed).
set -euo pipefail

# Keep in step with HOST_TOOLS / HOST_LIBS in test/helpers/host-tools.ts (a unit test checks it).
PACKAGES=(
  iproute2 iputils-ping ethtool iperf3 tcpdump tshark            # namespaces, ping, rates, captures
  openvswitch-common openvswitch-switch openvswitch-testcontroller # ovs-ofctl, ovs-appctl, ovsdb-server, ovs-vswitchd, ovs-testcontroller
  libpcap-dev                                                      # builds the optional `cap` binding (sluice capture)
  qemu-system-x86 busybox-static linux-image-amd64 xz-utils        # the real-VM suite
  python3 openssl                                                  # raw datagrams in port tests; certificates for the TLS tests
  systemd                                                          # systemd-analyze verify, systemd-notify (service units)
  stress-ng                                                        # a CPU hog for checking timing tests under load
  chromium                                                         # the headless browser of the dashboard test (playwright-core drives it)
  etcd-server                                                      # the controllers' shared store (high availability)
  nftables                                                         # nft: cuts one controller off from etcd (partition test)
)

if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi
if [ $# -gt 0 ]; then
  echo "usage: $0 [--list]" >&2
  exit 2
fi

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  echo "setup:host: needs Debian/Ubuntu (apt-get, dpkg-query); elsewhere install the equivalents of: ${PACKAGES[*]}" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup:host: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup:host: missing ${missing[*]}; run as root: sudo npm run setup:host" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "setup:host: installing ${missing[*]}"
apt-get update -q
# tshark's package asks whether non-root users may capture; answer it here (no).
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup:host: done"
