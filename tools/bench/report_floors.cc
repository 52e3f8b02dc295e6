// The report's sections that put Herald's latencies beside what the machine
// alone takes: a loopback TCP round trip (echo) and a durable 4 KiB write
// (fsync), both measured in the same run as the broker workloads, so a noisy
// machine moves the floors and the results together.

#include <optional>

#include <fmt/format.h>

#include "bench.h"
#include "report_cases.h"

namespace herald::bench {

namespace {

// compare.sh appends this to the cases it runs against its --fsync interval
// brokerd; every other Herald case ran with --fsync always.
constexpr const char* kIntervalMarker = "Herald fsync interval";

struct Floors {
  const Samples* echo = nullptr;
  const Samples* fsync = nullptr;
  std::string echo_case, fsync_case;
};

Floors FindFloors(const Cases& cases) {
  Floors f;
  for (const auto& c : cases.order) {
    auto it = cases.by_case.at(c).find("floor");
    if (it == cases.by_case.at(c).end()) continue;
    if (it->second.latency_kind == kEchoRoundTrip && !f.echo) f.echo = &it->second, f.echo_case = c;
    if (it->second.latency_kind == kWriteSyncLatency && !f.fsync) f.fsync = &it->second, f.fsync_case = c;
  }
  return f;
}

std::optional<double> MedianOf(const Samples* s, std::vector<double> Samples::*field) {
  if (!s || (s->*field).empty()) return std::nullopt;
  return Median(s->*field);
}

// The first one-producer Herald case with latencies of this kind, run against
// the --fsync interval brokerd or not.
const Samples* FindHerald(const Cases& cases, const char* kind, bool interval, std::string* name) {
  for (const auto& c : cases.order) {
    if ((c.find(kIntervalMarker) != std::string::npos) != interval) continue;
    auto it = cases.by_case.at(c).find("herald");
    if (it == cases.by_case.at(c).end()) continue;
    const Samples& s = it->second;
    if (s.latency_kind == kind && s.producers == 1 && !s.p50.empty()) {
      *name = c;
      return &s;
    }
  }
  return nullptr;
}

std::string Us(std::optional<double> v) { return v ? fmt::format("{:.0f} µs", *v) : "not measured"; }

std::string Ratio(std::optional<double> num, std::optional<double> den) {
  return num && den && *den > 0 ? fmt::format("{:.1f}x", *num / *den) : "–";
}

// One row of the targets table: met when the value is at most the limit.
void TargetRow(std::ostream& md, const std::string& target, const std::string& case_name, std::optional<double> value,
               const std::string& formula, std::optional<double> limit) {
  std::string verdict = value && limit ? (*value <= *limit ? "met" : "**not met**") : "not measured";
  md << fmt::format("| {} | {} | {} | {} = {} | {} |\n", target, case_name.empty() ? "–" : case_name, Us(value),
                    formula, Us(limit), verdict);
}

}  // namespace

void WriteFloors(std::ostream& md, const Cases& cases) {
  const Floors f = FindFloors(cases);
  if (!f.echo && !f.fsync) return;
  md << "\n## Floors (this machine alone, no broker; measured in this run)\n"
     << "| floor | p50 | p99 | p99.9 | max |\n|---|---|---|---|---|\n";
  for (auto [name, s] : {std::pair{f.echo_case, f.echo}, std::pair{f.fsync_case, f.fsync}}) {
    if (!s) continue;
    md << fmt::format("| {} ({}) | {} | {} | {} | {} |\n", name, s->latency_kind, Spread(s->p50, "µs"),
                      Spread(s->p99, "µs"), Spread(s->p999, "µs"), Spread(s->max, "µs"));
  }
  md << "\n- echo: a loopback TCP round trip of the message size, one blocking thread per side, TCP_NODELAY:\n"
        "  the least any broker's round trip over TCP can take here.\n"
        "- fsync: a 4 KiB pwrite + fdatasync over blocks of a file that were already written and synced, on the\n"
        "  brokers' data file system. Overwriting existing blocks needs no file size or extent update, so\n"
        "  fdatasync writes only the data and flushes the device's cache: the cheapest durable write here\n"
        "  (appending would also commit a journal transaction per sync).\n";

  const auto echo50 = MedianOf(f.echo, &Samples::p50), echo99 = MedianOf(f.echo, &Samples::p99);
  const auto sync50 = MedianOf(f.fsync, &Samples::p50);
  md << "\nHerald's latencies as multiples of the floors (medians over runs):\n\n"
     << "| case | latencies | p50 / echo p50 | p99 / echo p99 | p50 / fdatasync p50 |\n|---|---|---|---|---|\n";
  for (const auto& c : cases.order) {
    auto it = cases.by_case.at(c).find("herald");
    if (it == cases.by_case.at(c).end() || it->second.p50.empty()) continue;
    const Samples& h = it->second;
    // Only a broker that syncs before each ack has an fdatasync in every message's latency.
    const bool syncs_each = c.find(kIntervalMarker) == std::string::npos;
    md << fmt::format("| {} | {} | {} | {} | {} |\n", c, h.latency_kind, Ratio(Median(h.p50), echo50),
                      Ratio(Median(h.p99), echo99), syncs_each ? Ratio(Median(h.p50), sync50) : "–");
  }
}

void WriteTargets(std::ostream& md, const Cases& cases) {
  const Floors f = FindFloors(cases);
  const auto echo50 = MedianOf(f.echo, &Samples::p50), echo99 = MedianOf(f.echo, &Samples::p99);
  const auto sync50 = MedianOf(f.fsync, &Samples::p50);
  auto times = [](double k, std::optional<double> v) { return v ? std::optional(k * *v) : std::nullopt; };
  auto plus = [](std::optional<double> a, std::optional<double> b) {
    return a && b ? std::optional(*a + *b) : std::nullopt;
  };

  md << "\n## Targets (issue 22)\nLimits computed from this run's floors (medians over runs); Herald's values are "
        "medians over runs too.\n\n"
     << "| target | case | Herald | limit | result |\n|---|---|---|---|---|\n";
  std::string name;
  const Samples* s = FindHerald(cases, kPublishRoundTrip, true, &name);
  TargetRow(md, "one-at-a-time publish, `--fsync interval`: round trip p50", name, MedianOf(s, &Samples::p50),
            "1.5 × echo p50", times(1.5, echo50));
  name.clear();
  s = FindHerald(cases, kPublishRoundTrip, false, &name);
  TargetRow(md, "one-at-a-time publish, `--fsync always`: round trip p50", name, MedianOf(s, &Samples::p50),
            "echo p50 + 1.3 × fdatasync p50", plus(echo50, times(1.3, sync50)));
  name.clear();
  s = FindHerald(cases, kEndToEndLatency, true, &name);
  TargetRow(md, "end to end, `--fsync interval`: p50", name, MedianOf(s, &Samples::p50), "2 × echo p50",
            times(2, echo50));
  TargetRow(md, "end to end, `--fsync interval`: p99", name, MedianOf(s, &Samples::p99), "6 × echo p99",
            times(6, echo99));
  name.clear();
  s = FindHerald(cases, kEndToEndLatency, false, &name);
  TargetRow(md, "end to end, `--fsync always`: p50", name, MedianOf(s, &Samples::p50),
            "echo p50 + 1.5 × fdatasync p50", plus(echo50, times(1.5, sync50)));
  // No limit for this one: on a shared VM a sync loop makes every thread wake
  // late (flush-steal), so the p99 is read beside how late the bench itself sent.
  md << fmt::format("| end to end, `--fsync always`: p99 | {} | {} | none; the bench's own send lateness p99: {} | "
                    "reported |\n",
                    name.empty() ? "–" : name, Us(MedianOf(s, &Samples::p99)),
                    Us(MedianOf(s, &Samples::send_late_p99)));
  md << "\nThe end-to-end targets are set for 10,000 msg/s; the case column says the rate this run used.\n";
}

}  // namespace herald::bench
