#pragma once
// The Herald client SDK.
//
// Threading: a Client owns one background I/O thread. Every callback the SDK
// makes (publish completions and subscription handlers) runs on that thread,
// one at a time, in the order the broker's replies and deliveries arrive.
// Callbacks must not block for long, and must not call the blocking methods
// below (they return errc::called_from_callback there). All public methods are
// thread-safe. Delivery::ack()/nack() may be called from any thread, later.
//
// Connection: the client connects in the background and reconnects with
// exponential backoff. After a reconnect it re-subscribes and re-sends every
// publish not yet acknowledged; with idempotence on (the default) the broker
// stores each of them once.
//
// Security: with `tls` the client speaks TLS and accepts only a broker whose
// certificate chains to `tls_ca_file` (or the system's CAs) and names the
// broker's host (or `tls_server_name`). With auth on, the broker checks the
// token in the handshake. A refusal that retrying cannot fix (the broker
// refused the token: errc::authentication_failed; the TLS handshake failed,
// e.g. the certificate did not verify: that TLS error; an unreadable CA file
// or a `broker` that is not HOST:PORT: errc::invalid_argument; a token that
// would go in clear to a host that is not loopback, see allow_plaintext_token:
// errc::plaintext_token_refused) is logged once at error
// level; the client keeps retrying every reconnect_backoff_max, and until a
// handshake succeeds WaitConnected, publishes, subscribes and admin requests
// fail at once with that error instead of waiting for their timeout.

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "herald/errors.h"
#include "herald/message.h"

namespace herald {

struct ClientOptions {
  // The engine and where it is: "HOST:PORT" or "herald://HOST:PORT" ([::1]:PORT
  // for IPv6) for brokerd; "nats://HOST:PORT[,HOST:PORT...]" for a NATS JetStream
  // server or cluster (client/NATS.md: the mapping, and what differs there).
  std::string broker = "127.0.0.1:7400";
  std::string client_name = "herald-client";  // for the broker's logs; the first 256 bytes are sent
  std::chrono::milliseconds reconnect_backoff_min{50};
  std::chrono::milliseconds reconnect_backoff_max{2000};
  // A publish or admin request still unanswered after this fails with errc::timeout.
  std::chrono::milliseconds request_timeout{30000};
  // Tags every publish with a producer id and sequence numbers so that
  // publishes re-sent after a reconnect are not stored twice. The broker
  // binds the id to one connection at a time: a reconnect it receives before
  // it has seen the old connection go is refused, and the client retries on
  // new connections; a publish still refused at request_timeout fails with
  // errc::producer_id_in_use.
  bool idempotent = true;
  // Publishes waiting to be sent or acknowledged; above this, Publish fails
  // at once with errc::buffer_full.
  std::size_t max_pending_bytes = 64u << 20;
  // Upper bound of one Publish frame; pending publishes to one topic are
  // batched into frames up to this size.
  std::size_t max_batch_bytes = 1u << 20;
  // The fields below came later; they stay last so that designated
  // initializers written for the ones above keep compiling.
  //
  // The principal's token, sent in the handshake (brokerd --auth-file). Empty:
  // the environment variable HERALD_TOKEN when the Client is constructed, if set.
  std::string token;
  // Connect over TLS, verifying the broker's certificate.
  bool tls = false;
  std::string tls_ca_file;      // PEM CA certificates to trust; empty = the system's CAs
  std::string tls_server_name;  // the name the certificate must carry; empty = the host part of `broker`
  // With TLS off, a token is sent only to a broker whose address is loopback
  // (127.0.0.0/8, ::1; a host name by the addresses it resolves to). Elsewhere
  // the client refuses, before connecting: errc::plaintext_token_refused.
  // True: send it in clear anyway (a network that is trusted on purpose).
  bool allow_plaintext_token = false;
};

struct PublishResult {
  static constexpr uint64_t kUnknownOffset = ~uint64_t{0};
  std::error_code error;
  // Offset of the stored message (valid when !error). kUnknownOffset for a
  // duplicate whose offset the broker no longer remembers (it keeps the last
  // 1,024 batches of each producer, and the last one across restarts).
  uint64_t offset = 0;
  bool duplicate = false;  // the broker had stored this message before (a retry)
};
using PublishCallback = std::function<void(const PublishResult&)>;

enum class StartFrom { earliest, latest, offset, timestamp };

// A place in a topic's log: where a new or reset group starts, or where a
// Fetch reads from. An offset outside the log is clamped to it; a timestamp
// means the first message appended at or after it.
struct StartPosition {
  StartFrom from = StartFrom::earliest;
  uint64_t offset = 0;        // with StartFrom::offset
  int64_t timestamp_ms = 0;   // with StartFrom::timestamp, ms since the Unix epoch

