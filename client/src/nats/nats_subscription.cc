#include "nats/nats_subscription.h"

#include <algorithm>
#include <cstdlib>

#include <spdlog/spdlog.h>

#include "schemas/names.h"

namespace herald::client_detail::nats {

std::vector<Header> ReadHeaders(natsMsg* msg, std::optional<std::string>* key) {
  std::vector<Header> headers;
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &count) != NATS_OK) return headers;
  for (int i = 0; i < count; ++i) {
    std::string name = keys[i];
    const char** values = nullptr;
    int n = 0;
    if (natsMsgHeader_Values(msg, keys[i], &values, &n) != NATS_OK) continue;
    for (int j = 0; j < n; ++j) {
      if (name == kKeyHeader) {
        *key = values[j];
      } else if (name == kEmptyHeader) {
        headers.push_back(Header{values[j], ""});
      } else if (name.rfind("Nats-", 0) != 0) {
        headers.push_back(Header{name, values[j]});
      }
    }
    std::free(static_cast<void*>(values));
  }
  std::free(static_cast<void*>(keys));
  return headers;
}

natsStatus FetchSome(natsSubscription* sub, int batch, natsMsgList* list) {
  jsFetchRequest req;
  jsFetchRequest_Init(&req);
  req.Batch = batch;
  req.NoWait = true;
  req.Expires = Ns(kTakeWait);
  natsStatus s = natsSubscription_FetchRequest(list, sub, &req);
  if (s == NATS_OK && list->Count > 0) return s;
  natsMsgList_Destroy(list);
  *list = natsMsgList{};
  if (s != NATS_OK && s != NATS_TIMEOUT && s != NATS_NOT_FOUND) return s;
  jsFetchRequest_Init(&req);
  req.Batch = 1;
  req.Expires = Ns(kFetchWait);
  return natsSubscription_FetchRequest(list, sub, &req);
}

int SafeBatch(natsSubscription* sub, uint32_t window) {
  int queued = 0;
  if (natsSubscription_GetPending(sub, &queued, nullptr) != NATS_OK || queued > 0) return 1;
  return static_cast<int>(std::min<uint32_t>(std::max<uint32_t>(window, 1), 64));
}

void Subscription::ReturnUnsettled() {
  MutexLock lock(mu_);
  closed_ = true;
  auto expired = std::chrono::steady_clock::now() - policy_.ack_deadline;
  for (const auto& [offset, u] : unsettled_) {
    if (u.since > expired) natsConnection_PublishString(core->nc, u.reply.c_str(), "-NAK");
  }
  unsettled_.clear();
  reasons_.clear();
}

bool Subscription::DeadLetter(const ReceivedMessage& m, const std::string& reason) {
  std::string dlq = wire::DeadLetterTopicName(topic);
  if (!dlq_ready) {
    std::error_code ec = core->EnsureStream(dlq, nullptr, nullptr);
    if (ec) {
      spdlog::error("herald client (nats): creating {} failed: {}", dlq, ec.message());
      return false;
    }
    dlq_ready = true;
  }
  Message letter;
  letter.key = m.key;
  letter.headers = m.headers;
  letter.headers.push_back({"x-herald-dlq-topic", topic});
  letter.headers.push_back({"x-herald-dlq-offset", std::to_string(m.offset)});
  letter.headers.push_back({"x-herald-dlq-group", group});
  letter.headers.push_back({"x-herald-dlq-delivery-count", std::to_string(m.delivery_count)});
  letter.headers.push_back({"x-herald-dlq-reason", reason});
  letter.payload = m.payload;
  natsMsg* msg = nullptr;
  if (BuildMsg(&msg, dlq, letter) != NATS_OK) return false;
  // The id makes a retry of this dead letter (the same message and delivery) a duplicate.
  std::string id = "dlq-" + StreamName(topic) + "-" + StreamName(group) + "-" + std::to_string(m.offset);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = id.c_str();
  jsPubAck* ack = nullptr;
  natsStatus s = js_PublishMsg(&ack, core->js, msg, &po, nullptr);
  if (ack) jsPubAck_Destroy(ack);
  natsMsg_Destroy(msg);
  if (s != NATS_OK) {
    spdlog::error("herald client (nats): dead-lettering {}@{} failed: {}", topic, m.offset,
                  natsStatus_GetText(s));
  }
  return s == NATS_OK;
}

void NatsDelivery::Nack(const ReceivedMessage& m, std::chrono::milliseconds delay, const std::string& reason) {
  if (!Settle(m)) return;
  if (m.delivery_count >= sub_->Policy().max_deliveries) {
    // The last allowed delivery: to the dead-letter topic. If that fails the
    // message stays with the group (redelivered, then dead-lettered by the fetch loop).
    if (sub_->DeadLetter(m, reason.empty() ? "nacked" : reason)) {
      natsMsg_Term(msg_, nullptr);
    } else {
      natsMsg_Nak(msg_, nullptr);
    }
    return;
  }
  sub_->RememberReason(m.offset, reason);
  if (delay.count() <= 0) delay = sub_->BackoffFor(m.delivery_count);
  if (delay.count() > 0) {
    natsMsg_NakWithDelay(msg_, static_cast<int64_t>(delay.count()), nullptr);
  } else {
    natsMsg_Nak(msg_, nullptr);
  }
}

}  // namespace herald::client_detail::nats
