// broker-bench: runs workloads against a broker and prints a table (or JSON).
//   broker-bench --broker 127.0.0.1:7400 --workload publish --count 1000000 --size 100 --runs 3
//   broker-bench --broker nats://127.0.0.1:4222,127.0.0.1:4223,127.0.0.1:4224 --workload publish
//   broker-bench --workload fsync --dir /var/lib/herald --count 2000   (a floor: no broker)

#include <iostream>

#include <sys/prctl.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "bench.h"
#include "herald/broker_url.h"

using namespace herald::bench;

namespace {

// Which system --broker, --system and --nats-url select, read as the SDK
// reads a broker URL: nats://... in --broker is the NATS system with those
// servers; HOST:PORT or herald://... is Herald's, and NATS (for --system
// nats|both) is then --nats-url. Sets *system and o->nats_servers; returns
// what is wrong, or "".
std::string ResolveSystem(const CLI::Option& system_flag, const CLI::Option& nats_url_flag,
                          const std::string& nats_url, std::string* system, BenchOptions* o) {
  herald::BrokerUrl broker;
  if (herald::ParseBrokerUrl(o->broker, &broker)) {
    return "--broker wants HOST:PORT, herald://HOST:PORT or nats://HOST:PORT[,HOST:PORT...], got '" +
           o->broker + "'";
  }
  if (broker.kind == herald::BackendKind::nats) {
    if (system_flag.count() > 0 && *system != "nats") {
      return "--broker nats://... is the NATS system; for --system " + *system +
             " give Herald's address in --broker and NATS's in --nats-url";
    }
    if (nats_url_flag.count() > 0) return "give the NATS servers once: in --broker or in --nats-url";
    *system = "nats";
    o->nats_servers = broker.servers;
    return {};
  }
  herald::BrokerUrl nats;  // a bare HOST:PORT list is taken as NATS servers here
  std::string url = nats_url.starts_with("nats://") ? nats_url : "nats://" + nats_url;
  if (herald::ParseBrokerUrl(url, &nats)) {
    return "--nats-url wants nats://HOST:PORT[,HOST:PORT...], got '" + nats_url + "'";
  }
  o->nats_servers = nats.servers;
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  // The latency workloads sleep until each message's scheduled send time, and
  // a late wakeup counts as latency of whichever system is measured. Linux lets
  // a sleep end up to 50 us late by default (timer slack); 1 ns keeps the load
  // generator's own error out, for Herald and NATS alike. Threads started later
  // (the clients' I/O threads) inherit it.
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  BenchOptions o;
  std::string workload = "publish";
  int runs = 1;
  bool json = false;
  CLI::App app{"broker-bench: measure a Herald broker"};
  app.add_option("--broker", o.broker,
                 "HOST:PORT or herald://HOST:PORT (Herald), or nats://HOST:PORT[,HOST:PORT...] "
                 "(NATS JetStream: the same as --system nats --nats-url URL)")
      ->capture_default_str();
  app.add_option("--workload", workload,
                 "publish|latency|fanout|backlog|all, or a floor of the machine alone (no broker): "
                 "echo (loopback TCP round trips of --size bytes) or fsync (4 KiB write + fdatasync in --dir)")
      ->check(CLI::IsMember({"publish", "latency", "fanout", "backlog", "all", "echo", "fsync"}))
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
  app.add_option("--dir", o.dir, "fsync: directory for its scratch file (put it on the broker's data file system)")
      ->check(CLI::ExistingDirectory)
      ->capture_default_str();
  std::string system = "herald";
  auto* system_flag =
      app.add_option("--system", system, "herald, nats (JetStream, file storage), or both (alternating runs)")
          ->check(CLI::IsMember({"herald", "nats", "both"}))
          ->capture_default_str();
  std::string nats_url = "nats://127.0.0.1:4222";
  auto* nats_url_flag = app.add_option("--nats-url", nats_url,
                                       "NATS server(s) for --system nats|both: nats://HOST:PORT[,HOST:PORT...]")
                            ->capture_default_str();
  app.add_option("--replicas", o.replicas,
                 "NATS streams' replicas (0: 3 when 3 or more servers are listed, else 1)")
      ->check(CLI::Range(0, 5))
      ->capture_default_str();
  std::string report_from, report_dir;
  app.add_option("--report-from", report_from, "make a report from --json lines in this file (runs nothing)");
  app.add_option("--report-dir", report_dir, "where --report-from writes report.md and its SVG charts");
  CLI11_PARSE(app, argc, argv);
  if (!report_from.empty()) return WriteReport(report_from, report_dir.empty() ? "." : report_dir);
  if (std::string bad = ResolveSystem(*system_flag, *nats_url_flag, nats_url, &system, &o); !bad.empty()) {
    std::cerr << "broker-bench: " << bad << "\n";
    return 2;
  }

  std::vector<std::string> workloads =
      workload == "all" ? std::vector<std::string>{"publish", "latency", "fanout", "backlog"}
                        : std::vector<std::string>{workload};
  const bool floor = workload == "echo" || workload == "fsync";
  // A floor needs no broker, so it runs once whatever --system says.
  std::vector<std::string> systems = floor ? std::vector<std::string>{"floor"}
                                     : system == "both" ? std::vector<std::string>{"herald", "nats"}
                                                        : std::vector<std::string>{system};
  // The fsync floor always writes 4 KiB blocks (a page, the unit the file system writes); the
  // output's size says so.
  if (workload == "fsync") o.size = 4096;
  auto run = [&](const std::string& sys, const std::string& w) {
    if (sys == "floor") return w == "echo" ? RunEchoFloor(o) : RunFsyncFloor(o);
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
        per_system[k].system = systems[k];
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
