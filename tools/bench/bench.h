#pragma once
// broker-bench: workloads against a running broker, measured from the client.
// Timings live here only, never in tests.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "stats.h"

namespace herald::bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
inline Clock::duration FromSeconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

struct BenchOptions {
  std::string broker = "127.0.0.1:7400";  // Herald: HOST:PORT or herald://HOST:PORT
  uint64_t count = 100'000;     // messages per run
  std::size_t size = 100;       // payload bytes
  uint32_t window = 10'000;     // max unacked publishes per producer
  uint32_t producers = 1;
  uint32_t groups = 4;          // fanout
  double rate = 10'000;         // latency: messages per second
  double duration_s = 10;       // latency: seconds
  double max_seconds = 300;     // a run that takes longer is abandoned
  double connect_timeout_s = 5;
  bool keep = false;            // keep the bench topics
  // NATS (--system nats|both): one nats://HOST:PORT per server (connected
  // as a server list), and the streams' replicas; 0: 3 with 3 or more
  // servers, else 1, as the SDK maps a topic (client/NATS.md).
  std::vector<std::string> nats_servers{"nats://127.0.0.1:4222"};
  int replicas = 0;
  std::string dir = ".";        // fsync floor: where its scratch file goes (the broker's file system)
};

// Producer p's share when `count` messages are split over `parts` producers.
inline uint64_t ShareOf(uint64_t count, uint64_t parts, uint64_t p) {
  return count / parts + (p < count % parts ? 1 : 0);
}

// Appended to a workload's name when it runs with more than one producer.
inline std::string ProducersSuffix(const BenchOptions& o) {
  return o.producers > 1 ? " from " + std::to_string(o.producers) + " producers" : "";
}

// One consumer group of the fanout workload.
struct GroupResult {
  std::string name;
  uint64_t delivered = 0;
  double seconds = 0;  // from the first publish to this group's last delivery
  double msgs_per_s() const { return seconds > 0 ? static_cast<double>(delivered) / seconds : 0; }
};

// What a run's latencies measure; the report puts each kind in its own rows.
inline constexpr const char* kEndToEndLatency = "end to end";            // latency: schedule to delivery
inline constexpr const char* kPublishRoundTrip = "publish round trip";   // one-at-a-time: Publish to its ack
inline constexpr const char* kEchoRoundTrip = "echo round trip";         // floor: send to the echo's last byte
inline constexpr const char* kWriteSyncLatency = "write + fdatasync";    // floor: one durable 4 KiB overwrite

struct RunResult {
  std::string workload;
  uint64_t messages = 0;        // published, or delivered (fanout: over all groups)
  double seconds = 0;
  std::string latency_kind;          // what latencies_us holds: one of the kinds above
  std::vector<double> latencies_us;
  std::vector<double> send_late_us;  // latency: how late each scheduled send woke (send_schedule.h)
  std::vector<GroupResult> groups;   // fanout only
  double acked_seconds = 0;          // fanout: until the broker shows every group fully acked
  bool complete = true;         // false if max_seconds ran out
  std::string error;

  double msgs_per_s() const { return seconds > 0 ? static_cast<double>(messages) / seconds : 0; }
};

// Ends a run timed per iteration (a floor): its messages are its samples;
// it is complete if all `wanted` came in without an error.
inline void FinishTimedRun(RunResult& r, uint64_t wanted, const char* what) {
  r.messages = r.latencies_us.size();
  r.complete = r.error.empty() && r.messages == wanted;
  if (r.error.empty() && !r.complete) {
    r.error = std::to_string(r.messages) + " of " + std::to_string(wanted) + " " + what + " within --max-seconds";
  }
}

// The runs of one workload on one system.
struct Summary {
  std::string system;  // herald, nats, or floor (the machine alone: no broker)
  std::string workload;
  std::vector<RunResult> runs;
};

// print.cc: a readable table (medians over runs), or one JSON object per run.
void PrintTable(const std::vector<Summary>& all, const BenchOptions& o);
void PrintJson(const std::vector<Summary>& all, const BenchOptions& o);

RunResult RunPublish(const BenchOptions& o);
RunResult RunLatency(const BenchOptions& o);
RunResult RunFanout(const BenchOptions& o);
RunResult RunBacklog(const BenchOptions& o);
// The same workloads against NATS JetStream (nats_workloads.cc).
RunResult RunNatsPublish(const BenchOptions& o);
RunResult RunNatsLatency(const BenchOptions& o);
RunResult RunNatsFanout(const BenchOptions& o);
RunResult RunNatsBacklog(const BenchOptions& o);
// What the machine alone takes, the floors Herald's latencies are measured
// against (echo_floor.cc, fsync_floor.cc).
RunResult RunEchoFloor(const BenchOptions& o);
RunResult RunFsyncFloor(const BenchOptions& o);

// Reads --json lines of runs and writes report.md, throughput.svg and
// latency.svg into out_dir: medians, spread and Herald/NATS ratios. Returns
// a process exit code.
int WriteReport(const std::string& jsonl_path, const std::string& out_dir);

}  // namespace herald::bench
