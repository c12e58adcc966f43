#include "relay/core/command_parse.hpp"

#include <charconv>

#include "common/net/address.hpp"

namespace kaillera::relay {

namespace {

using L = Level;
using S = Scope;
using A = Args;

// clang-format off
constexpr CommandInfo kCommands[] = {
    {Verb::kHelp, "help", L::kNormal, S::kBoth, false, A::kNone, "/help", "the commands you may use"},
    {Verb::kVersion, "version", L::kNormal, S::kBoth, false, A::kNone, "/version", "the relay's version"},
    {Verb::kFindUser, "finduser", L::kNormal, S::kBoth, false, A::kPattern, "/finduser <name pattern>", "find users by name"},
    {Verb::kMsg, "msg", L::kNormal, S::kBoth, false, A::kUserText, "/msg <user id> <text>", "a private message"},
    {Verb::kReply, "r", L::kNormal, S::kBoth, false, A::kText, "/r <text>", "reply to your last private message"},
    {Verb::kMsgOn, "msgon", L::kNormal, S::kBoth, false, A::kNone, "/msgon", "receive private messages"},
    {Verb::kMsgOff, "msgoff", L::kNormal, S::kBoth, false, A::kNone, "/msgoff", "refuse private messages"},
    {Verb::kIgnore, "ignore", L::kNormal, S::kBoth, false, A::kUser, "/ignore <user id>", "hide a user's chat"},
    {Verb::kUnignore, "unignore", L::kNormal, S::kBoth, false, A::kUser, "/unignore <user id>", "show it again"},
    {Verb::kIgnoreAll, "ignoreall", L::kNormal, S::kBoth, false, A::kNone, "/ignoreall", "hide everyone's chat"},
    {Verb::kUnignoreAll, "unignoreall", L::kNormal, S::kBoth, false, A::kNone, "/unignoreall", "show all chat again"},
    {Verb::kMe, "me", L::kNormal, S::kBoth, false, A::kText, "/me <action>", "say what you do"},
    {Verb::kMyIp, "myip", L::kNormal, S::kBoth, false, A::kNone, "/myip", "your address as the relay sees it"},
    {Verb::kAliveCheck, "alivecheck", L::kNormal, S::kBoth, false, A::kNone, "/alivecheck", "are you still logged in"},
    {Verb::kP2pOn, "p2pon", L::kNormal, S::kBoth, false, A::kNone, "/p2pon", "no lobby traffic while you play"},
    {Verb::kP2pOff, "p2poff", L::kNormal, S::kBoth, false, A::kNone, "/p2poff", "lobby traffic while you play"},
    {Verb::kLagstat, "lagstat", L::kNormal, S::kRoom, false, A::kNone, "/lagstat", "who made the game wait, and the fix"},
    {Verb::kLagreset, "lagreset", L::kNormal, S::kRoom, false, A::kNone, "/lagreset", "start the lag statistics again"},
    {Verb::kFps, "fps", L::kNormal, S::kRoom, false, A::kNumber, "/fps <frames per second>", "the game's frame rate, for /lagstat"},
    {Verb::kFair, "fair", L::kNormal, S::kRoom, false, A::kNone, "/fair", "the relay fairest for this room"},
    // The room's owner (admins count as the owner of every room).
    {Verb::kStart, "start", L::kNormal, S::kRoom, true, A::kNone, "/start", "start the game"},
    {Verb::kStartN, "startn", L::kNormal, S::kRoom, true, A::kNumber, "/startn <players>", "start once that many are in"},
    {Verb::kMaxUsers, "maxusers", L::kNormal, S::kRoom, true, A::kNumber, "/maxusers <n>", "room size"},
    {Verb::kMaxPing, "maxping", L::kNormal, S::kRoom, true, A::kNumber, "/maxping <ms>", "highest ping that may join (0 = any)"},
    {Verb::kRoomKick, "kick", L::kNormal, S::kRoom, true, A::kNumber, "/kick <player number>", "kick a player from the room"},
    {Verb::kKickAll, "kickall", L::kNormal, S::kRoom, true, A::kNone, "/kickall", "kick every other player"},
    {Verb::kMute, "mute", L::kNormal, S::kRoom, true, A::kUser, "/mute <user id>", "mute a player in this room"},
    {Verb::kUnmute, "unmute", L::kNormal, S::kRoom, true, A::kUser, "/unmute <user id>", "unmute"},
    {Verb::kMuteAll, "muteall", L::kNormal, S::kRoom, true, A::kNone, "/muteall", "mute every other player"},
    {Verb::kUnmuteAll, "unmuteall", L::kNormal, S::kRoom, true, A::kNone, "/unmuteall", "unmute everyone"},
    {Verb::kSwap, "swap", L::kNormal, S::kRoom, true, A::kOrder, "/swap <order>, e.g. /swap 21", "reorder player numbers"},
    {Verb::kSetEmu, "setemu", L::kNormal, S::kRoom, true, A::kAnyOptional, "/setemu [any]", "only your emulator may join (any: all)"},
    {Verb::kSetConn, "setconn", L::kNormal, S::kRoom, true, A::kAnyOptional, "/setconn [any]", "only your connection type may join"},
    {Verb::kSameDelay, "samedelay", L::kNormal, S::kRoom, true, A::kOnOff, "/samedelay on|off", "one frame delay for all players"},
    {Verb::kDetectAutofire, "detectautofire", L::kNormal, S::kRoom, true, A::kNumber, "/detectautofire <0-5>", "warn of autofire (0 = off)"},
    {Verb::kNum, "num", L::kNormal, S::kRoom, false, A::kNone, "/num", "players in the room"},
    // Staff.
    {Verb::kKick, "kick", L::kModerator, S::kLobby, false, A::kUser, "/kick <user id>", "remove a user from the relay"},
    {Verb::kSilence, "silence", L::kModerator, S::kBoth, false, A::kSilenceArgs, "/silence <user id|ip|cidr> <minutes|perm> [reason]", "no chat anywhere"},
    {Verb::kUnsilence, "unsilence", L::kModerator, S::kBoth, false, A::kLift, "/unsilence <#id|user id|ip|cidr>", "lift silences"},
    {Verb::kBan, "ban", L::kAdmin, S::kBoth, false, A::kBanArgs, "/ban <user id|ip|cidr> <minutes|perm> [reason]", "ban and remove"},
    {Verb::kUnban, "unban", L::kAdmin, S::kBoth, false, A::kLift, "/unban <#id|ip|cidr>", "lift bans"},
    {Verb::kBans, "bans", L::kAdmin, S::kBoth, false, A::kOptionalText, "/bans [pattern]", "active bans and silences"},
    {Verb::kClear, "clear", L::kAdmin, S::kBoth, false, A::kTarget, "/clear <user id|ip|name>", "lift every ban and silence of an address"},
    {Verb::kInfo, "info", L::kAdmin, S::kBoth, false, A::kTarget, "/info <user id|ip|name>", "level, sanctions, recent logins"},
    {Verb::kFindGame, "findgame", L::kAdmin, S::kBoth, false, A::kPattern, "/findgame <pattern>", "find games by name"},
    {Verb::kAnnounce, "announce", L::kAdmin, S::kBoth, false, A::kText, "/announce <text>", "a line to the lobby"},
    {Verb::kAnnounceAll, "announceall", L::kAdmin, S::kBoth, false, A::kText, "/announceall <text>", "to the lobby and every room"},
    {Verb::kAnnounceGame, "announcegame", L::kAdmin, S::kBoth, false, A::kGameText, "/announcegame <game id> <text>", "a line to one room"},
    {Verb::kCloseGame, "closegame", L::kAdmin, S::kBoth, false, A::kGame, "/closegame <game id>", "close a room"},
    {Verb::kTempElevated, "tempelevated", L::kOwner, S::kBoth, false, A::kGrantArgs, "/tempelevated <user id> <minutes>", "elevated for a while"},
    {Verb::kTempModerator, "tempmoderator", L::kOwner, S::kBoth, false, A::kGrantArgs, "/tempmoderator <user id> <minutes>", "moderator for a while"},
    {Verb::kTempAdmin, "tempadmin", L::kOwner, S::kBoth, false, A::kGrantArgs, "/tempadmin <user id> <minutes>", "admin for a while"},
    {Verb::kStealthOn, "stealthon", L::kAdmin, S::kLobby, false, A::kNone, "/stealthon", "join rooms unseen, even running ones"},
    {Verb::kStealthOff, "stealthoff", L::kAdmin, S::kLobby, false, A::kNone, "/stealthoff", "join rooms as a player again"},
    {Verb::kReload, "reload", L::kAdmin, S::kBoth, false, A::kNone, "/reload", "read the access file again"},
    {Verb::kShutdown, "shutdown", L::kAdmin, S::kBoth, false, A::kNone, "/shutdown", "stop the relay"},
};
// clang-format on

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ')
    s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ')
    s.remove_suffix(1);
  return s;
}

// The next space-separated word of `s`, which is advanced past it.
std::string_view next_word(std::string_view& s) {
  s = trim(s);
  const auto sp = s.find(' ');
  const std::string_view w = s.substr(0, sp);
  s = sp == std::string_view::npos ? std::string_view() : trim(s.substr(sp + 1));
  return w;
}

std::optional<std::uint32_t> number(std::string_view s) {
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::uint16_t> user_id(std::string_view s) {
  auto n = number(s);
  if (!n || *n == 0 || *n > 0xFFFF) return std::nullopt;
  return static_cast<std::uint16_t>(*n);
}

// <user id|ip|cidr>, and names when `names`, and "#id" entry ids when `entries`.
std::optional<Target> target(std::string_view w, bool names, bool entries) {
  Target t;
  if (w.empty()) return std::nullopt;
  if (auto id = user_id(w)) {
    t.kind = Target::Kind::kUserId;
    t.user_id = *id;
    return t;
  }
  if (entries && w.size() > 1 && w[0] == '#') {
    auto n = number(w.substr(1));
    if (!n || *n == 0) return std::nullopt;
    t.kind = Target::Kind::kEntryId;
    t.entry_id = *n;
    return t;
  }
  if (auto r = parse_range(w)) {
    t.kind = r->prefix == 32 ? Target::Kind::kAddress : Target::Kind::kRange;
    t.range = *r;
    return t;
  }
  if (!names) return std::nullopt;
  t.kind = Target::Kind::kName;  // whatever is neither an id nor an address is a name
  t.name = w;
  return t;
}

// <minutes|perm>: minutes 1..525600 (a year); perm/permanent gives none.
bool duration(std::string_view w, std::optional<std::uint32_t>& out) {
  if (iequals(w, "perm") || iequals(w, "permanent")) {
    out.reset();
    return true;
  }
  auto n = number(w);
  if (!n || *n == 0 || *n > 525600) return false;
  out = *n;
  return true;
}

bool parse_args(const CommandInfo& info, std::string_view rest, Command& c) {
  rest = trim(rest);
  switch (info.args) {
    case A::kNone:
      return true;  // extra words are ignored, as clients sometimes add them
    case A::kText:
      c.text = rest;
      return !rest.empty();
    case A::kOptionalText:
      c.text = rest;
      return true;
    case A::kPattern:
      c.text = rest;
      return !rest.empty() && rest.find(' ') == std::string_view::npos;
    case A::kUserText: {
      auto id = user_id(next_word(rest));
      if (!id || rest.empty()) return false;
      c.target = Target{Target::Kind::kUserId, *id, {}, {}, 0};
      c.text = rest;
      return true;
    }
    case A::kUser: {
      auto id = user_id(next_word(rest));
      if (!id || !rest.empty()) return false;
      c.target = Target{Target::Kind::kUserId, *id, {}, {}, 0};
      return true;
    }
    case A::kNumber:
    case A::kGame: {
      auto n = number(next_word(rest));
      if (!n || !rest.empty()) return false;
      if (info.args == A::kGame && *n == 0) return false;
      c.number = *n;
      return true;
    }
    case A::kTarget: {
      c.target = target(next_word(rest), true, false);
      return c.target.has_value() && rest.empty();
    }
    case A::kBanArgs:
    case A::kSilenceArgs: {
      c.target = target(next_word(rest), false, false);
      if (!c.target) return false;
      if (!duration(next_word(rest), c.minutes)) return false;
      c.text = rest;
      return true;
    }
    case A::kLift: {
      c.target = target(next_word(rest), false, true);
      return c.target.has_value() && rest.empty();
    }
    case A::kGrantArgs: {
      auto id = user_id(next_word(rest));
      if (!id) return false;
      c.target = Target{Target::Kind::kUserId, *id, {}, {}, 0};
      auto n = number(next_word(rest));
      if (!n || *n == 0 || *n > 525600 || !rest.empty()) return false;
      c.minutes = *n;
      return true;
    }
    case A::kGameText: {
      auto n = number(next_word(rest));
      if (!n || *n == 0 || rest.empty()) return false;
      c.number = *n;
      c.text = rest;
      return true;
    }
    case A::kOnOff: {
      const std::string_view w = next_word(rest);
      if (!rest.empty()) return false;
      if (iequals(w, "on") || iequals(w, "true")) {
        c.on = true;
        return true;
      }
      if (iequals(w, "off") || iequals(w, "false")) {
        c.on = false;
        return true;
      }
      return false;
    }
    case A::kAnyOptional: {
      const std::string_view w = next_word(rest);
      if (!rest.empty()) return false;
      if (w.empty()) return true;
      c.on = iequals(w, "any");
      return c.on;
    }
    case A::kOrder: {
      // "21", "2 1" or "2,1": each digit 1..8 once.
      std::uint32_t n = 0, seen = 0;
      for (char ch : rest) {
        if (ch == ' ' || ch == ',') continue;
        if (ch < '1' || ch > '8' || n == c.order.size()) return false;
        const std::uint32_t d = static_cast<std::uint32_t>(ch - '0');
        if (seen & (1u << d)) return false;
        seen |= 1u << d;
        c.order[n++] = static_cast<std::uint8_t>(d);
      }
      c.number = n;
      return n >= 2;
    }
  }
  return false;
}

}  // namespace

std::span<const CommandInfo> command_table() {
  return kCommands;
}

const CommandInfo* find_command(std::string_view word, bool in_room) {
  const CommandInfo* other = nullptr;
  for (const auto& c : kCommands) {
    if (!iequals(c.word, word)) continue;
    if (c.scope == S::kBoth || (c.scope == S::kRoom) == in_room) return &c;
    if (!other) other = &c;
  }
  return other;
}

Command parse_command(std::string_view line, bool in_room) {
  Command c;
  if (!line.empty() && line.front() == '/') line.remove_prefix(1);
  std::string_view rest = line;
  c.word = next_word(rest);
  c.info = find_command(c.word, in_room);
  if (c.info) c.ok = parse_args(*c.info, rest, c);
  return c;
}

}  // namespace kaillera::relay
