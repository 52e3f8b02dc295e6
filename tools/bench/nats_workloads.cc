// The same four workloads against NATS JetStream (C client, libnats), for a
// side-by-side table: a stream with file storage (3 replicas on a cluster of 3
// or more, see BenchOptions), durable push consumers with explicit acks, async
// publishes with the same in-flight window (synchronous ones for a window of 1,
// as a NATS user publishing one at a time would).

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nats/nats.h>

#include "bench.h"
#include "payload_source.h"
#include "send_schedule.h"

namespace herald::bench {

namespace {

int Replicas(const BenchOptions& o) {
  if (o.replicas > 0) return o.replicas;
  return o.nats_servers.size() >= 3 ? 3 : 1;
}

// Connects to the first of o.nats_servers that answers (libnats tries them in order).
natsStatus ConnectNats(natsConnection** nc, const BenchOptions& o) {
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  std::vector<const char*> servers;
  for (const auto& u : o.nats_servers) servers.push_back(u.c_str());
  if (s == NATS_OK) s = natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetNoRandomize(opts, true);
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, static_cast<int64_t>(o.connect_timeout_s * 1000));
  if (s == NATS_OK) s = natsConnection_Connect(nc, opts);
  natsOptions_Destroy(opts);
  return s;
}

// One connection, a JetStream context and a fresh stream; all removed on exit.
struct Jet {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  std::string stream, subject;
  std::string error;
  std::atomic<uint64_t> publish_errors{0};
  bool keep = false;

  Jet(const BenchOptions& o, const std::string& workload) : keep(o.keep) {
    std::random_device rd;
    std::string suffix = std::to_string(rd() % 1'000'000);
    stream = "BENCH_" + workload + "_" + suffix;
    subject = "bench." + workload + "." + suffix;
    if (ConnectNats(&nc, o) != NATS_OK) {
      error = "cannot connect to " + fmt::format("{}", fmt::join(o.nats_servers, ","));
      return;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = o.window;
    // A full window waits for acks, as Herald's publishers do; libnats' default
    // (200 ms) fails the publish instead, which an R3 stream's slower acks hit.
    jo.PublishAsync.StallWait = static_cast<int64_t>(o.max_seconds * 1000);
    jo.PublishAsync.ErrHandler = [](jsCtx*, jsPubAckErr*, void* self) { ++static_cast<Jet*>(self)->publish_errors; };
    jo.PublishAsync.ErrHandlerClosure = this;
    if (natsConnection_JetStream(&js, nc, &jo) != NATS_OK) {
      error = "no JetStream (start nats-server with -js)";
      return;
    }
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = stream.c_str();
    const char* subjects[] = {subject.c_str()};
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Replicas = Replicas(o);
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_AddStream(&si, js, &sc, nullptr, &jerr) != NATS_OK) error = "cannot add stream";
    jsStreamInfo_Destroy(si);
  }
  ~Jet() {
    if (js && !keep) js_DeleteStream(js, stream.c_str(), nullptr, nullptr);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }

  // Publishes count messages of size bytes with the window of async publishes; waits for every ack.
  // A window of 1 publishes synchronously instead (PublishOneAtATime).
  bool Publish(uint64_t count, std::size_t size, uint32_t window, double max_seconds,
               std::vector<double>* round_trips_us) {
    PayloadSource payloads(size, reinterpret_cast<uintptr_t>(this));  // seeded per producer
    if (window == 1) return PublishOneAtATime(count, payloads, max_seconds, round_trips_us);
    for (uint64_t i = 0; i < count; ++i) {
      const std::string& payload = payloads.Next();
      if (js_PublishAsync(js, subject.c_str(), payload.data(), static_cast<int>(payload.size()), nullptr) != NATS_OK)
        ++publish_errors;
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = static_cast<int64_t>(max_seconds * 1000);
    return js_PublishAsyncComplete(js, &po) == NATS_OK && publish_errors == 0;
  }

  // js_Publish, which returns with the ack, is what a NATS user calls to
  // publish one message at a time. (An async window of 1 instead waits on
  // libnats' stall timer before each next publish.) Appends each acked
  // publish's round trip to *round_trips_us.
  bool PublishOneAtATime(uint64_t count, PayloadSource& payloads, double max_seconds,
                         std::vector<double>* round_trips_us) {
    const auto give_up = Clock::now() + FromSeconds(max_seconds);
    for (uint64_t i = 0; i < count; ++i) {
      if (Clock::now() >= give_up) {
        publish_errors += count - i;
        break;
      }
      const std::string& payload = payloads.Next();
      const auto sent = Clock::now();
      if (js_Publish(nullptr, js, subject.c_str(), payload.data(), static_cast<int>(payload.size()), nullptr,
                     nullptr) != NATS_OK) {
        ++publish_errors;
        continue;
      }
      round_trips_us->push_back(std::chrono::duration<double, std::micro>(Clock::now() - sent).count());
    }
    return publish_errors == 0;
  }
};

// A durable push consumer with explicit acks that counts what it gets.
struct Consumer {
  natsSubscription* sub = nullptr;
  std::mutex mu;
  std::condition_variable cv;
  uint64_t received = 0;
  std::function<void(natsMsg*)> on_msg;

