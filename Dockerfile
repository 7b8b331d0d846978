# Sluice container image.
#
#   docker build -t sluice .
#   docker run -p 8080:8080 -v sluice-journal:/var/lib/sluice \
#     -e SLUICE_INTAKE_BUCKET=data-pipeline-curated-dev -e SLUICE_CLICKHOUSE_URL=http://clickhouse:8123 sluice
#
# Two stages: the build stage compiles a release binary with the Swift standard library and Foundation linked
# statically; the runtime stage holds that binary and only the shared libraries it still needs (the Parquet
# codecs, SQLite for the journal, glibc), CA certificates for TLS to S3 and ClickHouse, and curl for the health
# check. scripts/check-dockerfile verifies the runtime package list against `ldd` of a binary built with the
# same command, and lints this file.

ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------------------------------------------------------
FROM ${SWIFT_IMAGE} AS build

# The codec and SQLite headers the C module maps (Sources/C*) and GRDB compile against.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libbrotli-dev \
        liblz4-dev \
        libsnappy-dev \
        libsqlite3-dev \
        libzstd-dev \
        zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Dependencies first, so that source edits do not refetch them.
COPY Package.swift ./
RUN swift package resolve

COPY . .
RUN swift build -c release --product sluice --static-swift-stdlib \
    && install -D -m 0755 "$(swift build -c release --product sluice --static-swift-stdlib --show-bin-path)/sluice" /out/sluice

# ---------------------------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime

# Exactly the packages owning the shared libraries `ldd /usr/local/bin/sluice` lists (glibc, libstdc++, libgcc,
# SQLite) and the Parquet codecs of Package.swift's system-library targets, plus ca-certificates (TLS trust
# store) and curl (HEALTHCHECK). scripts/check-dockerfile fails when this list and ldd disagree.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates \
        curl \
        libbrotli1 \
        libc6 \
        libgcc-s1 \
        liblz4-1 \
        libsnappy1v5 \
        libsqlite3-0 \
        libstdc++6 \
        libzstd1 \
        zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 sluice \
    && useradd --system --uid 10001 --gid sluice --home-dir /var/lib/sluice --shell /usr/sbin/nologin sluice \
    && install -d -o sluice -g sluice -m 0750 /var/lib/sluice \
    && install -d -m 0755 /etc/sluice

COPY --from=build /out/sluice /usr/local/bin/sluice
COPY deploy/sluice.yaml /etc/sluice/sluice.yaml

# journal.path in deploy/sluice.yaml is /var/lib/sluice/sluice.db: the SQLite journal, ledger and dead letters.
VOLUME ["/var/lib/sluice"]
WORKDIR /var/lib/sluice
USER 10001:10001

EXPOSE 8080

# /health is cheap and needs no API key (unless auth.protect_ops is set; then use an exec probe with the key).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["curl", "--fail", "--silent", "--show-error", "--max-time", "2", "http://127.0.0.1:8080/health"]

# SIGTERM: intake answers 503, running loads finish within loader.processing_timeout_s, the rest are parked.
STOPSIGNAL SIGTERM

ENTRYPOINT ["sluice", "serve", "--config", "/etc/sluice/sluice.yaml"]
