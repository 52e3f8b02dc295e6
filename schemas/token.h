#pragma once
// Access tokens. A token is a random secret; the broker stores only its
// SHA-256 ("sha256:" + 64 hex digits), so a leaked principals file does not
// leak the tokens. A plain hash (no salt, no stretching) is enough because
// tokens are 256 random bits, not passwords people choose.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald::wire {

using TokenDigest = std::array<uint8_t, 32>;

// A new token: 32 bytes from the OS's CSPRNG, as 64 hex digits.
std::string NewToken();
TokenDigest HashToken(std::string_view token);
// "sha256:<hex>", the form principals files hold.
std::string FormatTokenHash(const TokenDigest& digest);
// Parses "sha256:<64 hex digits>"; nullopt for anything else.
std::optional<TokenDigest> ParseTokenHash(std::string_view text);
// Compares in constant time: how long it takes says nothing about where two
// digests differ.
bool DigestsEqual(const TokenDigest& a, const TokenDigest& b);

}  // namespace herald::wire
