#pragma once
// The storage layer's checksums use the same CRC-32C as record batches.

#include "schemas/crc32c.h"

namespace herald::broker {
namespace crc32c = herald::crc32c;
}  // namespace herald::broker
