#include "nats/nats_publisher.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace herald::client_detail::nats {

namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kRetryDelay = 100ms;
constexpr char kMsgIdHeader[] = "Nats-Msg-Id";

}  // namespace

NatsPublisher::NatsPublisher(std::shared_ptr<Core> core, const ClientOptions& options, CallbackThread* callbacks)
    : core_(std::move(core)), options_(options), callbacks_(callbacks) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = std::min<int64_t>(options_.request_timeout.count(), 5000);
  jo.PublishAsync.AckHandler = &NatsPublisher::OnAckThunk;
  jo.PublishAsync.AckHandlerClosure = this;
  // PublishAsync.MaxPending stays 0 (no limit in libnats): the sender keeps to
  // kMaxInFlight itself, so it never stalls inside libnats.
  natsStatus s = core_->nc ? natsConnection_JetStream(&js_, core_->nc, &jo) : NATS_INVALID_ARG;
  if (s != NATS_OK) {
    spdlog::error("herald client (nats): cannot set up publishing: {}", natsStatus_GetText(s));
    setup_error_ = FromNats(s);
  }
  sender_ = std::thread([this] { Run(); });
}

NatsPublisher::~NatsPublisher() {
  Close();
  // Close leaked the context if PubAck callbacks could still come (it logged that).
  if (js_ && !leaked_) jsCtx_Destroy(js_);
}

void NatsPublisher::Publish(const std::string& topic, Message message, PublishCallback done) {
  std::size_t bytes = message.payload.size() + topic.size() + 64;
  natsMsg* msg = nullptr;
  natsStatus built = BuildMsg(&msg, topic, message);
  {
    MutexLock lock(mu_);
    uint64_t seq = ++next_seq_;
    unfinished_.insert(seq);
    std::error_code refused = setup_error_;
    if (!refused && built != NATS_OK) refused = make_error_code(errc::invalid_argument);
    if (!refused && closing_) refused = make_error_code(errc::client_closed);
    if (!refused && bytes_ + bytes > options_.max_pending_bytes) refused = make_error_code(errc::buffer_full);
    if (!refused && options_.idempotent) {
      std::string id = core_->producer_id + "-" + std::to_string(seq);
      if (natsMsgHeader_Set(msg, kMsgIdHeader, id.c_str()) != NATS_OK) refused = make_error_code(errc::internal);
    }
    if (refused) {
      natsMsg_Destroy(msg);
      PostDone(seq, std::move(done), PublishResult{refused});
      return;
    }
    Entry& e = entries_[seq];
    e.msg = msg;
    e.topic = topic;
    e.done = std::move(done);
    e.deadline = Clock::now() + options_.request_timeout;
    e.bytes = bytes;
    bytes_ += bytes;
    queue_.push_back(seq);
  }
  cv_.notify_one();
}

std::error_code NatsPublisher::Flush(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  MutexLock lock(mu_);
  if (unfinished_.empty()) return {};
  const uint64_t last = *unfinished_.rbegin();
  while (!unfinished_.empty() && *unfinished_.begin() <= last) {
    if (done_cv_.wait_until(mu_, deadline) == std::cv_status::timeout) break;
  }
  const bool done = unfinished_.empty() || *unfinished_.begin() > last;
  return done ? std::error_code() : make_error_code(errc::timeout);
}

void NatsPublisher::Close() {
  {
    MutexLock lock(mu_);
    if (closing_) return;
    closing_ = true;
  }
  cv_.notify_all();
  if (sender_.joinable()) sender_.join();
  mu_.lock();
  for (uint64_t seq : queue_) Complete(seq, PublishResult{make_error_code(errc::client_closed)});
  queue_.clear();
  for (const auto& [seq, at] : retries_) Complete(seq, PublishResult{make_error_code(errc::client_closed)});
  retries_.clear();
  // Each message in flight hears back within kPubAckWait: its PubAck, or
  // libnats' timeout.
  const auto deadline = Clock::now() + kPubAckWait + 1s;
  while (!in_flight_.empty()) {
    if (done_cv_.wait_until(mu_, deadline) == std::cv_status::timeout) break;
  }
  if (!in_flight_.empty()) {
    spdlog::error("herald client (nats): {} publishes still in flight at close; keeping their state",
                  in_flight_.size());
    leaked_ = weak_from_this().lock();  // null when called from the destructor: nothing to keep
    mu_.unlock();
    return;
  }
  mu_.unlock();
  if (js_) jsCtx_Destroy(js_);
  js_ = nullptr;
}

void NatsPublisher::OnAckThunk(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  static_cast<NatsPublisher*>(closure)->OnAck(msg, pa, pae);
}

