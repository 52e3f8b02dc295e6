#pragma once
// The journal of older releases, read once to move a data directory to the
// segment log (segment_log.h).
//
// Those releases ran RocksDB with its WAL off and wrote every write of the
// database first as a record of journal/NNN.log:
//   crc32c (4) | payload length (4) | record index (8) | payload
// (little-endian; the CRC covers length, index and payload; indexes count up
// across files). A payload is a RocksDB WriteBatch, or
//   u32 0x48424154 | u32 batch bytes | the batches | WriteBatch
// when it carried stored batches (their locations point into it). A file
// whose records were all flushed was renamed NNN.seg, or deleted.
//
// ImportLegacyJournal applies the WriteBatches of the NNN.log files again,
// in order, up to the first missing or damaged record (the files from that
// one on become NNN.log.damaged, as those releases did), asks the caller to
// make them durable (the database's own WAL, now on), and only then renames
// the files NNN.seg, where the segment log keeps them while they hold
// batches. A crash before the renames replays the same records again, which
// is harmless: they write whole keys (Put, Delete, DeleteRange, no Merge).
// A NNN.log below the newest NNN.seg was flushed already and lost only its
// rename: it is renamed, not replayed over newer state.

#include <functional>
#include <string>
#include <string_view>

#include <rocksdb/status.h>

namespace herald::broker {

rocksdb::Status ImportLegacyJournal(const std::string& dir,
                                    const std::function<rocksdb::Status(std::string_view write_batch)>& apply,
                                    const std::function<rocksdb::Status()>& make_durable);

}  // namespace herald::broker
