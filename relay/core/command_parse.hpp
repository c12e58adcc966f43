// Chat commands parsed once into values (KAILLERA.md §6.5). One table describes every command: its word, the
// level it needs, where it works (lobby, room, both), whether it is the room owner's, its arguments and its
// usage line; parse_command() turns a chat line into a Command or says what is wrong with it. Pure, never
// throws, never allocates beyond the returned value: fuzzed (tests/fuzz/fuzz_command.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "relay/core/moderation.hpp"

namespace kaillera::relay {

enum class Verb : std::uint8_t {
  // everyone
  kHelp,
  kVersion,
  kFair,
  kLagstat,
  kLagreset,
  kFps,
  kMsg,
  kReply,
  kMsgOn,
  kMsgOff,
  kIgnore,
  kUnignore,
  kIgnoreAll,
  kUnignoreAll,
  kMe,
  kMyIp,
  kAliveCheck,
  kP2pOn,
  kP2pOff,
  kFindUser,
  // room owner
  kStart,
  kStartN,
  kMaxUsers,
  kMaxPing,
  kRoomKick,
  kKickAll,
  kMute,
  kUnmute,
  kMuteAll,
  kUnmuteAll,
  kSwap,
  kSetEmu,
  kSetConn,
  kSameDelay,
  kDetectAutofire,
  kNum,
  // staff
  kKick,
  kSilence,
  kUnsilence,
  kBan,
  kUnban,
  kBans,
  kClear,
  kInfo,
  kFindGame,
  kAnnounce,
  kAnnounceAll,
  kAnnounceGame,
  kCloseGame,
  kTempElevated,
  kTempModerator,
  kTempAdmin,
  kStealthOn,
  kStealthOff,
  kReload,
  kShutdown,
};

// Where a command works. A room command typed in the lobby is answered with where it works.
enum class Scope : std::uint8_t { kLobby, kRoom, kBoth };

// The arguments a command takes.
enum class Args : std::uint8_t {
  kNone,
  kText,          // <text> (required)
  kUserText,      // <user id> <text>
  kUser,          // <user id>
  kNumber,        // <n>
  kTarget,        // <user id|ip|cidr|name>
  kBanArgs,       // <user id|ip|cidr> <minutes|perm> [reason]
  kSilenceArgs,   // <user id|ip|cidr> <minutes|perm> [reason]
  kLift,          // <#id|user id|ip|cidr>
  kGrantArgs,     // <user id> <minutes>
  kPattern,       // <pattern>
  kGameText,      // <game id> <text>
  kGame,          // <game id>
  kOnOff,         // on|off (also true|false)
  kAnyOptional,   // [any]
  kOrder,         // <order>: player numbers, e.g. 21 or "2 1"
  kOptionalText,  // [text]
};

struct CommandInfo {
  Verb verb;
  std::string_view word;
  Level level;  // the least level that may use it
  Scope scope;
  bool owner;  // room owner (or admin) only
  Args args;
  std::string_view usage;  // "/ban <user id|ip|cidr> <minutes|perm> [reason]"
  std::string_view what;   // a few words for /help
};

// Every command, in the order /help lists them.
std::span<const CommandInfo> command_table();
// `word` without '/', case-insensitive. Two commands share a word ("kick": the owner's in a room, staff's in
// the lobby): the one whose scope fits `in_room` wins; else the other one (so the answer can say where it
// works).
const CommandInfo* find_command(std::string_view word, bool in_room);

// Who or what a command is about.
struct Target {
  enum class Kind : std::uint8_t { kUserId, kAddress, kRange, kName, kEntryId } kind = Kind::kUserId;
  std::uint16_t user_id = 0;
  AddressRange range;          // kAddress (/32) and kRange
  std::string_view name;       // kName: as typed
  std::uint64_t entry_id = 0;  // kEntryId: "#12", a ban or silence id
};

struct Command {
  const CommandInfo* info = nullptr;  // null: unknown command (`word` says which)
  std::string_view word;              // as typed, without '/'
  bool ok = false;                    // false: the arguments are malformed; answer with info->usage
  std::optional<Target> target;
  std::uint32_t number = 0;              // kNumber, kGame
  std::optional<std::uint32_t> minutes;  // kBanArgs/kSilenceArgs/kGrantArgs; empty = permanent
  bool on = false;                       // kOnOff; kAnyOptional: true when "any" was given
  std::array<std::uint8_t, 8> order{};   // kOrder: player numbers (1-based), `number` of them
  std::string_view text;                 // the free text (reason, message, pattern)
};

// `line` starts with '/'. Never fails: an unknown word gives info == nullptr, bad arguments ok == false.
Command parse_command(std::string_view line, bool in_room);

}  // namespace kaillera::relay
