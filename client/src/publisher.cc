#include "publisher.h"

#include <algorithm>
#include <random>

#include <asio/post.hpp>

#include "wire_errors.h"

namespace herald::client_detail {

namespace {

uint64_t NewProducerId() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd() ^
                      static_cast<uint64_t>(Clock::now().time_since_epoch().count()));
  uint64_t id = 0;
  while (id == 0) id = rng();
  return id;
}

std::size_t SizeOf(const Message& m) {
  std::size_t n = m.payload.size() + 16 + (m.key ? m.key->size() : 0);
  for (const auto& h : m.headers) n += h.name.size() + h.value.size() + 8;
  return n;
}

}  // namespace

Publisher::Publisher(asio::io_context& io, Connection& connection, const ClientOptions& options)
    : io_(io),
      connection_(connection),
      options_(options),
      producer_id_(options.idempotent ? NewProducerId() : 0) {}

void Publisher::Publish(const std::string& topic, Message message, PublishCallback done) {
  std::size_t bytes = SizeOf(message);
  bool post = false;
  {
    MutexLock lock(mu_);
    if (pending_bytes_ + bytes > options_.max_pending_bytes) {
      // Fail on the I/O thread like every other completion.
      PublishResult r;
      r.error = make_error_code(errc::buffer_full);
      asio::post(io_, [done = std::move(done), r] { done(r); });
      return;
    }
    pending_bytes_ += bytes;
    queue_.push_back({topic, std::move(message), std::move(done), next_ticket_++, bytes});
    ticket_done_.push_back(0);
    post = !std::exchange(drain_posted_, true);
  }
  if (post) asio::post(io_, [this] { Drain(); });
}

void Publisher::Drain() {
  std::vector<Pending> queued;
  {
    MutexLock lock(mu_);
    queued.swap(queue_);
    drain_posted_ = false;
  }
  // Group by topic, keeping each topic's order; pack frames up to max_batch_bytes.
  std::vector<std::pair<std::string, std::vector<Pending>>> by_topic;
  for (auto& p : queued) {
    auto it = std::find_if(by_topic.begin(), by_topic.end(),
                           [&](const auto& t) { return t.first == p.topic; });
    if (it == by_topic.end()) {
      by_topic.emplace_back(p.topic, std::vector<Pending>{});
      it = std::prev(by_topic.end());
    }
    it->second.push_back(std::move(p));
  }
  // SizeOf is at least what a message decodes to on the broker, so batches
  // packed by it stay within the broker's publish limits too.
  const std::size_t max_bytes = std::min<std::size_t>(options_.max_batch_bytes, connection_.max_publish_bytes());
  const std::size_t max_messages = connection_.max_publish_messages();
  for (auto& [topic, items] : by_topic) {
    std::vector<Pending> batch;
    std::size_t bytes = 0;
    for (auto& p : items) {
      if (!batch.empty() && (bytes + p.bytes > max_bytes || batch.size() >= max_messages)) {
        SendBatch(topic, std::move(batch));
        batch = {};
        bytes = 0;
      }
      bytes += p.bytes;
      batch.push_back(std::move(p));
    }
    if (!batch.empty()) SendBatch(topic, std::move(batch));
  }
}

void Publisher::SendBatch(const std::string& topic, std::vector<Pending>&& batch) {
  std::size_t bytes = 0;
  for (const auto& p : batch) bytes += p.bytes;
  flatbuffers::FlatBufferBuilder fbb(bytes + 256);
  std::vector<flatbuffers::Offset<wire::Message>> messages;
  messages.reserve(batch.size());
  std::vector<flatbuffers::Offset<wire::Header>> headers;
  for (const auto& p : batch) {
    const Message& m = p.message;
    flatbuffers::Offset<flatbuffers::Vector<uint8_t>> key;
    if (m.key) key = wire::CreateBytes(fbb, *m.key);
    flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<wire::Header>>> header_vec;
    if (!m.headers.empty()) {
      headers.clear();
      for (const auto& h : m.headers)
        headers.push_back(wire::CreateHeader(fbb, fbb.CreateString(h.name), wire::CreateBytes(fbb, h.value)));
      header_vec = fbb.CreateVector(headers);
    }
    messages.push_back(wire::CreateMessage(fbb, key, header_vec, wire::CreateBytes(fbb, m.payload)));
  }
  uint64_t base_sequence = 0;
  // Sequences start at 1 and grow by one per message; the broker refuses a
  // batch whose last one would pass 2^64-1, which this never reaches (it
  // would take 58,000 years at 10 million messages a second).
  if (producer_id_ != 0) {
    uint64_t& next = next_sequence_.try_emplace(topic, 1).first->second;
    base_sequence = next;
    next += batch.size();
  }
  auto topic_offset = fbb.CreateString(topic);
  auto vec = fbb.CreateVector(messages);
  uint64_t request_id = connection_.NextRequestId();
  auto frame = Share(wire::FinishFrame(
      fbb, request_id, wire::CreatePublish(fbb, topic_offset, producer_id_, base_sequence, vec)));

  auto shared = std::make_shared<std::vector<Pending>>(std::move(batch));
  connection_.Request(
      request_id, std::move(frame),
      [this, shared](std::error_code ec, const wire::Frame* reply) {
        std::vector<PublishResult> results(shared->size());
        if (!ec && reply != nullptr) {
          if (const auto* ok = reply->body_as_PublishOk()) {
            bool known = ok->base_offset() != ~uint64_t{0};
            for (std::size_t i = 0; i < results.size(); ++i) {
              results[i].offset = known ? ok->base_offset() + i : PublishResult::kUnknownOffset;
              results[i].duplicate = ok->duplicate();
            }
          } else if (const auto* err = reply->body_as_ErrorReply()) {
            ec = ErrorFromWire(err->code());
          } else {
            ec = make_error_code(errc::protocol_violation);
          }
        }
        if (ec) {
          for (auto& r : results) r.error = ec;
        }
        Complete(*shared, results);
      },
      Clock::now() + options_.request_timeout, /*resend=*/true);
}

void Publisher::Complete(std::vector<Pending>& batch, const std::vector<PublishResult>& results) {
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].done) batch[i].done(results[i]);
  }
  {
    MutexLock lock(mu_);
    for (const auto& p : batch) {
      pending_bytes_ -= p.bytes;
      ticket_done_[p.ticket - first_open_ticket_] = 1;
    }
    while (!ticket_done_.empty() && ticket_done_.front()) {
      ticket_done_.pop_front();
      ++first_open_ticket_;
    }
  }
  completed_cv_.notify_all();
}

void Publisher::FailQueued(std::error_code error) {
  std::vector<Pending> queued;
  {
    MutexLock lock(mu_);
    queued.swap(queue_);
  }
  std::vector<PublishResult> results(queued.size());
  for (auto& r : results) r.error = error;
  Complete(queued, results);
}

std::error_code Publisher::Flush(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(mu_);
  const uint64_t target = next_ticket_;
  while (first_open_ticket_ < target) {
    if (completed_cv_.wait_until(mu_, deadline) == std::cv_status::timeout) break;
  }
  return first_open_ticket_ >= target ? std::error_code() : make_error_code(errc::timeout);
}

}  // namespace herald::client_detail
