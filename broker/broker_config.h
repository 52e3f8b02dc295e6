#pragma once
// Every tunable of brokerd, with its default and unit. main.cc maps flags onto it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "broker/dispatch/consumer_group.h"
#include "broker/storage/store.h"
#include "schemas/frame.h"

namespace herald::broker {

struct BrokerConfig {
  std::string listen = "127.0.0.1:7400";  // HOST:PORT, [V6]:PORT; port 0 = any free port
  std::string data_dir = "herald-data";
  // A file of this size kept in the data dir, deleted to start on a full disk
  // (broker/storage/disk_reserve.h); 0: none.
  uint64_t disk_reserve_bytes = 8u << 20;
  std::string port_file;                  // written (atomically) with the bound port
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  std::chrono::milliseconds fsync_interval{100};

  uint32_t max_frame_bytes = wire::kDefaultMaxFrameBytes;
  uint32_t max_payload_bytes = wire::kDefaultMaxPayloadBytes;
  // One Publish, decoded: its record bytes (keys, headers, payloads and their
  // length fields, as stored) and its message count. FlatBuffers lets a
  // messages vector point many times at one Message, so a small frame can
  // name far more than it holds: every reference is counted, and the limits
  // are checked before anything is built.
  uint32_t max_publish_bytes = wire::kDefaultMaxPublishBytes;
  uint32_t max_publish_messages = wire::kDefaultMaxPublishMessages;

  GroupLimits groups;                     // windows, ack deadlines, read-ahead, max deliveries
  // Retention of a topic created without its own (CreateTopic without retention).
  RetentionPolicy default_retention{7 * 24 * 3600 * 1000ull, 0, 0};
  // How often the retention worker checks every topic's limits.
  std::chrono::milliseconds retention_interval{10'000};
  // HOST:PORT of the HTTP listener for GET /metrics and /healthz; empty: off.
  std::string metrics_listen;
  std::size_t tail_cache_bytes = 2u << 20;  // per topic: newest batches kept decoded

  // Per connection: deliveries pause above this many queued outgoing bytes.
  std::size_t max_outgoing_bytes = 2u << 20;
  // Per connection: the broker stops reading while this many requests (or
  // request bytes) wait for storage.
  uint32_t max_inflight_requests = 1024;
  std::size_t max_inflight_bytes = 4u << 20;

  // A connection must send Hello within handshake_timeout, and finish each
  // frame it starts within frame_timeout; otherwise it is closed.
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds frame_timeout{30'000};
  // A connection with no subscriptions and nothing in flight that sends
  // nothing for this long is closed (TimedOut): it holds a connection slot
  // for nothing. Subscribers are exempt, they wait for deliveries. 0 = never.
  std::chrono::milliseconds idle_timeout{10 * 60'000};
  // Connections past Hello. Those still before it count separately, against
  // max_pending_connections: at that limit a new one closes the oldest.
  uint32_t max_connections = 10'000;
  uint32_t max_pending_connections = 256;

  // Security. auth_file: principals with token hashes and ACLs
  // (broker/security/principals.h); empty = auth off, every client may do
  // everything. tls_cert + tls_key (PEM): every connection is TLS; both or neither.
  std::string auth_file;
  std::string tls_cert;
  std::string tls_key;

  std::chrono::milliseconds tick_interval{100};            // ack deadlines, nack delays
  std::chrono::milliseconds position_store_interval{50};   // group positions to RocksDB
  std::chrono::milliseconds shutdown_grace{5000};          // SIGTERM: wait for in-flight publishes

  // Threads that read the disk for the I/O thread (state/reader_pool.h).
  std::size_t reader_threads = 2;
  // For tests only: every read of a topic's log or index done for the I/O
  // thread waits this long first (StoreOptions::debug_read_delay), so that a
  // test can show a slow disk holding nobody else up. 0 = off.
  std::chrono::milliseconds debug_read_delay{0};
};

}  // namespace herald::broker
