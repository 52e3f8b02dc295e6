#include "broker/storage/disk_reserve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include <spdlog/spdlog.h>

#include "schemas/durable_dir.h"

namespace herald::broker {

DiskReserve::DiskReserve(std::string data_dir, uint64_t bytes)
    : dir_(std::move(data_dir)), path_(dir_ + "/space.reserve"), bytes_(bytes) {
  ::unlink((path_ + ".tmp").c_str());  // a crash in the middle of Restore
  struct stat st {};
  present_ = ::stat(path_.c_str(), &st) == 0;
  // A reserve of another size (the flag changed) is laid down again.
  if (present_ && static_cast<uint64_t>(st.st_size) != bytes_) {
    ::unlink(path_.c_str());
    present_ = false;
  }
}

uint64_t DiskReserve::FreeBytes(const std::string& dir) {
  struct statvfs disk {};
  if (::statvfs(dir.c_str(), &disk) != 0) return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(disk.f_bavail) * disk.f_frsize;
}

bool DiskReserve::ReleaseIfShort(uint64_t needed) {
  if (FreeBytes(dir_) >= needed) return false;
  return Release();
}

bool DiskReserve::Release() {
  if (!present_ || ::unlink(path_.c_str()) != 0) return false;
  present_ = false;
  // The reserve's creation or removal must be durable: a reserve a power
  // cut forgot would not be there when it is needed.
  (void)SyncDirectory(dir_);
  spdlog::get("storage")->warn("the data directory's disk is full: deleted the {} byte reserve ({}) "
                               "so that the broker can run; publishes are refused until space comes back",
                               bytes_, path_);
  return true;
}

bool DiskReserve::Restore(uint64_t margin) {
  if (bytes_ == 0 || present_) return true;
  if (FreeBytes(dir_) < bytes_ + margin) return false;
  // Written under another name and renamed: a reserve is whole or absent.
  const std::string temp = path_ + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes_));
  if (rc == 0 && ::fdatasync(fd) != 0) rc = errno;
  ::close(fd);
  if (rc != 0 || ::rename(temp.c_str(), path_.c_str()) != 0) {
    ::unlink(temp.c_str());
    return false;
  }
  (void)SyncDirectory(dir_);
  present_ = true;
  spdlog::get("storage")->info("laid down the {} byte disk reserve ({})", bytes_, path_);
  return true;
}

}  // namespace herald::broker
