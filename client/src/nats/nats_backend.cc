// The NATS JetStream backend (backend.h): the SDK's API on a JetStream cluster,
// through libnats. The mapping (also in client/NATS.md):
//
//   topic T              -> stream StreamName(T) with the one subject T, file storage,
//                           3 replicas when the URL lists >= 3 servers (else 1)
//   group G of topic T   -> durable pull consumer StreamName(G) on that stream,
//                           explicit acks, AckWait = ack deadline,
//                           MaxDeliver = max_deliveries + 1 (see dead letters),
//                           BackOff[i] = ack deadline + backoff[i], MaxAckPending = window,
//                           updated when a later Subscribe asks for others (nats_group.h)
//   publish              -> js_PublishMsgAsync with Nats-Msg-Id "<producer id>-<sequence>"
//                           (JetStream's duplicate window, 2 min by default), pipelined
//                           (nats_publisher.h)
//   offset               -> the stream sequence (from 1, not 0 as on brokerd)
//   key                  -> the header Herald-Key
//   ack / nack / extend  -> Ack / Nak or NakWithDelay / InProgress
//   unsubscribe          -> Nak of every delivery not yet settled
//   dead letters         -> TOPIC.dlq (created on first use), with brokerd's
//                           x-herald-dlq-* headers, then Term: on a nack of the
//                           last allowed delivery, and on delivery max_deliveries+1
//                           (the last one's ack deadline passed), before any handler
//                           (a member's side: nats_subscription.h)
//
// Threads: one callback thread runs every publish completion and handler;
// the publisher's sender thread and libnats' PubAck thread (nats_publisher.h);
// one fetch thread per subscription.

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include "backend.h"
#include "nats/nats_core.h"
#include "nats/nats_group.h"
#include "nats/nats_publisher.h"
#include "nats/nats_subscription.h"
#include "plaintext_token.h"
#include "schemas/names.h"

namespace herald::client_detail {

namespace {

using namespace std::chrono_literals;
using namespace herald::client_detail::nats;
using Clock = std::chrono::steady_clock;

// How often a subscription rereads its group's policy (another member may change it).
constexpr std::chrono::milliseconds kPolicyRefresh = 5s;

class NatsBackend final : public Backend {
 public:
  NatsBackend(ClientOptions options, std::vector<std::string> servers)
      : options_(std::move(options)), core_(std::make_shared<Core>()) {
    core_->replicas = servers.size() >= 3 ? 3 : 1;
    std::random_device rd;
    char id[32];
    std::snprintf(id, sizeof id, "%08x%08x", rd(), rd());
    core_->producer_id = id;
    if (options_.token.empty()) {
      if (const char* t = std::getenv("HERALD_TOKEN")) options_.token = t;
    }
    Connect(servers);
    publisher_ = std::make_shared<NatsPublisher>(core_, options_, callbacks_.get());
  }

  ~NatsBackend() override {
    std::map<SubscriptionId, Sub> subs;
    {
      MutexLock lock(mu_);
      subs.swap(subs_);
    }
    for (auto& [id, s] : subs) StopSub(s);
    publisher_->Close();
    callbacks_.reset();  // runs what is queued (the publishes' completions), then joins
  }

  std::error_code WaitConnected(std::chrono::milliseconds timeout) override {
    if (connect_error_) return connect_error_;
    auto deadline = Clock::now() + timeout;
    while (true) {
      if (natsConnection_Status(core_->nc) == NATS_CONN_STATUS_CONNECTED) return {};
      if (Clock::now() >= deadline) return make_error_code(errc::not_connected);
      std::this_thread::sleep_for(10ms);
    }
  }
  std::string Principal() override { return {}; }
  bool OnCallbackThread() const override { return callbacks_->OnThread(); }

  void Publish(const std::string& topic, Message message, PublishCallback done) override {
    std::error_code refused = connect_error_;
    if (!refused && !ValidTopic(topic)) refused = make_error_code(errc::invalid_topic_name);
    if (refused) {
      callbacks_->Post([done = std::move(done), refused] {
        if (done) done(PublishResult{refused});
      });
      return;
    }
    publisher_->Publish(topic, std::move(message), std::move(done));
  }

  std::error_code Flush(std::chrono::milliseconds timeout) override { return publisher_->Flush(timeout); }

