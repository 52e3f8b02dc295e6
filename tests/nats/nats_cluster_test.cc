// The 3-node JetStream cluster the NATS-backend tests run on: an R3 stream
// keeps taking publishes while one node is SIGKILLed, and the node catches up
// after its restart. Uses the libnats C API directly (no SDK).

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nats/nats.h>

#include "tests/support/nats_cluster.h"
#include "tests/support/server_process.h"

namespace herald::test {
namespace {

struct NatsCloser {
  void operator()(natsConnection* nc) const { natsConnection_Destroy(nc); }
  void operator()(jsCtx* js) const { jsCtx_Destroy(js); }
  void operator()(jsStreamInfo* si) const { jsStreamInfo_Destroy(si); }
  void operator()(jsPubAck* pa) const { jsPubAck_Destroy(pa); }
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};
template <class T>
using NatsPtr = std::unique_ptr<T, NatsCloser>;

// Publishes with a message id (so a retry after a lost ack is stored once),
// retrying for up to 20 s while the cluster elects a new stream leader.
// Returns the ack's stream sequence, 0 on failure.
uint64_t PublishWithRetry(jsCtx* js, const std::string& subject, const std::string& payload,
                          const std::string& msg_id) {
  uint64_t seq = 0;
  Eventually(
      [&] {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MsgId = msg_id.c_str();
        po.MaxWait = 2000;
        jsPubAck* raw = nullptr;
        jsErrCode jerr = static_cast<jsErrCode>(0);
        natsStatus s = js_Publish(&raw, js, subject.c_str(), payload.data(),
                                  static_cast<int>(payload.size()), &po, &jerr);
        NatsPtr<jsPubAck> ack(raw);
        if (s != NATS_OK || !ack) return false;
        seq = ack->Sequence;
        return true;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(100));
  return seq;
}

}  // namespace

TEST_CASE("an R3 stream on the test cluster survives a SIGKILLed node", "[nats][cluster]") {
  NatsCluster cluster;
  INFO("url " << cluster.url());

  natsOptions* raw_opts = nullptr;
  REQUIRE(natsOptions_Create(&raw_opts) == NATS_OK);
  NatsPtr<natsOptions> opts(raw_opts);
  // One URL per server: natsOptions_SetURL does not take libnats' comma list.
  std::vector<std::string> urls;
  std::vector<const char*> servers;
  for (int i = 0; i < NatsCluster::kNodes; ++i) urls.push_back(cluster.node_url(i));
  for (const auto& u : urls) servers.push_back(u.c_str());
  REQUIRE(natsOptions_SetServers(opts.get(), servers.data(), static_cast<int>(servers.size())) == NATS_OK);
  REQUIRE(natsOptions_SetMaxReconnect(opts.get(), -1) == NATS_OK);
  REQUIRE(natsOptions_SetReconnectWait(opts.get(), 100) == NATS_OK);
  REQUIRE(natsOptions_SetTimeout(opts.get(), 2000) == NATS_OK);
  natsConnection* raw_nc = nullptr;
  REQUIRE(natsConnection_Connect(&raw_nc, opts.get()) == NATS_OK);
  NatsPtr<natsConnection> nc(raw_nc);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 5000;
  jsCtx* raw_js = nullptr;
  REQUIRE(natsConnection_JetStream(&raw_js, nc.get(), &jo) == NATS_OK);
  NatsPtr<jsCtx> js(raw_js);

  const char* subjects[] = {"herald.cluster.test"};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = "HERALD_CLUSTER_TEST";
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = 3;
  bool created = Eventually(
      [&] {
        jsStreamInfo* si = nullptr;
        jsErrCode jerr = static_cast<jsErrCode>(0);
        natsStatus s = js_AddStream(&si, js.get(), &cfg, nullptr, &jerr);
        NatsPtr<jsStreamInfo> info(si);
        return s == NATS_OK && info && info->Config->Replicas == 3;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(200));
  REQUIRE(created);

  CHECK(PublishWithRetry(js.get(), "herald.cluster.test", "one", "m1") == 1);

  cluster.Kill(0);
  CHECK_FALSE(cluster.running(0));
  CHECK(PublishWithRetry(js.get(), "herald.cluster.test", "two", "m2") == 2);

  cluster.Restart(0);
  CHECK(PublishWithRetry(js.get(), "herald.cluster.test", "three", "m3") == 3);
  // A retry of m3 (say, after a lost ack) is recognised as a duplicate.
  {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = "m3";
    jsPubAck* raw = nullptr;
    REQUIRE(js_Publish(&raw, js.get(), "herald.cluster.test", "three", 5, &po, nullptr) == NATS_OK);
    NatsPtr<jsPubAck> ack(raw);
    CHECK(ack->Duplicate);
    CHECK(ack->Sequence == 3);
  }

  // Every replica, the restarted one included, is current with 3 messages.
  bool caught_up = Eventually(
      [&] {
        jsStreamInfo* si = nullptr;
        if (js_GetStreamInfo(&si, js.get(), "HERALD_CLUSTER_TEST", nullptr, nullptr) != NATS_OK) return false;
        NatsPtr<jsStreamInfo> info(si);
        if (info->State.Msgs != 3 || !info->Cluster || info->Cluster->ReplicasLen != 2) return false;
        for (int i = 0; i < info->Cluster->ReplicasLen; ++i) {
          if (!info->Cluster->Replicas[i]->Current) return false;
        }
        return true;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(200));
  CHECK(caught_up);
}

}  // namespace herald::test
