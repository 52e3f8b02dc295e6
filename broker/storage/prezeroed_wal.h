#pragma once
// PrezeroedWalFileSystem: RocksDB's file system interface, except that
// log files (RocksDB's WAL, NNNNNN.log, and the segment log's NNN.seg) are
// written with direct I/O into blocks that were zero-filled ahead of them.
// The store opens both through it with --fsync always (two instances: each
// keeps one spare beside its own files).
//
// Why: with --fsync always every publish waits for one fdatasync of the log.
// A write at the end of a file changes the file's size (and turns fallocated
// extents into written ones), so each fdatasync also commits an ext4 journal
// transaction; a write over blocks that already exist needs only the data
// write and the device's cache flush. On this project's 2-vCPU VM
// (3,000 fdatasyncs of 300 B each, ext4 on virtio): appending p50 150 us,
// overwriting p50 110 us, overwriting with O_DIRECT p50 95-105 us.
//
// How: each log file gets a thread that writes zeros (direct, and synced, so
// their size and extents are committed) a little ahead of the log's end, and
// the log's own writes then overwrite them. The zeros only buy speed: a write
// that outruns them extends the file, and fdatasync then commits the size as
// it always did. RocksDB's WAL reader takes a zero record header for the end
// of the records, and a segment file is read only where an index entry
// points, so a crash that leaves zeros after the last write recovers like
// one that does not; Close cuts the file to its length. ReuseWritableFile
// takes a deleted segment file (the segment log's recycling, segment_log.h)
// and writes it again from its start: all of its blocks exist, so no zeros
// are needed up to its old length.
//
// Only for --fsync always: a direct write waits for the device, which every
// write there does anyway (for its fdatasync); the other modes keep writing
// into the page cache. Appends of 128 KiB or more (a burst's group commits)
// go through the page cache here too, over the same zeros: fdatasync then
// writes them out with the device's queue full, where a direct write and
// the sync after it made two waits (prezeroed_wal.cc: kBufferedFrom). A file system without O_DIRECT (tmpfs) gets RocksDB's
// plain files.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace rocksdb {
class FileSystem;
}

namespace herald::broker {

struct PrezeroedWalOptions {
  // Zeros kept ahead of the log's end, and written in pieces of this size.
  std::size_t lead_bytes = 1u << 20;
  std::size_t piece_bytes = 64u << 10;
  // At most this many bytes of zeros per second: a log written faster than
  // that (a pipelined burst) outruns them rather than having the disk write
  // everything twice.
  std::size_t max_zero_bytes_per_second = 16u << 20;
  // A sync of the zeros failed (the errno): the kernel may have dropped the
  // file's written pages with it, and reports such an error once per open
  // file, so the log's next sync, through another descriptor, may succeed
  // and say nothing. The owner must stop trusting the file. Zeroing thread.
  std::function<void(const std::string& file, int err)> on_sync_error;
};

std::shared_ptr<rocksdb::FileSystem> NewPrezeroedWalFileSystem(
    std::shared_ptr<rocksdb::FileSystem> base, PrezeroedWalOptions options = {});

}  // namespace herald::broker
