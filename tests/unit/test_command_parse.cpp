// The chat command parser (relay/core/command_parse.hpp): one table of commands, arguments parsed once into
// values. Expected values come from the usage lines the issue gives (issue 12, "Staff commands", "Game owner
// commands", "Player commands") and from the argument kinds' comments, not from the parser's output.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "relay/core/command_parse.hpp"

namespace r = kaillera::relay;
using r::Args;
using r::Level;
using r::Scope;
using r::Target;
using r::Verb;

namespace {

constexpr std::uint32_t ip(int a, int b, int c, int d) {
  return (static_cast<std::uint32_t>(a) << 24) | (b << 16) | (c << 8) | d;
}

r::Command lobby(std::string_view line) {
  return r::parse_command(line, false);
}
r::Command room(std::string_view line) {
  return r::parse_command(line, true);
}

// The command parsed, with its arguments accepted.
::testing::AssertionResult good(const r::Command& c, Verb v) {
  if (c.info == nullptr) return ::testing::AssertionFailure() << "unknown command " << c.word;
  if (c.info->verb != v) return ::testing::AssertionFailure() << "another command: " << c.info->word;
  if (!c.ok) return ::testing::AssertionFailure() << "arguments refused";
  return ::testing::AssertionSuccess();
}
// The command known, its arguments refused (the caller answers with the usage line).
::testing::AssertionResult bad(const r::Command& c, Verb v) {
  if (c.info == nullptr) return ::testing::AssertionFailure() << "unknown command " << c.word;
  if (c.info->verb != v) return ::testing::AssertionFailure() << "another command: " << c.info->word;
  if (c.ok) return ::testing::AssertionFailure() << "arguments accepted";
  return ::testing::AssertionSuccess();
}

}  // namespace

// --- The table
// ----------------------------------------------------------------------------------------------

TEST(CommandTable, EveryCommandOfTheIssueIsThereWithItsLevel) {
  struct Want {
    std::string_view word;
    bool in_room;
    Level level;
    bool owner;
  };
  // Issue 12: staff (EK's levels), the room owner's and everyone's commands.
  const Want want[] = {
      {"ban", false, Level::kAdmin, false},           {"unban", false, Level::kAdmin, false},
      {"bans", false, Level::kAdmin, false},          {"silence", false, Level::kModerator, false},
      {"unsilence", false, Level::kModerator, false}, {"clear", false, Level::kAdmin, false},
      {"info", false, Level::kAdmin, false},          {"findgame", false, Level::kAdmin, false},
      {"announce", false, Level::kAdmin, false},      {"announceall", false, Level::kAdmin, false},
      {"announcegame", false, Level::kAdmin, false},  {"closegame", false, Level::kAdmin, false},
      {"kick", false, Level::kModerator, false},      {"tempadmin", false, Level::kOwner, false},
      {"tempmoderator", false, Level::kOwner, false}, {"tempelevated", false, Level::kOwner, false},
      {"reload", false, Level::kAdmin, false},        {"shutdown", false, Level::kAdmin, false},
      {"mute", true, Level::kNormal, true},           {"unmute", true, Level::kNormal, true},
      {"muteall", true, Level::kNormal, true},        {"unmuteall", true, Level::kNormal, true},
      {"kickall", true, Level::kNormal, true},        {"swap", true, Level::kNormal, true},
      {"startn", true, Level::kNormal, true},         {"setemu", true, Level::kNormal, true},
      {"setconn", true, Level::kNormal, true},        {"samedelay", true, Level::kNormal, true},
      {"kick", true, Level::kNormal, true},           {"num", true, Level::kNormal, false},
      {"msg", false, Level::kNormal, false},          {"r", false, Level::kNormal, false},
      {"msgon", false, Level::kNormal, false},        {"msgoff", false, Level::kNormal, false},
      {"ignore", false, Level::kNormal, false},       {"unignore", false, Level::kNormal, false},
      {"ignoreall", false, Level::kNormal, false},    {"unignoreall", false, Level::kNormal, false},
      {"me", false, Level::kNormal, false},           {"myip", false, Level::kNormal, false},
      {"alivecheck", false, Level::kNormal, false},   {"p2pon", false, Level::kNormal, false},
      {"p2poff", false, Level::kNormal, false},       {"help", false, Level::kNormal, false},
      {"finduser", false, Level::kNormal, false},
  };
  for (const auto& w : want) {
    const r::CommandInfo* c = r::find_command(w.word, w.in_room);
    ASSERT_NE(c, nullptr) << w.word;
    EXPECT_EQ(c->word, w.word);
    EXPECT_EQ(c->level, w.level) << w.word;
    EXPECT_EQ(c->owner, w.owner) << w.word;
    EXPECT_EQ(c->usage.substr(0, w.word.size() + 1), "/" + std::string(w.word)) << w.word;
  }
  // One entry per (word, scope): words are unique but for the two kicks.
  std::set<std::string> seen;
  for (const auto& c : r::command_table()) {
    const std::string key = std::string(c.word) + (c.scope == Scope::kRoom ? "@room" : "");
    EXPECT_TRUE(seen.insert(key).second) << key;
  }
}

