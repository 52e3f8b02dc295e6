#pragma once
// A member's side of a group on JetStream: its pull subscription (Subscription:
// the group's policy as last read, the deliveries not yet settled, dead
// letters), one delivered message (NatsDelivery: what Delivery::ack, nack and
// extend_deadline do on NATS) and the fetch that feeds the member (FetchSome).
// The fetch loop, which hands the messages to the callback thread, is the
// backend's (nats_backend.cc).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nats/nats.h>

#include "backend.h"
#include "nats/nats_core.h"
#include "nats/nats_group.h"
#include "schemas/thread_annotations.h"

namespace herald::client_detail::nats {

// The longest a fetch waits for a message when there is none (FetchSome), which
// bounds how long Unsubscribe waits for the fetch loop (kTakeWait + kFetchWait),
// and the longest it waits for the rest of a partial batch.
constexpr std::chrono::milliseconds kFetchWait{500};
constexpr std::chrono::milliseconds kTakeWait{20};

// The message's headers, without libnats' own (Nats-*); the key header
// (Herald-Key) goes to *key.
std::vector<Header> ReadHeaders(natsMsg* msg, std::optional<std::string>* key);

// Up to `batch` messages for a member, without waiting out a partial batch:
// first what the consumer has for it now (NoWait, expiring after kTakeWait),
// and only when that is nothing a long poll for one message, which returns as
// soon as one arrives (or after kFetchWait). natsSubscription_Fetch long-polls
// for the whole batch and returned a partial one only at its timeout: with the
// group's MaxAckPending reached (members share the window) every fetch waited
// 500 ms. nats-server 2.9 answers a NoWait request at once only when the
// consumer has nothing pending; messages held back by MaxAckPending keep it open
// until it expires, hence the short Expires (with 500 ms, such partial fetches
// took ~490 ms each). NATS_TIMEOUT or NATS_NOT_FOUND: nothing came.
natsStatus FetchSome(natsSubscription* sub, int batch, natsMsgList* list);

// The batch for the member's next fetch: up to min(window, 64), but one while
// messages are queued on the subscription already. Why: libnats 3.4.1
// (Debian 12's) returned a list of more messages than the array it allocated
// for a batch of 64 (ASan: the SDK read list.Msgs[64], 0 bytes past libnats'
// 512-byte allocation, in post-service during the nats flow test with a node
// killed and restarted; 2 of about 10 runs under ASan, one of them in CI), so
// libnats wrote past it too, where ASan does not look. The likely cause: a
// fetch that starts with messages queued (late replies to an earlier fetch
// that gave up) bounds its loop by the rest of the batch instead of the
// batch, which newer nats.c fixed. A fetch of one that starts with a message
// queued takes it and asks for nothing; one that starts with none stops at
// its batch either way. A batch of one always would cost a round trip per
// message (761 msg/s instead of about 17,000 for one member).
int SafeBatch(natsSubscription* sub, uint32_t window);

// One subscription: its pull subscription, the group's policy (as its consumer
// had it at the last look) and the deliveries not yet settled.
struct Subscription {
  std::shared_ptr<Core> core;
  natsSubscription* sub = nullptr;
  std::string topic;
  std::string group;
  std::atomic<bool> dlq_ready{false};
  ~Subscription() {
    if (sub) natsSubscription_Destroy(sub);
  }

  GroupPolicy Policy() const {
    MutexLock lock(mu_);
    return policy_;
  }
  void SetPolicy(GroupPolicy policy) {
    MutexLock lock(mu_);
    policy_ = std::move(policy);
  }

