# Redis from Debian; docker-compose.yml passes the command line (password from the env file).
ARG BASE
FROM ${BASE}
RUN apt-get update && apt-get install -y redis-server \
    && rm -rf /var/lib/apt/lists/*
USER redis
WORKDIR /var/lib/redis
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