TEST(CommandTable, UnknownWordsAndCase) {
  auto c = lobby("/frobnicate now");
  EXPECT_EQ(c.info, nullptr);
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.word, "frobnicate");
  EXPECT_EQ(lobby("/").info, nullptr);
  EXPECT_EQ(lobby("/   ").info, nullptr);
  EXPECT_EQ(lobby("/banx 1 perm").info, nullptr);  // a prefix of nothing, not "ban"
  EXPECT_EQ(lobby("/ba 1 perm").info, nullptr);    // no abbreviations
  // Words are case-insensitive; the word keeps the case it was typed in.
  auto upper = lobby("/BAN 12 PERM");
  EXPECT_TRUE(good(upper, Verb::kBan));
  EXPECT_EQ(upper.word, "BAN");
  EXPECT_FALSE(upper.minutes.has_value());
  EXPECT_TRUE(good(room("/SameDelay ON"), Verb::kSameDelay));
  EXPECT_TRUE(good(lobby("/HeLp"), Verb::kHelp));
  // Without the leading slash the word is still read (the chat code passes lines with '/').
  EXPECT_TRUE(good(lobby("help"), Verb::kHelp));
  // Spaces around the word and between arguments do not matter.
  auto spaced = lobby("/msg    7    hello  there ");
  EXPECT_TRUE(good(spaced, Verb::kMsg));
  EXPECT_EQ(spaced.target->user_id, 7);
  EXPECT_EQ(spaced.text, "hello  there");
}

TEST(CommandTable, TheTwoKicksAreChosenByWhereTheyWereTyped) {
  auto in_room = room("/kick 2");
  ASSERT_TRUE(good(in_room, Verb::kRoomKick));
  EXPECT_EQ(in_room.number, 2u);  // a player number
  EXPECT_TRUE(in_room.info->owner);
  auto in_lobby = lobby("/kick 2");
  ASSERT_TRUE(good(in_lobby, Verb::kKick));
  ASSERT_TRUE(in_lobby.target.has_value());
  EXPECT_EQ(in_lobby.target->kind, Target::Kind::kUserId);
  EXPECT_EQ(in_lobby.target->user_id, 2);
  EXPECT_EQ(in_lobby.info->level, Level::kModerator);
  // A room-only command typed in the lobby is still found (so the answer can say where it works).
  auto swap = lobby("/swap 21");
  ASSERT_NE(swap.info, nullptr);
  EXPECT_EQ(swap.info->verb, Verb::kSwap);
  EXPECT_EQ(swap.info->scope, Scope::kRoom);
  EXPECT_EQ(r::find_command("lagstat", false)->scope, Scope::kRoom);
}

// --- Each kind of arguments
// ------------------------------------------------------------------------------------

TEST(CommandArgs, NoneIgnoresExtraWords) {
  EXPECT_TRUE(good(lobby("/help"), Verb::kHelp));
  EXPECT_TRUE(good(lobby("/myip please"), Verb::kMyIp));
  EXPECT_TRUE(good(lobby("/alivecheck"), Verb::kAliveCheck));
}

TEST(CommandArgs, TextIsRequiredAndKeptWhole) {
  auto me = lobby("/me waves at everyone");
  ASSERT_TRUE(good(me, Verb::kMe));
  EXPECT_EQ(me.text, "waves at everyone");
  EXPECT_TRUE(bad(lobby("/me"), Verb::kMe));
  EXPECT_TRUE(bad(lobby("/me    "), Verb::kMe));
  EXPECT_TRUE(bad(lobby("/announce"), Verb::kAnnounce));
  auto r = lobby("/r ok, see you");
  ASSERT_TRUE(good(r, Verb::kReply));
  EXPECT_EQ(r.text, "ok, see you");
}

