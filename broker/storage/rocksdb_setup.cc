#include "broker/storage/rocksdb_setup.h"

#include <rocksdb/cache.h>
#include <rocksdb/table.h>

#include "broker/storage/rocksdb_logger.h"

namespace herald::broker {

RocksDbSetup MakeRocksDbSetup(const StoreOptions& options) {
  RocksDbSetup setup;
  rocksdb::DBOptions& db_options = setup.db;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.info_log = NewRocksDbLogger();  // into brokerd's log, not a LOG file (rocksdb_logger.h)
  db_options.IncreaseParallelism(2);
  // RocksDB's WAL holds the index's writes (a few dozen bytes per batch: the
  // batches themselves go to the segment log). A WAL file goes once every
  // family has flushed what it holds: atomic flushes cut every family's
  // memtable at one point, so one flush frees it of all families at once,
  // and families that see few writes are flushed once the WALs pass
  // max_total_wal_size, which bounds what a start replays.
  db_options.atomic_flush = true;
  db_options.max_total_wal_size = 64u << 20;

  // Memory: the memtables being written stay under 16 MiB together (the
  // write buffer manager flushes when they reach it), and one 8 MiB block
  // cache holds data, index and filter blocks of every SST, so the broker's
  // footprint does not grow with the amount of data stored. Memtables that
  // wait for their flush come on top (see the log family's below).
  db_options.db_write_buffer_size = options.memtable_budget_bytes;
  auto block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_cache = block_cache;
  table_options.cache_index_and_filter_blocks = true;
  table_options.pin_l0_filter_and_index_blocks_in_cache = true;
  auto table_factory = std::shared_ptr<rocksdb::TableFactory>(rocksdb::NewBlockBasedTableFactory(table_options));

  rocksdb::ColumnFamilyOptions log_options;
  // Memtables of 6 MiB. When publishes outrun the flush thread, RocksDB
  // keeps three of them: one filling and two immutable ones before it stops
  // writes (max_write_buffer_number counts only the immutable ones). At
  // 8 MiB that was 26-28 MiB of the broker's peak heap under 1 KiB
  // publishes (heaptrack). With 6 MiB (and the two changes below), the
  // peak RSS of compare.sh's publish workloads went from 64.9-68.2 MiB to
  // 61.3-64.5 (3 alternating runs each); 1 KiB msg/s moved within the noise.
  log_options.write_buffer_size = LogWriteBufferBytes(options);
  log_options.max_write_buffer_number = 2;
  // Flushes write uncompressed: a flush is on the publish path (writes stop
  // when two memtables wait for it), and payloads are opaque, often random or
  // already compressed, where LZ4 costs the flush thread for nothing (1 KiB
  // random payloads, 6 runs each: 249k msg/s with LZ4, 290k without). Data
  // that lives long enough to be compacted past L1 is compressed then, in the
  // background.
  log_options.compression_per_level = {rocksdb::kNoCompression, rocksdb::kNoCompression};
  log_options.compression_per_level.resize(log_options.num_levels, rocksdb::kLZ4Compression);
  log_options.table_factory = table_factory;
  rocksdb::ColumnFamilyOptions small_options;
  small_options.write_buffer_size = 4u << 20;
  // These families hold a few small keys per commit, and every atomic flush
  // starts a new memtable in each: arena blocks of 64 KiB rather than the
  // default write_buffer_size / 8 (512 KiB) each.
  small_options.arena_block_size = 64u << 10;
  small_options.table_factory = table_factory;
  // Topic metadata and producer states are a few keys that every commit
  // writes again. Updated in place, they no longer fill a memtable every
  // few seconds (~60,000 versions of one key each time, measured at 10k
  // msg/s), and every such fill cost a memtable switch and a flush on the
  // path of the publishes of that moment. Nothing reads old
  // versions of them: they are read at start and by the storage thread.
  rocksdb::ColumnFamilyOptions overwritten_options = small_options;
  overwritten_options.inplace_update_support = true;  // and so no DeleteRange here (ApplyDeleteTopic)
  // Each of their memtables would otherwise allocate 10,000 reader-writer
  // locks (~560 KB), with up to three memtables per family alive: 3.4 MiB of
  // the peak heap (heaptrack). The locks order in-place updates against
  // concurrent reads; the one writer is the storage thread, and these keys
  // are read at start and by that thread.
  overwritten_options.inplace_update_num_locks = 16;
  db_options.allow_concurrent_memtable_write = false;  // required by in-place updates; one writer anyway
  // In the order of RocksDbSetup's indexes; the meta family is RocksDB's default.
  setup.families = {
      {rocksdb::kDefaultColumnFamilyName, overwritten_options},
      {"log", log_options},
      {"groups", small_options},
      {"producers", overwritten_options},
      {"index", small_options},
  };
  return setup;
}

}  // namespace herald::broker
