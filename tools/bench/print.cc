// broker-bench output: a readable table, or one JSON object per run.

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "bench.h"

namespace herald::bench {

namespace {

std::string Cell(const std::vector<double>& v, const char* spec = "{:.0f}") {
  return v.empty() ? std::string("-") : fmt::format(fmt::runtime(spec), Median(v));
}

// The case name says the window when it is not the default, so that runs
// with other windows are reported as cases of their own.
std::string WindowLabel(const BenchOptions& o) {
  if (o.window == 1) return " one-at-a-time";
  if (o.window == BenchOptions{}.window) return "";
  return fmt::format(" window {}", o.window);
}

}  // namespace

void PrintTable(const std::vector<Summary>& all, const BenchOptions& o) {
  fmt::print("{:<30} {:>9} {:>6} {:>4} {:>9} {:>11} {:>8} {:>9} {:>9} {:>9} {:>9}\n", "workload", "messages",
             "size", "runs", "seconds", "msgs/s", "MB/s", "p50 us", "p99 us", "p99.9 us", "max us");
  for (const auto& s : all) {
    std::vector<double> secs, rates, p50, p99, p999, pmax, late50, late99;
    uint64_t messages = 0;
    for (const auto& r : s.runs) {
      secs.push_back(r.seconds);
      rates.push_back(r.msgs_per_s());
      messages = r.messages;
      if (!r.latencies_us.empty()) {
        LatencySummary l = Summarize(r.latencies_us);
        p50.push_back(l.p50);
        p99.push_back(l.p99);
        p999.push_back(l.p999);
        pmax.push_back(l.max);
      }
      if (!r.send_late_us.empty()) {
        LatencySummary late = Summarize(r.send_late_us);
        late50.push_back(late.p50);
        late99.push_back(late.p99);
      }
    }
    double rate = Median(rates);
    fmt::print("{:<30} {:>9} {:>6} {:>4} {:>9.3f} {:>11.0f} {:>8.1f} {:>9} {:>9} {:>9} {:>9}\n", s.workload,
               messages, o.size, s.runs.size(), Median(secs), rate, rate * static_cast<double>(o.size) / 1e6,
               Cell(p50), Cell(p99), Cell(p999), Cell(pmax));
    if (!late99.empty()) {
      fmt::print("  the bench's own sends woke late by p50 {} us, p99 {} us (included above)\n", Cell(late50),
                 Cell(late99));
    }
    for (std::size_t i = 0; i < s.runs.size(); ++i) {
      const RunResult& r = s.runs[i];
      std::string run = s.runs.size() > 1 ? fmt::format("run {}: ", i + 1) : "";
      if (!r.groups.empty()) {
        std::string groups;
        for (const auto& g : r.groups) groups += fmt::format(" {} {:.0f}/s", g.name, g.msgs_per_s());
        fmt::print("  {}per group:{}; all acked after {:.3f} s\n", run, groups, r.acked_seconds);
      }
      if (!r.error.empty() || !r.complete) fmt::print("  ! {}{}\n", run, r.error.empty() ? "incomplete" : r.error);
    }
  }
  fmt::print("(medians over runs; seconds: first publish to last ack (publish), last delivery (fanout, backlog),\n"
             " or the send schedule (latency); fanout msgs/s counts deliveries over all groups;\n"
             " latency = receive time - scheduled send time; with --window 1, publish latency = Publish to ack;\n"
             " echo, fsync: one round trip, one write + fdatasync)\n");
}

void PrintJson(const std::vector<Summary>& all, const BenchOptions& o) {
  for (const auto& s : all) {
    for (const auto& r : s.runs) {
      LatencySummary l = Summarize(r.latencies_us);
      // "system" and "case" let a report pair the same workload on both systems.
      bool nats = s.workload.starts_with("nats ");
      std::string name = nats ? s.workload.substr(5) : s.workload;
      nlohmann::ordered_json j;
      j["system"] = s.system;
      j["case"] = fmt::format("{} {}B{}", name, o.size, WindowLabel(o));
      j["workload"] = s.workload;
      j["messages"] = r.messages;
      j["size"] = o.size;
      j["window"] = o.window;
      j["producers"] = o.producers;
      j["seconds"] = r.seconds;
      j["msgs_per_s"] = r.msgs_per_s();
      j["mb_per_s"] = r.msgs_per_s() * static_cast<double>(o.size) / 1e6;
      j["complete"] = r.complete;
      j["latencies"] = r.latency_kind;
      j["p50_us"] = l.p50;
      j["p99_us"] = l.p99;
      j["p999_us"] = l.p999;
      j["max_us"] = l.max;
      if (!r.send_late_us.empty()) {
        LatencySummary late = Summarize(r.send_late_us);
        j["send_late_p50_us"] = late.p50;
        j["send_late_p99_us"] = late.p99;
      }
      if (!r.groups.empty()) {
        j["acked_seconds"] = r.acked_seconds;
        auto& groups = j["groups"] = nlohmann::ordered_json::array();
        for (const auto& g : r.groups) {
          groups.push_back({{"name", g.name}, {"delivered", g.delivered}, {"seconds", g.seconds},
                            {"msgs_per_s", g.msgs_per_s()}});
        }
      }
      j["error"] = r.error;
      fmt::print("{}\n", j.dump());
    }
  }
}

}  // namespace herald::bench
