#include "broker/metrics/broker_metrics.h"

#include "broker/metrics/process_sample.h"
#include "broker/metrics/prometheus_text.h"
#include "broker/state/broker_context.h"
#include "broker/state/connection_counts.h"
#include "broker/version.h"

namespace herald::broker {

namespace {

// The metrics every Prometheus client library exports for its process.
void RenderProcessMetrics(metrics::PrometheusText& out) {
  auto p = metrics::ReadProcessSample();
  if (!p) return;
  out.Gauge("process_resident_memory_bytes", "Resident memory size in bytes", p->resident_memory_bytes);
  out.Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes", p->virtual_memory_bytes);
  out.Counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds", p->cpu_seconds);
  out.Gauge("process_open_fds", "Number of open file descriptors", p->open_fds);
  out.Gauge("process_max_fds", "Maximum number of open file descriptors", p->max_fds);
  out.Gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds",
            p->start_time_seconds);
}

}  // namespace

std::string RenderBrokerMetrics(BrokerContext& ctx) {
  metrics::PrometheusText out;
  BrokerMetrics* m = ctx.metrics;
  for (const auto& [name, topic] : ctx.registry.topics()) {
    const metrics::Labels labels = {{"topic", name}};
    BrokerMetrics::TopicCounters in;
    if (m != nullptr) {
      if (auto it = m->topics.find(topic->id()); it != m->topics.end()) in = it->second;
    }
    uint64_t out_messages = topic->removed_groups_delivered().messages;
    uint64_t out_bytes = topic->removed_groups_delivered().bytes;
    for (const auto& [group_name, group] : topic->groups()) {
      GroupStats g = group->Stats();
      out_messages += g.delivered;
      out_bytes += g.delivered_bytes;
      const metrics::Labels gl = {{"topic", name}, {"group", group_name}};
      out.Gauge("herald_group_lag_messages", "Messages of the topic the group has not acked", double(g.lag), gl);
      out.Gauge("herald_group_unacked_messages", "Messages handed to members and not acked yet", double(g.in_flight), gl);
      out.Gauge("herald_group_members", "Connected members of the group", double(g.members), gl);
      out.Counter("herald_group_redeliveries_total", "Deliveries after the first", double(g.redeliveries), gl);
      out.Counter("herald_group_dead_letters_total", "Messages moved to the dead-letter topic", double(g.dead_lettered), gl);
      out.Counter("herald_group_skipped_total", "Messages removed by retention before the group acked them", double(g.skipped), gl);
    }
    out.Counter("herald_topic_messages_in_total", "Messages published to the topic since the broker started", double(in.messages_in), labels);
    out.Counter("herald_topic_bytes_in_total", "Stored bytes published to the topic since the broker started", double(in.bytes_in), labels);
    out.Counter("herald_topic_messages_out_total", "Deliveries of the topic's messages, all groups, since the broker started", double(out_messages), labels);
    out.Counter("herald_topic_bytes_out_total", "Payload bytes delivered, all groups, since the broker started", double(out_bytes), labels);
    out.Gauge("herald_topic_messages", "Messages in the topic's log", double(topic->log().end() - topic->log().earliest()), labels);
    if (auto record = ctx.store.FindTopic(topic->id())) {
      out.Gauge("herald_topic_bytes", "Stored bytes of the topic's log", double(record->bytes), labels);
    }
  }
  out.Gauge("herald_connections", "Open client connections", ctx.connections ? double(ctx.connections->OpenSessions()) : 0);
  out.Gauge("herald_pending_connections", "Open connections that have not completed Hello yet",
            ctx.connections ? double(ctx.connections->PendingSessions()) : 0);
  out.Gauge("herald_unacked_bytes", "Payload bytes every group's members hold unacked (--max-unacked-bytes)",
            double(ctx.registry.unacked_budget().used()));
  if (ctx.principals != nullptr) {
    out.Counter("herald_authentication_failures_total", "Connections refused for a missing or unknown token",
                double(m->authentication_failures));
    out.Counter("herald_requests_denied_total", "Requests refused by a principal's ACL (NotAuthorized)",
                double(m->requests_denied));
  }
  out.Gauge("herald_config_last_reload_successful",
            "1 if the last load of the principals and TLS files (start or SIGHUP) took, 0 if it failed",
            ctx.last_reload.failed ? 0 : 1);
  out.Gauge("herald_config_last_reload_timestamp_seconds",
            "Unix time of the last load of the principals and TLS files (start or SIGHUP)",
            std::chrono::duration<double>(ctx.last_reload.at.time_since_epoch()).count());
  out.Gauge("herald_storage_failed",
            "1 after a write or sync of the log failed (not for want of space): publishes are refused until a "
            "restart",
            ctx.store.failed() ? 1.0 : 0.0);
  out.Gauge("herald_storage_bytes", "RocksDB SST files plus write-ahead log", double(ctx.store.StorageBytes()));
  out.Gauge("herald_memtable_bytes", "RocksDB memtables: the ones being written and those waiting for a flush",
            double(ctx.store.MemtableBytes()));
  out.Gauge("herald_uptime_seconds", "Seconds since the broker started",
            std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.started).count());
  out.Gauge("herald_build_info", "Always 1; the labels say which brokerd this is",
            1, {{"version", kBrokerVersion}, {"commit", HERALD_COMMIT}});
  RenderProcessMetrics(out);
  if (m != nullptr) {
    for (std::size_t t = 1; t < m->requests.size(); ++t) {
      const auto type = static_cast<wire::Body>(t);
      // Replies are bodies too; only what a client may send is a request.
      if (!wire::IsRequest(type)) continue;
      out.Counter("herald_requests_total", "Requests read, by type (including refused ones)",
                  double(m->requests[t]), {{"type", wire::EnumNameBody(type)}});
      out.Counter("herald_request_failures_total", "Requests answered with an error, by type (codes: herald_request_errors_total)",
                  double(m->failures[t]), {{"type", wire::EnumNameBody(type)}});
    }
    for (std::size_t c = 1; c < m->errors.size(); ++c) {
      const auto code = static_cast<wire::ErrorCode>(c);
      out.Counter("herald_request_errors_total", "Error replies sent, by error code", double(m->errors[c]),
                  {{"code", wire::EnumNameErrorCode(code)}});
    }
    out.Histogram("herald_publish_to_ack_seconds", "From a Publish read to its PublishOk queued", m->publish_to_ack.Snapshot());
    out.Histogram("herald_fsync_seconds", "Synced group commits to RocksDB", m->fsync.Snapshot());
  }
  return out.Take();
}

}  // namespace herald::broker
