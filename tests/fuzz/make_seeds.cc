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
#include "schemas/frame.h"

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
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<Message>> msgs;
  for (int i = 0; i < messages; ++i) {
    flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<Header>>> hv;
    if (headers) {
      std::vector<flatbuffers::Offset<Header>> hs{
          CreateHeader(fbb, fbb.CreateString("content-type"), CreateBytes(fbb, "text/plain")),
          CreateHeader(fbb, fbb.CreateString("trace"), 0)};
      hv = fbb.CreateVector(hs);
    }
    auto key = i % 2 ? CreateBytes(fbb, "key-" + std::to_string(i)) : 0;
    msgs.push_back(CreateMessage(fbb, key, hv, CreateBytes(fbb, "payload " + std::to_string(i))));
  }
  auto t = fbb.CreateString(topic);
  auto v = fbb.CreateVector(msgs);
  return Bytes(FinishFrame(fbb, id, CreatePublish(fbb, t, producer, producer ? 1 : 0, v)));
}

// A Publish whose messages vector points `references` times at one message
// (and whose headers vector points twice at one header): far more decoded
// than the frame holds.
std::string SharedPublish(uint64_t id, int references, std::size_t payload_bytes) {
  flatbuffers::FlatBufferBuilder fbb;
  auto header = CreateHeader(fbb, fbb.CreateString("h"), CreateBytes(fbb, "v"));
  std::vector<flatbuffers::Offset<Header>> hs{header, header};
  auto message = CreateMessage(fbb, 0, fbb.CreateVector(hs), CreateBytes(fbb, std::string(payload_bytes, 'p')));
  std::vector<flatbuffers::Offset<Message>> msgs(references, message);
  auto t = fbb.CreateString("orders");
  auto v = fbb.CreateVector(msgs);
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

flatbuffers::Offset<Delivery> MakeDelivery(flatbuffers::FlatBufferBuilder& fbb, uint64_t offset) {
  std::vector<flatbuffers::Offset<Header>> hs{CreateHeader(fbb, fbb.CreateString("h"), CreateBytes(fbb, "v"))};
  auto hv = fbb.CreateVector(hs);
  return CreateDelivery(fbb, offset, 1'700'000'000'000, 1, CreateBytes(fbb, "k"), hv, CreateBytes(fbb, "hello"));
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
  Write("frame", "publish_shared_messages.bin", Stream({hello, SharedPublish(2, 300, 16 << 10)}));
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
                                          std::vector<flatbuffers::Offset<Delivery>> ds{MakeDelivery(fbb, 10), MakeDelivery(fbb, 11)};
                                          return CreateDeliver(fbb, 1, fbb.CreateVector(ds));
                                        })},
                                       {9}, 0));
  Write("frame", "fetch_ok.bin", Stream({Frame(7, [](auto& fbb) {
                                           std::vector<flatbuffers::Offset<Delivery>> ds{MakeDelivery(fbb, 3)};
                                           auto v = fbb.CreateVector(ds);
                                           return CreateFetchOk(fbb, 0, 4, 4, v);
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
