#include "herald/rocksdb/outbox.h"

#include <random>

#include <spdlog/spdlog.h>

namespace herald {

namespace {

// An outbox entry: topic, key, headers and payload, each length-prefixed
// with a u32 (little-endian). Written and read only by this file.
void PutString(std::string* out, std::string_view s) {
  uint32_t n = static_cast<uint32_t>(s.size());
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(n >> (8 * i)));
  out->append(s);
}

bool GetString(std::string_view* in, std::string* out) {
  if (in->size() < 4) return false;
  uint32_t n = 0;
  for (int i = 3; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>((*in)[i]);
  in->remove_prefix(4);
  if (in->size() < n) return false;
  out->assign(in->data(), n);
  in->remove_prefix(n);
  return true;
}

std::string EncodeEntry(const std::string& topic, const Message& m) {
  std::string out;
  PutString(&out, topic);
  out.push_back(m.key ? 1 : 0);
  PutString(&out, m.key ? *m.key : std::string());
  PutString(&out, std::to_string(m.headers.size()));
  for (const auto& h : m.headers) {
    PutString(&out, h.name);
    PutString(&out, h.value);
  }
  PutString(&out, m.payload);
  return out;
}

bool DecodeEntry(std::string_view in, std::string* topic, Message* m) {
  std::string key, count;
  if (!GetString(&in, topic) || in.empty()) return false;
  bool has_key = in.front() != 0;
  in.remove_prefix(1);
  if (!GetString(&in, &key) || !GetString(&in, &count)) return false;
  if (has_key) m->key = key;
  std::size_t n = std::stoul(count);
  for (std::size_t i = 0; i < n; ++i) {
    Header h;
    if (!GetString(&in, &h.name) || !GetString(&in, &h.value)) return false;
    m->headers.push_back(std::move(h));
  }
  return GetString(&in, &m->payload) && in.empty();
}

std::string SequenceKey(const std::string& prefix, uint64_t sequence) {
  std::string k = prefix;
  for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>(sequence >> shift));
  return k;
}

std::string NewEventId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace

Outbox::Outbox(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, Client* client, Options options)
    : db_(db), cf_(cf), client_(client), options_(std::move(options)) {
  // Continue after the last stored sequence, so keys keep their order.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_));
  it->SeekForPrev(SequenceKey(options_.key_prefix, ~uint64_t{0}));
  if (it->Valid() && it->key().starts_with(options_.key_prefix) &&
      it->key().size() == options_.key_prefix.size() + 8) {
    uint64_t last = 0;
    for (char c : it->key().ToStringView().substr(options_.key_prefix.size()))
      last = (last << 8) | static_cast<uint8_t>(c);
    next_sequence_ = last + 1;
  }
  relay_ = std::thread([this] { Run(); });
}

Outbox::~Outbox() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  relay_.join();
  // Publishes still in flight complete on the client's thread and only touch
  // RocksDB; wait for them so they never outlive this object.
  client_->Flush(std::chrono::seconds(5));
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::seconds(5), [&] { return in_flight_.empty(); });
}

std::string Outbox::Add(rocksdb::WriteBatch& batch, const std::string& topic, Message message) {
  std::string event_id;
  for (const auto& h : message.headers)
    if (h.name == kEventIdHeader) event_id = h.value;
  if (event_id.empty()) {
    event_id = NewEventId();
    message.headers.push_back({kEventIdHeader, event_id});
  }
  uint64_t sequence;
  {
    std::lock_guard lock(mu_);
    sequence = next_sequence_++;
  }
  batch.Put(cf_, SequenceKey(options_.key_prefix, sequence), EncodeEntry(topic, message));
  return event_id;
}

void Outbox::Notify() {
  {
    std::lock_guard lock(mu_);
    notified_ = true;
  }
  cv_.notify_all();
}

std::size_t Outbox::Pending() {
  std::size_t n = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_));
  for (it->Seek(options_.key_prefix); it->Valid() && it->key().starts_with(options_.key_prefix);
       it->Next())
    ++n;
  return n;
}

void Outbox::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    notified_ = false;
    lock.unlock();
    PublishSome();
    lock.lock();
    cv_.wait_for(lock, options_.poll_interval, [&] { return stop_ || notified_; });
  }
}

void Outbox::PublishSome() {
  {
    std::lock_guard lock(mu_);
    done_since_scan_.clear();
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_));
  for (it->Seek(options_.key_prefix); it->Valid() && it->key().starts_with(options_.key_prefix);
       it->Next()) {
    std::string key = it->key().ToString();
    {
      std::lock_guard lock(mu_);
      if (stop_ || in_flight_.size() >= options_.max_in_flight) return;
      if (done_since_scan_.count(key)) continue;      // acked since this scan began
      if (!in_flight_.insert(key).second) continue;  // already on its way
    }
    std::string topic;
    Message message;
    if (!DecodeEntry(it->value().ToStringView(), &topic, &message)) {
      spdlog::error("outbox: dropping undecodable entry");
      db_->Delete(rocksdb::WriteOptions(), cf_, key);
      std::lock_guard lock(mu_);
      in_flight_.erase(key);
      continue;
    }
    client_->Publish(topic, std::move(message), [this, key](const PublishResult& r) {
      // Client I/O thread. On success the event is durable in the broker: drop it here.
      // On failure it stays stored and the next poll publishes it again.
      if (!r.error) db_->Delete(rocksdb::WriteOptions(), cf_, key);
      {
        std::lock_guard lock(mu_);
        in_flight_.erase(key);
        if (!r.error) done_since_scan_.insert(key);
      }
      cv_.notify_all();  // the destructor may be waiting for in_flight_ to drain
    });
  }
}

}  // namespace herald
