#include "broker/storage/journal_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "broker/storage/crc32c.h"
#include "broker/storage/journal.h"

namespace herald::broker {

class JournalReader::OpenFile {
 public:
  explicit OpenFile(int fd) : fd_(fd) {}
  ~OpenFile() { ::close(fd_); }
  int fd() const { return fd_; }

 private:
  const int fd_;
};

std::shared_ptr<JournalReader::OpenFile> JournalReader::Open(uint64_t file, rocksdb::Status* why) {
  {
    std::lock_guard lock(mu_);
    if (auto it = open_.find(file); it != open_.end()) return it->second;
  }
  // The file is NNN.log until its records are flushed, NNN.seg after; a
  // rename between two tries is caught by trying again.
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (const std::string& path : Journal::PathsOf(dir_, file)) {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      auto opened = std::make_shared<OpenFile>(fd);
      std::lock_guard lock(mu_);
      if (open_.size() >= kMaxOpenFiles) open_.clear();  // readers keep theirs open
      auto [it, fresh] = open_.try_emplace(file, opened);
      return it->second;
    }
  }
  *why = rocksdb::Status::NotFound("journal file " + std::to_string(file));
  return nullptr;
}

void JournalReader::Forget(uint64_t file) {
  std::lock_guard lock(mu_);
  open_.erase(file);
}

rocksdb::Status JournalReader::Read(const BatchLocation& location, std::string* out) {
  rocksdb::Status why;
  std::shared_ptr<OpenFile> file = Open(location.file, &why);
  if (!file) return why;
  out->resize(location.length);
  std::size_t done = 0;
  while (done < location.length) {
    ssize_t r = ::pread(file->fd(), out->data() + done, location.length - done,
                        static_cast<off_t>(location.offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return rocksdb::Status::IOError("read journal file", std::strerror(errno));
    if (r == 0) return rocksdb::Status::Corruption("journal file ends before the batch");
    done += static_cast<std::size_t>(r);
  }
  if (crc32c::Value(*out) != location.crc) {
    return rocksdb::Status::Corruption("batch checksum mismatch in journal file " +
                                       std::to_string(location.file));
  }
  return rocksdb::Status::OK();
}

}  // namespace herald::broker