  std::error_code Subscribe(const SubscribeOptions& o, MessageHandler handler, SubscriptionId* id) override {
    if (connect_error_) return connect_error_;
    if (!ValidTopic(o.topic)) return make_error_code(errc::invalid_topic_name);
    if (!wire::IsValidName(o.group)) return make_error_code(errc::invalid_group_name);
    std::string stream = StreamName(o.topic);
    std::string durable = StreamName(o.group);
    auto sub = std::make_shared<Subscription>();
    sub->core = core_;
    sub->topic = o.topic;
    sub->group = o.group;
    GroupPolicy policy;
    if (auto ec = EnsureGroup(*core_, o, &policy)) return ec;
    sub->SetPolicy(std::move(policy));

    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Consumer = durable.c_str();
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_PullSubscribe(&sub->sub, core_->js, o.topic.c_str(), durable.c_str(), nullptr, &so, &jerr);
    if (s != NATS_OK) return FromNats(s, jerr);

    SubscriptionId sid;
    auto stop = std::make_shared<std::atomic<bool>>(false);
    {
      MutexLock lock(mu_);
      sid = next_id_++;
      subs_[sid] = Sub{sub, stop, {}};
      subs_[sid].thread = std::thread([this, sub, stop, handler = std::move(handler)] {
        FetchLoop(sub, *stop, handler);
      });
    }
    if (id) *id = sid;
    return {};
  }

  std::error_code Unsubscribe(SubscriptionId id) override {
    Sub s;
    {
      MutexLock lock(mu_);
      auto it = subs_.find(id);
      if (it == subs_.end()) return make_error_code(errc::subscription_not_found);
      s = std::move(it->second);
      subs_.erase(it);
    }
    StopSub(s);
    return {};
  }

  std::error_code CreateTopic(const std::string& name, const Retention* retention, bool* created) override {
    if (auto ec = Blocking()) return ec;
    if (!ValidTopic(name)) return make_error_code(errc::invalid_topic_name);
    return core_->EnsureStream(name, retention, created);
  }

  std::error_code DeleteTopic(const std::string& name) override {
    if (auto ec = Blocking()) return ec;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    return FromNats(js_DeleteStream(core_->js, StreamName(name).c_str(), nullptr, &jerr), jerr);
  }