  bool Start(Jet& jet, const std::string& durable, uint32_t window) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = jet.stream.c_str();
    so.Config.Durable = durable.c_str();
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.DeliverPolicy = js_DeliverAll;
    so.Config.MaxAckPending = window;
    so.ManualAck = true;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    return js_Subscribe(&sub, jet.js, jet.subject.c_str(), &Consumer::OnMsg, this, nullptr, &so, &jerr) == NATS_OK;
  }
  static void OnMsg(natsConnection*, natsSubscription*, natsMsg* msg, void* self) {
    auto* c = static_cast<Consumer*>(self);
    if (c->on_msg) c->on_msg(msg);
    natsMsg_Ack(msg, nullptr);
    natsMsg_Destroy(msg);
    std::lock_guard lock(c->mu);
    ++c->received;
    c->cv.notify_all();
  }
  bool WaitFor(uint64_t n, Clock::time_point deadline) {
    std::unique_lock lock(mu);
    return cv.wait_until(lock, deadline, [&] { return received >= n; });
  }
  ~Consumer() {
    if (sub) {
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
    }
  }
};

Clock::time_point Deadline(const BenchOptions& o) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.max_seconds));
}

// Producers 2..n of --producers: connections of their own, publishing to
// jet's stream. Each makes (and removes) a stream of its own that stays unused.
std::vector<std::unique_ptr<Jet>> MoreProducers(const BenchOptions& o, Jet& jet, const std::string& workload,
                                                std::string* error) {
  std::vector<std::unique_ptr<Jet>> more;
  for (uint32_t p = 1; p < o.producers; ++p) {
    auto extra = std::make_unique<Jet>(o, workload);
    extra->subject = jet.subject;
    if (!extra->error.empty()) {
      *error = extra->error;
      return {};
    }
    more.push_back(std::move(extra));
  }
  return more;
}

Jet& ProducerAt(Jet& jet, std::vector<std::unique_ptr<Jet>>& more, std::size_t p) {
  return p == 0 ? jet : *more[p - 1];
}

// Publishes o.count messages split over jet and `more`, each from a thread of
// its own with o.window in flight. False if any publish failed; *errors counts
// them. With a window of 1, appends each publish's round trip to *round_trips_us.
bool PublishFromAll(const BenchOptions& o, Jet& jet, std::vector<std::unique_ptr<Jet>>& more, uint64_t* errors,
                    std::vector<double>* round_trips_us = nullptr) {
  std::atomic<bool> all_ok{true};
  const uint64_t n = more.size() + 1;
  std::vector<std::vector<double>> per_producer(n);
  std::vector<std::thread> threads;
  for (uint64_t p = 0; p < n; ++p) {
    threads.emplace_back([&, p] {
      if (!ProducerAt(jet, more, p).Publish(ShareOf(o.count, n, p), o.size, o.window, o.max_seconds,
                                            &per_producer[p]))
        all_ok = false;
    });
  }
  for (auto& t : threads) t.join();
  if (round_trips_us) {
    for (const auto& v : per_producer) round_trips_us->insert(round_trips_us->end(), v.begin(), v.end());
  }
  *errors = jet.publish_errors;
  for (auto& m : more) *errors += m->publish_errors;
  return all_ok;
}

}  // namespace

RunResult RunNatsPublish(const BenchOptions& o) {
  RunResult r;
  r.workload = "nats publish" + ProducersSuffix(o);
  Jet jet(o, "publish");
  if (!jet.error.empty()) return r.error = jet.error, r;
  auto more = MoreProducers(o, jet, "publish", &r.error);
  if (!r.error.empty()) return r;
  if (o.window == 1) r.latency_kind = kPublishRoundTrip;
  auto start = Clock::now();
  uint64_t errors = 0;
  r.complete = PublishFromAll(o, jet, more, &errors, o.window == 1 ? &r.latencies_us : nullptr);
  r.seconds = Seconds(Clock::now() - start);
  r.messages = o.count - errors;
  if (!r.complete) r.error = "publishes failed or timed out";
  return r;
}

