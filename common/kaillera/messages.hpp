// The 23 v086 messages (KAILLERA.md §3). Each struct lists its fields once, in wire order, in `fields()`; the
// same list drives decode (Reader), encode (Writer) and size (Sizer), so the directions cannot drift.
//
// Requests and notifications of a type share one wire shape (the client puts placeholders where the server
// puts values), so one struct serves both; the field comments say what each side puts there.
//
// Strings are raw bytes (std::string_view over the datagram when decoded): never re-encoded or trimmed.
// A decoded message points into the buffer it was decoded from and lives no longer than that buffer.
#pragma once

#include <cstdint>
#include <string_view>
#include <variant>
#include <vector>

#include "common/kaillera/bytes.hpp"
#include "common/kaillera/result.hpp"

namespace kaillera::proto {

enum class MessageType : std::uint8_t {
  kUserQuit = 0x01,
  kUserJoined = 0x02,
  kUserInformation = 0x03,
  kServerStatus = 0x04,
  kServerAck = 0x05,
  kClientAck = 0x06,
  kGlobalChat = 0x07,
  kGameChat = 0x08,
  kKeepAlive = 0x09,
  kCreateGame = 0x0A,
  kQuitGame = 0x0B,
  kJoinGame = 0x0C,
  kPlayerInformation = 0x0D,
  kGameStatus = 0x0E,
  kKickUser = 0x0F,
  kCloseGame = 0x10,
  kStartGame = 0x11,
  kGameData = 0x12,
  kCachedGameData = 0x13,
  kPlayerDrop = 0x14,
  kAllReady = 0x15,
  kConnectionRejected = 0x16,
  kServerInformation = 0x17,
};
constexpr std::uint8_t kFirstType = 0x01;
constexpr std::uint8_t kLastType = 0x17;

std::string_view type_name(std::uint8_t type);

#define KF_FIELDS(...)             \
  template <class V, class M>      \
  static bool fields(V& v, M& m) { \
    return __VA_ARGS__;            \
  }

// 0x01. C→S: user "" · 0xFFFF · message.  S→C: name · id · message.
struct UserQuit {
  static constexpr MessageType kType = MessageType::kUserQuit;
  std::string_view user;
  std::uint16_t user_id = 0xFFFF;
  std::string_view message;
  KF_FIELDS(v.str(m.user) && v.u16(m.user_id) && v.str(m.message))
};

// 0x02 S→C.
struct UserJoined {
  static constexpr MessageType kType = MessageType::kUserJoined;
  std::string_view user;
  std::uint16_t user_id = 0;
  std::uint32_t ping = 0;
  std::uint8_t conn_type = 0;
  KF_FIELDS(v.str(m.user) && v.u16(m.user_id) && v.u32(m.ping) && v.u8(m.conn_type))
};

// 0x03 C→S: the login.
struct UserInformation {
  static constexpr MessageType kType = MessageType::kUserInformation;
  std::string_view user;
  std::string_view emulator;
  std::uint8_t conn_type = 0;
  KF_FIELDS(v.str(m.user) && v.str(m.emulator) && v.u8(m.conn_type))
};

// One user of a 0x04: order ping, status, id, connType (KAILLERA.md §3, SFDOC has it wrong).
struct ServerStatusUser {
  static constexpr std::size_t kMinSize = 1 + 4 + 1 + 2 + 1;
  std::string_view name;
  std::uint32_t ping = 0;
  std::uint8_t status = 0;
  std::uint16_t user_id = 0;
  std::uint8_t conn_type = 0;
  KF_FIELDS(v.str(m.name) && v.u32(m.ping) && v.u8(m.status) && v.u16(m.user_id) && v.u8(m.conn_type))
};

// One game of a 0x04.
struct ServerStatusGame {
  static constexpr std::size_t kMinSize = 1 + 4 + 1 + 1 + 1 + 1;
  std::string_view rom;
  std::uint32_t game_id = 0;
  std::string_view emulator;
  std::string_view owner;
  std::string_view players;  // "n/max"
  std::uint8_t status = 0;
  KF_FIELDS(v.str(m.rom) && v.u32(m.game_id) && v.str(m.emulator) && v.str(m.owner) && v.str(m.players) &&
            v.u8(m.status))
};

// 0x04 S→C: the users and games present at login. Counts come first, then both lists.
struct ServerStatus {
  static constexpr MessageType kType = MessageType::kServerStatus;
  std::string_view empty;
  std::vector<ServerStatusUser> users;
  std::vector<ServerStatusGame> games;
  template <class V, class M>
  static bool fields(V& v, M& m) {
    auto nu = static_cast<std::uint32_t>(m.users.size());
    auto ng = static_cast<std::uint32_t>(m.games.size());
    return v.str(m.empty) && v.u32(nu) && v.u32(ng) && v.list(m.users, nu, ServerStatusUser::kMinSize) &&
           v.list(m.games, ng, ServerStatusGame::kMinSize);
  }
};

// 0x05 S→C and 0x06 C→S: the four constants 0,1,2,3.
struct ServerAck {
  static constexpr MessageType kType = MessageType::kServerAck;
  std::string_view empty;
  std::uint32_t values[4] = {0, 1, 2, 3};
  KF_FIELDS(v.str(m.empty) && v.u32(m.values[0]) && v.u32(m.values[1]) && v.u32(m.values[2]) &&
            v.u32(m.values[3]))
};
struct ClientAck {
  static constexpr MessageType kType = MessageType::kClientAck;
  std::string_view empty;
  std::uint32_t values[4] = {0, 1, 2, 3};
  KF_FIELDS(v.str(m.empty) && v.u32(m.values[0]) && v.u32(m.values[1]) && v.u32(m.values[2]) &&
            v.u32(m.values[3]))
};

// 0x07 lobby chat and 0x08 game chat. C→S: "" · text. S→C: sender · text.
struct GlobalChat {
  static constexpr MessageType kType = MessageType::kGlobalChat;
  std::string_view user;
  std::string_view message;
  KF_FIELDS(v.str(m.user) && v.str(m.message))
};
struct GameChat {
  static constexpr MessageType kType = MessageType::kGameChat;
  std::string_view user;
  std::string_view message;
  KF_FIELDS(v.str(m.user) && v.str(m.message))
};

// 0x09 C→S: body is the empty user string.
struct KeepAlive {
  static constexpr MessageType kType = MessageType::kKeepAlive;
  std::string_view empty;
  KF_FIELDS(v.str(m.empty))
};

// 0x0A. C→S: "" · rom · "" · 0xFFFFFFFF.  S→C: owner · rom · owner's emulator · game id.
struct CreateGame {
  static constexpr MessageType kType = MessageType::kCreateGame;
  std::string_view user;
  std::string_view rom;
  std::string_view emulator;
  std::uint32_t game_id = 0xFFFFFFFF;
  KF_FIELDS(v.str(m.user) && v.str(m.rom) && v.str(m.emulator) && v.u32(m.game_id))
};

// 0x0B. C→S: "" · 0xFFFF.  S→C: name · id.
struct QuitGame {
  static constexpr MessageType kType = MessageType::kQuitGame;
  std::string_view user;
  std::uint16_t user_id = 0xFFFF;
  KF_FIELDS(v.str(m.user) && v.u16(m.user_id))
};

// 0x0C. C→S: "" · game id · "" · 0 · 0xFFFF · connType.  S→C: "" · (ignored u32) · name · ping · id ·
// connType.
struct JoinGame {
  static constexpr MessageType kType = MessageType::kJoinGame;
  std::string_view empty;
  std::uint32_t game_id = 0;
  std::string_view user;
  std::uint32_t ping = 0;
  std::uint16_t user_id = 0xFFFF;
  std::uint8_t conn_type = 0;
  KF_FIELDS(v.str(m.empty) && v.u32(m.game_id) && v.str(m.user) && v.u32(m.ping) && v.u16(m.user_id) &&
            v.u8(m.conn_type))
};

struct PlayerInformationEntry {
  static constexpr std::size_t kMinSize = 1 + 4 + 2 + 1;
  std::string_view name;
  std::uint32_t ping = 0;
  std::uint16_t user_id = 0;
  std::uint8_t conn_type = 0;
  KF_FIELDS(v.str(m.name) && v.u32(m.ping) && v.u16(m.user_id) && v.u8(m.conn_type))
};

// 0x0D S→C: the other players of the room, to a joiner.
struct PlayerInformation {
  static constexpr MessageType kType = MessageType::kPlayerInformation;
  std::string_view empty;
  std::vector<PlayerInformationEntry> players;
  template <class V, class M>
  static bool fields(V& v, M& m) {
    auto n = static_cast<std::uint32_t>(m.players.size());
    return v.str(m.empty) && v.u32(n) && v.list(m.players, n, PlayerInformationEntry::kMinSize);
  }
};

// 0x0E S→C.
struct GameStatus {
  static constexpr MessageType kType = MessageType::kGameStatus;
  std::string_view empty;
  std::uint32_t game_id = 0;
  std::uint8_t status = 0;
  std::uint8_t num_players = 0;
  std::uint8_t max_players = 0;
  KF_FIELDS(v.str(m.empty) && v.u32(m.game_id) && v.u8(m.status) && v.u8(m.num_players) &&
            v.u8(m.max_players))
};

// 0x0F C→S.
struct KickUser {
  static constexpr MessageType kType = MessageType::kKickUser;
  std::string_view empty;
  std::uint16_t user_id = 0;
  KF_FIELDS(v.str(m.empty) && v.u16(m.user_id))
};

// 0x10 S→C.
struct CloseGame {
  static constexpr MessageType kType = MessageType::kCloseGame;
  std::string_view empty;
  std::uint32_t game_id = 0;
  KF_FIELDS(v.str(m.empty) && v.u32(m.game_id))
};

// 0x11. C→S: "" · 0xFFFF · 0xFF · 0xFF.  S→C: "" · frame delay · player number (1-based) · player count.
struct StartGame {
  static constexpr MessageType kType = MessageType::kStartGame;
  std::string_view empty;
  std::uint16_t delay = 0xFFFF;
  std::uint8_t player_number = 0xFF;
  std::uint8_t num_players = 0xFF;
  KF_FIELDS(v.str(m.empty) && v.u16(m.delay) && v.u8(m.player_number) && v.u8(m.num_players))
};

// 0x12 both ways: input bytes. Decoding points into the datagram: no allocation.
struct GameData {
  static constexpr MessageType kType = MessageType::kGameData;
  std::string_view empty;
  Bytes data;
  KF_FIELDS(v.str(m.empty) && v.blob16(m.data))
};

// 0x13 both ways: position in the receiver's cache.
struct CachedGameData {
  static constexpr MessageType kType = MessageType::kCachedGameData;
  std::string_view empty;
  std::uint8_t index = 0;
  KF_FIELDS(v.str(m.empty) && v.u8(m.index))
};

// 0x14. C→S: "" then 0 to 2 bytes (clients differ, §9.27).  S→C: dropper's name · its player number.
struct PlayerDrop {
  static constexpr MessageType kType = MessageType::kPlayerDrop;
  std::string_view user;
  std::uint8_t player_number = 0;
  KF_FIELDS(v.str(m.user) && v.u8_opt(m.player_number))
};

// 0x15 both ways.
struct AllReady {
  static constexpr MessageType kType = MessageType::kAllReady;
  std::string_view empty;
  KF_FIELDS(v.str(m.empty))
};

// 0x16 S→C: login refused.
struct ConnectionRejected {
  static constexpr MessageType kType = MessageType::kConnectionRejected;
  std::string_view user;
  std::uint16_t user_id = 0;
  std::string_view message;
  KF_FIELDS(v.str(m.user) && v.u16(m.user_id) && v.str(m.message))
};

// 0x17 S→C: one line of server text.
struct ServerInformation {
  static constexpr MessageType kType = MessageType::kServerInformation;
  std::string_view source;
  std::string_view message;
  KF_FIELDS(v.str(m.source) && v.str(m.message))
};

#undef KF_FIELDS

// Variant index + 1 == type byte.
using Message = std::variant<UserQuit, UserJoined, UserInformation, ServerStatus, ServerAck, ClientAck,
                             GlobalChat, GameChat, KeepAlive, CreateGame, QuitGame, JoinGame,
                             PlayerInformation, GameStatus, KickUser, CloseGame, StartGame, GameData,
                             CachedGameData, PlayerDrop, AllReady, ConnectionRejected, ServerInformation>;
static_assert(std::variant_size_v<Message> == kLastType);

inline std::uint8_t type_of(const Message& m) {
  return static_cast<std::uint8_t>(m.index() + 1);
}

// Decodes one message body (everything after the type byte). Bytes after the last field are tolerated:
// the bundle's length field is authoritative (KAILLERA.md §2.4).
Result<Message> decode_body(std::uint8_t type, Bytes body);

// Decodes one message body of a known type, without the variant (hot path: game data).
template <class T>
Result<T> decode_as(Bytes body) {
  T m{};
  Reader r(body);
  if (!T::fields(r, m)) return r.error();
  return m;
}

// Size of the body (without the type byte).
std::size_t body_size(const Message& m);
template <class T>
std::size_t body_size_of(const T& m) {
  Sizer s;
  T::fields(s, m);
  return s.size();
}

// Writes type byte + body into `out`; returns the bytes written or kTooLarge.
Result<std::size_t> encode(const Message& m, std::span<std::uint8_t> out);
template <class T>
Result<std::size_t> encode_as(const T& m, std::span<std::uint8_t> out) {
  Writer w(out);
  if (!w.u8(static_cast<std::uint8_t>(T::kType)) || !T::fields(w, m)) return Error::kTooLarge;
  return w.position();
}

}  // namespace kaillera::proto