  // Deliveries not yet settled, by stream sequence, with the reply subject an
  // ack or nak goes to; kept when the user drops the Delivery unsettled.
  void Delivered(uint64_t offset, const char* reply) {
    if (reply == nullptr) return;
    MutexLock lock(mu_);
    unsettled_[offset] = Unsettled{reply, std::chrono::steady_clock::now()};
  }
  void Touch(uint64_t offset) {  // extend_deadline
    MutexLock lock(mu_);
    if (auto it = unsettled_.find(offset); it != unsettled_.end()) it->second.since = std::chrono::steady_clock::now();
  }
  // Forgets the delivery as it is settled; false once the subscription returned it (ReturnUnsettled).
  bool Settle(uint64_t offset) {
    MutexLock lock(mu_);
    unsettled_.erase(offset);
    reasons_.erase(offset);
    return !closed_;
  }
  // The last reason this member gave a nack of the message, for its dead
  // letter if a later delivery expires (brokerd keeps it with the message; a
  // JetStream redelivery does not carry it). Kept until the next settlement.
  void RememberReason(uint64_t offset, const std::string& reason) {
    if (reason.empty()) return;
    MutexLock lock(mu_);
    // Bounded: a message nacked here and settled by another member is never
    // settled here; past this many such, the reasons are dropped (letters
    // then carry an empty reason, as before a nack).
    if (reasons_.size() >= kMaxReasons) reasons_.clear();
    reasons_[offset] = reason;
  }
  std::string TakeReason(uint64_t offset) {
    MutexLock lock(mu_);
    auto node = reasons_.extract(offset);
    return node ? std::move(node.mapped()) : std::string();
  }
  // Leaving the group (Unsubscribe, or the client closing): no handler runs
  // from now on, and every delivery not yet settled goes back to the group at
  // once (a Nak to its reply subject), as on brokerd, instead of after its
  // AckWait. One whose AckWait passed is redelivered already and left alone.
  void ReturnUnsettled();
  bool closed() const { return closed_; }

  // Publishes the message to TOPIC.dlq with brokerd's headers. True when stored.
  bool DeadLetter(const ReceivedMessage& m, const std::string& reason);

  std::chrono::milliseconds BackoffFor(uint32_t delivery_count) const {
    MutexLock lock(mu_);
    const auto& backoff = policy_.backoff;
    if (backoff.empty()) return std::chrono::milliseconds(0);
    std::size_t i = std::min<std::size_t>(delivery_count == 0 ? 0 : delivery_count - 1, backoff.size() - 1);
    return backoff[i];
  }

 private:
  struct Unsettled {
    std::string reply;
    std::chrono::steady_clock::time_point since;  // delivered, or extended
  };
  mutable Mutex mu_;
  GroupPolicy policy_ GUARDED_BY(mu_);
  std::map<uint64_t, Unsettled> unsettled_ GUARDED_BY(mu_);
  static constexpr std::size_t kMaxReasons = 10'000;
  std::unordered_map<uint64_t, std::string> reasons_ GUARDED_BY(mu_);  // RememberReason
  std::atomic<bool> closed_{false};
};

// One delivered message: Delivery settles it through this.
class NatsDelivery final : public SubscriptionState {
 public:
  NatsDelivery(std::shared_ptr<Subscription> sub, natsMsg* msg) : sub_(std::move(sub)), msg_(msg) {}
  ~NatsDelivery() override { natsMsg_Destroy(msg_); }

  void Ack(const ReceivedMessage& m) override {
    if (Settle(m)) natsMsg_Ack(msg_, nullptr);
  }
  void Nack(const ReceivedMessage& m, std::chrono::milliseconds delay, const std::string& reason) override;
  void ExtendDeadline(const ReceivedMessage& m) override {
    if (settled_.load() || sub_->closed()) return;
    sub_->Touch(m.offset);
    natsMsg_InProgress(msg_, nullptr);
  }
  // A delivery past max_deliveries (the last one's deadline passed): to the
  // dead-letter topic before any handler sees it.
  void Expire(const ReceivedMessage& m) {
    std::string reason = sub_->TakeReason(m.offset);
    if (Settle(m) && sub_->DeadLetter(m, reason)) natsMsg_Term(msg_, nullptr);
  }

 private:
  // True for the first settlement only, and not after the subscription returned the message.
  bool Settle(const ReceivedMessage& m) { return !settled_.exchange(true) && sub_->Settle(m.offset); }

  std::shared_ptr<Subscription> sub_;  // keeps the natsSubscription (and the connection) alive
  natsMsg* msg_;
  std::atomic<bool> settled_{false};
};

}  // namespace herald::client_detail::nats
