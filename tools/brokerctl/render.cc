#include "render.h"

#include <cstdio>
#include <iostream>

#include "schemas/units.h"

namespace herald::ctl {

namespace {

std::string AgeText(int64_t age_ms) {
  if (age_ms < 0) return "-";
  // Rounded to a unit people read: "3s", not "3127ms".
  if (age_ms >= 1000) age_ms -= age_ms % 1000;
  return wire::FormatDuration(std::chrono::milliseconds(age_ms));
}

std::string Limit(uint64_t value, const std::string& text) { return value == 0 ? "unlimited" : text; }

}  // namespace

std::string DurationText(std::chrono::milliseconds d) {
  int64_t secs = d.count() / 1000;
  if (secs <= 0) return std::to_string(d.count()) + "ms";
  static constexpr std::pair<const char*, int64_t> kUnits[] = {
      {"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}};
  std::string out;
  for (const auto& [name, factor] : kUnits) {
    if (secs >= factor) {
      out += (out.empty() ? "" : " ") + std::to_string(secs / factor) + name;
      secs %= factor;
    }
  }
  return out;
}

std::string SizeText(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  std::size_t unit = 0;
  for (v /= 1024; v >= 1024 && unit + 1 < std::size(kUnits); v /= 1024) ++unit;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  return buf;
}

Json ToJson(const Retention& r) {
  return {{"max_age_ms", r.max_age.count()},
          {"max_bytes", r.max_bytes},
          {"max_messages", r.max_messages}};
}

Json ToJson(const GroupInfo& g) {
  Json backoff = Json::array();
  for (auto d : g.backoff) backoff.push_back(d.count());
  return {{"topic", g.topic},
          {"name", g.name},
          {"members", g.members},
          {"position", g.ack_floor},
          {"unacked", g.in_flight},
          {"read_cursor", g.read_cursor},
          {"ready", g.ready},
          {"lag", g.lag},
          {"oldest_unacked_age_ms", g.oldest_unacked_age_ms},
          {"skipped", g.skipped},
          {"dead_lettered", g.dead_lettered},
          {"redeliveries", g.redeliveries},
          {"max_deliveries", g.max_deliveries},
          {"backoff_ms", backoff}};
}

Json ToJson(const TopicInfo& t) {
  Json groups = Json::array();
  for (const auto& g : t.groups) groups.push_back(ToJson(g));
  return {{"name", t.name},
          {"earliest_offset", t.earliest_offset},
          {"next_offset", t.next_offset},
          {"message_count", t.message_count},
          {"bytes", t.bytes},
          {"retention", ToJson(t.retention)},
          {"groups", groups}};
}

static int64_t ReloadMs(const BrokerStatus& s) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(s.last_reload.time_since_epoch()).count();
}

Json ToJson(const BrokerStatus& s) {
  return {{"broker_version", s.broker_version},
          {"uptime_ms", s.uptime.count()},
          {"data_dir", s.data_dir},
          {"topics", s.topics},
          {"groups", s.groups},
          {"connections", s.connections},
          {"storage_bytes", s.storage_bytes},
          {"last_reload", wire::FormatRfc3339(ReloadMs(s))},
          {"last_reload_failed", s.last_reload_failed},
          {"last_reload_error", s.last_reload_error}};
}
std::string ReloadText(const BrokerStatus& s) {
  return wire::FormatRfc3339(ReloadMs(s)) +
         (s.last_reload_failed ? " FAILED, the settings before it are in force: " + s.last_reload_error : " ok");
}

std::string RetentionText(const Retention& r) {
  auto age = static_cast<uint64_t>(std::max<int64_t>(r.max_age.count(), 0));
  return "age " + Limit(age, wire::FormatDuration(r.max_age)) + ", bytes " +
         Limit(r.max_bytes, wire::FormatSize(r.max_bytes)) + ", messages " +
         Limit(r.max_messages, std::to_string(r.max_messages));
}

std::string BackoffText(const std::vector<std::chrono::milliseconds>& backoff) {
  std::string s;
  for (auto d : backoff) s += (s.empty() ? "" : ",") + wire::FormatDuration(d);
  return s.empty() ? "-" : s;
}

std::string OffsetRange(uint64_t earliest, uint64_t next) {
  if (next <= earliest) return "empty";
  return std::to_string(earliest) + ".." + std::to_string(next - 1);
}

Table GroupTable(const std::vector<GroupInfo>& groups, bool with_topic) {
  std::vector<Table::Column> columns = {{"GROUP"}, {"MEMBERS", true}, {"POSITION", true}, {"UNACKED", true},
                                        {"LAG", true}, {"OLDEST-UNACKED", true}, {"DEAD-LETTERED", true}};
  if (with_topic) columns.insert(columns.begin(), {"TOPIC"});
  Table table(std::move(columns));
  for (const auto& g : groups) {
    std::vector<std::string> row = {g.name, std::to_string(g.members), std::to_string(g.ack_floor),
                                    std::to_string(g.in_flight), std::to_string(g.lag),
                                    AgeText(g.oldest_unacked_age_ms), std::to_string(g.dead_lettered)};
    if (with_topic) row.insert(row.begin(), g.topic);
    table.Add(std::move(row));
  }
  return table;
}

void PrintGroup(const GroupInfo& g) {
  PrintFields(std::cout, {
      {"topic", g.topic},
      {"group", g.name},
      {"members", std::to_string(g.members)},
      {"position", std::to_string(g.ack_floor) + " (every offset below is acked)"},
      {"read cursor", std::to_string(g.read_cursor)},
      {"unacked", std::to_string(g.in_flight)},
      {"ready", std::to_string(g.ready)},
      {"lag", std::to_string(g.lag)},
      {"oldest unacked", AgeText(g.oldest_unacked_age_ms)},
      {"skipped", std::to_string(g.skipped) + " (removed by retention before acked)"},
      {"dead-lettered", std::to_string(g.dead_lettered)},
      {"redeliveries", std::to_string(g.redeliveries)},
      {"max deliveries", g.max_deliveries == 0 ? "-" : std::to_string(g.max_deliveries)},
      {"backoff", BackoffText(g.backoff)},
  });
}

}  // namespace herald::ctl
