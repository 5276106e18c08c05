#!/usr/bin/env bash
# The README's test command: installs what the tests need and is missing on this machine, then runs
# every test (`mvn -B verify`, the JDK 17 suite). `.ci/run` calls this same script.
#
#   ./test.sh [extra mvn arguments...]        e.g. ./test.sh -Plong
#
# What the tests need besides a JDK and Maven: gcc and the C library headers (the power-cut
# simulator is a small C program the tests compile) and Chromium (DiagramIT renders the pages
# `revenant diagram` writes in headless Chromium). They are installed with apt-get when missing;
# that needs root (or sudo) and a reachable Debian mirror. Nothing is installed when all is there.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
[ -f /usr/include/stdio.h ] || need+=(libc6-dev)
command -v mvn >/dev/null 2>&1 || need+=(maven)
if [ -z "${REVENANT_CHROMIUM:-}" ]; then # a Chromium binary of your own: point REVENANT_CHROMIUM at it
  command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing what the tests need: ${need[*]}"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "test.sh: need root (or sudo) to install ${need[*]}; install them and run again" >&2; exit 2; }
    sudo=(sudo)
  fi
  command -v apt-get >/dev/null 2>&1 || { echo "test.sh: no apt-get here; install ${need[*]} by hand and run again" >&2; exit 2; }
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}"
fi

if [ -z "${JAVA_HOME:-}" ]; then
  for j in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/temurin-25-jdk-amd64; do
    if [ -x "$j/bin/java" ]; then export JAVA_HOME=$j; break; fi
  done
fi
echo "test.sh: JAVA_HOME=${JAVA_HOME:-(java on PATH)}; $(nproc) cores; chromium at ${REVENANT_CHROMIUM:-$(command -v chromium || echo /usr/bin/chromium)}"
exec mvn -B verify "$@"
