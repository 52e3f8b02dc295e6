#pragma once
// RocksDbLogger: RocksDB's info log, written to brokerd's own log (the
// "storage" logger) instead of a LOG file in the data directory.
//
// Why: RocksDB 7.8's file logger, once a write of its own failed (a full
// disk), trips an assertion on its next line in builds with assertions on
// (Debian's librocksdb is one): the disk-full test saw brokerd abort while
// RocksDB logged the very error it was handling. It also kept a growing file
// beside the data that nothing read. Its lines come out here as debug (info
// and header lines: options, flushes, compactions) or as warnings and errors.

#include <memory>

namespace rocksdb {
class Logger;
}

namespace herald::broker {

std::shared_ptr<rocksdb::Logger> NewRocksDbLogger();

}  // namespace herald::broker
