#include "broker/metrics/prometheus_text.h"

#include <cmath>

#include <fmt/format.h>

namespace herald::broker::metrics {

namespace {

// HELP text escapes only backslash and newline (quotes stay as they are).
std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// {a="x",b="y"} plus an optional extra label (le for histogram buckets); nothing without labels.
void AppendLabels(std::string& out, const Labels& labels, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  auto add = [&](std::string_view name, std::string_view value) {
    if (!first) out += ',';
    first = false;
    out.append(name);
    out += "=\"";
    out += EscapeLabelValue(value);
    out += '"';
  };
  for (const auto& [name, value] : labels) add(name, value);
  if (!extra_name.empty()) add(extra_name, extra_value);
  out += '}';
}

void AppendSample(std::string& out, std::string_view name, std::string_view suffix, const Labels& labels,
                  double value, std::string_view extra_name = {}, std::string_view extra_value = {}) {
  out.append(name);
  out.append(suffix);
  AppendLabels(out, labels, extra_name, extra_value);
  out += ' ';
  out += FormatSampleValue(value);
  out += '\n';
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

PrometheusText::Family& PrometheusText::FamilyFor(std::string_view name, std::string_view help,
                                                  std::string_view type) {
  for (auto& f : families_)
    if (f.name == name) return f;
  Family& f = families_.emplace_back();
  f.name = std::string(name);
  f.header = fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, EscapeHelp(help), name, type);
  return f;
}

void PrometheusText::Counter(std::string_view name, std::string_view help, double value,
                             const Labels& labels) {
  AppendSample(FamilyFor(name, help, "counter").samples, name, "", labels, value);
}

void PrometheusText::Gauge(std::string_view name, std::string_view help, double value,
                           const Labels& labels) {
  AppendSample(FamilyFor(name, help, "gauge").samples, name, "", labels, value);
}

void PrometheusText::Histogram(std::string_view name, std::string_view help,
                               const HistogramSnapshot& snapshot, const Labels& labels) {
  std::string& out = FamilyFor(name, help, "histogram").samples;
  uint64_t cumulative = 0;
  for (std::size_t i = 0; i < snapshot.upper_bounds.size(); ++i) {
    if (i < snapshot.counts.size()) cumulative += snapshot.counts[i];
    AppendSample(out, name, "_bucket", labels, static_cast<double>(cumulative), "le",
                 FormatSampleValue(snapshot.upper_bounds[i]));
  }
  // +Inf must equal _count; the snapshot's count is the sum of all its buckets.
  AppendSample(out, name, "_bucket", labels, static_cast<double>(snapshot.count), "le", "+Inf");
  AppendSample(out, name, "_sum", labels, snapshot.sum);
  AppendSample(out, name, "_count", labels, static_cast<double>(snapshot.count));
}

std::string PrometheusText::Take() {
  std::string out;
  for (const auto& f : families_) {
    out += f.header;
    out += f.samples;
  }
  families_.clear();
  return out;
}

}  // namespace herald::broker::metrics
