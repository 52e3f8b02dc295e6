// HeraldBackend's admin requests: one blocking request/reply each, through
// Impl::Call. Topics, groups, broker status and group-less reads (Fetch).

#include "herald_backend.h"
#include "wire_convert.h"

namespace herald::client_detail {

namespace {

std::error_code Unexpected() { return make_error_code(errc::protocol_violation); }

// Reply readers shared by the requests that answer with the same table.
auto ReadTopicInfo(TopicInfo* info) {
  return [info](const wire::Frame& reply) {
    const auto* t = reply.body_as_TopicInfo();
    if (!t) return Unexpected();
    if (info) FillTopicInfo(*t, info);
    return std::error_code();
  };
}

auto ReadGroupInfo(GroupInfo* info) {
  return [info](const wire::Frame& reply) {
    const auto* g = reply.body_as_GroupInfo();
    if (!g) return Unexpected();
    if (info) FillGroupInfo(*g, info);
    return std::error_code();
  };
}

std::error_code ReadOk(const wire::Frame& reply) {
  return reply.body_as_Ok() ? std::error_code() : Unexpected();
}

}  // namespace

std::error_code HeraldBackend::CreateTopic(const std::string& name, const Retention* retention,
                                           bool* created) {
  return Call(
      [&](uint64_t id) {
        flatbuffers::FlatBufferBuilder fbb(96 + name.size());
        auto n = fbb.CreateString(name);
        if (retention == nullptr) {  // no Retention table: the broker applies its default
          return wire::FinishFrame(fbb, id, wire::CreateCreateTopic(fbb, n));
        }
        auto r = CreateRetention(fbb, *retention);
        return wire::FinishFrame(fbb, id, wire::CreateCreateTopic(fbb, n, r));
      },
      [&](const wire::Frame& reply) {
        const auto* ok = reply.body_as_CreateTopicOk();
        if (!ok) return Unexpected();
        if (created) *created = ok->created();
        return std::error_code();
      });
}

std::error_code HeraldBackend::DeleteTopic(const std::string& name) {
  return Call(
      [&](uint64_t id) {
        flatbuffers::FlatBufferBuilder fbb(64 + name.size());
        auto n = fbb.CreateString(name);
        return wire::FinishFrame(fbb, id, wire::CreateDeleteTopic(fbb, n));
      },
      ReadOk);
}

std::error_code HeraldBackend::ListTopics(const std::string& after, uint32_t limit,
                                          TopicPage* page) {
  return Call(
      [&](uint64_t id) {
        flatbuffers::FlatBufferBuilder fbb(64 + after.size());
        auto a = fbb.CreateString(after);
        return wire::FinishFrame(fbb, id, wire::CreateListTopics(fbb, a, limit));
      },
      [&](const wire::Frame& reply) {
        const auto* list = reply.body_as_TopicList();
        if (!list) return Unexpected();
        page->topics.clear();
        if (list->topics()) {
          for (const wire::TopicInfo* t : *list->topics()) {
            if (t == nullptr) continue;
            FillTopicInfo(*t, &page->topics.emplace_back());
          }
        }
        page->next = list->next() ? list->next()->str() : std::string();
        return std::error_code();
      });
}

std::error_code HeraldBackend::DescribeTopic(const std::string& name, TopicInfo* info) {
  return Call(
      [&](uint64_t id) {
        flatbuffers::FlatBufferBuilder fbb(64 + name.size());
        auto n = fbb.CreateString(name);
        return wire::FinishFrame(fbb, id, wire::CreateDescribeTopic(fbb, n));
      },
      ReadTopicInfo(info));
}

std::error_code HeraldBackend::AlterTopic(const std::string& name, const Retention& retention,
                                   TopicInfo* info) {
  return Call(
      [&](uint64_t id) {
        flatbuffers::FlatBufferBuilder fbb(96 + name.size());
        auto n = fbb.CreateString(name);
        auto r = CreateRetention(fbb, retention);
        return wire::FinishFrame(fbb, id, wire::CreateAlterTopic(fbb, n, r));
      },
      ReadTopicInfo(info));
}

std::error_code HeraldBackend::PurgeTopic(const std::string& name, TopicInfo* info) {
  return Call(
      [&](uint64_t id) {
        flatbuffers::FlatBufferBuilder fbb(64 + name.size());
        auto n = fbb.CreateString(name);
        return wire::FinishFrame(fbb, id, wire::CreatePurgeTopic(fbb, n));
      },
      ReadTopicInfo(info));
}

std::error_code HeraldBackend::DescribeGroup(const std::string& topic, const std::string& group,
                                      GroupInfo* info) {
  return Call(
      [&](uint64_t id) {
        flatbuffers::FlatBufferBuilder fbb(64 + topic.size() + group.size());
        auto t = fbb.CreateString(topic);
        auto g = fbb.CreateString(group);
        return wire::FinishFrame(fbb, id, wire::CreateDescribeGroup(fbb, t, g));
      },
      ReadGroupInfo(info));
}

std::error_code HeraldBackend::ResetGroup(const std::string& topic, const std::string& group,
                                   StartPosition to, GroupInfo* info) {
  return Call(
      [&](uint64_t id) {
        flatbuffers::FlatBufferBuilder fbb(96 + topic.size() + group.size());
        auto t = fbb.CreateString(topic);
        auto g = fbb.CreateString(group);
        return wire::FinishFrame(
            fbb, id, wire::CreateResetGroup(fbb, t, g, ToWire(to.from), to.offset, to.timestamp_ms));
      },
      ReadGroupInfo(info));
}

std::error_code HeraldBackend::DeleteGroup(const std::string& topic, const std::string& group) {
  return Call(
      [&](uint64_t id) {
        flatbuffers::FlatBufferBuilder fbb(64 + topic.size() + group.size());
        auto t = fbb.CreateString(topic);
        auto g = fbb.CreateString(group);
        return wire::FinishFrame(fbb, id, wire::CreateDeleteGroup(fbb, t, g));
      },
      ReadOk);
}

std::error_code HeraldBackend::Status(BrokerStatus* status) {
  return Call(
      [&](uint64_t id) {
        flatbuffers::FlatBufferBuilder fbb(64);
        return wire::FinishFrame(fbb, id, wire::CreateGetStatus(fbb));
      },
      [&](const wire::Frame& reply) {
        const auto* s = reply.body_as_StatusInfo();
        if (!s) return Unexpected();
        status->broker_version = s->broker_version() ? s->broker_version()->str() : "";
        status->uptime = std::chrono::milliseconds(static_cast<int64_t>(s->uptime_ms()));
        status->data_dir = s->data_dir() ? s->data_dir()->str() : "";
        status->topics = s->topics();
        status->groups = s->groups();
        status->connections = s->connections();
        status->storage_bytes = s->storage_bytes();
        status->last_reload = std::chrono::system_clock::time_point(
            std::chrono::milliseconds(s->last_reload_ms()));
        status->last_reload_failed = s->last_reload_failed();
        status->last_reload_error = s->last_reload_error() ? s->last_reload_error()->str() : "";
        return std::error_code();
      });
}

std::error_code HeraldBackend::Fetch(const std::string& topic, StartPosition from, uint32_t max_messages,
                              FetchResult* result) {
  return Call(
      [&](uint64_t id) {
        flatbuffers::FlatBufferBuilder fbb(96 + topic.size());
        auto t = fbb.CreateString(topic);
        return wire::FinishFrame(fbb, id,
                                 wire::CreateFetch(fbb, t, ToWire(from.from), from.offset,
                                                   from.timestamp_ms, max_messages, /*max_bytes=*/0));
      },
      [&](const wire::Frame& reply) {
        const auto* ok = reply.body_as_FetchOk();
        if (!ok) return Unexpected();
        result->earliest_offset = ok->earliest_offset();
        result->end_offset = ok->end_offset();
        result->next_offset = ok->next_offset();
        result->messages.clear();
        // The messages view a copy of the topic name and the records: the
        // reply's buffer is the connection's, reused by the next frame.
        const std::string_view records = wire::AsStringView(ok->records());
        auto owned = std::make_shared<std::string>();
        owned->reserve(topic.size() + records.size());
        owned->append(topic).append(records);
        std::shared_ptr<const std::string> bytes = std::move(owned);
        const std::string_view topic_name(bytes->data(), topic.size());
        const char* copy = bytes->data() + topic.size();
        const auto* base = reinterpret_cast<const char*>(ok->records() ? ok->records()->data() : nullptr);
        if (ok->entries()) result->messages.reserve(ok->entries()->size());
        ReceivedMessage scratch;
        bool whole = ForEachDelivered(ok->records(), ok->entries(), &scratch, [&](ReceivedMessage& m) {
          ReceivedMessage& out = result->messages.emplace_back(m);
          out.topic = topic_name;
          // Re-point each view from the reply into the copy.
          auto moved = [&](std::string_view v) {
            return v.data() == nullptr ? v : std::string_view(copy + (v.data() - base), v.size());
          };
          if (out.key) out.key = moved(*out.key);
          for (auto& h : out.headers) h = {moved(h.name), moved(h.value)};
          out.payload = moved(out.payload);
        });
        result->bytes = std::move(bytes);
        if (!whole) return make_error_code(errc::protocol_violation);
        return std::error_code();
      });
}

}  // namespace herald::client_detail
