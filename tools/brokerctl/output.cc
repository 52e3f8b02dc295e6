#include "output.h"

#include <algorithm>
#include <iostream>

#include <unistd.h>

#include "brokerctl.h"
#include "herald/broker_url.h"
#include "herald/errors.h"

namespace herald::ctl {

namespace {

// brokerctl runs one command, so one broker per process; empty until Connect.
std::string g_broker;
const bool* g_json = nullptr;

}  // namespace

void NoteBroker(const std::string& broker) { g_broker = broker; }

void NoteJsonFlag(const bool* json) { g_json = json; }

int ReportError(const std::string& message, int exit_code, std::error_code ec) {
  if (g_json != nullptr && *g_json) {
    Json doc = {{"error", message}, {"exit_code", exit_code}};
    if (ec) doc["code"] = ec.value();
    std::cerr << doc.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    std::cerr << "brokerctl: " << message << "\n";
  }
  return exit_code;
}

int ExitCodeFor(std::error_code ec) {
  if (ec == errc::topic_not_found || ec == errc::group_not_found ||
      ec == errc::subscription_not_found) {
    return kNotFound;
  }
  if (ec == errc::invalid_argument || ec == errc::invalid_topic_name ||
      ec == errc::invalid_group_name) {
    return kInvalidArgument;
  }
  if (ec == errc::group_busy) return kConflict;
  if (ec == errc::authentication_failed || ec == errc::not_authorized) return kAuth;
  if (ec == errc::not_connected) return kCannotConnect;
  if (ec == errc::not_supported || ec == errc::backend_not_built) return kNotSupported;
  return kFailed;
}

int Fail(const std::string& what, std::error_code ec) {
  if (ec == errc::not_supported) {
    BrokerUrl url;
    ParseBrokerUrl(g_broker, &url);  // it parsed once already, or the SDK would not have answered
    return ReportError(what + ": not supported on " + BackendName(url.kind) + " (--broker " + g_broker + ")" +
                           (url.kind == BackendKind::nats ? "; only brokerd has it" : ""),
                       kNotSupported, ec);
  }
  return ReportError(what + ": " + ec.message(), ExitCodeFor(ec), ec);
}

int FailOnTopic(const std::string& topic, const std::string& what, std::error_code ec) {
  if (ec == errc::topic_not_found) {
    return ReportError("topic '" + topic + "' not found", kNotFound, ec);
  }
  return Fail(what, ec);
}

int FailOnGroup(const std::string& topic, const std::string& group, const std::string& what,
                std::error_code ec) {
  if (ec == errc::group_not_found) {
    return ReportError("group '" + group + "' not found on topic '" + topic + "'", kNotFound, ec);
  }
  return FailOnTopic(topic, what, ec);
}

int Invalid(const std::string& message) { return ReportError(message, kInvalidArgument); }

int Confirm(const std::string& question, bool yes) {
  if (yes) return kOk;
  if (!::isatty(STDIN_FILENO)) {
    return Invalid(question + " Refused: stdin is not a terminal; pass --yes to confirm.");
  }
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  if (answer == "y" || answer == "Y" || answer == "yes") return kOk;
  std::cerr << "brokerctl: not confirmed; nothing changed\n";
  return kInvalidArgument;
}

void Table::Print(std::ostream& out) const {
  std::vector<std::size_t> width(columns_.size());
  for (std::size_t c = 0; c < columns_.size(); ++c) width[c] = columns_[c].name.size();
  for (const auto& row : rows_)
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], row[c].size());
  auto line = [&](auto cell) {
    std::string s;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      std::string v = cell(c);
      std::string pad(width[c] - std::min(width[c], v.size()), ' ');
      bool last = c + 1 == columns_.size();
      if (c > 0) s += "  ";
      s += columns_[c].right ? pad + v : (last ? v : v + pad);
    }
    out << s << "\n";
  };
  line([&](std::size_t c) { return columns_[c].name; });
  for (const auto& row : rows_) line([&](std::size_t c) { return c < row.size() ? row[c] : ""; });
}

void PrintFields(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& fields) {
  std::size_t width = 0;
  for (const auto& [name, value] : fields) width = std::max(width, name.size() + 1);
  for (const auto& [name, value] : fields) {
    out << name << ":" << std::string(width - name.size() - 1 + 2, ' ') << value << "\n";
  }
}

void PrintJson(const Json& doc) {
  std::cout << doc.dump(2, ' ', false, Json::error_handler_t::replace) << "\n"
            << std::flush;
}

}  // namespace herald::ctl