  // Paged on this side: JetStream's stream list pages by position (offset), not
  // by name, so the names come from one listing (the library fetches all of
  // its pages) and only the page's topics pay for their groups (one request
  // each, the costly part).
  std::error_code ListTopics(const std::string& after, uint32_t limit, TopicPage* page) override {
    if (auto ec = Blocking()) return ec;
    constexpr uint32_t kDefaultPage = 100, kMaxPage = 1'000;  // as brokerd's
    limit = limit == 0 ? kDefaultPage : std::min(limit, kMaxPage);
    jsStreamInfoList* list = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_Streams(&list, core_->js, nullptr, &jerr);
    page->topics.clear();
    page->next.clear();
    if (s == NATS_NOT_FOUND) return {};  // no streams at all
    if (s != NATS_OK) return FromNats(s, jerr);
    std::vector<std::pair<std::string, const jsStreamInfo*>> named;
    for (int i = 0; i < list->Count; ++i) {
      const jsStreamInfo* si = list->List[i];
      // Only the streams this mapping makes: one subject, named StreamName(subject).
      if (!si->Config || si->Config->SubjectsLen != 1) continue;
      std::string topic = si->Config->Subjects[0];
      if (topic <= after || StreamName(topic) != si->Config->Name) continue;
      named.emplace_back(std::move(topic), si);
    }
    std::sort(named.begin(), named.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    if (named.size() > limit) {
      named.resize(limit);
      page->next = named.back().first;
    }
    for (const auto& [topic, si] : named) {
      TopicInfo info;
      FillTopic(topic, *si, &info);
      AddGroups(topic, &info);
      page->topics.push_back(std::move(info));
    }
    jsStreamInfoList_Destroy(list);
    return {};
  }

  std::error_code DescribeTopic(const std::string& name, TopicInfo* info) override {
    if (auto ec = Blocking()) return ec;
    std::string stream = StreamName(name);
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = core_->RepeatableAdmin(
        [&](jsOptions* o, jsErrCode* e) {
          if (si) jsStreamInfo_Destroy(si);
          si = nullptr;
          return js_GetStreamInfo(&si, core_->js, stream.c_str(), o, e);
        },
        &jerr);
    if (s != NATS_OK) {
      if (si) jsStreamInfo_Destroy(si);
      return FromNats(s, jerr);
    }
    *info = TopicInfo{};
    FillTopic(name, *si, info);
    jsStreamInfo_Destroy(si);
    AddGroups(name, info);
    return {};
  }

  std::error_code AlterTopic(const std::string&, const Retention&, TopicInfo*) override {
    return make_error_code(errc::not_supported);
  }

  std::error_code PurgeTopic(const std::string& name, TopicInfo* info) override {
    if (auto ec = Blocking()) return ec;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_PurgeStream(core_->js, StreamName(name).c_str(), nullptr, &jerr);
    if (s != NATS_OK) return FromNats(s, jerr);
    if (info) return DescribeTopic(name, info);
    return {};
  }

  std::error_code DescribeGroup(const std::string& topic, const std::string& group, GroupInfo* info) override {
    if (auto ec = Blocking()) return ec;
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetConsumerInfo(&ci, core_->js, StreamName(topic).c_str(), StreamName(group).c_str(),
                                      nullptr, &jerr);
    if (s == NATS_OK) {
      *info = GroupInfo{};
      FillGroup(topic, *ci, info);
    }
    if (ci) jsConsumerInfo_Destroy(ci);
    return FromNats(s, jerr);
  }

  std::error_code ResetGroup(const std::string&, const std::string&, StartPosition, GroupInfo*) override {
    return make_error_code(errc::not_supported);
  }

  std::error_code DeleteGroup(const std::string& topic, const std::string& group) override {
    if (auto ec = Blocking()) return ec;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    return FromNats(js_DeleteConsumer(core_->js, StreamName(topic).c_str(), StreamName(group).c_str(),
                                      nullptr, &jerr),
                    jerr);
  }

  std::error_code Status(BrokerStatus*) override { return make_error_code(errc::not_supported); }
  std::error_code Fetch(const std::string&, StartPosition, uint32_t, FetchResult*) override {
    return make_error_code(errc::not_supported);
  }

 private:
  struct Sub {
    std::shared_ptr<Subscription> sub;
    std::shared_ptr<std::atomic<bool>> stop;
    std::thread thread;
  };

  std::error_code Blocking() const {
    if (callbacks_->OnThread()) return make_error_code(errc::called_from_callback);
    return connect_error_;
  }

  void Connect(const std::vector<std::string>& servers) {
    if (std::string why; RefusesPlaintextCredentials(servers, &why)) {
      spdlog::error("herald client (nats): {}", why);
      connect_error_ = make_error_code(errc::plaintext_token_refused);
      return;
    }
    natsOptions* opts = nullptr;
    natsStatus s = natsOptions_Create(&opts);
    std::vector<const char*> urls;
    for (const auto& u : servers) urls.push_back(u.c_str());
    if (s == NATS_OK) s = natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
    if (s == NATS_OK) s = natsOptions_SetName(opts, options_.client_name.c_str());
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, std::max<int64_t>(options_.reconnect_backoff_min.count(), 10));
    if (s == NATS_OK) s = natsOptions_SetTimeout(opts, 2000);
    if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(opts, true, nullptr, nullptr);
    if (s == NATS_OK && !options_.token.empty()) s = natsOptions_SetToken(opts, options_.token.c_str());
    if (s == NATS_OK && !options_.tls && !options_.allow_plaintext_token && HasCredentials(servers)) {
      // A cluster advertises its other servers' addresses, which need not be
      // loopback; in clear, the credentials go only to the servers checked.
      s = natsOptions_SetIgnoreDiscoveredServers(opts, true);
    }
    if (s == NATS_OK && options_.tls) {
      s = natsOptions_SetSecure(opts, true);
      if (s == NATS_OK && !options_.tls_ca_file.empty())
        s = natsOptions_LoadCATrustedCertificates(opts, options_.tls_ca_file.c_str());
      if (s == NATS_OK && !options_.tls_server_name.empty())
        s = natsOptions_SetExpectedHostname(opts, options_.tls_server_name.c_str());
    }
    if (s == NATS_OK) {
      s = natsConnection_Connect(&core_->nc, opts);
      if (s == NATS_NOT_YET_CONNECTED) s = NATS_OK;  // connects in the background
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = std::min<int64_t>(options_.request_timeout.count(), 5000);
    core_->admin_wait_ms = options_.request_timeout.count();
    if (s == NATS_OK) s = natsConnection_JetStream(&core_->js, core_->nc, &jo);
    if (opts) natsOptions_Destroy(opts);
    if (s != NATS_OK) {
      spdlog::error("herald client (nats): cannot set up the connection: {}", natsStatus_GetText(s));
      connect_error_ = s == NATS_INVALID_ARG || s == NATS_SSL_ERROR ? make_error_code(errc::invalid_argument)
                                                                     : FromNats(s);
    }
  }

  // A server URL past its scheme, split at the '@' of credentials
  // (nats://TOKEN@HOST or USER:PASS@HOST), which travel as a token does.
  struct ServerUrl {
    bool credentials = false;
    std::string host;
  };
  static ServerUrl ParseServer(std::string_view url) {
    if (auto scheme = url.find("://"); scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
    ServerUrl out;
    if (auto at = url.rfind('@'); at != std::string_view::npos) {
      out.credentials = true;
      url.remove_prefix(at + 1);
    }
    uint16_t port = 0;
    if (!wire::SplitHostPort(url, &out.host, &port)) out.host = std::string(url);  // NATS's default port
    if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
      out.host = out.host.substr(1, out.host.size() - 2);
    }
    return out;
  }

  bool HasCredentials(const std::vector<std::string>& servers) const {
    if (!options_.token.empty()) return true;
    return std::any_of(servers.begin(), servers.end(), [](const auto& u) { return ParseServer(u).credentials; });
  }

  // brokerd's rule (plaintext_token.h), for every listed server.
  bool RefusesPlaintextCredentials(const std::vector<std::string>& servers, std::string* why) const {
    const bool credentials = HasCredentials(servers);
    for (const auto& url : servers) {
      if (RefusesPlaintextTokenTo(options_, credentials, ParseServer(url).host, why)) return true;
    }
    return false;
  }

  void FetchLoop(const std::shared_ptr<Subscription>& sub, const std::atomic<bool>& stop,
                 const MessageHandler& handler) {
    auto looked = Clock::now();
    while (!stop) {
      if (Clock::now() - looked >= kPolicyRefresh) {
        RefreshPolicy(*sub);
        looked = Clock::now();
      }
      GroupPolicy policy = sub->Policy();
      natsMsgList list{};
      natsStatus s = FetchSome(sub->sub, SafeBatch(sub->sub, policy.window), &list);
      if (s != NATS_OK) {
        natsMsgList_Destroy(&list);
        if (s != NATS_TIMEOUT && s != NATS_NOT_FOUND) std::this_thread::sleep_for(100ms);
        continue;
      }
      for (int i = 0; i < list.Count; ++i) {
        natsMsg* msg = list.Msgs[i];
        list.Msgs[i] = nullptr;
        auto m = std::make_shared<ReceivedMessage>();
        m->topic = sub->topic;
        m->group = sub->group;
        jsMsgMetaData* meta = nullptr;
        if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
          m->offset = meta->Sequence.Stream;
          m->delivery_count = static_cast<uint32_t>(meta->NumDelivered);
          m->timestamp_ms = meta->Timestamp / 1000000;
          jsMsgMetaData_Destroy(meta);
        }
        m->headers = ReadHeaders(msg, &m->key);
        if (const char* data = natsMsg_GetData(msg)) {
          m->payload.assign(data, static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
        }
        sub->Delivered(m->offset, natsMsg_GetReply(msg));
        auto state = std::make_shared<NatsDelivery>(sub, msg);
        if (m->delivery_count > policy.max_deliveries) {
          // Delivered max_deliveries times and the last one's deadline passed: as
          // brokerd, the letter counts the deliveries handlers saw, and Expire gives it
          // the last nack reason this member remembers (a JetStream redelivery carries none).
          m->delivery_count = policy.max_deliveries;
          state->Expire(*m);
          continue;
        }
        callbacks_->Post([handler, sub, state, m] {
          if (!sub->closed()) handler(Delivery(state, m));  // else returned to the group already
        });
      }
      natsMsgList_Destroy(&list);
    }
  }

  // Another member may have changed the group's policy (EnsureGroup).
  void RefreshPolicy(Subscription& sub) {
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_GetConsumerInfo(&ci, core_->js, StreamName(sub.topic).c_str(), StreamName(sub.group).c_str(), nullptr,
                           &jerr) == NATS_OK && ci->Config) {
      sub.SetPolicy(GroupPolicy::Of(*ci->Config));
    }
    if (ci) jsConsumerInfo_Destroy(ci);
  }

