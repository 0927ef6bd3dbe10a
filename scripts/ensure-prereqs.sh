#!/usr/bin/env bash
# Make sure the system tools gamelake builds on are present: Python 3.11+, a JDK 17+ (java,
# and javac for gamelake's own JVM code in jvm/src), Maven.
# Missing ones are installed from Debian packages when we may (root + apt-get); otherwise
# one line says what to install. Java 24+ for Trino is handled by `gamelake setup`.
set -euo pipefail

missing=()
command -v java >/dev/null 2>&1 && command -v javac >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
python3 -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || missing+=(python3 python3-venv)
# The dashboard's browser test drives Debian's headless Chromium through its driver.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)

# The tests validate docker-compose.yml with docker-compose (no Docker engine needed); it is
# installed on its own, without recommends, so Debian does not pull the docker.io engine along.
if ! command -v docker-compose >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "gamelake: installing docker-compose from Debian packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
  else
    missing+=(docker-compose)
  fi
fi

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "gamelake: installing ${missing[*]} from Debian packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "gamelake: missing ${missing[*]}; install them (e.g. sudo apt-get install ${missing[*]}) and rerun" >&2
  exit 1
fi
