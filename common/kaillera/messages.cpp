#include "common/kaillera/messages.hpp"

#include <array>
#include <utility>

namespace kaillera::proto {
namespace {

template <std::size_t I>
Result<Message> decode_one(Bytes body) {
  using T = std::variant_alternative_t<I, Message>;
  static_assert(static_cast<std::size_t>(T::kType) == I + 1, "variant order must follow the type byte");
  auto r = decode_as<T>(body);
  if (!r) return r.error();
  return Message(std::in_place_index<I>, std::move(r).value());
}

template <std::size_t... I>
constexpr auto make_table(std::index_sequence<I...>) {
  return std::array<Result<Message> (*)(Bytes), sizeof...(I)>{&decode_one<I>...};
}
constexpr auto kDecoders = make_table(std::make_index_sequence<std::variant_size_v<Message>>{});

constexpr std::array<std::string_view, kLastType + 1> kNames = {
    "?",          "UserQuit",  "UserJoined",         "UserInformation",   "ServerStatus",
    "ServerAck",  "ClientAck", "GlobalChat",         "GameChat",          "KeepAlive",
    "CreateGame", "QuitGame",  "JoinGame",           "PlayerInformation", "GameStatus",
    "KickUser",   "CloseGame", "StartGame",          "GameData",          "CachedGameData",
    "PlayerDrop", "AllReady",  "ConnectionRejected", "ServerInformation"};

}  // namespace

std::string_view type_name(std::uint8_t type) {
  if (type < kFirstType || type > kLastType) return "?";
  return kNames[type];
}

Result<Message> decode_body(std::uint8_t type, Bytes body) {
  if (type < kFirstType || type > kLastType) return Error::kUnknownType;
  return kDecoders[type - 1](body);
}

std::size_t body_size(const Message& m) {
  return std::visit([](const auto& msg) { return body_size_of(msg); }, m);
}

Result<std::size_t> encode(const Message& m, std::span<std::uint8_t> out) {
  return std::visit([&](const auto& msg) { return encode_as(msg, out); }, m);
}

}  // namespace kaillera::proto