  void StopSub(Sub& s) {
    *s.stop = true;
    if (s.thread.joinable()) s.thread.join();
    s.sub->ReturnUnsettled();
    if (s.sub->sub) natsSubscription_Unsubscribe(s.sub->sub);
  }

  void FillTopic(const std::string& name, const jsStreamInfo& si, TopicInfo* info) {
    info->name = name;
    info->earliest_offset = si.State.FirstSeq;
    info->next_offset = si.State.LastSeq + 1;
    info->message_count = si.State.Msgs;
    info->bytes = si.State.Bytes;
    if (si.Config) {
      info->retention.max_age = std::chrono::milliseconds(si.Config->MaxAge / 1000000);
      info->retention.max_bytes = si.Config->MaxBytes > 0 ? static_cast<uint64_t>(si.Config->MaxBytes) : 0;
      info->retention.max_messages = si.Config->MaxMsgs > 0 ? static_cast<uint64_t>(si.Config->MaxMsgs) : 0;
    }
  }

  // The topic's groups: its stream's consumers (one request), each as
  // DescribeGroup reports it, by name as brokerd lists them. None when that
  // request fails.
  void AddGroups(const std::string& topic, TopicInfo* info) {
    jsConsumerInfoList* list = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_Consumers(&list, core_->js, StreamName(topic).c_str(), nullptr, &jerr) != NATS_OK) {
      if (list) jsConsumerInfoList_Destroy(list);
      return;
    }
    for (int i = 0; i < list->Count; ++i) {
      GroupInfo g;
      FillGroup(topic, *list->List[i], &g);
      info->groups.push_back(std::move(g));
    }
    jsConsumerInfoList_Destroy(list);
    std::sort(info->groups.begin(), info->groups.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  }