RunResult RunNatsLatency(const BenchOptions& o) {
  RunResult r;
  r.workload = fmt::format("nats latency@{:.0f}", o.rate) + ProducersSuffix(o);
  r.latency_kind = kEndToEndLatency;
  Jet jet(o, "latency");
  if (!jet.error.empty()) return r.error = jet.error, r;
  auto more = MoreProducers(o, jet, "latency", &r.error);
  if (!r.error.empty()) return r;
  const uint64_t total = static_cast<uint64_t>(o.rate * o.duration_s);
  const auto t0 = SendSchedule::StartTime();
  const SendSchedule due(t0, o.rate);
  std::mutex mu;
  std::vector<double> latencies;
  latencies.reserve(total);
  Consumer consumer;
  consumer.on_msg = [&](natsMsg* msg) {
    auto now = Clock::now();
    uint64_t i = 0;
    std::memcpy(&i, natsMsg_GetData(msg), sizeof i);
    std::lock_guard lock(mu);
    latencies.push_back(std::chrono::duration<double, std::micro>(now - due.Due(i)).count());
  };
  if (!consumer.Start(jet, "latency", o.window)) return r.error = "subscribe failed", r;
  const std::size_t n = more.size() + 1;
  std::vector<SendSchedule> schedules(n, SendSchedule(t0, o.rate));
  std::vector<std::thread> threads;
  for (std::size_t p = 0; p < n; ++p) {
    threads.emplace_back([&, p] {
      Jet& producer = ProducerAt(jet, more, p);
      PayloadSource payloads(std::max<std::size_t>(o.size, sizeof(uint64_t)), p + 1);
      for (uint64_t i = p; i < total; i += n) {
        std::string payload = payloads.Next();
        std::memcpy(payload.data(), &i, sizeof i);
        schedules[p].WaitTurn(i);
        js_PublishAsync(producer.js, producer.subject.c_str(), payload.data(), static_cast<int>(payload.size()),
                        nullptr);
      }
    });
  }
  for (auto& t : threads) t.join();
  r.complete = consumer.WaitFor(total, Clock::now() + std::chrono::seconds(30));
  for (auto& sch : schedules) {
    std::vector<double> late = sch.TakeLateness();
    r.send_late_us.insert(r.send_late_us.end(), late.begin(), late.end());
  }
  std::lock_guard lock(mu);
  r.messages = latencies.size();
  r.seconds = o.duration_s;
  r.latencies_us = latencies;
  return r;
}

RunResult RunNatsFanout(const BenchOptions& o) {
  RunResult r;
  r.workload = fmt::format("nats fanout x{}", o.groups) + ProducersSuffix(o);
  Jet jet(o, "fanout");
  if (!jet.error.empty()) return r.error = jet.error, r;
  auto more = MoreProducers(o, jet, "fanout", &r.error);
  if (!r.error.empty()) return r;
  std::vector<std::unique_ptr<Consumer>> consumers;
  for (uint32_t g = 0; g < o.groups; ++g) {
    consumers.push_back(std::make_unique<Consumer>());
    if (!consumers.back()->Start(jet, fmt::format("g{}", g), o.window)) return r.error = "subscribe failed", r;
  }
  auto deadline = Deadline(o);
  auto start = Clock::now();
  uint64_t errors = 0;
  bool all = PublishFromAll(o, jet, more, &errors);
  // A publish that failed is not coming: wait for the rest only.
  const uint64_t expected = o.count - std::min<uint64_t>(o.count, errors);
  for (auto& c : consumers) all = c->WaitFor(expected, deadline) && all;
  r.seconds = Seconds(Clock::now() - start);
  for (auto& c : consumers) {
    std::lock_guard lock(c->mu);
    r.messages += c->received;
  }
  r.complete = all;
  if (!all && errors > 0) r.error = fmt::format("{} publishes failed", errors);
  return r;
}

RunResult RunNatsBacklog(const BenchOptions& o) {
  RunResult r;
  r.workload = "nats backlog" + ProducersSuffix(o);
  Jet jet(o, "backlog");
  if (!jet.error.empty()) return r.error = jet.error, r;
  auto more = MoreProducers(o, jet, "backlog", &r.error);
  if (!r.error.empty()) return r;
  uint64_t errors = 0;
  if (!PublishFromAll(o, jet, more, &errors)) return r.error = "filling the backlog failed", r;
  Consumer consumer;
  auto start = Clock::now();
  if (!consumer.Start(jet, "drain", o.window)) return r.error = "subscribe failed", r;
  r.complete = consumer.WaitFor(o.count, Deadline(o));
  r.seconds = Seconds(Clock::now() - start);
  std::lock_guard lock(consumer.mu);
  r.messages = consumer.received;
  return r;
}

}  // namespace herald::bench
