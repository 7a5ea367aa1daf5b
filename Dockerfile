# syntax=docker/dockerfile:1
# mongo-replicator: multi-stage build. The first build layer compiles only the dependencies
# (from Cargo.toml/Cargo.lock and placeholder sources), so editing the code rebuilds in seconds.
# The image is built without the `demo` feature: production does not link the embedded testbed.

FROM rust:1-bookworm AS builder
WORKDIR /build

# Dependency layer: invalidated only when a manifest or the lock file changes.
COPY Cargo.toml Cargo.lock ./
COPY testbed/Cargo.toml testbed/Cargo.toml
COPY deploy/docker/stub-targets.sh /usr/local/bin/stub-targets
RUN sh /usr/local/bin/stub-targets Cargo.toml testbed/Cargo.toml \
 && cargo build --release --locked -p mongo-replicator --bin mongo-replicator --no-default-features

# The real sources. COPY keeps the context's timestamps, which may be older than the placeholder
# build: touch them so Cargo rebuilds the workspace crates (not the dependencies).
COPY . .
RUN find src testbed/src -name '*.rs' -exec touch {} + \
 && cargo build --release --locked -p mongo-replicator --bin mongo-replicator --no-default-features \
 && install -m 0755 target/release/mongo-replicator /usr/local/bin/mongo-replicator

FROM debian:bookworm-slim AS runtime
# ca-certificates for TLS to MongoDB (Atlas, mongodb+srv); curl for the HEALTHCHECK below.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 replicator \
 && useradd --system --uid 10001 --gid replicator --no-create-home --shell /usr/sbin/nologin replicator
COPY --from=builder /usr/local/bin/mongo-replicator /usr/local/bin/mongo-replicator

# Numeric user so Kubernetes `runAsNonRoot` can verify it without reading /etc/passwd.
USER 10001:10001

# Configuration comes from REPLICATOR_* variables (`__` separates sections), e.g.
# REPLICATOR_SOURCE__URI, REPLICATOR_TARGET__DATABASE. In a container the HTTP endpoints must
# listen on every interface, and JSON logs suit log collectors.
ENV REPLICATOR_HTTP__ADDR=0.0.0.0:9464 \
    REPLICATOR_LOG__FORMAT=json
EXPOSE 9464

# Liveness only: /readyz would mark the container unhealthy during an initial copy.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:9464/healthz || exit 1

ENTRYPOINT ["mongo-replicator"]
CMD ["run"]
