#include "nats/nats_core.h"

#include <spdlog/spdlog.h>

#include "schemas/names.h"

namespace herald::client_detail::nats {

namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kDefaultRetentionAge = 7 * 24h;
// One try of a repeatable admin request: long enough for a loaded cluster to
// answer (a new R3 stream under ASan took more than 2 s), short enough to
// leave several tries in the default request_timeout (30 s).
constexpr std::chrono::milliseconds kAdminTryWait = 5s;
// Between tries that were answered "not now", so they do not spin.
constexpr std::chrono::milliseconds kAdminRetryPause = 200ms;

}  // namespace

std::string StreamName(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '.') out += "_2E";
    else if (c == '_') out += "_5F";
    else out += c;
  }
  return out;
}

std::string HeraldName(std::string_view stream_name) {
  std::string out;
  for (std::size_t i = 0; i < stream_name.size(); ++i) {
    if (stream_name[i] == '_' && i + 2 < stream_name.size()) {
      out += stream_name.compare(i, 3, "_2E") == 0 ? '.' : '_';
      i += 2;
    } else {
      out += stream_name[i];
    }
  }
  return out;
}

bool ValidTopic(const std::string& topic) {
  return wire::IsValidName(topic) && topic.front() != '.' && topic.back() != '.' &&
         topic.find("..") == std::string::npos;
}

std::error_code FromNats(natsStatus s, jsErrCode jerr) {
  if (s == NATS_OK) return {};
  if (jerr == JSStreamNotFoundErr) return make_error_code(errc::topic_not_found);
  if (jerr == JSConsumerNotFoundErr) return make_error_code(errc::group_not_found);
  switch (s) {
    case NATS_TIMEOUT: return make_error_code(errc::timeout);
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_RESPONDERS:
    case NATS_NOT_YET_CONNECTED: return make_error_code(errc::not_connected);
    case NATS_NOT_PERMITTED: return make_error_code(errc::not_authorized);
    case NATS_INVALID_ARG: return make_error_code(errc::invalid_argument);
    default: return make_error_code(errc::internal);
  }
}

bool TransientAdminFailure(natsStatus s, jsErrCode jerr) {
  if (s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS) return true;
  return jerr == JSClusterNotAvailErr || jerr == JSClusterNotLeaderErr;
}

natsStatus BuildMsg(natsMsg** out, const std::string& subject, const Message& m) {
  natsStatus s = natsMsg_Create(out, subject.c_str(), nullptr, m.payload.data(),
                                static_cast<int>(m.payload.size()));
  if (s != NATS_OK) return s;
  if (m.key) s = natsMsgHeader_Set(*out, kKeyHeader, m.key->c_str());
  for (const auto& h : m.headers) {
    if (s != NATS_OK) break;
    s = h.value.empty() ? natsMsgHeader_Add(*out, kEmptyHeader, h.name.c_str())
                        : natsMsgHeader_Add(*out, h.name.c_str(), h.value.c_str());
  }
  if (s != NATS_OK) {
    natsMsg_Destroy(*out);
    *out = nullptr;
  }
  return s;
}

CallbackThread::CallbackThread() : thread_([this] { Run(); }) {}

CallbackThread::~CallbackThread() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CallbackThread::Post(std::function<void()> f) {
  {
    MutexLock lock(mu_);
    queue_.push_back(std::move(f));
  }
  cv_.notify_all();
}

void CallbackThread::Run() {
  id_ = std::this_thread::get_id();
  mu_.lock();
  while (true) {
    while (!stop_ && queue_.empty()) cv_.wait(mu_);
    if (queue_.empty()) break;  // stop_, and everything queued has run
    auto f = std::move(queue_.front());
    queue_.pop_front();
    mu_.unlock();
    try {
      f();
    } catch (const std::exception& e) {
      spdlog::error("herald client (nats): a callback threw: {}", e.what());
    }
    mu_.lock();
  }
  mu_.unlock();
}

Core::~Core() {
  if (js) jsCtx_Destroy(js);
  if (nc) natsConnection_Destroy(nc);
}

natsStatus Core::RepeatableAdmin(const std::function<natsStatus(jsOptions*, jsErrCode*)>& request,
                                 jsErrCode* jerr) const {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(admin_wait_ms);
  for (int attempt = 1;; ++attempt) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = std::max<int64_t>(1, std::min(left, kAdminTryWait).count());
    *jerr = static_cast<jsErrCode>(0);
    const auto sent = Clock::now();
    natsStatus s = request(&o, jerr);
    if (!TransientAdminFailure(s, *jerr) || Clock::now() >= deadline) return s;
    spdlog::warn("herald client (nats): admin request try {} failed ({}, js error {}), asking again", attempt,
                 natsStatus_GetText(s), static_cast<int>(*jerr));
    // An answered "not now" comes fast: pause so the tries do not spin.
    if (Clock::now() - sent < kAdminRetryPause) std::this_thread::sleep_for(kAdminRetryPause);
  }
}

std::error_code Core::EnsureStream(const std::string& topic, const Retention* retention, bool* created) {
  std::string name = StreamName(topic);
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = RepeatableAdmin(
      [&](jsOptions* o, jsErrCode* e) {
        jsStreamInfo* si = nullptr;
        natsStatus st = js_GetStreamInfo(&si, js, name.c_str(), o, e);
        if (si) jsStreamInfo_Destroy(si);
        return st;
      },
      &jerr);
  if (s == NATS_OK) {
    if (created) *created = false;
    return {};
  }
  if (jerr != JSStreamNotFoundErr) return FromNats(s, jerr);
  const char* subjects[] = {topic.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = replicas;
  Retention r = retention ? *retention : Retention{kDefaultRetentionAge, 0, 0};
  cfg.MaxAge = r.max_age.count() > 0 ? Ns(r.max_age) : 0;
  cfg.MaxBytes = r.max_bytes > 0 ? static_cast<int64_t>(r.max_bytes) : -1;
  cfg.MaxMsgs = r.max_messages > 0 ? static_cast<int64_t>(r.max_messages) : -1;
  // Adding a stream again with the same config is answered OK, so a try
  // whose answer was lost after the stream was made is harmless.
  s = RepeatableAdmin(
      [&](jsOptions* o, jsErrCode* e) {
        jsStreamInfo* si = nullptr;
        natsStatus st = js_AddStream(&si, js, &cfg, o, e);
        if (si) jsStreamInfo_Destroy(si);
        return st;
      },
      &jerr);
  if (s == NATS_OK || jerr == JSStreamNameExistErr) {
    if (created) *created = (s == NATS_OK);
    return {};
  }
  return FromNats(s, jerr);
}

}  // namespace herald::client_detail::nats
