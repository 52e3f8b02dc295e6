// broker-bench: runs workloads against a broker and prints a table (or JSON).
//   broker-bench --broker 127.0.0.1:7400 --workload publish --count 1000000 --size 100 --runs 3

#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "bench.h"

using namespace herald::bench;

namespace {

struct Summary {
  std::string workload;
  std::vector<RunResult> runs;
};

void PrintTable(const std::vector<Summary>& all, const BenchOptions& o) {
  fmt::print("{:<16} {:>9} {:>6} {:>5} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10}\n", "workload",
             "messages", "size", "runs", "msgs/s", "MB/s", "p50 us", "p99 us", "p99.9 us", "max us");
  for (const auto& s : all) {
    std::vector<double> rates, p50, p99, p999, pmax;
    uint64_t messages = 0;
    for (const auto& r : s.runs) {
      rates.push_back(r.msgs_per_s());
      messages = r.messages;
      if (!r.latencies_us.empty()) {
        auto sorted = r.latencies_us;
        std::sort(sorted.begin(), sorted.end());
        p50.push_back(Percentile(sorted, 50));
        p99.push_back(Percentile(sorted, 99));
        p999.push_back(Percentile(sorted, 99.9));
        pmax.push_back(sorted.back());
      }
    }
    double rate = Median(rates);
    auto lat = [&](const std::vector<double>& v) {
      return v.empty() ? std::string("-") : fmt::format("{:.0f}", Median(v));
    };
    fmt::print("{:<16} {:>9} {:>6} {:>5} {:>12.0f} {:>10.1f} {:>10} {:>10} {:>10} {:>10}\n", s.workload,
               messages, o.size, s.runs.size(), rate, rate * static_cast<double>(o.size) / 1e6,
               lat(p50), lat(p99), lat(p999), lat(pmax));
    for (const auto& r : s.runs)
      if (!r.error.empty() || !r.complete)
        fmt::print("  ! {}: {}\n", s.workload, r.error.empty() ? "incomplete" : r.error);
  }
  fmt::print("(medians over runs; msgs/s of fanout counts deliveries over all groups)\n");
}

void PrintJson(const std::vector<Summary>& all, const BenchOptions& o) {
  for (const auto& s : all) {
    for (const auto& r : s.runs) {
      auto sorted = r.latencies_us;
      std::sort(sorted.begin(), sorted.end());
      // "system" and "case" let a report pair the same workload on both systems.
      bool nats = s.workload.starts_with("nats ");
      std::string name = nats ? s.workload.substr(5) : s.workload;
      fmt::print("{{\"system\":\"{}\",\"case\":\"{} {}B{}\",", nats ? "nats" : "herald", name, o.size,
                 o.window == 1 ? " one-at-a-time" : "");
      fmt::print(
          "\"workload\":\"{}\",\"messages\":{},\"size\":{},\"window\":{},\"producers\":{},"
          "\"seconds\":{:.6f},\"msgs_per_s\":{:.1f},\"mb_per_s\":{:.3f},\"complete\":{},"
          "\"p50_us\":{:.1f},\"p99_us\":{:.1f},\"p999_us\":{:.1f},\"max_us\":{:.1f},\"error\":\"{}\"}}\n",
          s.workload, r.messages, o.size, o.window, o.producers, r.seconds, r.msgs_per_s(),
          r.msgs_per_s() * static_cast<double>(o.size) / 1e6, r.complete ? "true" : "false",
          Percentile(sorted, 50), Percentile(sorted, 99), Percentile(sorted, 99.9),
          sorted.empty() ? 0.0 : sorted.back(), r.error);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions o;
  std::string workload = "publish";
  int runs = 1;
  bool json = false;
  CLI::App app{"broker-bench: measure a Herald broker"};
  app.add_option("--broker", o.broker, "HOST:PORT")->capture_default_str();
  app.add_option("--workload", workload, "publish|latency|fanout|backlog|all")
      ->check(CLI::IsMember({"publish", "latency", "fanout", "backlog", "all"}))
      ->capture_default_str();
  app.add_option("--count", o.count, "messages per run")->capture_default_str();
  app.add_option("--size", o.size, "payload bytes")->capture_default_str();
  app.add_option("--window", o.window, "max unacked publishes per producer")->capture_default_str();
  app.add_option("--producers", o.producers, "parallel producer clients")->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  app.add_option("--groups", o.groups, "fanout: consumer groups")->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  app.add_option("--rate", o.rate, "latency: msgs/s")->capture_default_str();
  app.add_option("--duration", o.duration_s, "latency: seconds")->capture_default_str();
  app.add_option("--runs", runs, "repetitions (the table shows medians)")->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--max-seconds", o.max_seconds, "abandon a run after this long")->capture_default_str();
  app.add_flag("--json", json, "one JSON object per run");
  app.add_flag("--keep", o.keep, "keep the bench topics");
  std::string system = "herald";
  app.add_option("--system", system, "herald, nats (JetStream, file storage), or both (alternating runs)")
      ->check(CLI::IsMember({"herald", "nats", "both"}))
      ->capture_default_str();
  app.add_option("--nats-url", o.nats_url, "NATS server for --system nats|both")->capture_default_str();
  std::string report_from, report_dir;
  app.add_option("--report-from", report_from, "make a report from --json lines in this file (runs nothing)");
  app.add_option("--report-dir", report_dir, "where --report-from writes report.md and its SVG charts");
  CLI11_PARSE(app, argc, argv);
  if (!report_from.empty()) return WriteReport(report_from, report_dir.empty() ? "." : report_dir);

  std::vector<std::string> workloads =
      workload == "all" ? std::vector<std::string>{"publish", "latency", "fanout", "backlog"}
                        : std::vector<std::string>{workload};
  std::vector<std::string> systems =
      system == "both" ? std::vector<std::string>{"herald", "nats"} : std::vector<std::string>{system};
  auto run = [&](const std::string& sys, const std::string& w) {
    if (sys == "nats") {
      return w == "publish" ? RunNatsPublish(o) : w == "latency" ? RunNatsLatency(o)
                            : w == "fanout" ? RunNatsFanout(o) : RunNatsBacklog(o);
    }
    return w == "publish" ? RunPublish(o) : w == "latency" ? RunLatency(o)
                          : w == "fanout" ? RunFanout(o) : RunBacklog(o);
  };
  std::vector<Summary> all;
  bool ok = true;
  for (const auto& w : workloads) {
    std::vector<Summary> per_system(systems.size());
    // Runs alternate between the systems, so slow phases of a shared machine hit both.
    for (int i = 0; i < runs; ++i) {
      for (std::size_t k = 0; k < systems.size(); ++k) {
        RunResult r = run(systems[k], w);
        per_system[k].workload = r.workload;
        ok = ok && r.complete && r.error.empty();
        per_system[k].runs.push_back(std::move(r));
      }
    }
    for (auto& s : per_system) all.push_back(std::move(s));
  }
  if (json) {
    PrintJson(all, o);
  } else {
    PrintTable(all, o);
  }
  return ok ? 0 : 1;
}
