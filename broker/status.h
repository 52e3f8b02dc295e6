#pragma once
// The broker's result type: a wire error code plus a message for humans. The
// code travels to the client unchanged in ErrorReply, so choosing it is part
// of the protocol (see schemas/herald.fbs).

#include <string>
#include <utility>

#include "herald_generated.h"

namespace herald::broker {

class Status {
 public:
  Status() = default;
  Status(wire::ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == wire::ErrorCode::Ok; }
  wire::ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  wire::ErrorCode code_ = wire::ErrorCode::Ok;
  std::string message_;
};

}  // namespace herald::broker
