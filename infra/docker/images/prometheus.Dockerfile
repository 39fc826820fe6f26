# Prometheus from Debian; the entrypoint is the server, as in prom/prometheus (compose passes its flags).
ARG BASE
FROM ${BASE}
RUN apt-get update && apt-get install -y prometheus \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /prometheus && chown prometheus /prometheus
USER prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