TEST(CommandArgs, OptionalText) {
  auto all = lobby("/bans");
  ASSERT_TRUE(good(all, Verb::kBans));
  EXPECT_TRUE(all.text.empty());
  auto some = lobby("/bans 203.0.113");
  ASSERT_TRUE(good(some, Verb::kBans));
  EXPECT_EQ(some.text, "203.0.113");
}

TEST(CommandArgs, PatternIsOneWord) {
  auto f = lobby("/finduser ali*");
  ASSERT_TRUE(good(f, Verb::kFindUser));
  EXPECT_EQ(f.text, "ali*");
  EXPECT_TRUE(bad(lobby("/finduser"), Verb::kFindUser));
  EXPECT_TRUE(bad(lobby("/finduser two words"), Verb::kFindUser));
  EXPECT_TRUE(good(lobby("/findgame street"), Verb::kFindGame));
  EXPECT_TRUE(bad(lobby("/findgame"), Verb::kFindGame));
}

TEST(CommandArgs, UserIdsAre1To65535) {
  auto low = lobby("/ignore 1");
  ASSERT_TRUE(good(low, Verb::kIgnore));
  EXPECT_EQ(low.target->user_id, 1);
  auto high = lobby("/ignore 65535");
  ASSERT_TRUE(good(high, Verb::kIgnore));
  EXPECT_EQ(high.target->user_id, 65535);
  EXPECT_TRUE(bad(lobby("/ignore 0"), Verb::kIgnore));
  EXPECT_TRUE(bad(lobby("/ignore 65536"), Verb::kIgnore));
  EXPECT_TRUE(bad(lobby("/ignore 4294967296"), Verb::kIgnore));  // past u32 too
  EXPECT_TRUE(bad(lobby("/ignore -1"), Verb::kIgnore));
  EXPECT_TRUE(bad(lobby("/ignore 12x"), Verb::kIgnore));
  EXPECT_TRUE(bad(lobby("/ignore"), Verb::kIgnore));
  EXPECT_TRUE(bad(lobby("/ignore 3 4"), Verb::kIgnore));  // one id only
  EXPECT_TRUE(bad(lobby("/kick alice"), Verb::kKick));
  EXPECT_TRUE(bad(room("/mute 0"), Verb::kMute));
  EXPECT_TRUE(good(room("/unmute 9"), Verb::kUnmute));
}

TEST(CommandArgs, UserAndText) {
  auto m = lobby("/msg 42 meet in room 3");
  ASSERT_TRUE(good(m, Verb::kMsg));
  EXPECT_EQ(m.target->kind, Target::Kind::kUserId);
  EXPECT_EQ(m.target->user_id, 42);
  EXPECT_EQ(m.text, "meet in room 3");
  EXPECT_TRUE(bad(lobby("/msg 42"), Verb::kMsg));      // no text
  EXPECT_TRUE(bad(lobby("/msg 0 hi"), Verb::kMsg));    // id 0
  EXPECT_TRUE(bad(lobby("/msg bob hi"), Verb::kMsg));  // not an id
  EXPECT_TRUE(bad(lobby("/msg 65536 hi"), Verb::kMsg));
}

TEST(CommandArgs, Numbers) {
  auto s = room("/startn 3");
  ASSERT_TRUE(good(s, Verb::kStartN));
  EXPECT_EQ(s.number, 3u);
  EXPECT_TRUE(bad(room("/startn"), Verb::kStartN));
  EXPECT_TRUE(bad(room("/startn three"), Verb::kStartN));
  EXPECT_TRUE(bad(room("/startn 3 4"), Verb::kStartN));
  auto mp = room("/maxping 0");  // 0 is a number (no limit); the room decides the range
  ASSERT_TRUE(good(mp, Verb::kMaxPing));
  EXPECT_EQ(mp.number, 0u);
}

