# Build stage: the same install script as CI and the README.
FROM debian:12 AS build
WORKDIR /src
COPY tools/install-deps.sh tools/install-deps.sh
RUN tools/install-deps.sh
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DHERALD_BUILD_TESTS=OFF \
 && cmake --build /build --target brokerd brokerctl api-gateway comment-service post-service notification-service

# Runtime stage: the binaries and their shared libraries only.
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librocksdb7.8 libspdlog1.10 libfmt9 libcpp-httplib0.11 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/broker/brokerd /build/tools/brokerctl/brokerctl \
     /build/services/api-gateway /build/services/comment-service \
     /build/services/post-service /build/services/notification-service /usr/local/bin/
VOLUME /var/lib/herald
EXPOSE 7400
# Inside a container the broker must listen beyond loopback to be reachable.
CMD ["brokerd", "--listen", "0.0.0.0:7400", "--data-dir", "/var/lib/herald"]
