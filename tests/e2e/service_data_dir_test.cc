// The services' --data-dir as a new user gives it: a path whose parents do not
// exist yet is made, as brokerd makes its own; a path that cannot be made
// stops the service at once with the path and the reason.

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "tests/support/command.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

using herald::test::RunCommand;
using herald::test::ServerProcess;
using herald::test::TempDir;
using herald::test::WriteFile;

namespace {

// The services that keep a RocksDB, by binary.
const char* const kServicesWithData[] = {HERALD_POST_SERVICE_PATH, HERALD_COMMENT_SERVICE_PATH,
                                         HERALD_NOTIFICATION_SERVICE_PATH};

}  // namespace

TEST_CASE("services: --data-dir is created with its parents", "[e2e][data-dir]") {
  for (const char* binary : kServicesWithData) {
    INFO(binary);
    // No broker: the services serve HTTP anyway and retry it in the
    // background; the database is opened before either.
    ServerProcess service(binary, {"--data-dir", "{dir}/state/data/c", "--broker", "127.0.0.1:1"});
    std::filesystem::path data = std::filesystem::path(service.dir()) / "state/data/c";
    CHECK(std::filesystem::is_directory(data));
    CHECK(std::filesystem::exists(data / "CURRENT"));  // RocksDB's: the database is there
  }
}

TEST_CASE("services: a --data-dir that cannot be made stops the service with its path", "[e2e][data-dir]") {
  TempDir dir;
  WriteFile(dir / "not-a-dir", "a file where the data dir's parent should be");
  std::string data_dir = dir / "not-a-dir/data";
  for (const char* binary : kServicesWithData) {
    INFO(binary);
    auto r = RunCommand(std::string(binary) + " --listen 127.0.0.1:0 --broker 127.0.0.1:1 --data-dir " + data_dir);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(data_dir) != std::string::npos);
    CHECK(r.err.find("Not a directory") != std::string::npos);
  }
}
