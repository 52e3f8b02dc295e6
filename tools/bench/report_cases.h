#pragma once
// The runs report.cc reads back from --json lines, grouped by case and system,
// and the report's sections that compare Herald with the machine's floors
// (report_floors.cc).

#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace herald::bench {

// One system's runs of one case: a value per run.
struct Samples {
  std::string latency_kind;  // from the first run; "" in lines older than the field
  int producers = 1;
  std::vector<double> rate, p50, p99, p999, max;
  std::vector<double> send_late_p99;  // the bench's own lateness (send_schedule.h)
};

// case -> system (herald, nats, floor) -> samples, and the cases in the order first seen.
struct Cases {
  std::map<std::string, std::map<std::string, Samples>> by_case;
  std::vector<std::string> order;
};

// "1234 µs (1200–1300)": the median, then the lowest and highest run.
std::string Spread(const std::vector<double>& v, const char* unit);

// The "Floors" section: the floor workloads' latencies, and Herald's as multiples of them.
void WriteFloors(std::ostream& md, const Cases& cases);

// The "Targets (issue 22)" section: each target, Herald's value, the limit
// computed from this run's floors, and whether it was met.
void WriteTargets(std::ostream& md, const Cases& cases);

}  // namespace herald::bench
