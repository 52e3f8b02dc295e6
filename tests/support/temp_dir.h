#pragma once
// TempDir: a fresh directory under the system temp dir, removed with its
// contents when the object goes away.

#include <atomic>
#include <filesystem>
#include <random>
#include <string>

#include <unistd.h>

namespace herald::test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "herald-test") {
    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
             std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace herald::test
