# The HSLR image on the local Debian base: one image, any `hslr` command line (worker, watchdog, db
# migrate, replay, ...). Python packages come from a wheelhouse built on the host at the versions the
# tests ran with (infra/docker/build.sh), so the build needs no package index.
ARG BASE
FROM ${BASE}
RUN apt-get update && apt-get install -y python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
COPY wheels/ /tmp/wheels/
RUN python3 -m venv /opt/hslr \
    && /opt/hslr/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels \
    && useradd --create-home --uid 10001 hslr
ENV PATH=/opt/hslr/bin:$PATH PYTHONPATH=/app PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    HSLR_DATA_DIR=/var/lib/hslr
COPY app/ /app/
# bytecode compiled at build time (pip did the venv's): the unprivileged user cannot write it at run time,
# and compiling numpy/scipy/pandas/faust on every start made a restarted worker take a minute under load
RUN /opt/hslr/bin/python -m compileall -q /app/streams /app/models /app/backtest \
    && printf '#!/bin/sh\nexec /opt/hslr/bin/python -m streams.cli "$@"\n' >/usr/local/bin/hslr \
    && chmod 755 /usr/local/bin/hslr \
    && mkdir -p /app/.cache/prometheus/targets /var/lib/hslr && chown -R hslr /app/.cache /var/lib/hslr
WORKDIR /app
USER hslr
EXPOSE 8000
CMD ["hslr", "worker"]
