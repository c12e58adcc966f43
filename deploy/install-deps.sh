#!/usr/bin/env bash
# Installs exactly the Debian 12 packages the build, the tests and the tools need.
# Idempotent: packages already present are not fetched again. Works as root or through sudo.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ make pkg-config
  # libraries
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libsqlite3-dev libboost-dev
  libspdlog-dev libfmt-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # sanitizers and fuzzing
  clang-14 libclang-rt-14-dev
  # test tools: namespaces, TLS certificates, the process helpers
  iproute2 openssl procps
  # the Debian package (make package): its dependencies (dpkg-shlibdeps, file), manual pages; `make test`
  # checks the systemd units with systemd-analyze
  dpkg-dev file help2man systemd
)
if [ "${KF_WITH_BROWSER:-1}" = 1 ]; then
  packages+=(chromium)
fi
# make test-container: a container engine (runc for hosts with hybrid cgroups, where crun will not run),
# Docker Compose (against podman's Docker API), debootstrap for the base images when no registry is
# reachable, jq for the master's JSON list.
if [ "${KF_WITH_CONTAINER:-0}" = 1 ]; then
  packages+=(podman runc docker-compose debootstrap jq)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
