#!/usr/bin/env bash
# The real servers of the integration tests, all on 127.0.0.1.
#   install  — once per machine, cached under $ARCHON_TOOLS (default ~/.local/share/archon-tui-tools):
#              Debian's kcat, tmux and procps (apt-get); Apache Kafka's jars and Neo4j 5 Community's
#              jars from Maven Central (tests/services/*/pom.xml, Maven's cache under the tools dir);
#              tests/services/neo4j/Neo4jBolt.java compiled against them; the Python neo4j driver
#              and aiokafka (PyPI) under $ARCHON_TOOLS/py.
#   start    — install, then start the shared session (one Kafka node in KRaft mode and one Neo4j
#              with its Bolt connector) and print the `export` lines the tests read.
#   stop     — end the shared session.
# Starting and stopping is done by tests/common/services.rs (through the `test-services` example),
# the same code the broker-failure and graph-restart tests use for servers of their own.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools=${ARCHON_TOOLS:-$HOME/.local/share/archon-tui-tools}
run=${ARCHON_SERVICES_DIR:-/tmp/archon-tui-services}

log() { echo "test-services: $*" >&2; }

apt_install() {
  local need=()
  command -v kcat >/dev/null 2>&1 || need+=(kcat)
  command -v tmux >/dev/null 2>&1 || need+=(tmux)
  command -v pgrep >/dev/null 2>&1 || need+=(procps)
  if ((${#need[@]})); then
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    log "installing ${need[*]} with apt-get"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >&2
  fi
}

# copy_jars NAME: the dependencies of tests/services/NAME/pom.xml into $tools/NAME/libs.
copy_jars() {
  local name=$1 pom="$root/tests/services/$1/pom.xml" libs="$tools/$1/libs"
  # The pom's hash marks a complete copy; a changed pom (another version) copies afresh.
  local stamp
  stamp=$(sha256sum "$pom" | cut -c1-16)
  if [ -f "$libs/.complete-$stamp" ]; then return 0; fi
  log "fetching $name jars from Maven Central into $libs"
  rm -rf "$libs"
  mvn -q -B -f "$pom" -Dmaven.repo.local="$tools/m2" \
      dependency:copy-dependencies -DoutputDirectory="$libs" >&2
  touch "$libs/.complete-$stamp"
}

install() {
  apt_install
  command -v java >/dev/null || { log "java is missing (the polyglot machines have Java 17)"; exit 1; }
  command -v mvn >/dev/null || { log "mvn is missing (the polyglot machines have Maven 3.8)"; exit 1; }
  mkdir -p "$tools"
  copy_jars kafka
  cp "$root/tests/services/kafka/log4j2.properties" "$tools/kafka/log4j2.properties"
  copy_jars neo4j
  local src="$root/tests/services/neo4j/Neo4jBolt.java" classes="$tools/neo4j/classes"
  if [ ! -f "$classes/Neo4jBolt.class" ] || [ "$src" -nt "$classes/Neo4jBolt.class" ]; then
    log "compiling Neo4jBolt.java"
    mkdir -p "$classes"
    javac -d "$classes" -cp "$tools/neo4j/libs/*" "$src" >&2
  fi
  local req="$root/tests/services/python-requirements.txt" py="$tools/py"
  local stamp
  stamp=$(sha256sum "$req" | cut -c1-16)
  if [ ! -f "$py/.complete-$stamp" ]; then
    log "installing the Python neo4j driver and aiokafka into $py"
    rm -rf "$py"
    python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
        --target "$py" -r "$req" >&2
    touch "$py/.complete-$stamp"
  fi
}

case "${1:-start}" in
  install)
    install
    ;;
  start)
    install
    mkdir -p "$run"
    # Built once here; the tests build the same crate afterwards.
    ARCHON_TOOLS="$tools" cargo run --quiet --locked --example test-services -- start "$run"
    ;;
  stop)
    if [ -d "$run" ]; then
      ARCHON_TOOLS="$tools" cargo run --quiet --locked --example test-services -- stop "$run" || true
    fi
    ;;
  *)
    echo "usage: $0 [install|start|stop]" >&2
    exit 2
    ;;
esac
