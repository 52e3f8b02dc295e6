// make_fuzz_seeds DIR: writes the seed corpora of the fuzz targets into
// DIR/frame, DIR/json and DIR/event (tests/fuzz/corpus is committed; rerun
// this after a protocol or event schema change and commit the result).
//
// Frame seeds use frame_fuzzer's input format: a control byte, the read
// sizes it asks for, then the stream (see frame_fuzzer.cc).

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "broker/storage/record_batch.h"
#include "events.h"
#include "schemas/crc32c.h"
#include "schemas/frame.h"
#include "schemas/record_batch.h"

namespace {

using namespace herald;
using namespace herald::wire;
namespace fs = std::filesystem;

fs::path g_dir;

void Write(const std::string& sub, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_dir / sub);
  std::ofstream out(g_dir / sub / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write %s/%s\n", sub.c_str(), name.c_str());
    std::exit(1);
  }
}

std::string Bytes(const EncodedFrame& f) { return std::string(reinterpret_cast<const char*>(f.data()), f.size()); }

// A frame_fuzzer input: control byte (cuts, initial size, limit), cuts, stream.
std::string Stream(const std::vector<std::string>& frames, std::vector<uint16_t> cuts = {},
                   uint8_t initial_sel = 0, bool small_limit = false) {
  std::string out;
  out.push_back(static_cast<char>((cuts.size() & 3) | (initial_sel & 3) << 2 | (small_limit ? 0x10 : 0)));
  for (std::size_t i = 0; i < cuts.size() && i < 3; ++i) {
    out.push_back(static_cast<char>(cuts[i] & 0xff));
    out.push_back(static_cast<char>(cuts[i] >> 8));
  }
  for (const auto& f : frames) out += f;
  return out;
}

std::string Hello(uint64_t id, uint32_t version = kProtocolVersion) {
  flatbuffers::FlatBufferBuilder fbb;
  auto name = fbb.CreateString("seed-client");
  return Bytes(FinishFrame(fbb, id, CreateHello(fbb, version, name)));
}

std::string Publish(uint64_t id, const std::string& topic, int messages, bool headers, uint64_t producer) {
  batch::StringBuilder b(static_cast<uint32_t>(messages));
  for (int i = 0; i < messages; ++i) {
    const std::string key = "key-" + std::to_string(i);
    const std::string_view key_view = key;
    b.StartRecord(i % 2 ? &key_view : nullptr, headers ? 2 : 0);
    if (headers) {
      b.AddHeader("content-type", "text/plain");
      b.AddHeader("trace", "");
    }
    b.FinishRecord("payload " + std::to_string(i));
  }
  flatbuffers::FlatBufferBuilder fbb;
  auto t = fbb.CreateString(topic);
  auto v = CreateBytes(fbb, b.Finish());
  return Bytes(FinishFrame(fbb, id, CreatePublish(fbb, t, producer, producer ? 1 : 0, v)));
}

// A Publish whose batch header claims `claimed` records (CRC set) and holds one.
std::string OverclaimingPublish(uint64_t id, uint32_t claimed) {
  batch::StringBuilder b(1);
  b.StartRecord(nullptr, 0);
  b.FinishRecord("p");
  std::string bytes = b.Finish();
  for (int i = 0; i < 4; ++i) bytes[batch::kCountOffset + i] = static_cast<char>(claimed >> (8 * i));
  const uint32_t crc = herald::crc32c::Extend(0, bytes.data() + batch::kCrcStart, bytes.size() - batch::kCrcStart);
  for (int i = 0; i < 4; ++i) bytes[batch::kCrcOffset + i] = static_cast<char>(crc >> (8 * i));
  flatbuffers::FlatBufferBuilder fbb;
  auto t = fbb.CreateString("orders");
  auto v = CreateBytes(fbb, bytes);
  return Bytes(FinishFrame(fbb, id, CreatePublish(fbb, t, 0, 0, v)));
}

template <class Make>
std::string Frame(uint64_t id, Make make) {
  flatbuffers::FlatBufferBuilder fbb;
  return Bytes(FinishFrame(fbb, id, make(fbb)));
}

std::string Retained(flatbuffers::FlatBufferBuilder& fbb, bool alter) {
  auto n = fbb.CreateString("orders");
  auto r = CreateRetention(fbb, 86'400'000, 1 << 20, 1000);
  return alter ? Bytes(FinishFrame(fbb, 5, CreateAlterTopic(fbb, n, r)))
               : Bytes(FinishFrame(fbb, 5, CreateCreateTopic(fbb, n, r)));
}

