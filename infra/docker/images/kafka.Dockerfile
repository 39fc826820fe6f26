# Apache Kafka (KRaft, broker + controller) from the jars infra/kafka/pom.xml pins (Maven Central), on the
# local Debian base. Configured like the official apache/kafka image: every KAFKA_FOO_BAR variable becomes
# foo.bar in server.properties, so docker-compose.yml's environment serves both images.
ARG BASE
FROM ${BASE}
RUN apt-get update && apt-get install -y openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 1000 --home-dir /opt/kafka appuser \
    && mkdir -p /var/lib/kafka/data /opt/kafka/config && chown -R appuser /var/lib/kafka /opt/kafka/config
COPY libs/ /opt/kafka/libs/
COPY kafka-entrypoint.sh /opt/kafka/bin/kafka-entrypoint.sh
COPY kafka-broker-api-versions.sh /opt/kafka/bin/kafka-broker-api-versions.sh
USER appuser
EXPOSE 9092
ENTRYPOINT ["/opt/kafka/bin/kafka-entrypoint.sh"]
