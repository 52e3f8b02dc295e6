// The side-by-side report: medians with their spread over runs, the ratio of
// Herald to NATS for each case, two SVG charts, and Herald beside the
// machine's floors (report_floors.cc).

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench.h"
#include "report_cases.h"

namespace herald::bench {

std::string Spread(const std::vector<double>& v, const char* unit) {
  if (v.empty()) return "–";
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return fmt::format("{:.0f} {} ({:.0f}–{:.0f})", Median(v), unit, *lo, *hi);
}

namespace {

// Horizontal bars, one group per label, one bar per series.
std::string BarChart(const std::string& title, const std::vector<std::string>& labels,
                     const std::vector<std::pair<std::string, std::vector<double>>>& series, const std::string& unit) {
  const char* colors[] = {"#2b6cb0", "#dd6b20", "#38a169", "#805ad5"};
  double top = 1;
  for (const auto& [name, values] : series)
    for (double v : values) top = std::max(top, v);
  const int bar = 16, gap = 14, left = 220, width = 460;
  int height = 40 + static_cast<int>(labels.size()) * (static_cast<int>(series.size()) * bar + gap) + 30;
  std::string svg = fmt::format(
      "<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' font-family='sans-serif' font-size='12'>"
      "<text x='10' y='20' font-size='14' font-weight='bold'>{}</text>",
      left + width + 120, height, title);
  int y = 36;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    svg += fmt::format("<text x='10' y='{}'>{}</text>", y + bar, labels[i]);
    for (std::size_t s = 0; s < series.size(); ++s) {
      double v = i < series[s].second.size() ? series[s].second[i] : 0;
      int w = static_cast<int>(v / top * width);
      svg += fmt::format("<rect x='{}' y='{}' width='{}' height='{}' fill='{}'/>"
                         "<text x='{}' y='{}'>{:.0f} {}</text>",
                         left, y, std::max(w, 1), bar - 2, colors[s % 4], left + w + 4, y + bar - 4, v, unit);
      y += bar;
    }
    y += gap;
  }
  int lx = 10;
  for (std::size_t s = 0; s < series.size(); ++s) {
    svg += fmt::format("<rect x='{}' y='{}' width='12' height='12' fill='{}'/><text x='{}' y='{}'>{}</text>", lx,
                       height - 20, colors[s % 4], lx + 16, height - 10, series[s].first);
    lx += 120;
  }
  return svg + "</svg>\n";
}

}  // namespace

int WriteReport(const std::string& jsonl_path, const std::string& out_dir) {
  std::ifstream in(jsonl_path);
  if (!in) {
    std::cerr << "broker-bench: cannot read " << jsonl_path << "\n";
    return 1;
  }
  Cases all;
  auto& cases = all.by_case;
  auto& order = all.order;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("case")) continue;
    std::string c = j["case"], sys = j["system"];
    if (!cases.count(c)) order.push_back(c);
    const bool first = !cases[c].count(sys);
    Samples& s = cases[c][sys];
    if (first) {
      // Lines from before the "latencies" field had latencies from the latency workload only.
      s.latency_kind = j.value("latencies", j["p50_us"].get<double>() > 0 ? kEndToEndLatency : "");
      s.producers = j.value("producers", 1);
    }
    s.rate.push_back(j["msgs_per_s"]);
    if (j["p50_us"].get<double>() > 0) {
      s.p50.push_back(j["p50_us"]);
      s.p99.push_back(j["p99_us"]);
      s.p999.push_back(j["p999_us"]);
      s.max.push_back(j["max_us"]);
    }
    if (j.contains("send_late_p99_us")) s.send_late_p99.push_back(j["send_late_p99_us"]);
  }
  std::filesystem::create_directories(out_dir);
  std::ofstream md(out_dir + "/report.md");
  md << "# Herald vs NATS JetStream\n\nMedians over the runs, (min–max) after each; ratio = Herald / NATS "
        "for throughput, NATS / Herald for latency (above 1: Herald is better).\n\n"
     << "| case | Herald | NATS | ratio |\n|---|---|---|---|\n";
  std::vector<std::string> rate_labels, lat_labels;
  std::vector<double> herald_rate, nats_rate;
  std::vector<std::pair<std::string, std::vector<double>>> lat_series;
  for (const auto& c : order) {
    if (cases[c].count("floor")) continue;  // in the Floors section
    const Samples& h = cases[c]["herald"];
    const Samples& n = cases[c]["nats"];
    const bool round_trips = h.latency_kind == kPublishRoundTrip || n.latency_kind == kPublishRoundTrip;
    if (!round_trips && (!h.p99.empty() || !n.p99.empty())) {
      for (auto [name, hv, nv] : {std::tuple{"p50", &h.p50, &n.p50}, std::tuple{"p99", &h.p99, &n.p99},
                                  std::tuple{"p99.9", &h.p999, &n.p999}, std::tuple{"max", &h.max, &n.max}}) {
        double ratio = hv->empty() || nv->empty() ? 0 : Median(*nv) / Median(*hv);
        md << fmt::format("| {} {} | {} | {} | {:.2f} |\n", c, name, Spread(*hv, "µs"), Spread(*nv, "µs"), ratio);
        lat_labels.push_back(c + " " + name);
        if (lat_series.empty()) lat_series = {{"Herald", {}}, {"NATS", {}}};
        lat_series[0].second.push_back(hv->empty() ? 0 : Median(*hv));
        lat_series[1].second.push_back(nv->empty() ? 0 : Median(*nv));
      }
      // Not a result of either system: how late the bench itself sent, which
      // the latencies above include. High values mean a noisy machine.
      if (!h.send_late_p99.empty() || !n.send_late_p99.empty()) {
        md << fmt::format("| {} bench's own send lateness p99 | {} | {} | – |\n", c, Spread(h.send_late_p99, "µs"),
                          Spread(n.send_late_p99, "µs"));
      }
      continue;
    }
    double ratio = h.rate.empty() || n.rate.empty() ? 0 : Median(h.rate) / Median(n.rate);
    md << fmt::format("| {} | {} | {} | {:.2f} |\n", c, Spread(h.rate, "msg/s"), Spread(n.rate, "msg/s"), ratio);
    rate_labels.push_back(c);
    herald_rate.push_back(h.rate.empty() ? 0 : Median(h.rate));
    nats_rate.push_back(n.rate.empty() ? 0 : Median(n.rate));
    if (!round_trips) continue;
    // One at a time: each publish's round trip, from the same runs as the rate above.
    for (auto [name, hv, nv] :
         {std::tuple{"round trip p50", &h.p50, &n.p50}, std::tuple{"round trip p99", &h.p99, &n.p99}}) {
      double latency_ratio = hv->empty() || nv->empty() ? 0 : Median(*nv) / Median(*hv);
      md << fmt::format("| {} {} | {} | {} | {:.2f} |\n", c, name, Spread(*hv, "µs"), Spread(*nv, "µs"),
                        latency_ratio);
    }
  }
  md << "\n![throughput](throughput.svg)\n\n![latency](latency.svg)\n";
  WriteFloors(md, all);
  WriteTargets(md, all);
  std::ofstream(out_dir + "/throughput.svg")
      << BarChart("Throughput (msg/s, median)", rate_labels, {{"Herald", herald_rate}, {"NATS", nats_rate}}, "");
  std::ofstream(out_dir + "/latency.svg") << BarChart("End-to-end latency (µs, median)", lat_labels, lat_series, "µs");
  std::cout << "wrote " << out_dir << "/report.md\n";
  return 0;
}

}  // namespace herald::bench
