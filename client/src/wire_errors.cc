#include "wire_errors.h"

#include <cstddef>
#include <iterator>
#include <type_traits>
#include <utility>

#include "herald/errors.h"

namespace herald::client_detail {

namespace {

struct CataloguePair {
  wire::ErrorCode wire;
  errc client;
};

// In wire order: entry i is the wire code numbered i. errors.h documents that
// the errc values below 1000 keep the wire's numbers; the checks below make
// the compiler hold both enums to it.
constexpr CataloguePair kCatalogue[] = {
    {wire::ErrorCode::Ok, errc::ok},
    {wire::ErrorCode::Internal, errc::internal},
    {wire::ErrorCode::MalformedFrame, errc::malformed_frame},
    {wire::ErrorCode::FrameTooLarge, errc::frame_too_large},
    {wire::ErrorCode::UnsupportedVersion, errc::unsupported_version},
    {wire::ErrorCode::HandshakeRequired, errc::handshake_required},
    {wire::ErrorCode::InvalidArgument, errc::invalid_argument},
    {wire::ErrorCode::InvalidTopicName, errc::invalid_topic_name},
    {wire::ErrorCode::TopicNotFound, errc::topic_not_found},
    {wire::ErrorCode::PayloadTooLarge, errc::payload_too_large},
    {wire::ErrorCode::SubscriptionNotFound, errc::subscription_not_found},
    {wire::ErrorCode::StorageError, errc::storage_error},
    {wire::ErrorCode::ShuttingDown, errc::shutting_down},
    {wire::ErrorCode::InvalidGroupName, errc::invalid_group_name},
    {wire::ErrorCode::UnexpectedMessage, errc::unexpected_message},
    {wire::ErrorCode::TimedOut, errc::timed_out},
    {wire::ErrorCode::TooManyConnections, errc::too_many_connections},
    {wire::ErrorCode::GroupNotFound, errc::group_not_found},
    {wire::ErrorCode::GroupBusy, errc::group_busy},
    {wire::ErrorCode::AuthenticationFailed, errc::authentication_failed},
    {wire::ErrorCode::NotAuthorized, errc::not_authorized},
    {wire::ErrorCode::ProducerIdInUse, errc::producer_id_in_use},
};

// flatc sizes EnumValuesErrorCode()'s array by the schema's enumerators.
constexpr std::size_t kWireCodes =
    std::extent_v<std::remove_reference_t<decltype(wire::EnumValuesErrorCode())>>;
static_assert(std::size(kCatalogue) == kWireCodes,
              "herald.fbs and herald::errc differ in size: give every wire ErrorCode its errc "
              "(errors.h, errors.cc) and a pair in kCatalogue");
static_assert(static_cast<std::size_t>(wire::ErrorCode::MAX) + 1 == kWireCodes,
              "wire ErrorCodes are numbered 0..N-1 without gaps; kCatalogue is indexed by them");

// One static_assert per pair, so that a mismatch names its pair's index.
template <std::size_t I>
constexpr bool PairMatches() {
  static_assert(static_cast<std::size_t>(kCatalogue[I].wire) == I,
                "kCatalogue is out of wire order at this index");
  static_assert(static_cast<int>(kCatalogue[I].wire) == static_cast<int>(kCatalogue[I].client),
                "a herald::errc value differs from the wire ErrorCode it mirrors");
  return true;
}
template <std::size_t... I>
constexpr bool AllPairsMatch(std::index_sequence<I...>) {
  return (PairMatches<I>() && ...);
}
static_assert(AllPairsMatch(std::make_index_sequence<kWireCodes>()));

}  // namespace

std::error_code ErrorFromWire(wire::ErrorCode code) {
  const auto index = static_cast<std::size_t>(code);
  if (index >= std::size(kCatalogue)) return make_error_code(errc::protocol_violation);
  return make_error_code(kCatalogue[index].client);
}

}  // namespace herald::client_detail