// `offsets.size()` delivered records (key "k", header h=v, payload "hello"), as Deliver and FetchOk carry them.
std::pair<flatbuffers::Offset<flatbuffers::Vector<uint8_t>>, flatbuffers::Offset<flatbuffers::Vector<const DeliveredRecord*>>>
MakeDelivered(flatbuffers::FlatBufferBuilder& fbb, const std::vector<uint64_t>& offsets, uint32_t delivery_count) {
  std::string records;
  std::vector<DeliveredRecord> table;
  for (uint64_t offset : offsets) {
    batch::StringBuilder b(1);
    std::string_view key = "k";
    b.StartRecord(&key, 1);
    b.AddHeader("h", "v");
    b.FinishRecord("hello");
    const std::string one = b.Finish().substr(batch::kHeaderBytes);
    records += one;
    table.emplace_back(offset, 1'700'000'000'000, delivery_count, static_cast<uint32_t>(one.size()));
  }
  auto r = CreateBytes(fbb, records);
  return {r, fbb.CreateVectorOfStructs(table)};
}

flatbuffers::Offset<GroupInfo> MakeGroupInfo(flatbuffers::FlatBufferBuilder& fbb) {
  auto n = fbb.CreateString("billing");
  auto t = fbb.CreateString("orders");
  std::vector<uint32_t> backoff{100, 1000};
  auto b = fbb.CreateVector(backoff);
  return CreateGroupInfo(fbb, n, 10, 1, 2, 12, 0, t, 5, 250, 0, 0, 1, 5, b);
}

flatbuffers::Offset<TopicInfo> MakeTopicInfo(flatbuffers::FlatBufferBuilder& fbb) {
  std::vector<flatbuffers::Offset<GroupInfo>> gs{MakeGroupInfo(fbb)};
  auto g = fbb.CreateVector(gs);
  auto n = fbb.CreateString("orders");
  auto r = CreateRetention(fbb, 0, 0, 100);
  return CreateTopicInfo(fbb, n, 0, 20, g, 20, 4096, r);
}