TEST(CommandArgs, GamesAreNotZero) {
  auto c = lobby("/closegame 17");
  ASSERT_TRUE(good(c, Verb::kCloseGame));
  EXPECT_EQ(c.number, 17u);
  EXPECT_TRUE(bad(lobby("/closegame 0"), Verb::kCloseGame));
  EXPECT_TRUE(bad(lobby("/closegame"), Verb::kCloseGame));
  EXPECT_TRUE(bad(lobby("/closegame x"), Verb::kCloseGame));
  auto a = lobby("/announcegame 5 server restarts soon");
  ASSERT_TRUE(good(a, Verb::kAnnounceGame));
  EXPECT_EQ(a.number, 5u);
  EXPECT_EQ(a.text, "server restarts soon");
  EXPECT_TRUE(bad(lobby("/announcegame 5"), Verb::kAnnounceGame));
  EXPECT_TRUE(bad(lobby("/announcegame 0 hi"), Verb::kAnnounceGame));
  EXPECT_TRUE(bad(lobby("/announcegame x hi"), Verb::kAnnounceGame));
}

TEST(CommandArgs, TargetsIdAddressRangeAndName) {
  auto id = lobby("/info 12");
  ASSERT_TRUE(good(id, Verb::kInfo));
  EXPECT_EQ(id.target->kind, Target::Kind::kUserId);
  EXPECT_EQ(id.target->user_id, 12);
  auto addr = lobby("/info 203.0.113.7");
  ASSERT_TRUE(good(addr, Verb::kInfo));
  EXPECT_EQ(addr.target->kind, Target::Kind::kAddress);
  EXPECT_EQ(addr.target->range.net, ip(203, 0, 113, 7));
  EXPECT_EQ(addr.target->range.prefix, 32);
  auto range = lobby("/clear 10.1.0.0/16");
  ASSERT_TRUE(good(range, Verb::kClear));
  EXPECT_EQ(range.target->kind, Target::Kind::kRange);
  EXPECT_EQ(range.target->range.net, ip(10, 1, 0, 0));
  EXPECT_EQ(range.target->range.prefix, 16);
  auto name = lobby("/info Alice");
  ASSERT_TRUE(good(name, Verb::kInfo));
  EXPECT_EQ(name.target->kind, Target::Kind::kName);
  EXPECT_EQ(name.target->name, "Alice");
  // Not an id: 0 and 65536 are names here (whatever is neither an id nor an address is a name).
  EXPECT_EQ(lobby("/info 65536").target->kind, Target::Kind::kName);
  EXPECT_TRUE(bad(lobby("/info"), Verb::kInfo));
  EXPECT_TRUE(bad(lobby("/info two words"), Verb::kInfo));
}

TEST(CommandArgs, BanTargetsDurationsAndReasons) {
  auto b = lobby("/ban 12 60 spamming the lobby");
  ASSERT_TRUE(good(b, Verb::kBan));
  EXPECT_EQ(b.target->kind, Target::Kind::kUserId);
  EXPECT_EQ(b.target->user_id, 12);
  ASSERT_TRUE(b.minutes.has_value());
  EXPECT_EQ(*b.minutes, 60u);
  EXPECT_EQ(b.text, "spamming the lobby");

  auto perm = lobby("/ban 203.0.113.9 perm");
  ASSERT_TRUE(good(perm, Verb::kBan));
  EXPECT_EQ(perm.target->kind, Target::Kind::kAddress);
  EXPECT_EQ(perm.target->range.net, ip(203, 0, 113, 9));
  EXPECT_FALSE(perm.minutes.has_value());
  EXPECT_TRUE(perm.text.empty());
  EXPECT_FALSE(lobby("/ban 1 permanent").minutes.has_value());
  EXPECT_TRUE(good(lobby("/ban 1 Permanent"), Verb::kBan));

  auto cidr = lobby("/ban 198.51.100.0/24 1 proxies");
  ASSERT_TRUE(good(cidr, Verb::kBan));
  EXPECT_EQ(cidr.target->kind, Target::Kind::kRange);
  EXPECT_EQ(cidr.target->range.net, ip(198, 51, 100, 0));
  EXPECT_EQ(cidr.target->range.prefix, 24);
  EXPECT_EQ(*cidr.minutes, 1u);
  auto year = lobby("/ban 1 525600");
  ASSERT_TRUE(good(year, Verb::kBan));
  EXPECT_EQ(*year.minutes, 525600u);  // a year is the longest timed ban
  auto everything = lobby("/ban 0.0.0.0/0 5");
  ASSERT_TRUE(good(everything, Verb::kBan));
  EXPECT_EQ(everything.target->range.prefix, 0);

  EXPECT_TRUE(bad(lobby("/ban 1 0"), Verb::kBan));
  EXPECT_TRUE(bad(lobby("/ban 1 525601"), Verb::kBan));
  EXPECT_TRUE(bad(lobby("/ban 1"), Verb::kBan));           // no duration
  EXPECT_TRUE(bad(lobby("/ban 1 soon"), Verb::kBan));      // not a duration
  EXPECT_TRUE(bad(lobby("/ban 0 perm"), Verb::kBan));      // id 0
  EXPECT_TRUE(bad(lobby("/ban 65536 perm"), Verb::kBan));  // past the ids, and not an address
  EXPECT_TRUE(bad(lobby("/ban alice perm"), Verb::kBan));  // names are not ban targets
  EXPECT_TRUE(bad(lobby("/ban 10.0.0.0/33 perm"), Verb::kBan));
  EXPECT_TRUE(bad(lobby("/ban 10.0.0.1/24 perm"), Verb::kBan));  // host bits set
  EXPECT_TRUE(bad(lobby("/ban 10.0.0.0/ perm"), Verb::kBan));
  EXPECT_TRUE(bad(lobby("/ban 256.0.0.1 perm"), Verb::kBan));
  EXPECT_TRUE(bad(lobby("/ban #3 perm"), Verb::kBan));  // entry ids only lift

  auto sil = lobby("/silence 7 15 calm down");
  ASSERT_TRUE(good(sil, Verb::kSilence));
  EXPECT_EQ(sil.target->user_id, 7);
  EXPECT_EQ(*sil.minutes, 15u);
  EXPECT_EQ(sil.text, "calm down");
  EXPECT_FALSE(lobby("/silence 7 perm").minutes.has_value());
  EXPECT_TRUE(bad(lobby("/silence 7 0"), Verb::kSilence));
  EXPECT_TRUE(bad(lobby("/silence 7"), Verb::kSilence));
}

