#pragma once
// PrometheusText: builds a /metrics body in the Prometheus text exposition
// format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Samples may be added in any order; Take() groups them by family, in the
// order each family was first added, and writes HELP and TYPE once per family
// (the format requires a family's lines to be contiguous). Label values and
// HELP text are escaped here; metric and label names are the caller's and
// must already match [a-zA-Z_:][a-zA-Z0-9_:]* (they are compile-time constants).
//
// Not thread-safe: build one per scrape.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/metrics/histogram.h"

namespace herald::broker::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  // By convention counter names end in _total.
  void Counter(std::string_view name, std::string_view help, double value, const Labels& labels = {});
  void Gauge(std::string_view name, std::string_view help, double value, const Labels& labels = {});
  // Writes name_bucket{...,le="..."} (cumulative, ending with +Inf), name_sum and name_count.
  void Histogram(std::string_view name, std::string_view help, const HistogramSnapshot& snapshot,
                 const Labels& labels = {});

  // The exposition text; the writer is empty afterwards.
  std::string Take();

 private:
  struct Family {
    std::string name;
    std::string header;   // # HELP and # TYPE lines
    std::string samples;
  };
  // REQUIRES: a name is always added with the same type (the first one wins).
  Family& FamilyFor(std::string_view name, std::string_view help, std::string_view type);

  std::vector<Family> families_;  // few per scrape: a linear search is fine
};

// Label value escaping: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);
// Sample values: shortest round-trip decimal, and NaN, +Inf, -Inf.
std::string FormatSampleValue(double value);

}  // namespace herald::broker::metrics
