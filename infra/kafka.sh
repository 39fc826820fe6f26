#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, combined broker+controller) for development and CI.
# Development and CI run the official broker jars from Maven Central (infra/kafka/pom.xml pins the
# version) straight on the local JVM, without a container; the offline Kafka image
# (infra/docker/build.sh) is built from the same jars.
#
# Usage: infra/kafka.sh {up|down|status|libs}   (libs: fetch the jars, print their folder)
# If KAFKA_BOOTSTRAP_SERVERS is set, `up` starts nothing and only checks that broker answers.
# A private second broker (the chaos tests restart one; the shared broker is never touched):
#   HSLR_KAFKA_CACHE=/tmp/k2 HSLR_KAFKA_PORT=19092 HSLR_KAFKA_CONTROLLER_PORT=19093 infra/kafka.sh up
# (its own data dir, pid and log under HSLR_KAFKA_CACHE; the jars are shared: HSLR_KAFKA_LIBS).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${HSLR_KAFKA_CACHE:-$ROOT/.cache/kafka}"
PY="${HSLR_PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PY" ]] || PY=python3
LIBS="${HSLR_KAFKA_LIBS:-$CACHE/libs}"
PIDFILE="$CACHE/kafka.pid"
LOG="$CACHE/kafka.log"
PORT="${HSLR_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${HSLR_KAFKA_CONTROLLER_PORT:-9093}"
BOOTSTRAP="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$PORT}"
UP_TIMEOUT_S="${HSLR_KAFKA_UP_TIMEOUT_S:-60}"

die() { echo "kafka.sh: $*" >&2; exit 1; }

is_running() {
  # Also match the command line: after a reboot the recorded pid may belong to an unrelated process.
  [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$(cat "$PIDFILE")/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'
}

port_open() {
  "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null
}

fetch_libs() {
  # The pom is the single pin of the Kafka version; re-resolve when it changes.
  local stamp="$LIBS/.pom.sha256" want
  want="$(sha256sum "$ROOT/infra/kafka/pom.xml" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return; fi
  command -v mvn >/dev/null || die "maven (mvn) is required to fetch the Kafka jars"
  rm -rf "$LIBS"
  mvn -q -B -Dstyle.color=never -f "$ROOT/infra/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$LIBS" -DincludeScope=runtime >&2 || die "maven could not resolve Kafka jars"
  echo "$want" >"$stamp"
}

write_config() {
  mkdir -p "$CACHE/data"
  cat >"$CACHE/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
log.dirs=$CACHE/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
  # log4j2 properties format: the YAML format would need jackson-dataformat-yaml on the classpath.
  cat >"$CACHE/log4j2.properties" <<PROPS
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $CACHE/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
PROPS
}

JAVA_ARGS=(-Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$CACHE/log4j2.properties" -cp "$LIBS/*")
java_cmd() { java "${JAVA_ARGS[@]}" "$@"; }

format_storage() {
  # Formatting is one-off: the meta.properties file marks an initialised log dir.
  [[ -f "$CACHE/data/meta.properties" ]] && return
  local cid
  cid="$(java_cmd kafka.tools.StorageTool random-uuid | tail -n1)"
  java_cmd kafka.tools.StorageTool format --standalone -t "$cid" -c "$CACHE/server.properties" \
    >>"$LOG" 2>&1 || die "storage format failed; see $LOG"
}

wait_ready() {  # wait_ready [pid]: a pid makes a broker that dies during startup fail fast
  "$PY" - "$BOOTSTRAP" "$UP_TIMEOUT_S" "${1:-0}" <<'PYEOF' || die "broker at $BOOTSTRAP is not ready (log: $LOG)"
import os, sys, time
from confluent_kafka.admin import AdminClient
bootstrap, deadline, pid = sys.argv[1], time.monotonic() + float(sys.argv[2]), int(sys.argv[3])
admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
while True:
    try:
        admin.list_topics(timeout=2)
        sys.exit(0)
    except Exception:
        if pid:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                print(f"kafka.sh: broker process {pid} exited during startup", file=sys.stderr)
                sys.exit(1)
        if time.monotonic() > deadline:
            print(f"kafka.sh: no broker answered metadata at {bootstrap} within {sys.argv[2]}s", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.5)
PYEOF
}

cmd_up() {
  if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then wait_ready; echo "kafka: external $BOOTSTRAP answers"; return; fi
  if is_running; then wait_ready; echo "kafka: already running (pid $(cat "$PIDFILE"))"; return; fi
  port_open "$PORT" && die "127.0.0.1:$PORT is taken by a broker this script did not start; stop it, or set KAFKA_BOOTSTRAP_SERVERS to use it"
  mkdir -p "$CACHE"
  fetch_libs
  write_config
  format_storage
  nohup java "${JAVA_ARGS[@]}" kafka.Kafka "$CACHE/server.properties" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  wait_ready "$(cat "$PIDFILE")"
  echo "kafka: running (pid $(cat "$PIDFILE")) on $BOOTSTRAP"
}

cmd_down() {
  if ! is_running; then rm -f "$PIDFILE"; echo "kafka: stopped"; return; fi
  local pid; pid="$(cat "$PIDFILE")"
  kill "$pid"
  # A controlled shutdown takes a few seconds; give up and kill -9 after 30 s so CI never hangs.
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; sleep 0.5; fi
  rm -f "$PIDFILE"
  echo "kafka: stopped"
}

cmd_status() {
  if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then echo "external"; elif is_running; then echo "running"; else echo "stopped"; fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  libs) mkdir -p "$CACHE"; fetch_libs; echo "$CACHE/libs" ;;  # the pinned jars (infra/docker/build.sh)
  *) echo "usage: $0 {up|down|status|libs}" >&2; exit 2 ;;
esac