TEST(CommandArgs, LiftTakesEntryIdsUsersAddressesAndRanges) {
  auto entry = lobby("/unban #3");
  ASSERT_TRUE(good(entry, Verb::kUnban));
  EXPECT_EQ(entry.target->kind, Target::Kind::kEntryId);
  EXPECT_EQ(entry.target->entry_id, 3u);
  auto addr = lobby("/unban 203.0.113.9");
  ASSERT_TRUE(good(addr, Verb::kUnban));
  EXPECT_EQ(addr.target->kind, Target::Kind::kAddress);
  auto range = lobby("/unsilence 203.0.113.0/24");
  ASSERT_TRUE(good(range, Verb::kUnsilence));
  EXPECT_EQ(range.target->kind, Target::Kind::kRange);
  auto user = lobby("/unsilence 9");
  ASSERT_TRUE(good(user, Verb::kUnsilence));
  EXPECT_EQ(user.target->kind, Target::Kind::kUserId);
  EXPECT_TRUE(bad(lobby("/unban #0"), Verb::kUnban));
  EXPECT_TRUE(bad(lobby("/unban #"), Verb::kUnban));
  EXPECT_TRUE(bad(lobby("/unban #x"), Verb::kUnban));
  EXPECT_TRUE(bad(lobby("/unban alice"), Verb::kUnban));
  EXPECT_TRUE(bad(lobby("/unban"), Verb::kUnban));
  EXPECT_TRUE(bad(lobby("/unban #3 #4"), Verb::kUnban));
}

TEST(CommandArgs, Grants) {
  auto g = lobby("/tempadmin 4 120");
  ASSERT_TRUE(good(g, Verb::kTempAdmin));
  EXPECT_EQ(g.target->user_id, 4);
  ASSERT_TRUE(g.minutes.has_value());
  EXPECT_EQ(*g.minutes, 120u);
  EXPECT_TRUE(good(lobby("/tempmoderator 4 1"), Verb::kTempModerator));
  EXPECT_TRUE(good(lobby("/tempelevated 4 525600"), Verb::kTempElevated));
  EXPECT_TRUE(bad(lobby("/tempadmin 4 perm"), Verb::kTempAdmin));  // grants always end
  EXPECT_TRUE(bad(lobby("/tempadmin 4 0"), Verb::kTempAdmin));
  EXPECT_TRUE(bad(lobby("/tempadmin 4 525601"), Verb::kTempAdmin));
  EXPECT_TRUE(bad(lobby("/tempadmin 4"), Verb::kTempAdmin));
  EXPECT_TRUE(bad(lobby("/tempadmin 0 10"), Verb::kTempAdmin));
  EXPECT_TRUE(bad(lobby("/tempadmin 203.0.113.1 10"), Verb::kTempAdmin));  // a user, not an address
  EXPECT_TRUE(bad(lobby("/tempadmin 4 10 extra"), Verb::kTempAdmin));
}

