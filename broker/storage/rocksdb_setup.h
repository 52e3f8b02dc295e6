#pragma once
// How the store configures RocksDB: the database options and its five column
// families (meta, log, groups, producers, index), with the reasons for each
// setting beside it. Internal to the storage layer (store.cc opens the DB).

#include <cstddef>
#include <vector>

#include <rocksdb/db.h>  // ColumnFamilyDescriptor
#include <rocksdb/options.h>

#include "broker/storage/store.h"

namespace herald::broker {

struct RocksDbSetup {
  // Indexes into families, and so into the handles DB::Open returns.
  enum Family : std::size_t { kMeta = 0, kLog, kGroups, kProducers, kIndex };
  rocksdb::DBOptions db;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
};

RocksDbSetup MakeRocksDbSetup(const StoreOptions& options);

// The log family's memtable size, the largest family's (rocksdb_setup.cc).
inline std::size_t LogWriteBufferBytes(const StoreOptions& options) { return options.memtable_budget_bytes * 3 / 8; }

}  // namespace herald::broker