  StartPosition() = default;
  StartPosition(StartFrom f) : from(f) {}  // NOLINT: implicit on purpose
  static StartPosition AtOffset(uint64_t o) { StartPosition p(StartFrom::offset); p.offset = o; return p; }
  static StartPosition AtTime(int64_t ms) { StartPosition p(StartFrom::timestamp); p.timestamp_ms = ms; return p; }
};

struct SubscribeOptions {
  std::string topic;
  std::string group;
  StartPosition start = StartFrom::earliest;  // only used when the group is new
  uint32_t window = 0;  // max unacked messages to this member; 0 = broker default (1,000; at most 10,000)
  std::chrono::milliseconds ack_deadline{0};  // 0 = broker default (30 s)
  // Group policy; 0 / empty: the group keeps what it has (a new group gets the
  // broker's defaults: 10 deliveries, no backoff). A message delivered
  // max_deliveries times without an ack goes to the dead-letter topic TOPIC.dlq.
  uint32_t max_deliveries = 0;
  // Delay before redelivery n (after a nack without a delay, or an expired
  // deadline); the last entry repeats.
  std::vector<std::chrono::milliseconds> backoff;
};

class SubscriptionState;  // internal

// One delivered message plus the means to settle it. Copyable; ack() or nack()
// may be called from any thread, once; later calls are ignored. A message that
// is neither acked nor nacked is redelivered after its ack deadline.
class Delivery {
 public:
  // keep: what owns the bytes msg views, if anything outlives the handler call.
  Delivery(std::shared_ptr<SubscriptionState> sub, ReceivedMessage msg, std::shared_ptr<const void> keep = nullptr);
  // Views into the received bytes: see ReceivedMessage for how long they live.
  const ReceivedMessage& message() const { return msg_; }
  void ack() const;
  // delay 0: the group's backoff decides. The reason (its first 1,024 bytes)
  // is kept with the message if it ends up in the dead-letter topic.
  void nack(std::chrono::milliseconds delay = std::chrono::milliseconds{0},
            const std::string& reason = {}) const;
  // "Still working": the ack deadline starts again from now.
  void extend_deadline() const;

