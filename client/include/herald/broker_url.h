#pragma once
// ClientOptions::broker taken apart: which engine a broker URL selects and
// where it is. The Client does this itself; tools that reach an engine
// without the SDK (broker-bench's JetStream workloads) or that name it in
// messages (brokerctl) use the same parse, so every tool reads a URL alike.
//
//   "HOST:PORT", "herald://HOST:PORT"   -> BackendKind::herald (brokerd)
//   "nats://HOST:PORT[,HOST:PORT...]"   -> BackendKind::nats (NATS JetStream);
//                                          "nats://a:1,nats://b:2" also lists two

#include <string>
#include <system_error>
#include <vector>

namespace herald {

enum class BackendKind { herald, nats };

struct BrokerUrl {
  BackendKind kind = BackendKind::herald;
  // herald: "HOST:PORT" (the scheme removed; checked by the connection).
  std::string address;
  // nats: one "nats://HOST:PORT" per listed server.
  std::vector<std::string> servers;
};

// Splits a broker URL by its scheme. Only "nats://" URLs are checked here (a
// server list that is empty or has an empty entry: errc::invalid_argument);
// anything without a scheme, or with "herald://", is brokerd's.
std::error_code ParseBrokerUrl(const std::string& broker, BrokerUrl* url);

// The engine's name for people: "brokerd" or "NATS JetStream".
const char* BackendName(BackendKind kind);

}  // namespace herald
