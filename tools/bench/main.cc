// broker-bench: runs workloads against a broker and prints a table (or JSON).
//   broker-bench --broker 127.0.0.1:7400 --workload publish --count 1000000 --size 100 --runs 3

#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "bench.h"

using namespace herald::bench;

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
  app.add_option("--connect-timeout", o.connect_timeout_s, "seconds to wait for the broker")->capture_default_str();
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