TEST(CommandArgs, OnOff) {
  for (std::string_view on : {"/samedelay on", "/samedelay true", "/samedelay ON", "/samedelay True"}) {
    auto c = room(on);
    ASSERT_TRUE(good(c, Verb::kSameDelay)) << on;
    EXPECT_TRUE(c.on) << on;
  }
  for (std::string_view off : {"/samedelay off", "/samedelay false", "/samedelay Off"}) {
    auto c = room(off);
    ASSERT_TRUE(good(c, Verb::kSameDelay)) << off;
    EXPECT_FALSE(c.on) << off;
  }
  EXPECT_TRUE(bad(room("/samedelay"), Verb::kSameDelay));
  EXPECT_TRUE(bad(room("/samedelay yes"), Verb::kSameDelay));
  EXPECT_TRUE(bad(room("/samedelay 1"), Verb::kSameDelay));
  EXPECT_TRUE(bad(room("/samedelay on off"), Verb::kSameDelay));
}

TEST(CommandArgs, AnyOptional) {
  auto lock = room("/setemu");
  ASSERT_TRUE(good(lock, Verb::kSetEmu));
  EXPECT_FALSE(lock.on);  // no "any": lock to the owner's
  auto any = room("/setemu any");
  ASSERT_TRUE(good(any, Verb::kSetEmu));
  EXPECT_TRUE(any.on);
  EXPECT_TRUE(room("/setconn ANY").on);
  EXPECT_TRUE(good(room("/setconn"), Verb::kSetConn));
  EXPECT_TRUE(bad(room("/setemu all"), Verb::kSetEmu));
  EXPECT_TRUE(bad(room("/setconn any more"), Verb::kSetConn));
}

TEST(CommandArgs, SwapOrders) {
  auto packed = room("/swap 21");
  ASSERT_TRUE(good(packed, Verb::kSwap));
  EXPECT_EQ(packed.number, 2u);
  EXPECT_EQ(packed.order[0], 2);
  EXPECT_EQ(packed.order[1], 1);
  auto spaced = room("/swap 3 1 2");
  ASSERT_TRUE(good(spaced, Verb::kSwap));
  EXPECT_EQ(spaced.number, 3u);
  EXPECT_EQ(spaced.order[0], 3);
  EXPECT_EQ(spaced.order[1], 1);
  EXPECT_EQ(spaced.order[2], 2);
  auto commas = room("/swap 2,1");
  ASSERT_TRUE(good(commas, Verb::kSwap));
  EXPECT_EQ(commas.order[0], 2);
  auto eight = room("/swap 87654321");
  ASSERT_TRUE(good(eight, Verb::kSwap));
  EXPECT_EQ(eight.number, 8u);
  EXPECT_EQ(eight.order[0], 8);
  EXPECT_EQ(eight.order[7], 1);
  EXPECT_TRUE(bad(room("/swap 11"), Verb::kSwap));  // a repeat
  EXPECT_TRUE(bad(room("/swap 1 2 1"), Verb::kSwap));
  EXPECT_TRUE(bad(room("/swap 19"), Verb::kSwap));  // no player 9
  EXPECT_TRUE(bad(room("/swap 10"), Verb::kSwap));  // nor 0
  EXPECT_TRUE(bad(room("/swap 1"), Verb::kSwap));   // one player is no order
  EXPECT_TRUE(bad(room("/swap"), Verb::kSwap));
  EXPECT_TRUE(bad(room("/swap 2a1"), Verb::kSwap));
  EXPECT_TRUE(bad(room("/swap 123456781"), Verb::kSwap));  // nine numbers
}

TEST(CommandArgs, ViewsPointIntoTheLine) {
  const std::string line = "/ban 203.0.113.0/24 perm open proxies";
  auto c = lobby(line);
  ASSERT_TRUE(good(c, Verb::kBan));
  EXPECT_GE(c.word.data(), line.data());
  EXPECT_LE(c.word.data() + c.word.size(), line.data() + line.size());
  EXPECT_EQ(c.text.data(), line.data() + line.find("open"));
  EXPECT_EQ(c.text, "open proxies");
}
