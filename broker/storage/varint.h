#pragma once
// The storage formats use the same varints and fixed-width integers as record batches.

#include "schemas/varint.h"

namespace herald::broker {
namespace codec = herald::codec;
}  // namespace herald::broker
