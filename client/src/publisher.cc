#include "publisher.h"

#include <algorithm>
#include <cassert>
#include <random>

#include <asio/post.hpp>

#include "schemas/record_batch.h"
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

// The message's record in the batch (schemas/record_batch.h).
std::size_t RecordBytes(const Message& m) {
  std::string_view key = m.key ? std::string_view(*m.key) : std::string_view();
  std::size_t n = wire::batch::RecordBytes(m.key ? &key : nullptr, static_cast<uint32_t>(m.headers.size()),
                                           m.payload.size());
  for (const auto& h : m.headers) n += wire::batch::HeaderBytes(h.name.size(), h.value.size());
  return n;
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
    // Every earlier publish complete: nothing of this publisher's is queued,
    // being drained or awaiting its ack (one request at a time, or the first
    // of a burst). It goes out from this thread, without waking the I/O
    // thread. Behind it, a burst queues and is drained in batches.
    const bool idle = first_open_ticket_ == next_ticket_;
    Pending p{0, std::move(message), std::move(done), next_ticket_++, bytes};
    ticket_done_.push_back(0);
    if (idle && SendAlone(topic, p)) return;
    // Most publishes name the topic the one before named.
    uint32_t topic_index = static_cast<uint32_t>(queue_topics_.size());
    for (uint32_t i = topic_index; i-- > 0;) {
      if (queue_topics_[i] == topic) {
        topic_index = i;
        break;
      }
    }
    if (topic_index == queue_topics_.size()) queue_topics_.push_back(topic);
    p.topic = topic_index;
    queue_.push_back(std::move(p));
    post = !std::exchange(drain_posted_, true);
  }
  if (post) asio::post(io_, [this] { Drain(); });
}

bool Publisher::SendAlone(const std::string& topic, Pending& p) {
  if (!connection_.CanSendNow()) return false;
  // A message the broker's limits refuse alone takes the queue's way (and error).
  if (wire::batch::kHeaderBytes + RecordBytes(p.message) > connection_.max_publish_bytes()) return false;
  auto batch = std::make_shared<std::vector<Pending>>();
  batch->push_back(std::move(p));
  uint64_t* next = nullptr;
  uint64_t base_sequence = 0;
  if (producer_id_ != 0) {
    next = &next_sequence_.try_emplace(topic, 1).first->second;
    base_sequence = *next;
  }
  const uint64_t request_id = connection_.NextRequestId();
  FrameBytes frame = BuildFrame(topic, *batch, base_sequence, request_id);
  if (!connection_.TrySendNow(request_id, std::move(frame), ReplyTo(batch), Clock::now() + options_.request_timeout,
                              /*resend=*/true)) {
    p = std::move(batch->front());  // nobody else saw it
    return false;
  }
  if (next != nullptr) *next += 1;
  return true;
}

void Publisher::Drain() {
  {
    MutexLock lock(mu_);
    draining_.swap(queue_);
    draining_topics_.swap(queue_topics_);
    drain_posted_ = false;
  }
  // SizeOf is at least a message's record in the batch, so batches packed by
  // it, plus the batch header, stay within the broker's publish limits too.
  const std::size_t max_bytes =
      std::min<std::size_t>(options_.max_batch_bytes,
                            std::max<std::size_t>(connection_.max_publish_bytes(), wire::batch::kHeaderBytes + 1) -
                                wire::batch::kHeaderBytes);
  const std::size_t max_messages = connection_.max_publish_messages();
  // One open batch per topic, filled in queue order (each topic keeps its
  // order) and sent when full; the rest once the queue is through.
  if (open_batches_.size() < draining_topics_.size()) open_batches_.resize(draining_topics_.size());
  for (Pending& p : draining_) {
    OpenBatch& open = open_batches_[p.topic];
    if (!open.items.empty() && (open.bytes + p.bytes > max_bytes || open.items.size() >= max_messages)) {
      SendBatch(draining_topics_[p.topic], std::move(open.items));
      open.items = {};
      open.bytes = 0;
    }
    if (open.items.empty()) {
      // About what fits, so that the batch grows without a reallocation.
      open.items.reserve(std::min({draining_.size(), max_messages, max_bytes / std::max<std::size_t>(p.bytes, 1) + 1}));
    }
    open.bytes += p.bytes;
    open.items.push_back(std::move(p));
  }
  for (std::size_t t = 0; t < draining_topics_.size(); ++t) {
    OpenBatch& open = open_batches_[t];
    if (!open.items.empty()) SendBatch(draining_topics_[t], std::move(open.items));
    open.items = {};
    open.bytes = 0;
  }
  draining_.clear();
  draining_topics_.clear();
}

void Publisher::SendBatch(const std::string& topic, std::vector<Pending>&& batch) {
  uint64_t base_sequence = 0;
  // Sequences start at 1 and grow by one per message; the broker refuses a
  // batch whose last one would pass 2^64-1, which this never reaches (it
  // would take 58,000 years at 10 million messages a second).
  if (producer_id_ != 0) {
    MutexLock lock(mu_);
    uint64_t& next = next_sequence_.try_emplace(topic, 1).first->second;
    base_sequence = next;
    next += batch.size();
  }
  const uint64_t request_id = connection_.NextRequestId();
  FrameBytes frame = BuildFrame(topic, batch, base_sequence, request_id);
  connection_.Request(request_id, std::move(frame), ReplyTo(std::make_shared<std::vector<Pending>>(std::move(batch))),
                      Clock::now() + options_.request_timeout, /*resend=*/true);
}

FrameBytes Publisher::BuildFrame(const std::string& topic, const std::vector<Pending>& batch, uint64_t base_sequence,
                                 uint64_t request_id) {
  // The batch is written once, in the stored format, straight into the
  // frame: the broker keeps these bytes as they are.
  std::size_t batch_bytes = wire::batch::kHeaderBytes;
  for (const auto& p : batch) batch_bytes += RecordBytes(p.message);
  flatbuffers::FlatBufferBuilder fbb(wire::RecycledFrameBytes(batch_bytes + topic.size() + 128),
                                     &wire::RecyclingFrameAllocator());
  uint8_t* out = nullptr;
  auto batch_vec = fbb.CreateUninitializedVector(batch_bytes, 1, &out);
  wire::batch::Writer writer(reinterpret_cast<char*>(out), batch_bytes, static_cast<uint32_t>(batch.size()));
  for (const auto& p : batch) {
    const Message& m = p.message;
    std::string_view key = m.key ? std::string_view(*m.key) : std::string_view();
    writer.StartRecord(m.key ? &key : nullptr, static_cast<uint32_t>(m.headers.size()));
    for (const auto& h : m.headers) writer.AddHeader(h.name, h.value);
    writer.FinishRecord(m.payload);
  }
  const bool written = writer.Finish();
  assert(written && "RecordBytes disagrees with the batch writer");
  (void)written;
  auto topic_offset = fbb.CreateString(topic);
  return Share(wire::FinishFrame(
      fbb, request_id, wire::CreatePublish(fbb, topic_offset, producer_id_, base_sequence, batch_vec)));
}

ReplyFn Publisher::ReplyTo(std::shared_ptr<std::vector<Pending>> batch) {
  return [this, batch = std::move(batch)](std::error_code ec, const wire::Frame* reply) {
    std::vector<PublishResult> results(batch->size());
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
    Complete(*batch, results);
  };
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
    queue_topics_.clear();
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
