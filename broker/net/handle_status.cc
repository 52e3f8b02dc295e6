// GetStatus: what `brokerctl status` shows.

#include "broker/net/handler_support.h"
#include "broker/net/listener.h"
#include "broker/net/request_handler.h"
#include "broker/net/session.h"
#include "broker/version.h"

namespace herald::broker {

void HandleGetStatus(Session& session, BrokerContext& ctx, uint64_t request_id) {
  // Status covers the whole broker: with auth on, it is for admins of everything.
  if (!Authorize(session, request_id, Permission::kAdmin, "*", "status")) return;
  auto uptime = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - ctx.started);
  flatbuffers::FlatBufferBuilder fbb(256);
  auto version = fbb.CreateString(kBrokerVersion);
  auto data_dir = fbb.CreateString(ctx.config.data_dir);
  auto reload_error = fbb.CreateString(ctx.last_reload.error);
  auto reload_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      ctx.last_reload.at.time_since_epoch());
  session.Send(wire::FinishFrame(
      fbb, request_id,
      wire::CreateStatusInfo(fbb, version, static_cast<uint64_t>(uptime.count()), data_dir,
                             static_cast<uint32_t>(ctx.registry.topics().size()),
                             static_cast<uint32_t>(ctx.registry.group_count()),
                             ctx.connections ? ctx.connections->OpenSessions() : 0,
                             ctx.store.StorageBytes(), static_cast<int64_t>(reload_ms.count()),
                             ctx.last_reload.failed, reload_error)));
}

}  // namespace herald::broker