  static void FillGroup(const std::string& topic, const jsConsumerInfo& ci, GroupInfo* g) {
    g->topic = topic;
    g->name = HeraldName(ci.Config && ci.Config->Durable ? ci.Config->Durable : (ci.Name ? ci.Name : ""));
    // brokerd's position: the first offset not yet acked. JetStream's ack floor
    // is the last sequence acked with everything below it acked too (start - 1
    // for a new consumer, 0 for one from the first message; a purge moves it up).
    g->ack_floor = ci.AckFloor.Stream + 1;
    g->in_flight = static_cast<uint32_t>(ci.NumAckPending);
    g->read_cursor = ci.Delivered.Stream + 1;
    g->lag = ci.NumPending + static_cast<uint64_t>(ci.NumAckPending);
    g->redeliveries = static_cast<uint64_t>(ci.NumRedelivered);
    g->members = static_cast<uint32_t>(ci.NumWaiting);
    if (ci.Config) {
      g->max_deliveries = ci.Config->MaxDeliver > 1 ? static_cast<uint32_t>(ci.Config->MaxDeliver - 1) : 0;
      g->backoff = GroupPolicy::Of(*ci.Config).backoff;
    }
  }

  ClientOptions options_;
  std::shared_ptr<Core> core_;
  std::error_code connect_error_;
  std::unique_ptr<CallbackThread> callbacks_ = std::make_unique<CallbackThread>();

  Mutex mu_;
  std::map<SubscriptionId, Sub> subs_ GUARDED_BY(mu_);
  SubscriptionId next_id_ GUARDED_BY(mu_) = 1;

  std::shared_ptr<NatsPublisher> publisher_;
};

}  // namespace

std::unique_ptr<Backend> MakeNatsBackend(ClientOptions options, std::vector<std::string> servers) {
  return std::make_unique<NatsBackend>(std::move(options), std::move(servers));
}

}  // namespace herald::client_detail
