#include "nats/nats_core.h"

#include <spdlog/spdlog.h>

#include "schemas/names.h"

namespace herald::client_detail::nats {

namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kDefaultRetentionAge = 7 * 24h;

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
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CallbackThread::Post(std::function<void()> f) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(f));
  }
  cv_.notify_all();
}

void CallbackThread::Run() {
  id_ = std::this_thread::get_id();
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_, and everything queued has run
    auto f = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    try {
      f();
    } catch (const std::exception& e) {
      spdlog::error("herald client (nats): a callback threw: {}", e.what());
    }
    lock.lock();
  }
}

Core::~Core() {
  if (js) jsCtx_Destroy(js);
  if (nc) natsConnection_Destroy(nc);
}

std::error_code Core::EnsureStream(const std::string& topic, const Retention* retention, bool* created) {
  std::string name = StreamName(topic);
  jsOptions admin;
  jsOptions_Init(&admin);
  admin.Wait = admin_wait_ms;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js, name.c_str(), &admin, &jerr);
  if (si) jsStreamInfo_Destroy(si);
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
  jerr = static_cast<jsErrCode>(0);
  s = js_AddStream(&si, js, &cfg, &admin, &jerr);
  if (si) jsStreamInfo_Destroy(si);
  if (s == NATS_OK || jerr == JSStreamNameExistErr) {
    if (created) *created = (s == NATS_OK);
    return {};
  }
  return FromNats(s, jerr);
}

}  // namespace herald::client_detail::nats