 private:
  std::shared_ptr<SubscriptionState> sub_;
  ReceivedMessage msg_;
  std::shared_ptr<const void> keep_;
};
using MessageHandler = std::function<void(const Delivery&)>;

using SubscriptionId = uint64_t;

struct GroupInfo {
  std::string name;
  uint64_t ack_floor = 0;
  uint32_t members = 0;
  uint32_t in_flight = 0;    // handed out, not yet acked
  uint64_t read_cursor = 0;  // next offset the group reads from the log
  uint32_t ready = 0;        // read and waiting to be handed out
  std::string topic;
  uint64_t lag = 0;          // messages in the log not yet acked by the group
  int64_t oldest_unacked_age_ms = -1;  // -1: nothing unacked
  uint64_t skipped = 0;      // removed by retention before the group acked them
  uint64_t dead_lettered = 0;
  uint64_t redeliveries = 0;
  uint32_t max_deliveries = 0;
  std::vector<std::chrono::milliseconds> backoff;
};

// 0 in a field: no limit of that kind.
struct Retention {
  std::chrono::milliseconds max_age{0};
  uint64_t max_bytes = 0;
  uint64_t max_messages = 0;
};

struct TopicInfo {
  std::string name;
  uint64_t earliest_offset = 0;
  uint64_t next_offset = 0;
  std::vector<GroupInfo> groups;
  uint64_t message_count = 0;
  uint64_t bytes = 0;        // stored bytes of the topic's record batches
  Retention retention;
};

// One page of a topic listing, in name order.
struct TopicPage {
  std::vector<TopicInfo> topics;
  // Pass as `after` to get the next page; empty: no topics follow. A page may
  // hold fewer topics than asked for and still have a `next`.
  std::string next;
};

struct BrokerStatus {
  std::string broker_version;
  std::chrono::milliseconds uptime{0};
  std::string data_dir;
  uint32_t topics = 0;
  uint32_t groups = 0;
  uint32_t connections = 0;
  uint64_t storage_bytes = 0;
  // The broker's last load of its principals and TLS files: at start, then
  // at each reload (SIGHUP). If it failed, the settings before it are in force.
  std::chrono::system_clock::time_point last_reload{};
  bool last_reload_failed = false;
  std::string last_reload_error;
};

struct FetchResult {
  uint64_t earliest_offset = 0;
  uint64_t end_offset = 0;   // offset the topic assigns next
  uint64_t next_offset = 0;  // where the next Fetch continues
  std::vector<ReceivedMessage> messages;  // delivery_count 0, group empty; views into `bytes`
  std::shared_ptr<const std::string> bytes;  // the records the messages view (shared by copies)
};

class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();  // fails whatever is pending with errc::client_closed
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Waits until the handshake with the broker is done (or the timeout passes:
  // errc::not_connected). Returns at once with the refusal's error while the
  // broker refuses the client (see Security above).
  std::error_code WaitConnected(std::chrono::milliseconds timeout);
  // The principal the broker authenticated this client as, from the latest
  // handshake; empty before the first one or when the broker has auth off.
  std::string Principal() const;

  // Asynchronous publish; `done` runs on the I/O thread. Never blocks.
  void Publish(const std::string& topic, Message message, PublishCallback done);
  std::future<PublishResult> Publish(const std::string& topic, Message message);
  // Blocking convenience: publishes one message and waits for its ack.
  PublishResult PublishSync(const std::string& topic, Message message);
  // Waits until every publish issued before the call has completed.
  std::error_code Flush(std::chrono::milliseconds timeout);

  // Admin requests (blocking).
  // Without retention the topic gets the broker's default (7 days, no size limit).
  std::error_code CreateTopic(const std::string& name, bool* created = nullptr);
  std::error_code CreateTopic(const std::string& name, const Retention& retention,
                              bool* created = nullptr);
  std::error_code DeleteTopic(const std::string& name);
  // Every topic (with auth on: that the principal has some permission on), in
  // name order, asked for page by page so that the broker is never busy long.
  std::error_code ListTopics(std::vector<TopicInfo>* topics);
  // One page: topics named after `after` ("" = from the first), at most `limit`
  // of them (0 = the engine's default, 100; more than 1,000 counts as 1,000).
  // `after` is a position, not a key: it need not name a topic.
  std::error_code ListTopics(const std::string& after, uint32_t limit, TopicPage* page);
  std::error_code DescribeTopic(const std::string& name, TopicInfo* info);
  std::error_code AlterTopic(const std::string& name, const Retention& retention,
                             TopicInfo* info = nullptr);
  // Removes every message now in the topic.
  std::error_code PurgeTopic(const std::string& name, TopicInfo* info = nullptr);
  std::error_code DescribeGroup(const std::string& topic, const std::string& group, GroupInfo* info);
  // Only while the group has no members (errc::group_busy otherwise).
  std::error_code ResetGroup(const std::string& topic, const std::string& group, StartPosition to,
                             GroupInfo* info = nullptr);
  std::error_code DeleteGroup(const std::string& topic, const std::string& group);
  std::error_code Status(BrokerStatus* status);
  // Reads up to max_messages from `from` without a group; disturbs nothing.
  std::error_code Fetch(const std::string& topic, StartPosition from, uint32_t max_messages,
                        FetchResult* result);

  // Joins a consumer group. Blocks until the broker accepted the subscription
  // (or refused it). `handler` runs on the I/O thread for each delivery.
  std::error_code Subscribe(const SubscribeOptions& options, MessageHandler handler,
                            SubscriptionId* id = nullptr);
  // Leaves the group; unacked deliveries go back to the group. When it
  // returns the handler is not running and never runs again, whatever the
  // broker answered.
  std::error_code Unsubscribe(SubscriptionId id);

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace herald
