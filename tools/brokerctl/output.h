#pragma once
// How brokerctl talks to its user: errors on stderr with an exit code, tables
// and "field: value" blocks for people, one JSON document for --json.

#include <iosfwd>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace herald::ctl {

// Keys in the order written (not sorted), so a document reads like the table.
using Json = nlohmann::ordered_json;

// The exit code an SDK error stands for (see ExitCode).
int ExitCodeFor(std::error_code ec);

// The broker this run talks to (Connect calls it): a request its engine
// cannot do (errc::not_supported) is reported naming that engine.
void NoteBroker(const std::string& broker);

// Where --json was parsed into (main sets it before parsing): errors are then
// JSON too.
void NoteJsonFlag(const bool* json);

// Writes an error on stderr and returns `exit_code`. For a person:
// "brokerctl: <message>". With --json, one line {"error": <message>,
// "exit_code": X} plus "code": N, the wire or SDK error code, when `ec` is set:
// scripts branch on codes, people read the message (codes mean nothing to
// them and differ from the exit code).
int ReportError(const std::string& message, int exit_code, std::error_code ec = {});

// Print "brokerctl: <what>: <error>" and return ExitCodeFor(ec).
// errc::not_supported reads "<what>: not supported on NATS JetStream
// (--broker nats://...)", whichever command asked: every command's errors end
// here, so none needs a case of its own.
int Fail(const std::string& what, std::error_code ec);
// The same, but a missing topic reads "topic 'NAME' not found".
int FailOnTopic(const std::string& topic, const std::string& what, std::error_code ec);
// The same for a group request: missing group or topic named as such.
int FailOnGroup(const std::string& topic, const std::string& group, const std::string& what,
                std::error_code ec);
// Print "brokerctl: <message>" and return kInvalidArgument.
int Invalid(const std::string& message);

// Asks "<question> [y/N] " on stderr and reads the answer from stdin, unless
// `yes`. Without a terminal on stdin (a script) it refuses rather than read a
// pipe that was meant for something else. Returns kOk to go on, or the exit
// code to stop with (message printed).
int Confirm(const std::string& question, bool yes);

// A text table: a header line, then rows; numeric columns are right-aligned.
class Table {
 public:
  struct Column {
    std::string name;
    bool right = false;
  };
  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// "name:  value" lines with the values lined up.
void PrintFields(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& fields);

// One JSON document on stdout. Bytes that are not UTF-8 (keys, header values)
// are replaced rather than aborting the output.
void PrintJson(const Json& doc);

}  // namespace herald::ctl
