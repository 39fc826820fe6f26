#!/bin/bash
# KAFKA_* environment -> server.properties (KAFKA_LOG_DIRS -> log.dirs), format the log dir once
# (KRaft), then run the broker in the foreground as PID 1.
set -euo pipefail
conf=/opt/kafka/config/server.properties
: >"$conf"
while IFS='=' read -r name value; do
  case "$name" in
    KAFKA_HEAP_OPTS|KAFKA_OPTS|KAFKA_CLUSTER_ID) continue ;;
    KAFKA_*) key="${name#KAFKA_}"; key="${key,,}"; echo "${key//_/.}=$value" >>"$conf" ;;
  esac
done < <(env)
cat >/opt/kafka/config/log4j2.properties <<'PROPS'
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka.server.KafkaServer
logger.kafka.level = INFO
PROPS
java=(java ${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m} -XX:+UseSerialGC -Djava.awt.headless=true
  -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties -cp '/opt/kafka/libs/*')
logdir="$(sed -n 's/^log\.dirs=//p' "$conf")"
if [[ ! -f "${logdir:-/var/lib/kafka/data}/meta.properties" ]]; then
  # static voters (controller.quorum.voters) format as they are; a dynamic quorum needs --standalone
  mode=(--standalone); grep -q '^controller\.quorum\.voters=' "$conf" && mode=()
  "${java[@]}" kafka.tools.StorageTool format "${mode[@]}" \
    -t "${KAFKA_CLUSTER_ID:-$("${java[@]}" kafka.tools.StorageTool random-uuid | tail -n1)}" -c "$conf"
fi
exec "${java[@]}" kafka.Kafka "$conf"
