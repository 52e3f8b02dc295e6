# One image with every Herald binary: brokerd by default, the blog's services in
# docker-compose.yml. tools/check-image.sh rebuilds it without Docker (CI has
# none) from the steps below: change a step, and the check replays the change.

# Build stage: the same install script as CI and the README, in its build-only
# mode (no test, fuzzing or browser packages).
FROM debian:12 AS build
WORKDIR /src
COPY tools/install-deps.sh tools/install-deps.sh
RUN tools/install-deps.sh --build-only
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DHERALD_BUILD_TESTS=OFF
RUN cmake --build /build --target brokerd brokerctl api-gateway comment-service post-service notification-service

# Runtime stage: the binaries and the packages of the shared libraries they
# link (readelf -d, then dpkg -S): OpenSSL, RocksDB, spdlog, fmt, cpp-httplib,
# the NATS C client (the SDK's JetStream backend; it brings libprotobuf-c1);
# ca-certificates for TLS to a broker with a public certificate.
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libssl3 librocksdb7.8 libspdlog1.10 libfmt9 libcpp-httplib0.11 libnats3.4 \
 && rm -rf /var/lib/apt/lists/*
# A fixed uid and gid, so that a volume or a bind mount keeps one owner across
# image rebuilds; the data dir is the user's, nothing else is writable.
RUN groupadd --gid 7400 herald \
 && useradd --uid 7400 --gid herald --home-dir /var/lib/herald --no-create-home \
      --shell /usr/sbin/nologin herald \
 && install -d -o herald -g herald -m 0750 /var/lib/herald
COPY --from=build /build/broker/brokerd /build/tools/brokerctl/brokerctl \
     /build/services/api-gateway /build/services/comment-service \
     /build/services/post-service /build/services/notification-service /usr/local/bin/
COPY tools/image/herald-healthz /usr/local/bin/herald-healthz
USER herald
WORKDIR /var/lib/herald
VOLUME /var/lib/herald
# 7400: the broker protocol; 9400: GET /metrics (Prometheus) and /healthz.
EXPOSE 7400 9400
# The broker answers a Status request: brokerctl's default broker is
# 127.0.0.1:7400. With auth on, give the container HERALD_TOKEN.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["brokerctl", "--connect-timeout", "3", "status"]
# Inside a container the broker must listen beyond loopback to be reachable;
# which ports reach the host is up to `docker run -p`.
CMD ["brokerd", "--listen", "0.0.0.0:7400", "--metrics-listen", "0.0.0.0:9400", "--data-dir", "/var/lib/herald"]