void FrameSeeds() {
  const std::string hello = Hello(1);
  Write("frame", "hello.bin", Stream({hello}));
  Write("frame", "hello_bad_version.bin", Stream({Hello(1, 99)}));
  Write("frame", "publish_one.bin", Stream({hello, Publish(2, "orders", 1, false, 0)}));
  Write("frame", "publish_batch_headers.bin", Stream({hello, Publish(2, "orders", 4, true, 7)}, {3, 50}, 0));
  Write("frame", "publish_overclaiming_batch.bin", Stream({hello, OverclaimingPublish(2, 60'000)}));
  Write("frame", "publish_bad_topic.bin", Stream({hello, Publish(2, "no/such topic", 1, false, 0)}));
  Write("frame", "create_topic.bin", Stream({hello, [] {
                                                flatbuffers::FlatBufferBuilder fbb;
                                                return Retained(fbb, false);
                                              }()}));
  Write("frame", "alter_topic.bin", Stream({[] {
                                              flatbuffers::FlatBufferBuilder fbb;
                                              return Retained(fbb, true);
                                            }()}));
  auto named = [](auto create) {
    return [create](flatbuffers::FlatBufferBuilder& fbb) { return create(fbb, fbb.CreateString("orders")); };
  };
  Write("frame", "delete_topic.bin",
        Stream({hello, Frame(3, named([](auto& fbb, auto n) { return CreateDeleteTopic(fbb, n); }))}));
  Write("frame", "describe_topic.bin",
        Stream({hello, Frame(3, named([](auto& fbb, auto n) { return CreateDescribeTopic(fbb, n); }))}, {}, 1));
  Write("frame", "purge_topic.bin",
        Stream({hello, Frame(3, named([](auto& fbb, auto n) { return CreatePurgeTopic(fbb, n); }))}));
  Write("frame", "list_topics_status.bin",
        Stream({hello, Frame(4, [](auto& fbb) { return CreateListTopics(fbb); }),
                Frame(5, [](auto& fbb) { return CreateGetStatus(fbb); })},
               {1, 2, 40}, 2));
  auto group_req = [](auto create) {
    return [create](flatbuffers::FlatBufferBuilder& fbb) {
      auto t = fbb.CreateString("orders");
      auto g = fbb.CreateString("billing");
      return create(fbb, t, g);
    };
  };
  Write("frame", "describe_group.bin",
        Stream({hello, Frame(6, group_req([](auto& fbb, auto t, auto g) { return CreateDescribeGroup(fbb, t, g); }))}));
  Write("frame", "delete_group.bin",
        Stream({hello, Frame(6, group_req([](auto& fbb, auto t, auto g) { return CreateDeleteGroup(fbb, t, g); }))}));
  Write("frame", "reset_group.bin",
        Stream({hello, Frame(6, group_req([](auto& fbb, auto t, auto g) {
                  return CreateResetGroup(fbb, t, g, StartFrom::Timestamp, 0, 1'700'000'000'000);
                }))}));
  Write("frame", "fetch.bin", Stream({hello, Frame(7, [](auto& fbb) {
                                        auto t = fbb.CreateString("orders");
                                        return CreateFetch(fbb, t, StartFrom::Offset, 10, 0, 100, 0);
                                      })}));
  Write("frame", "subscribe.bin", Stream({hello, Frame(8, [](auto& fbb) {
                                            auto t = fbb.CreateString("orders");
                                            auto g = fbb.CreateString("billing");
                                            std::vector<uint32_t> backoff{100, 500, 2000};
                                            auto b = fbb.CreateVector(backoff);
                                            return CreateSubscribe(fbb, t, g, StartFrom::Latest, 64, 30000, 0, 0, 5, b);
                                          })}));
  std::vector<uint64_t> offsets{0, 1, 2, 5, 8};
  Write("frame", "ack_nack_extend_unsubscribe.bin",
        Stream({hello, Frame(0, [&](auto& fbb) { return CreateAck(fbb, 1, fbb.CreateVector(offsets)); }),
                Frame(9, [&](auto& fbb) {
                  auto v = fbb.CreateVector(offsets);
                  return CreateNack(fbb, 1, v, 1000, fbb.CreateString("handler failed"));
                }),
                Frame(10, [&](auto& fbb) { return CreateExtendDeadline(fbb, 1, fbb.CreateVector(offsets)); }),
                Frame(11, [](auto& fbb) { return CreateUnsubscribe(fbb, 1); })},
               {17, 100, 3}, 0));
  // Broker to client: what the SDK reads.
  Write("frame", "reply_hello_ok.bin", Stream({Frame(1, [](auto& fbb) {
                                                 auto v = fbb.CreateString("0.1.0");
                                                 return CreateHelloOk(fbb, 1, v, kDefaultMaxFrameBytes, kDefaultMaxPayloadBytes);
                                               })}));
  Write("frame", "reply_error.bin", Stream({Bytes(EncodeError(2, ErrorCode::TopicNotFound, "no topic 'x'")),
                                            Bytes(EncodeOk(3))}));
  Write("frame", "reply_publish_ok.bin", Stream({Frame(2, [](auto& fbb) { return CreatePublishOk(fbb, 100, 4, false); }),
                                                 Frame(3, [](auto& fbb) { return CreateCreateTopicOk(fbb, true); }),
                                                 Frame(4, [](auto& fbb) { return CreateSubscribeOk(fbb, 1); })}));
  Write("frame", "reply_topic_info.bin", Stream({Frame(4, [](auto& fbb) { return MakeTopicInfo(fbb); })}, {}, 3));
  Write("frame", "reply_topic_list.bin", Stream({Frame(4, [](auto& fbb) {
                                                   std::vector<flatbuffers::Offset<TopicInfo>> ts{MakeTopicInfo(fbb), MakeTopicInfo(fbb)};
                                                   return CreateTopicList(fbb, fbb.CreateVector(ts));
                                                 })}));
  Write("frame", "reply_group_info.bin", Stream({Frame(6, [](auto& fbb) { return MakeGroupInfo(fbb); })}));
  Write("frame", "reply_status.bin", Stream({Frame(5, [](auto& fbb) {
                                               auto v = fbb.CreateString("0.1.0");
                                               auto d = fbb.CreateString("/var/lib/herald");
                                               return CreateStatusInfo(fbb, v, 1000, d, 3, 2, 1, 1 << 20);
                                             })}));
  Write("frame", "deliver.bin", Stream({Frame(0, [](auto& fbb) {
                                          auto [records, entries] = MakeDelivered(fbb, {10, 11}, 1);
                                          return CreateDeliver(fbb, 1, records, entries);
                                        })},
                                       {9}, 0));
  Write("frame", "fetch_ok.bin", Stream({Frame(7, [](auto& fbb) {
                                           auto [records, entries] = MakeDelivered(fbb, {3}, 0);
                                           return CreateFetchOk(fbb, 0, 4, 4, records, entries);
                                         })}));
  // Framing errors: an empty frame, a length above the limit, a frame cut short.
  Write("frame", "empty_frame.bin", Stream({hello, std::string(4, '\0')}));
  Write("frame", "too_large.bin", Stream({hello, Publish(2, "orders", 8, true, 0)}, {}, 0, /*small_limit=*/true));
  std::string cut = Publish(2, "orders", 2, false, 0);
  Write("frame", "truncated.bin", Stream({hello, cut.substr(0, cut.size() / 2)}, {5}));
  // A stored record batch (the stream is also parsed as one).
  broker::RecordBatchBuilder b(2, 1'700'000'000'000, 64);
  std::string_view key = "k";
  b.StartRecord(&key, 1);
  b.AddHeader("h", "v");
  b.FinishRecord("one");
  b.StartRecord(nullptr, 0);
  b.FinishRecord("two");
  Write("frame", "stored_batch.bin", std::string(1, '\0') + b.Finish());
}

void JsonSeeds() {
  const std::vector<std::pair<std::string, std::string>> seeds = {
      {"comment.json", R"({"author":"ada","content":"Nice post!"})"},
      {"post.json", R"({"author":"ada","title":"Hello","content":"First post.","post_id":"p-123_x"})"},
      {"unicode.json", R"({"author":"J\u00fcrgen \ud83d\ude00","content":"caf\u00e9 \u0000 nul"})"},
      {"raw_utf8.json", "{\"author\":\"\xc3\xa9t\xc3\xa9\",\"content\":\"\xe2\x82\xac 5\"}"},
      {"invalid_utf8.json", "{\"author\":\"\xc3\x28\",\"content\":\"x\"}"},
      {"extra_fields.json", R"({"author":"a","content":"b","tags":["x",1,2.5,true,null],"meta":{"a":{"b":{}}}})"},
      {"empty_author.json", R"({"author":"","content":"b"})"},
      {"long_author.json", "{\"author\":\"" + std::string(101, 'a') + "\",\"content\":\"b\"}"},
      {"author_number.json", R"({"author":42,"content":"b"})"},
      {"not_object.json", R"(["author","content"])"},
      {"string.json", R"("just a string")"},
      {"empty.json", ""},
      {"whitespace.json", " \n\t "},
      {"truncated.json", R"({"author":"ada","content":"Ni)"},
      {"trailing.json", R"({"author":"ada"} {"x":1})"},
      {"duplicate_keys.json", R"({"author":"a","author":"b","content":"c"})"},
      {"numbers.json", R"({"n":-0.0,"big":1e308,"huge":1e999,"int":18446744073709551616,"neg":-9223372036854775809})"},
      {"deep16.json", std::string(15, '[') + "{" + R"("author":"a")" + "}" + std::string(15, ']')},
      {"deep_object.json", [] {
         std::string s;
         for (int i = 0; i < 20; ++i) s += "{\"a\":";
         s += "1";
         for (int i = 0; i < 20; ++i) s += "}";
         return s;
       }()},
      {"ids.json", R"({"id":"abc-DEF_123","post_id":"../etc/passwd","author":"x","content":"y"})"},
  };
  for (const auto& [name, body] : seeds) Write("json", name, body);
}

void EventSeeds() {
  using namespace herald::services;
  CommentEvent c{"e-1", "c-1", "p-1", "ada", "Nice post!", 1'700'000'000'000};
  Write("event", "comment_created.bin", EncodeCommentCreated(c));
  Write("event", "comment_deleted.bin", EncodeCommentDeleted(c));
  PostEvent p{"e-2", "p-1", "ada", "Hello", 1'700'000'000'000};
  Write("event", "post_created.bin", EncodePostCreated(p));
  CommentEvent empty;
  Write("event", "comment_created_empty.bin", EncodeCommentCreated(empty));
  Write("event", "garbage.bin", "not a flatbuffer at all");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  g_dir = argv[1];
  FrameSeeds();
  JsonSeeds();
  EventSeeds();
  std::printf("seeds written to %s\n", g_dir.c_str());
  return 0;
}