void NatsPublisher::OnAck(natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae) {
  MutexLock lock(mu_);
  // libnats may answer an attempt (its MaxWait timer) while js_PublishMsgAsync
  // still reads the message: destroying or resending it now would pull it from
  // under libnats (a crash in its header iteration). Wait until the call returned.
  while (sending_ == msg) sent_cv_.wait(mu_);
  auto it = in_flight_.find(msg);
  if (it == in_flight_.end()) {  // not one of ours (cannot happen): ours to destroy all the same
    natsMsg_Destroy(msg);
    return;
  }
  uint64_t seq = it->second;
  in_flight_.erase(it);
  Entry& e = entries_.at(seq);
  e.msg = msg;
  if (pa) {
    PublishResult result;
    result.offset = pa->Sequence;
    result.duplicate = pa->Duplicate;
    Complete(seq, result);
  } else if (pae && pae->Err == NATS_ERR && pae->ErrCode != 0) {
    Complete(seq, PublishResult{FromNats(pae->Err, pae->ErrCode)});  // the stream refused it
  } else {
    e.last_error = pae ? FromNats(pae->Err, pae->ErrCode) : make_error_code(errc::internal);
    // No responders: no stream takes the subject (a missing topic), or none right now (an election).
    e.check_stream = pae && pae->Err == NATS_NO_RESPONDERS;
    Retry(seq, Clock::now());
  }
  cv_.notify_one();
  done_cv_.notify_all();
}

void NatsPublisher::Run() {
  MutexLock lock(mu_);
  while (!closing_) {
    Clock::time_point wake = Clock::time_point::max();
    if (uint64_t seq = Next(Clock::now(), &wake)) {
      Send(seq);
    } else if (wake == Clock::time_point::max()) {
      cv_.wait(mu_);
    } else {
      cv_.wait_until(mu_, wake);
    }
  }
}

uint64_t NatsPublisher::Next(Clock::time_point now, Clock::time_point* wake) {
  if (in_flight_.size() >= kMaxInFlight) return 0;  // OnAck wakes the sender
  if (!retries_.empty()) {
    // Nothing newer goes out while a retry waits.
    auto it = retries_.begin();
    if (it->second > now) {
      *wake = it->second;
      return 0;
    }
    uint64_t seq = it->first;
    retries_.erase(it);
    return seq;
  }
  if (queue_.empty()) return 0;
  uint64_t seq = queue_.front();
  queue_.pop_front();
  return seq;
}

void NatsPublisher::Send(uint64_t seq) {
  // Only the sender completes an entry that is not in flight, so `e` stays valid
  // until the message is handed over.
  Entry& e = entries_.at(seq);
  if (e.check_stream) {
    e.check_stream = false;
    std::string stream = StreamName(e.topic);
    mu_.unlock();
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&si, core_->js, stream.c_str(), nullptr, &jerr);
    if (si) jsStreamInfo_Destroy(si);
    mu_.lock();
    if (s != NATS_OK && jerr == JSStreamNotFoundErr) {
      Complete(seq, PublishResult{make_error_code(errc::topic_not_found)});
      return;
    }
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(e.deadline - Clock::now());
  natsMsg* msg = std::exchange(e.msg, nullptr);
  in_flight_.emplace(msg, seq);
  sending_ = msg;
  mu_.unlock();
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = std::clamp<int64_t>(left.count(), 1, kPubAckWait.count());
  natsMsg* handed = msg;
  natsStatus s = js_PublishMsgAsync(js_, &handed, &po);
  mu_.lock();
  sending_ = nullptr;
  sent_cv_.notify_all();
  if (s != NATS_OK) {
    // Not sent: the message is ours again and OnAck will not see it.
    in_flight_.erase(msg);
    e.msg = msg;
    e.last_error = FromNats(s);
    Retry(seq, Clock::now());
  }
}

void NatsPublisher::Retry(uint64_t seq, Clock::time_point now) {
  Entry& e = entries_.at(seq);
  if (closing_) {
    Complete(seq, PublishResult{make_error_code(errc::client_closed)});
    return;
  }
  if (now + kRetryDelay >= e.deadline) {
    std::error_code ec = e.last_error;
    if (ec == make_error_code(errc::not_connected)) ec = make_error_code(errc::timeout);
    Complete(seq, PublishResult{ec});
    return;
  }
  retries_[seq] = now + kRetryDelay;
}

void NatsPublisher::Complete(uint64_t seq, PublishResult result) {
  auto node = entries_.extract(seq);
  Entry& e = node.mapped();
  natsMsg_Destroy(e.msg);
  bytes_ -= e.bytes;
  PostDone(seq, std::move(e.done), std::move(result));
}

void NatsPublisher::PostDone(uint64_t seq, PublishCallback done, PublishResult result) {
  callbacks_->Post([this, seq, done = std::move(done), result = std::move(result)] {
    try {
      if (done) done(result);
    } catch (const std::exception& e) {
      spdlog::error("herald client (nats): a publish callback threw: {}", e.what());
    }
    {
      MutexLock lock(mu_);
      unfinished_.erase(seq);
    }
    done_cv_.notify_all();
  });
}

}  // namespace herald::client_detail::nats
