// Moderation in the relay core (issue 12): access levels, staff commands at every level, the room owner's and
// everyone's commands, frame delay per player or shared, abuse limits, and what goes to the Journal (lasting
// changes, audit events). Expected values come from the issue, docs/OPERATING.md ("Running a community") and
// KAILLERA.md (§5.3 frame delay), not from the code under test.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "relay/core/command_parse.hpp"
#include "tests/unit/relay_harness.hpp"

using namespace kf_test;
using r::Level;

namespace {

// The community's addresses: one per level from the access list, and some with no entry (normal by default).
constexpr std::uint32_t kOwnerIp = ip(10, 0, 0, 1);
constexpr std::uint32_t kAdminIp = ip(10, 0, 0, 2);
constexpr std::uint32_t kModIp = ip(10, 0, 0, 3);
constexpr std::uint32_t kElevatedIp = ip(10, 0, 0, 4);
constexpr std::uint32_t kNormalIp = ip(10, 0, 0, 5);
constexpr std::uint32_t kMod2Ip = ip(10, 0, 0, 6);
constexpr std::uint32_t kAdmin2Ip = ip(10, 0, 0, 7);
constexpr std::uint32_t kBlockedNet = ip(192, 0, 2, 0);  // /24, level "banned" in the access list
constexpr std::uint32_t kBobIp = ip(198, 51, 100, 2);
constexpr std::uint32_t kCarolIp = ip(203, 0, 113, 3);
constexpr std::uint32_t kDaveIp = ip(203, 0, 113, 4);

r::AccessEntry entry(Level level, std::uint32_t addr, std::uint8_t prefix, std::string label,
                     std::string announce = {}) {
  r::AccessEntry e;
  e.level = level;
  e.ranges.push_back({addr, prefix});
  e.label = std::move(label);
  e.announce = std::move(announce);
  return e;
}

r::AccessList community_access() {
  r::AccessList l;
  l.entries.push_back(entry(Level::kOwner, kOwnerIp, 32, "the owner"));
  l.entries.push_back(entry(Level::kAdmin, kAdminIp, 32, "admins"));
  l.entries.push_back(entry(Level::kModerator, kModIp, 32, "mods", "Mia the moderator is here"));
  l.entries.push_back(entry(Level::kElevated, kElevatedIp, 32, "friends"));
  l.entries.push_back(entry(Level::kNormal, kNormalIp, 32, "regulars"));
  l.entries.push_back(entry(Level::kModerator, kMod2Ip, 32, "mods"));
  l.entries.push_back(entry(Level::kAdmin, kAdmin2Ip, 32, "admins"));
  l.entries.push_back(entry(Level::kBanned, kBlockedNet, 24, "blocked"));
  return l;
}

// Tests chat and command at virtual-time speed; the flood tests use the default limits.
r::Config relaxed() {
  r::Config c;
  c.chat_flood = r::Millis(0);
  c.create_flood = r::Millis(0);
  return c;
}

// The shell's side: records what the core hands it.
struct FakeJournal : r::Journal {
  bool state_file = true;  // false: like a relay without a state file
  bool accepts = true;     // false: like a state file whose queue is full
  std::vector<r::ModerationChange> changes;
  std::vector<r::AuditEvent> events;
  bool has_state_file() const override { return state_file; }
  bool change(const r::ModerationChange& c) override {
    changes.push_back(c);
    return accepts;
  }
  void audit(r::AuditEvent e) override { events.push_back(std::move(e)); }

  std::vector<const r::AuditEvent*> of(std::string_view type) const {
    std::vector<const r::AuditEvent*> v;
    for (const auto& e : events) {
      if (e.type == type) v.push_back(&e);
    }
    return v;
  }
};

const r::AuditEvent::Field* field(const r::AuditEvent& e, std::string_view key) {
  for (const auto& f : e.fields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}
std::string text_of(const r::AuditEvent& e, std::string_view key) {
  const auto* f = field(e, key);
  const auto* s = f ? std::get_if<std::string>(&f->value) : nullptr;
  return s ? *s : std::string("<no ") + std::string(key) + ">";
}
std::optional<std::int64_t> num_of(const r::AuditEvent& e, std::string_view key) {
  const auto* f = field(e, key);
  const auto* n = f ? std::get_if<std::int64_t>(&f->value) : nullptr;
  return n ? std::optional<std::int64_t>(*n) : std::nullopt;
}
// The first event of `type` whose text field `key` is `value`; null if none.
const r::AuditEvent* find_event(const FakeJournal& j, std::string_view type, std::string_view key,
                                std::string_view value) {
  for (const auto* e : j.of(type)) {
    if (text_of(*e, key) == value) return e;
  }
  return nullptr;
}

std::string id(const FakeClient& c) {
  return std::to_string(c.user_id);
}
void say(FakeClient& c, const std::string& line) {
  c.send(p::GlobalChat{"", line});
}
void room_say(FakeClient& c, const std::string& line) {
  c.send(p::GameChat{"", line});
}
// Lobby chat (0x07) and room chat (0x08) from a user.
bool chat_from(const FakeClient& c, std::string_view user) {
  for (const auto& m : c.got<p::GlobalChat>()) {
    if (m.user == user) return true;
  }
  return false;
}
bool room_chat_from(const FakeClient& c, std::string_view user) {
  for (const auto& m : c.got<p::GameChat>()) {
    if (m.user == user) return true;
  }
  return false;
}
// 0x08 lines from "Server" (room notices), as opposed to 0x17 lines.
bool room_notice(const FakeClient& c, std::string_view needle) {
  for (const auto& m : c.got<p::GameChat>()) {
    if (m.user == "Server" && m.message.find(needle) != std::string_view::npos) return true;
  }
  return false;
}
bool lobby_notice(const FakeClient& c, std::string_view needle) {
  for (const auto& m : c.got<p::ServerInformation>()) {
    if (m.message.find(needle) != std::string_view::npos) return true;
  }
  return false;
}
bool quit_about(const FakeClient& c, const FakeClient& who, std::string_view message) {
  for (const auto& q : c.got<p::UserQuit>()) {
    if (q.user_id == who.user_id && q.message == message) return true;
  }
  return false;
}

// The id of the room the owner made (0: refused): the 0x0A about it that the owner gets.
std::uint32_t create_room(FakeClient& owner, std::string_view rom = "Street Fighter II") {
  const auto before = owner.got<p::CreateGame>().size();
  owner.send(p::CreateGame{"", rom, "", 0xFFFFFFFF});
  const auto created = owner.got<p::CreateGame>();
  for (std::size_t i = before; i < created.size(); ++i) {
    if (created[i].rom == rom) return created[i].game_id;
  }
  return 0;
}
void join(FakeClient& c, std::uint32_t game_id) {
  c.send(p::JoinGame{"", game_id, "", 0, 0xFFFF, 1});
}
// Lets time pass while the given clients keep their sessions (a keepalive a minute; the relay drops users it
// has not heard from for keepalive_timeout).
void pass_time(Harness& h, std::initializer_list<FakeClient*> alive, std::chrono::milliseconds d) {
  while (d > 0ms) {
    const auto step = std::min<std::chrono::milliseconds>(d, 60s);
    h.advance(step);
    d -= step;
    for (FakeClient* c : alive)
      c->send(p::KeepAlive{});
  }
}
bool in_room(const FakeClient& c, std::uint32_t game_id) {
  // The server's 0x0C about the joiner itself says it is in.
  for (const auto& j : c.got<p::JoinGame>()) {
    if (j.game_id == game_id && j.user_id == c.user_id) return true;
  }
  return false;
}

// A relay with staff of every level logged in: olga (owner), adam (admin), mia (moderator), eve (elevated),
// nick (normal by an access entry), all from the access list.
struct Community {
  explicit Community(r::Config c = relaxed(), bool with_journal = true) : h(std::move(c)) {
    if (with_journal) h.server().set_journal(&journal);
    h.set_access(community_access());
    EXPECT_TRUE(olga.login("olga"));
    EXPECT_TRUE(adam.login("adam"));
    EXPECT_TRUE(mia.login("mia"));
    EXPECT_TRUE(eve.login("eve"));
    EXPECT_TRUE(nick.login("nick"));
  }
  void clear_all() {
    for (FakeClient* c : {&olga, &adam, &mia, &eve, &nick})
      c->clear();
  }
  r::TimePoint now() const { return h.now(); }
  FakeJournal journal;
  Harness h;
  FakeClient& olga = h.client(kOwnerIp);
  FakeClient& adam = h.client(kAdminIp);
  FakeClient& mia = h.client(kModIp);
  FakeClient& eve = h.client(kElevatedIp);
  FakeClient& nick = h.client(kNormalIp);
};

}  // namespace

// --- Levels
// ---------------------------------------------------------------------------------------------------

TEST(ModerationLevels, TheAdminsKeyGivesTheAdminLevel) {
  r::Config cfg = relaxed();
  cfg.admins = {"203.0.113.1"};
  Harness h(cfg);
  auto& admin = h.client(ip(203, 0, 113, 1));
  auto& user = h.client(ip(203, 0, 113, 2));
  ASSERT_TRUE(admin.login("admin"));
  ASSERT_TRUE(user.login("user"));
  EXPECT_EQ(h.server().user_level(admin.user_id), Level::kAdmin);
  EXPECT_EQ(h.server().user_level(user.user_id), Level::kNormal);
  EXPECT_TRUE(lobby_notice(admin, "You are admin on this relay"));
  EXPECT_FALSE(lobby_notice(user, "You are"));
  say(admin, "/announce from the admins key");
  EXPECT_TRUE(lobby_notice(user, "from the admins key"));
}

TEST(ModerationLevels, AccessListLevelsAtLoginAndTheLoginAnnouncement) {
  Community c;
  EXPECT_EQ(c.h.server().user_level(c.olga.user_id), Level::kOwner);
  EXPECT_EQ(c.h.server().user_level(c.adam.user_id), Level::kAdmin);
  EXPECT_EQ(c.h.server().user_level(c.mia.user_id), Level::kModerator);
  EXPECT_EQ(c.h.server().user_level(c.eve.user_id), Level::kElevated);
  EXPECT_EQ(c.h.server().user_level(c.nick.user_id), Level::kNormal);
  auto& bob = c.h.client(kBobIp);  // no entry: the default level
  ASSERT_TRUE(bob.login("bob"));
  EXPECT_EQ(c.h.server().user_level(bob.user_id), Level::kNormal);
  // Staff are told at login; the moderators' entry announces them to the lobby.
  EXPECT_TRUE(lobby_notice(c.mia, "You are moderator on this relay"));
  EXPECT_TRUE(lobby_notice(c.olga, "Mia the moderator is here"));
  EXPECT_FALSE(lobby_notice(c.nick, "You are"));
  // The "banned" entry: refused at login, counted.
  auto& blocked = c.h.client(ip(192, 0, 2, 9));
  EXPECT_FALSE(blocked.login("blocked"));
  EXPECT_TRUE(contains(blocked.texts(), "This relay does not admit your address"));
  EXPECT_EQ(c.h.server().counters().refused_banned, 1u);
}

TEST(ModerationLevels, ANewAccessListChangesLevelsAtOnceAndDropsNobody) {
  Community c;
  c.clear_all();
  r::AccessList next;
  next.entries.push_back(entry(Level::kOwner, kOwnerIp, 32, "the owner"));
  next.entries.push_back(entry(Level::kModerator, kNormalIp, 32, "promoted"));
  next.entries.push_back(entry(Level::kBanned, kElevatedIp, 32, "operator's ban"));
  c.h.set_access(next);  // adam and mia have no entry any more: normal
  EXPECT_EQ(c.h.server().user_level(c.nick.user_id), Level::kModerator);
  EXPECT_TRUE(lobby_notice(c.nick, "Your level on this relay is now moderator"));
  EXPECT_EQ(c.h.server().user_level(c.adam.user_id), Level::kNormal);
  EXPECT_TRUE(lobby_notice(c.adam, "Your level on this relay is now normal"));
  EXPECT_EQ(c.h.server().user_level(c.mia.user_id), Level::kNormal);
  // Nobody is dropped, not even the user whose address the new list bans: it keeps playing as a normal user
  // (its commands still answer) and is refused at its next login.
  for (FakeClient* u : {&c.olga, &c.adam, &c.mia, &c.eve, &c.nick})
    EXPECT_TRUE(u->got<p::UserQuit>().empty());
  EXPECT_EQ(c.h.server().snapshot().users, 5u);
  EXPECT_EQ(c.h.server().user_level(c.eve.user_id), Level::kNormal);
  c.eve.clear();
  say(c.eve, "/myip");
  EXPECT_TRUE(lobby_notice(c.eve, "Your address: 10.0.0.4"));
  auto& again = c.h.client(kElevatedIp, 41000);
  EXPECT_FALSE(again.login("eve2"));
  EXPECT_TRUE(contains(again.texts(), "This relay does not admit your address"));
  // The promoted user may use the moderators' commands now, the demoted admin no longer the admins'.
  say(c.nick, "/kick " + id(c.adam));
  EXPECT_TRUE(quit_about(c.olga, c.adam, "Kicked by nick"));
  say(c.mia, "/bans");
  EXPECT_TRUE(lobby_notice(c.mia, "/bans is for admins of this relay"));
}

// --- Who may use what
// ----------------------------------------------------------------------------------------

TEST(ModerationPermissions, EveryStaffCommandAtEveryLevel) {
  struct Case {
    std::string line;
    Level least;
    std::string allowed;  // what the answer holds when the level may use it
  };
  // Arguments that name nobody, so that an allowed command answers without changing anything.
  const std::vector<Case> cases = {
      {"/kick 65000", Level::kModerator, "No user has id 65000"},
      {"/silence 65000 5", Level::kModerator, "No user has id 65000"},
      {"/unsilence #999", Level::kModerator, "No active silence matches"},
      {"/ban 65000 5", Level::kAdmin, "No user has id 65000"},
      {"/unban #999", Level::kAdmin, "No active ban matches"},
      {"/bans", Level::kAdmin, "No active bans or silences"},
      {"/clear 198.51.100.250", Level::kAdmin, "Nothing to clear"},
      {"/info 65000", Level::kAdmin, "No user, address or recent login matches"},
      {"/findgame nothing", Level::kAdmin, "No game's name matches"},
      {"/announce hello everyone", Level::kAdmin, "hello everyone"},
      {"/announceall hello rooms", Level::kAdmin, "hello rooms"},
      {"/announcegame 999 hi", Level::kAdmin, "No game has id 999"},
      {"/closegame 999", Level::kAdmin, "No game has id 999"},
      {"/stealthon", Level::kAdmin, "Stealth on"},
      {"/stealthoff", Level::kAdmin, "Stealth off"},
      {"/reload", Level::kAdmin, "nothing to reload"},
      {"/tempelevated 65000 5", Level::kOwner, "No user has id 65000"},
      {"/tempmoderator 65000 5", Level::kOwner, "No user has id 65000"},
      {"/tempadmin 65000 5", Level::kOwner, "No user has id 65000"},
  };
  Community c;
  const std::pair<FakeClient*, Level> users[] = {{&c.nick, Level::kNormal},
                                                 {&c.eve, Level::kElevated},
                                                 {&c.mia, Level::kModerator},
                                                 {&c.adam, Level::kAdmin},
                                                 {&c.olga, Level::kOwner}};
  for (const auto& k : cases) {
    const std::string word = k.line.substr(0, k.line.find(' '));
    const std::string refusal = word + " is for " + std::string(r::level_name(k.least)) + "s of this relay";
    for (const auto& [u, level] : users) {
      u->clear();
      say(*u, k.line);
      if (level < k.least) {
        EXPECT_TRUE(contains(u->texts(), refusal)) << k.line << " by " << r::level_name(level);
        EXPECT_FALSE(contains(u->texts(), k.allowed)) << k.line << " by " << r::level_name(level);
      } else {
        EXPECT_TRUE(contains(u->texts(), k.allowed)) << k.line << " by " << r::level_name(level);
        EXPECT_FALSE(contains(u->texts(), " is for ")) << k.line << " by " << r::level_name(level);
      }
    }
  }
  EXPECT_FALSE(c.h.server().shutdown_requested());
  EXPECT_TRUE(c.journal.changes.empty());  // nothing was changed
}

TEST(ModerationPermissions, ShutdownIsForAdmins) {
  Community c;
  say(c.mia, "/shutdown");
  EXPECT_TRUE(lobby_notice(c.mia, "/shutdown is for admins of this relay"));
  EXPECT_FALSE(c.h.server().shutdown_requested());
  say(c.adam, "/shutdown");
  EXPECT_TRUE(c.h.server().shutdown_requested());
  auto shutdowns = 0;
  for (const auto* e : c.journal.of("staff"))
    shutdowns += text_of(*e, "action") == "shutdown" && text_of(*e, "issuer") == "adam";
  EXPECT_EQ(shutdowns, 1);
}

TEST(ModerationPermissions, WrongPlaceUsageAndUnknownCommands) {
  Community c;
  c.clear_all();
  // Room commands in the lobby.
  say(c.nick, "/swap 21");
  EXPECT_TRUE(lobby_notice(c.nick, "/swap works inside a game room"));
  say(c.adam, "/num");
  EXPECT_TRUE(lobby_notice(c.adam, "/num works inside a game room"));
  // Lobby commands in a room: the answer goes to the room as an error line.
  const auto game = create_room(c.adam);
  c.adam.clear();
  room_say(c.adam, "/stealthon");
  EXPECT_TRUE(room_chat_from(c.adam, "Error"));
  EXPECT_TRUE(contains(c.adam.texts(), "/stealthon works in the lobby chat"));
  // "/kick" in a room is the owner's kick of a player number, even for staff.
  join(c.mia, game);
  c.mia.clear();
  room_say(c.mia, "/kick 1");
  EXPECT_TRUE(contains(c.mia.texts(), "/kick is for the room's owner"));
  EXPECT_EQ(c.h.server().snapshot().users, 5u);
  // Bad arguments: the usage line, and nothing happens.
  c.clear_all();
  const std::pair<FakeClient*, std::string> bad[] = {
      {&c.olga, "/ban"},         {&c.olga, "/ban " + id(c.nick) + " 0"},
      {&c.olga, "/ban nick 5"},  {&c.olga, "/silence " + id(c.nick)},
      {&c.olga, "/unban nick"},  {&c.olga, "/tempadmin " + id(c.nick)},
      {&c.olga, "/closegame 0"}, {&c.olga, "/announce"},
      {&c.olga, "/info"},        {&c.mia, "/kick nick"},
      {&c.nick, "/msg"},         {&c.nick, "/msg " + id(c.eve)},
      {&c.nick, "/ignore x"},    {&c.nick, "/finduser"},
  };
  for (const auto& [u, line] : bad) {
    u->clear();
    say(*u, line);
    const std::string word = line.substr(1, line.find(' ') - 1);
    const auto* info = r::find_command(word, false);
    ASSERT_NE(info, nullptr) << line;
    EXPECT_TRUE(contains(u->texts(), "Usage: " + std::string(info->usage))) << line;
  }
  EXPECT_TRUE(c.journal.changes.empty());
  EXPECT_EQ(c.h.server().snapshot().users, 5u);
  // Unknown commands, and no command is ever broadcast.
  say(c.nick, "/frobnicate");
  EXPECT_TRUE(lobby_notice(c.nick, "Unknown command /frobnicate"));
  for (FakeClient* u : {&c.olga, &c.adam, &c.mia, &c.eve, &c.nick})
    EXPECT_TRUE(u->got<p::GlobalChat>().empty());
}

// --- Hierarchy
// -----------------------------------------------------------------------------------------------

TEST(ModerationHierarchy, NobodyActsOnAnEqualOrHigherLevel) {
  Community c;
  auto& max = c.h.client(kMod2Ip);
  auto& ada = c.h.client(kAdmin2Ip);
  ASSERT_TRUE(max.login("max"));
  ASSERT_TRUE(ada.login("ada"));
  c.clear_all();
  // A moderator on an admin and on another moderator.
  say(c.mia, "/kick " + id(c.adam));
  EXPECT_TRUE(lobby_notice(c.mia, "adam is admin: you cannot act on an equal or higher level"));
  say(c.mia, "/silence " + id(max) + " 5");
  EXPECT_TRUE(lobby_notice(c.mia, "max is moderator: you cannot act on an equal or higher level"));
  // An admin on another admin and on the owner.
  say(c.adam, "/ban " + id(ada) + " perm");
  EXPECT_TRUE(lobby_notice(c.adam, "ada is admin: you cannot act on an equal or higher level"));
  say(c.adam, "/silence " + id(c.olga) + " 5");
  EXPECT_TRUE(lobby_notice(c.adam, "olga is owner: you cannot act on an equal or higher level"));
  // Oneself.
  say(c.adam, "/kick " + id(c.adam));
  EXPECT_TRUE(lobby_notice(c.adam, "That is you"));
  // Ranges: refused when they cover someone of an equal or higher level, or the issuer.
  say(c.adam, "/ban 10.0.0.0/29 perm");  // covers olga (owner) and ada (admin)
  EXPECT_TRUE(lobby_notice(c.adam, "10.0.0.0/29 covers"));
  say(c.adam, "/ban 10.0.0.7 perm");  // ada's address
  EXPECT_TRUE(lobby_notice(c.adam, "10.0.0.7 covers ada, who is admin"));
  say(c.mia, "/silence 10.0.0.6 5");  // max's address
  EXPECT_TRUE(lobby_notice(c.mia, "10.0.0.6 covers max, who is moderator"));
  say(c.adam, "/ban 10.0.0.2/31 5");  // adam (the issuer) and mia (a moderator: outranked)
  EXPECT_TRUE(lobby_notice(c.adam, "10.0.0.2/31 covers your own address"));
  EXPECT_TRUE(c.journal.changes.empty());
  EXPECT_TRUE(c.h.server().moderation().bans(c.now()).empty());
  EXPECT_TRUE(c.h.server().moderation().silences(c.now()).empty());
  EXPECT_EQ(c.h.server().snapshot().users, 7u);
  // A range covering lower levels only is allowed: eve (elevated) and nick (normal) go.
  say(c.adam, "/ban 10.0.0.4/31 5 range test");
  EXPECT_TRUE(quit_about(c.olga, c.eve, "Banned: range test"));
  EXPECT_TRUE(quit_about(c.olga, c.nick, "Banned: range test"));
  EXPECT_EQ(c.h.server().snapshot().users, 5u);
  // An admin may ban a moderator's address, but a ban never locks out staff: max stays, a moderator.
  say(c.adam, "/ban 10.0.0.6 5");
  EXPECT_NE(c.h.server().moderation().ban_of(kMod2Ip, c.now()), nullptr);
  for (const auto& q : c.olga.got<p::UserQuit>())
    EXPECT_NE(q.user_id, max.user_id);
  EXPECT_EQ(c.h.server().user_level(max.user_id), Level::kModerator);
  EXPECT_EQ(c.h.server().snapshot().users, 5u);
  // The owner acts on an admin.
  say(c.olga, "/kick " + id(c.adam));
  EXPECT_TRUE(quit_about(c.mia, c.adam, "Kicked by olga"));
}

// --- Kick
// ------------------------------------------------------------------------------------------------------

TEST(ModerationKick, AModeratorRemovesALowerUser) {
  Community c;
  c.clear_all();
  say(c.mia, "/kick " + id(c.eve));
  EXPECT_TRUE(quit_about(c.eve, c.eve, "Kicked by mia"));
  EXPECT_TRUE(quit_about(c.nick, c.eve, "Kicked by mia"));
  EXPECT_TRUE(lobby_notice(c.mia, "Kicked eve"));
  EXPECT_EQ(c.h.server().counters().staff_actions, 1u);
  const auto* e = find_event(c.journal, "staff", "action", "kick");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(text_of(*e, "issuer"), "mia");
  EXPECT_EQ(text_of(*e, "target"), "eve");
  EXPECT_EQ(text_of(*e, "target_ip"), "10.0.0.4");
  const auto* out = find_event(c.journal, "logout", "name", "eve");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(text_of(*out, "reason"), "Kicked by mia");
}

// --- Ban, unban, bans
// ------------------------------------------------------------------------------------------

TEST(ModerationBan, ByUserIdAnnouncedRemovedAndAcknowledgedOnceWritten) {
  Community c;
  auto& bob = c.h.client(kBobIp);
  auto& carol = c.h.client(kCarolIp);
  ASSERT_TRUE(bob.login("bob"));
  ASSERT_TRUE(carol.login("carol"));
  carol.clear();
  c.adam.clear();
  const auto at = c.now();
  say(c.adam, "/ban " + id(bob) + " 1 cheating");
  // Announced to everyone; bob is removed with the reason.
  EXPECT_TRUE(lobby_notice(carol, "bob was banned for 1 min: cheating"));
  EXPECT_TRUE(quit_about(bob, bob, "Banned: cheating"));
  EXPECT_TRUE(quit_about(carol, bob, "Banned: cheating"));
  EXPECT_EQ(c.h.server().snapshot().users, 6u);
  // The change went to the journal as a value.
  ASSERT_EQ(c.journal.changes.size(), 1u);
  const auto& ch = c.journal.changes[0];
  EXPECT_EQ(ch.kind, r::ModerationChange::Kind::kBan);
  EXPECT_EQ(ch.sanction.range, (r::AddressRange{kBobIp, 32}));
  ASSERT_TRUE(ch.sanction.until.has_value());
  EXPECT_EQ(*ch.sanction.until, at + std::chrono::minutes(1));
  EXPECT_EQ(ch.sanction.reason, "cheating");
  EXPECT_EQ(ch.sanction.issuer, "adam");
  EXPECT_EQ(ch.sanction.issuer_ip, kAdminIp);
  EXPECT_EQ(ch.sanction.target_name, "bob");
  // "saved" only once the shell says it is written.
  EXPECT_FALSE(contains(c.adam.texts(), "saved"));
  c.h.change_written(ch.change_id, true);
  EXPECT_TRUE(lobby_notice(c.adam, "Ban #" + std::to_string(ch.sanction.id) + " saved: 198.51.100.2 (bob)"));
  EXPECT_FALSE(contains(c.adam.texts(), "NOT SAVED"));
  EXPECT_FALSE(contains(c.adam.texts(), "memory only"));
  EXPECT_EQ(c.h.server().counters().moderation_writes_failed, 0u);
  // Audit: who banned whom.
  const auto* e = find_event(c.journal, "staff", "action", "ban");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(text_of(*e, "issuer"), "adam");
  EXPECT_EQ(text_of(*e, "target"), "bob");
  EXPECT_EQ(text_of(*e, "range"), "198.51.100.2");
  EXPECT_EQ(text_of(*e, "reason"), "cheating");
  EXPECT_EQ(num_of(*e, "minutes"), 1);
  // The next login from the address is refused with the ban's terms.
  auto& again = c.h.client(kBobIp, 41000);
  EXPECT_FALSE(again.login("bob"));
  EXPECT_TRUE(contains(again.texts(), "Banned (1 min left, by adam: cheating)"));
  EXPECT_EQ(c.h.server().counters().refused_banned, 1u);
  const auto* refused = find_event(c.journal, "login_refused", "ip", "198.51.100.2");
  ASSERT_NE(refused, nullptr);
  EXPECT_EQ(text_of(*refused, "reason"), "Banned (1 min left, by adam: cheating)");
  // Once the minute has passed the address is admitted again.
  c.h.advance(std::chrono::seconds(61));
  EXPECT_EQ(c.h.server().moderation().ban_of(kBobIp, c.now()), nullptr);
  auto& later = c.h.client(kBobIp, 42000);
  EXPECT_TRUE(later.login("bob"));
}

TEST(ModerationBan, ACidrBanRefusesAnotherAddressOfTheRange) {
  Community c;
  auto& bob = c.h.client(kBobIp);
  ASSERT_TRUE(bob.login("bob"));
  c.nick.clear();
  say(c.adam, "/ban 198.51.100.0/24 perm open proxies");
  EXPECT_TRUE(lobby_notice(c.nick, "bob was banned permanently: open proxies"));
  EXPECT_TRUE(quit_about(c.nick, bob, "Banned: open proxies"));
  ASSERT_EQ(c.journal.changes.size(), 1u);
  EXPECT_EQ(c.journal.changes[0].sanction.range, (r::AddressRange{ip(198, 51, 100, 0), 24}));
  EXPECT_FALSE(c.journal.changes[0].sanction.until.has_value());
  // Another address inside the range: refused; one outside: admitted.
  auto& dave = c.h.client(ip(198, 51, 100, 77));
  EXPECT_FALSE(dave.login("dave"));
  EXPECT_TRUE(contains(dave.texts(), "Banned (permanent, by adam: open proxies)"));
  auto& outside = c.h.client(ip(198, 51, 101, 5));
  EXPECT_TRUE(outside.login("outside"));
  EXPECT_EQ(c.h.server().counters().refused_banned, 1u);
}

TEST(ModerationBan, ByAddressWithoutAJournalIsMemoryOnly) {
  Community c(relaxed(), /*with_journal=*/false);
  auto& bob = c.h.client(kBobIp);
  ASSERT_TRUE(bob.login("bob"));
  c.adam.clear();
  say(c.adam, "/ban 198.51.100.2 perm");
  // Acknowledged at once, saying it lasts until restart.
  EXPECT_TRUE(lobby_notice(c.adam, "saved: 198.51.100.2 (bob) permanently (memory only"));
  EXPECT_TRUE(quit_about(c.adam, bob, "Banned"));
  auto& again = c.h.client(kBobIp, 41000);
  EXPECT_FALSE(again.login("bob"));
  EXPECT_TRUE(contains(again.texts(), "Banned (permanent, by adam)"));
}

TEST(ModerationBan, AJournalWithoutAStateFileIsMemoryOnlyToo) {
  Community c;
  c.journal.state_file = false;
  auto& bob = c.h.client(kBobIp);
  ASSERT_TRUE(bob.login("bob"));
  c.adam.clear();
  say(c.adam, "/ban " + id(bob) + " 30");
  EXPECT_TRUE(c.journal.changes.empty()) << "nothing to write it to";
  EXPECT_TRUE(lobby_notice(c.adam, "(memory only: this relay has no state file)"));
  c.adam.clear();
  say(c.adam, "/version");
  EXPECT_TRUE(lobby_notice(c.adam, "state in memory only"));
}

TEST(ModerationBan, AStateFileThatCannotTakeTheChangeNowSaysSoAndCountsIt) {
  Community c;
  c.journal.accepts = false;  // its queue is full
  auto& bob = c.h.client(kBobIp);
  ASSERT_TRUE(bob.login("bob"));
  c.adam.clear();
  say(c.adam, "/ban " + id(bob) + " 30");
  ASSERT_EQ(c.journal.changes.size(), 1u);  // offered, refused
  EXPECT_TRUE(lobby_notice(c.adam, "(NOT written: the state file is behind; this lasts until restart)"));
  EXPECT_FALSE(lobby_notice(c.adam, "no state file"));
  EXPECT_EQ(c.h.server().counters().moderation_writes_failed, 1u);
  // A late change_written for it changes nothing.
  c.adam.clear();
  c.h.change_written(c.journal.changes[0].change_id, true);
  EXPECT_TRUE(c.adam.texts().empty());
  say(c.adam, "/version");
  EXPECT_TRUE(lobby_notice(c.adam, "state saved"));
}

TEST(ModerationBan, AFailedWriteSaysNotSavedAndIsCounted) {
  Community c;
  auto& bob = c.h.client(kBobIp);
  ASSERT_TRUE(bob.login("bob"));
  c.adam.clear();
  say(c.adam, "/ban " + id(bob) + " perm");
  ASSERT_EQ(c.journal.changes.size(), 1u);
  c.h.change_written(c.journal.changes[0].change_id, false);
  EXPECT_TRUE(lobby_notice(c.adam, "NOT SAVED"));
  EXPECT_EQ(c.h.server().counters().moderation_writes_failed, 1u);
  // It still holds until restart.
  auto& again = c.h.client(kBobIp, 41000);
  EXPECT_FALSE(again.login("bob"));
}

TEST(ModerationBan, BanningAStaffMembersRangeFromBelowIsRefused) {
  // Only admins ban; a moderator cannot even try. An admin's range ban may not cover the owner.
  Community c;
  say(c.mia, "/ban 10.0.0.5 perm");
  EXPECT_TRUE(lobby_notice(c.mia, "/ban is for admins of this relay"));
  say(c.adam, "/ban 10.0.0.0/30 perm");  // .0-.3: olga (owner), adam, mia
  EXPECT_TRUE(lobby_notice(c.adam, "covers olga, who is owner"));
  EXPECT_TRUE(c.h.server().moderation().bans(c.now()).empty());
}

TEST(ModerationUnban, ByEntryIdAddressAndRange) {
  Community c;
  say(c.adam, "/ban 198.51.100.2 perm");
  say(c.adam, "/ban 203.0.113.64/26 perm");
  say(c.adam, "/ban 203.0.113.128/25 perm");
  say(c.adam, "/ban 203.0.113.130 60");
  ASSERT_EQ(c.journal.changes.size(), 4u);
  std::vector<std::uint64_t> ids;
  for (const auto& ch : c.journal.changes)
    ids.push_back(ch.sanction.id);
  c.journal.changes.clear();
  auto lifted = [&] {
    std::vector<std::uint64_t> v;
    for (const auto& ch : c.journal.changes) {
      EXPECT_EQ(ch.kind, r::ModerationChange::Kind::kLiftBan);
      EXPECT_EQ(ch.by, "adam");
      v.push_back(ch.id);
    }
    c.journal.changes.clear();
    return v;
  };
  // #id: that entry.
  say(c.adam, "/unban #" + std::to_string(ids[0]));
  EXPECT_EQ(lifted(), (std::vector<std::uint64_t>{ids[0]}));
  auto& bob = c.h.client(kBobIp);
  EXPECT_TRUE(bob.login("bob"));
  // An address: what covers it.
  say(c.adam, "/unban 203.0.113.70");
  EXPECT_EQ(lifted(), (std::vector<std::uint64_t>{ids[1]}));
  // A range: the range and what lies inside it.
  c.adam.clear();
  say(c.adam, "/unban 203.0.113.128/25");
  auto v = lifted();
  std::sort(v.begin(), v.end());
  EXPECT_EQ(v, (std::vector<std::uint64_t>{ids[2], ids[3]}));
  EXPECT_TRUE(c.h.server().moderation().bans(c.now()).empty());
  // Acknowledged per entry once written.
  c.adam.clear();
  say(c.adam, "/unban #" + std::to_string(ids[0]));
  EXPECT_TRUE(lobby_notice(c.adam, "No active ban matches"));
  EXPECT_TRUE(c.journal.changes.empty());
  const auto unbans = c.journal.of("staff");
  EXPECT_EQ(std::count_if(unbans.begin(), unbans.end(),
                          [](const r::AuditEvent* e) { return text_of(*e, "action") == "unban"; }),
            4);
}

TEST(ModerationUnban, TheAcknowledgementFollowsTheWrite) {
  Community c;
  say(c.adam, "/ban 198.51.100.2 perm");
  c.h.change_written(c.journal.changes[0].change_id, true);
  const auto ban_id = c.journal.changes[0].sanction.id;
  c.adam.clear();
  say(c.adam, "/unban 198.51.100.2");
  ASSERT_EQ(c.journal.changes.size(), 2u);
  EXPECT_FALSE(contains(c.adam.texts(), "lifted"));
  c.h.change_written(c.journal.changes[1].change_id, true);
  EXPECT_TRUE(lobby_notice(c.adam, "Ban #" + std::to_string(ban_id) + " lifted"));
}

TEST(ModerationBans, ListingAndPattern) {
  Community c;
  auto& bob = c.h.client(kBobIp);
  auto& carol = c.h.client(kCarolIp);
  ASSERT_TRUE(bob.login("bob"));
  ASSERT_TRUE(carol.login("carol"));
  c.adam.clear();
  say(c.adam, "/bans");
  EXPECT_TRUE(lobby_notice(c.adam, "No active bans or silences"));
  say(c.adam, "/ban " + id(bob) + " perm spam");
  say(c.adam, "/ban 192.0.2.64/26 60 proxies");
  say(c.adam, "/silence " + id(carol) + " 10 rude");
  c.adam.clear();
  say(c.adam, "/bans");
  EXPECT_TRUE(lobby_notice(c.adam, "ban 198.51.100.2 (bob), permanent, by adam: spam"));
  EXPECT_TRUE(lobby_notice(c.adam, "ban 192.0.2.64/26, 60 min left, by adam: proxies"));
  EXPECT_TRUE(lobby_notice(c.adam, "silence 203.0.113.3 (carol), 10 min left, by adam: rude"));
  c.adam.clear();
  say(c.adam, "/bans proxies");
  EXPECT_TRUE(lobby_notice(c.adam, "192.0.2.64/26"));
  EXPECT_FALSE(lobby_notice(c.adam, "bob"));
  EXPECT_FALSE(lobby_notice(c.adam, "carol"));
  c.adam.clear();
  say(c.adam, "/bans nothing-like-this");
  EXPECT_TRUE(lobby_notice(c.adam, "No active bans or silences match"));
}

// --- Silence
// ---------------------------------------------------------------------------------------------------

TEST(ModerationSilence, ASilencedUsersChatReachesNobody) {
  Community c;
  auto& bob = c.h.client(kBobIp);
  auto& carol = c.h.client(kCarolIp);
  ASSERT_TRUE(bob.login("bob"));
  ASSERT_TRUE(carol.login("carol"));
  const auto game = create_room(carol);
  join(bob, game);
  ASSERT_TRUE(in_room(bob, game));
  say(c.mia, "/silence " + id(bob) + " 15 spam");
  EXPECT_TRUE(lobby_notice(c.nick, "bob was silenced for 15 min: spam"));
  ASSERT_EQ(c.journal.changes.size(), 1u);
  EXPECT_EQ(c.journal.changes[0].kind, r::ModerationChange::Kind::kSilence);
  const auto before = c.h.server().counters().refused_silenced;
  for (FakeClient* u : {&c.olga, &c.adam, &c.mia, &c.eve, &c.nick, &carol, &bob})
    u->clear();
  say(bob, "hello lobby");                   // lobby chat
  room_say(bob, "hello room");               // room chat
  say(bob, "/me waves at the lobby");        // /me typed in the lobby window
  room_say(bob, "/me waves at the room");    // /me in the room
  say(bob, "/msg " + id(c.nick) + " psst");  // a private message
  room_say(bob, "/msg " + id(carol) + " psst");
  for (FakeClient* u : {&c.olga, &c.adam, &c.mia, &c.eve, &c.nick, &carol}) {
    EXPECT_FALSE(chat_from(*u, "bob"));
    EXPECT_FALSE(room_chat_from(*u, "bob"));
    EXPECT_FALSE(contains(u->texts(), "* bob waves"));
    EXPECT_FALSE(contains(u->texts(), "psst"));
  }
  EXPECT_TRUE(lobby_notice(bob, "Chat denied: you are silenced (15 min left, by mia: spam)"));
  EXPECT_TRUE(contains(bob.texts(), "You are silenced"));
  EXPECT_EQ(c.h.server().counters().refused_silenced, before + 6);
  // Lifted: bob is heard again.
  say(c.mia, "/unsilence " + id(bob));
  say(bob, "back again");
  EXPECT_TRUE(chat_from(c.nick, "bob"));
  EXPECT_TRUE(c.h.server().moderation().silences(c.now()).empty());
}

TEST(ModerationSilence, ModeratorsAreCappedAdminsAreNot) {
  Community c;
  c.mia.clear();
  say(c.mia, "/silence " + id(c.nick) + " 16");
  EXPECT_TRUE(lobby_notice(c.mia, "Moderators silence for at most 15 min"));
  say(c.mia, "/silence " + id(c.nick) + " perm");
  EXPECT_EQ(c.mia.texts().size(), 2u);
  EXPECT_TRUE(c.journal.changes.empty());
  EXPECT_FALSE(c.h.server().moderation().silenced(kNormalIp, c.now()));
  // A moderator on an elevated user, within the cap: allowed.
  say(c.mia, "/silence " + id(c.eve) + " 15");
  EXPECT_TRUE(c.h.server().moderation().silenced(kElevatedIp, c.now()));
  // An admin: any length, permanent too.
  say(c.adam, "/silence " + id(c.nick) + " perm");
  ASSERT_EQ(c.journal.changes.size(), 2u);
  EXPECT_FALSE(c.journal.changes[1].sanction.until.has_value());
  EXPECT_TRUE(c.h.server().moderation().silenced(kNormalIp, c.now()));
  // Silences end by themselves.
  c.h.advance(std::chrono::minutes(15) + std::chrono::seconds(1));
  EXPECT_FALSE(c.h.server().moderation().silenced(kElevatedIp, c.now()));
  EXPECT_TRUE(c.h.server().moderation().silenced(kNormalIp, c.now()));
}

TEST(ModerationSilence, UnsilenceByEntryAndNothingToLift) {
  Community c;
  say(c.mia, "/silence " + id(c.nick) + " 10");
  const auto sid = c.journal.changes.at(0).sanction.id;
  c.mia.clear();
  say(c.mia, "/unsilence #" + std::to_string(sid + 100));
  EXPECT_TRUE(lobby_notice(c.mia, "No active silence matches"));
  say(c.mia, "/unsilence #" + std::to_string(sid));
  ASSERT_EQ(c.journal.changes.size(), 2u);
  EXPECT_EQ(c.journal.changes[1].kind, r::ModerationChange::Kind::kLiftSilence);
  EXPECT_EQ(c.journal.changes[1].id, sid);
  EXPECT_FALSE(c.h.server().moderation().silenced(kNormalIp, c.now()));
}

// --- Clear, info, finduser, findgame ---------------------------------------------------------------------

TEST(ModerationClear, ByUserIdAddressAndName) {
  Community c;
  auto& bob = c.h.client(kBobIp);
  auto& carol = c.h.client(kCarolIp);
  ASSERT_TRUE(bob.login("bob"));
  ASSERT_TRUE(carol.login("carol"));
  say(c.adam, "/ban " + id(bob) + " perm");
  say(c.adam, "/silence " + id(carol) + " 10");
  say(c.adam, "/silence 192.0.2.77 10");
  // A name: every address it logged in from recently (bob is offline now).
  c.journal.changes.clear();
  say(c.adam, "/clear bob");
  ASSERT_EQ(c.journal.changes.size(), 1u);
  EXPECT_EQ(c.journal.changes[0].kind, r::ModerationChange::Kind::kLiftBan);
  auto& bob2 = c.h.client(kBobIp, 41000);
  EXPECT_TRUE(bob2.login("bob"));
  // A user id.
  say(c.adam, "/clear " + id(carol));
  EXPECT_FALSE(c.h.server().moderation().silenced(kCarolIp, c.now()));
  // An address.
  say(c.adam, "/clear 192.0.2.77");
  EXPECT_TRUE(c.h.server().moderation().silences(c.now()).empty());
  c.adam.clear();
  say(c.adam, "/clear 192.0.2.77");
  EXPECT_TRUE(lobby_notice(c.adam, "Nothing to clear"));
  say(c.adam, "/clear nobody-like-that");
  EXPECT_TRUE(lobby_notice(c.adam, "No user, address or recent login matches"));
  const auto* e = find_event(c.journal, "staff", "action", "clear");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(text_of(*e, "issuer"), "adam");
  EXPECT_EQ(text_of(*e, "ip"), "198.51.100.2");
}

TEST(ModerationClear, OnlyTheOwnersClearLiftsGrants) {
  Community c;
  say(c.olga, "/tempmoderator " + id(c.nick) + " 30");
  ASSERT_EQ(c.h.server().user_level(c.nick.user_id), Level::kModerator);
  c.adam.clear();
  say(c.adam, "/clear " + id(c.nick));
  EXPECT_TRUE(lobby_notice(c.adam, "Nothing to clear"));
  EXPECT_EQ(c.h.server().user_level(c.nick.user_id), Level::kModerator);
  say(c.olga, "/clear " + id(c.nick));
  EXPECT_EQ(c.h.server().user_level(c.nick.user_id), Level::kNormal);
  EXPECT_EQ(c.journal.changes.back().kind, r::ModerationChange::Kind::kLiftGrant);
}

TEST(ModerationInfo, LevelSanctionsOnlineAndRecentLogins) {
  Community c;
  c.adam.clear();
  say(c.adam, "/info " + id(c.mia));
  EXPECT_TRUE(lobby_notice(c.adam, "10.0.0.3: moderator (access file: mods)"));
  EXPECT_TRUE(lobby_notice(c.adam, " online: id " + id(c.mia) + " mia, 10 ms, LAN"));
  EXPECT_TRUE(lobby_notice(c.adam, " login 0 min ago: mia (MAME32k 0.64, 10 ms)"));
  // A banned address, by address and by the name that logged in from it.
  auto& bob = c.h.client(kBobIp);
  ASSERT_TRUE(bob.login("bob", "Project64k 0.13", 1, 30ms));
  say(c.adam, "/ban " + id(bob) + " perm spam");
  c.h.advance(std::chrono::minutes(2));
  for (std::string target : {"198.51.100.2", "bob"}) {
    c.adam.clear();
    say(c.adam, "/info " + target);
    EXPECT_TRUE(lobby_notice(c.adam, "198.51.100.2: banned")) << target;
    EXPECT_TRUE(lobby_notice(c.adam, " ban #")) << target;
    EXPECT_TRUE(lobby_notice(c.adam, " 198.51.100.2, permanent, by adam: spam")) << target;
    EXPECT_TRUE(lobby_notice(c.adam, " login 2 min ago: bob (Project64k 0.13, 30 ms)")) << target;
    EXPECT_FALSE(lobby_notice(c.adam, " online:")) << target;
  }
  // A silence and a grant.
  say(c.mia, "/silence " + id(c.eve) + " 5 noisy");
  say(c.olga, "/tempmoderator " + id(c.nick) + " 30");
  c.adam.clear();
  say(c.adam, "/info " + id(c.eve));
  EXPECT_TRUE(lobby_notice(c.adam, " silence #"));
  EXPECT_TRUE(lobby_notice(c.adam, "5 min left, by mia: noisy"));
  c.adam.clear();
  say(c.adam, "/info nick");
  EXPECT_TRUE(lobby_notice(c.adam, "10.0.0.5: moderator"));
  EXPECT_TRUE(lobby_notice(c.adam, "moderator for 30 min by olga"));
}

TEST(ModerationFind, FindUserShowsAddressesToStaffOnly) {
  Community c;
  auto& bob = c.h.client(kBobIp);
  auto& carol = c.h.client(kCarolIp);
  ASSERT_TRUE(bob.login("bob"));
  ASSERT_TRUE(carol.login("carol"));
  const auto game = create_room(carol);
  join(bob, game);
  c.nick.clear();
  say(c.nick, "/finduser bo");
  EXPECT_TRUE(lobby_notice(
      c.nick, "id " + id(bob) + ": bob in game " + std::to_string(game) + " (Street Fighter II)"));
  EXPECT_FALSE(lobby_notice(c.nick, "198.51.100.2"));
  c.mia.clear();
  say(c.mia, "/finduser BOB");
  EXPECT_TRUE(lobby_notice(c.mia, "id " + id(bob) + ": bob"));
  EXPECT_TRUE(lobby_notice(c.mia, "198.51.100.2 normal"));
  c.mia.clear();
  say(c.mia, "/finduser *a");  // a glob: names ending in "a"
  EXPECT_TRUE(lobby_notice(c.mia, ": olga "));
  EXPECT_TRUE(lobby_notice(c.mia, ": mia "));
  EXPECT_TRUE(lobby_notice(c.mia, "10.0.0.1 owner"));
  EXPECT_FALSE(lobby_notice(c.mia, ": adam"));
  c.nick.clear();
  say(c.nick, "/finduser zz");
  EXPECT_TRUE(lobby_notice(c.nick, "No user's name matches zz"));
}

TEST(ModerationFind, FindGame) {
  Community c;
  auto& carol = c.h.client(kCarolIp);
  auto& bob = c.h.client(kBobIp);
  ASSERT_TRUE(carol.login("carol"));
  ASSERT_TRUE(bob.login("bob"));
  const auto game = create_room(carol, "Street Fighter II");
  join(bob, game);
  create_room(c.nick, "Metal Slug");
  c.adam.clear();
  say(c.adam, "/findgame street");
  EXPECT_TRUE(lobby_notice(c.adam, "game " + std::to_string(game) + ": Street Fighter II, owner carol (id " +
                                       id(carol) + "), 2/8, waiting"));
  EXPECT_FALSE(lobby_notice(c.adam, "Metal Slug"));
  c.adam.clear();
  say(c.adam, "/findgame Metal*");
  EXPECT_TRUE(lobby_notice(c.adam, ": Metal Slug, owner nick"));
  EXPECT_FALSE(lobby_notice(c.adam, "Street"));
  c.adam.clear();
  say(c.adam, "/findgame Pac");
  EXPECT_TRUE(lobby_notice(c.adam, "No game's name matches"));
}

// --- Announcements and closing rooms -----------------------------------------------------------------------

TEST(ModerationAnnounce, LobbyEveryRoomAndOneRoom) {
  Community c;
  auto& bob = c.h.client(kBobIp);
  auto& carol = c.h.client(kCarolIp);
  ASSERT_TRUE(bob.login("bob"));
  ASSERT_TRUE(carol.login("carol"));
  const auto room1 = create_room(carol);
  join(bob, room1);
  const auto room2 = create_room(c.nick, "Metal Slug");
  ASSERT_NE(room2, 0u);
  auto everyone = {&c.olga, &c.adam, &c.mia, &c.eve, &c.nick, &carol, &bob};
  for (FakeClient* u : everyone)
    u->clear();
  say(c.adam, "/announce maintenance at ten");
  for (FakeClient* u : everyone) {
    EXPECT_TRUE(lobby_notice(*u, "maintenance at ten"));
    EXPECT_FALSE(room_notice(*u, "maintenance at ten"));
  }
  say(c.adam, "/announceall restart soon");
  for (FakeClient* u : everyone)
    EXPECT_TRUE(lobby_notice(*u, "restart soon"));
  for (FakeClient* u : {&carol, &bob, &c.nick})
    EXPECT_TRUE(room_notice(*u, "restart soon"));  // 0x08 in every room
  for (FakeClient* u : {&c.olga, &c.mia, &c.eve})
    EXPECT_FALSE(room_notice(*u, "restart soon"));  // in the lobby: no room line
  say(c.adam, "/announcegame " + std::to_string(room1) + " room one only");
  EXPECT_TRUE(room_notice(carol, "room one only"));
  EXPECT_TRUE(room_notice(bob, "room one only"));
  for (FakeClient* u : {&c.olga, &c.adam, &c.mia, &c.eve, &c.nick})
    EXPECT_FALSE(contains(u->texts(), "room one only"));
  for (std::string action : {"announce", "announceall", "announcegame"}) {
    const auto* e = find_event(c.journal, "staff", "action", action);
    ASSERT_NE(e, nullptr) << action;
    EXPECT_EQ(text_of(*e, "issuer"), "adam");
  }
}

TEST(ModerationCloseGame, ClosesTheRoomForEveryone) {
  Community c;
  auto& bob = c.h.client(kBobIp);
  auto& carol = c.h.client(kCarolIp);
  ASSERT_TRUE(bob.login("bob"));
  ASSERT_TRUE(carol.login("carol"));
  const auto game = create_room(carol);
  join(bob, game);
  for (FakeClient* u : {&c.mia, &carol, &bob, &c.adam})
    u->clear();
  say(c.adam, "/closegame " + std::to_string(game));
  EXPECT_TRUE(room_notice(carol, "This room was closed by adam"));
  EXPECT_TRUE(room_notice(bob, "This room was closed by adam"));
  ASSERT_EQ(c.mia.got<p::CloseGame>().size(), 1u);
  EXPECT_EQ(c.mia.got<p::CloseGame>()[0].game_id, game);
  EXPECT_EQ(c.h.server().snapshot().games, 0u);
  EXPECT_TRUE(lobby_notice(c.adam, "Closed game " + std::to_string(game)));
  EXPECT_NE(find_event(c.journal, "staff", "action", "closegame"), nullptr);
  EXPECT_NE(find_event(c.journal, "game_closed", "game", "Street Fighter II"), nullptr);
  // Both players are back in the lobby: they can make rooms again.
  create_room(bob, "Another");
  EXPECT_EQ(c.h.server().snapshot().games, 1u);
}

// --- Temporary levels
// -----------------------------------------------------------------------------------------

TEST(ModerationGrants, ALevelChangesAtOnceAndFallsBackWhenItEnds) {
  Community c;
  c.nick.clear();
  c.olga.clear();
  const auto at = c.now();
  say(c.olga, "/tempadmin " + id(c.nick) + " 1");
  EXPECT_EQ(c.h.server().user_level(c.nick.user_id), Level::kAdmin);
  EXPECT_TRUE(lobby_notice(c.nick, "Your level on this relay is now admin"));
  ASSERT_EQ(c.journal.changes.size(), 1u);
  const auto& ch = c.journal.changes[0];
  EXPECT_EQ(ch.kind, r::ModerationChange::Kind::kGrant);
  EXPECT_EQ(ch.grant.ip, kNormalIp);
  EXPECT_EQ(ch.grant.level, Level::kAdmin);
  EXPECT_EQ(ch.grant.until, at + std::chrono::minutes(1));
  EXPECT_EQ(ch.grant.issuer, "olga");
  EXPECT_FALSE(contains(c.olga.texts(), "Grant saved"));
  c.h.change_written(ch.change_id, true);
  EXPECT_TRUE(lobby_notice(c.olga, "Grant saved: nick is admin for 1 min"));
  const auto* e = find_event(c.journal, "staff", "action", "grant");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(text_of(*e, "issuer"), "olga");
  EXPECT_EQ(text_of(*e, "target"), "nick");
  EXPECT_EQ(text_of(*e, "level"), "admin");
  // The new admin uses an admin's command at once.
  c.mia.clear();
  say(c.nick, "/announce nick speaks for the relay");
  EXPECT_TRUE(lobby_notice(c.mia, "nick speaks for the relay"));
  // A second past the minute: back to normal, told so, and refused.
  c.h.advance(std::chrono::seconds(61));
  EXPECT_EQ(c.h.server().user_level(c.nick.user_id), Level::kNormal);
  EXPECT_TRUE(lobby_notice(c.nick, "Your level on this relay is now normal"));
  c.nick.clear();
  say(c.nick, "/announce again");
  EXPECT_TRUE(lobby_notice(c.nick, "/announce is for admins of this relay"));
}

TEST(ModerationGrants, ModeratorAndElevatedAndWhoMayGrant) {
  Community c;
  say(c.olga, "/tempmoderator " + id(c.nick) + " 5");
  EXPECT_EQ(c.h.server().user_level(c.nick.user_id), Level::kModerator);
  auto& bob = c.h.client(kBobIp);
  ASSERT_TRUE(bob.login("bob"));
  say(c.olga, "/tempelevated " + id(bob) + " 5");
  EXPECT_EQ(c.h.server().user_level(bob.user_id), Level::kElevated);
  // Only the owner grants; a level already held is not granted.
  c.adam.clear();
  say(c.adam, "/tempadmin " + id(bob) + " 5");
  EXPECT_TRUE(lobby_notice(c.adam, "/tempadmin is for owners of this relay"));
  c.olga.clear();
  say(c.olga, "/tempadmin " + id(c.adam) + " 5");
  EXPECT_TRUE(lobby_notice(c.olga, "adam is admin already"));
  say(c.olga, "/tempmoderator " + id(c.mia) + " 5");
  EXPECT_TRUE(lobby_notice(c.olga, "mia is moderator already"));
  EXPECT_EQ(c.journal.changes.size(), 2u);
  // Grants end when their time is up.
  pass_time(c.h, {&c.olga, &c.adam, &c.mia, &c.eve, &c.nick, &bob}, std::chrono::minutes(5) + 1s);
  EXPECT_EQ(c.h.server().snapshot().users, 6u);  // all still there: the levels below are theirs
  EXPECT_EQ(c.h.server().user_level(c.nick.user_id), Level::kNormal);
  EXPECT_EQ(c.h.server().user_level(bob.user_id), Level::kNormal);
}

// --- Reload
// ------------------------------------------------------------------------------------------------------

TEST(ModerationReload, CallsTheShellsHookOrSaysThereIsNothingToReload) {
  Community c;
  c.adam.clear();
  say(c.adam, "/reload");
  EXPECT_TRUE(lobby_notice(c.adam, "This relay has nothing to reload"));
  std::vector<std::uint16_t> asked;
  c.h.server().set_reload_hook([&](std::uint16_t user_id) { asked.push_back(user_id); });
  say(c.mia, "/reload");
  EXPECT_TRUE(asked.empty());
  c.adam.clear();
  say(c.adam, "/reload");
  ASSERT_EQ(asked, (std::vector<std::uint16_t>{c.adam.user_id}));
  EXPECT_TRUE(lobby_notice(c.adam, "Reloading"));
  // The shell answers later, with notice().
  c.h.notice(asked[0], "Access file reloaded: 8 entries");
  EXPECT_TRUE(lobby_notice(c.adam, "Access file reloaded: 8 entries"));
  EXPECT_NE(find_event(c.journal, "staff", "action", "reload"), nullptr);
}

// --- The room owner's commands
// ---------------------------------------------------------------------------------

namespace {
// carol owns a waiting room that bob has joined.
struct Room {
  explicit Room(r::Config cfg = relaxed()) : c(std::move(cfg)) {
    EXPECT_TRUE(carol.login("carol"));
    EXPECT_TRUE(bob.login("bob"));
    game = create_room(carol);
    join(bob, game);
    EXPECT_TRUE(in_room(bob, game));
  }
  Community c;
  FakeClient& carol = c.h.client(kCarolIp);
  FakeClient& bob = c.h.client(kBobIp);
  std::uint32_t game = 0;
};
}  // namespace

TEST(RoomOwner, NonOwnersAreRefused) {
  Room t;
  for (std::string line : {"/mute " + id(t.carol), "/unmute " + id(t.carol), std::string("/muteall"),
                           std::string("/unmuteall"), std::string("/kickall"), std::string("/swap 21"),
                           std::string("/startn 3"), std::string("/setemu"), std::string("/setconn any"),
                           std::string("/samedelay on"), std::string("/kick 1"), std::string("/start")}) {
    t.bob.clear();
    room_say(t.bob, line);
    const std::string word = line.substr(0, line.find(' '));
    EXPECT_TRUE(contains(t.bob.texts(), word + " is for the room's owner")) << line;
  }
  EXPECT_TRUE(t.carol.got<p::StartGame>().empty());
  // /num is everyone's.
  t.bob.clear();
  room_say(t.bob, "/num");
  EXPECT_TRUE(room_notice(t.bob, "2 player(s) in the room (max 8)"));
}

TEST(RoomOwner, MuteIsKeptWhenThePlayerRejoins) {
  Room t;
  join(t.c.nick, t.game);
  auto others = {&t.carol, &t.c.nick};
  room_say(t.carol, "/mute " + id(t.bob));
  EXPECT_TRUE(room_notice(t.c.nick, "bob was muted in this room"));
  for (FakeClient* u : others)
    u->clear();
  t.bob.clear();
  room_say(t.bob, "can you hear me");
  for (FakeClient* u : others)
    EXPECT_FALSE(room_chat_from(*u, "bob"));
  EXPECT_TRUE(contains(t.bob.texts(), "You are muted in this room"));
  EXPECT_EQ(t.c.h.server().counters().refused_silenced, 1u);
  // Out and back in: still muted.
  t.bob.send(p::QuitGame{});
  t.bob.clear();
  join(t.bob, t.game);
  ASSERT_TRUE(in_room(t.bob, t.game));
  room_say(t.bob, "and now");
  for (FakeClient* u : others)
    EXPECT_FALSE(room_chat_from(*u, "bob"));
  // Unmuted: heard again. The owner's own chat always is.
  room_say(t.carol, "/unmute " + id(t.bob));
  room_say(t.bob, "thanks");
  EXPECT_TRUE(room_chat_from(t.c.nick, "bob"));
  // Everyone but the owner.
  room_say(t.carol, "/muteall");
  for (FakeClient* u : {&t.carol, &t.c.nick, &t.bob})
    u->clear();
  room_say(t.bob, "b");
  room_say(t.c.nick, "n");
  room_say(t.carol, "c");
  EXPECT_FALSE(room_chat_from(t.carol, "bob"));
  EXPECT_FALSE(room_chat_from(t.carol, "nick"));
  EXPECT_TRUE(room_chat_from(t.bob, "carol"));
  room_say(t.carol, "/unmuteall");
  t.carol.clear();
  room_say(t.bob, "b");
  room_say(t.c.nick, "n");
  EXPECT_TRUE(room_chat_from(t.carol, "bob"));
  EXPECT_TRUE(room_chat_from(t.carol, "nick"));
}

TEST(RoomOwner, StaffCannotBeMutedOrKickedByANormalOwnerButAdminsActAsOwners) {
  Room t;
  join(t.c.mia, t.game);
  t.carol.clear();
  room_say(t.carol, "/mute " + id(t.c.mia));
  EXPECT_TRUE(contains(t.carol.texts(), "You cannot mute mia"));
  room_say(t.carol, "/kick 3");
  EXPECT_TRUE(contains(t.carol.texts(), "You cannot kick staff of this relay from a room"));
  // An admin in the room is its owner too.
  join(t.c.adam, t.game);
  room_say(t.c.adam, "/mute " + id(t.bob));
  t.carol.clear();
  room_say(t.bob, "hello?");
  EXPECT_FALSE(room_chat_from(t.carol, "bob"));
}

TEST(RoomOwner, KickAllRemovesTheOthersWhoCannotRejoin) {
  Room t;
  join(t.c.nick, t.game);
  t.bob.clear();
  t.c.nick.clear();
  room_say(t.carol, "/kickall");
  ASSERT_EQ(t.bob.got<p::QuitGame>().size(), 1u);
  EXPECT_EQ(t.bob.got<p::QuitGame>()[0].user_id, t.bob.user_id);
  ASSERT_FALSE(t.c.nick.got<p::QuitGame>().empty());
  EXPECT_EQ(t.c.nick.got<p::QuitGame>().back().user_id, t.c.nick.user_id);
  EXPECT_EQ(t.carol.got<p::GameStatus>().back().num_players, 1);
  EXPECT_EQ(t.c.h.server().snapshot().games, 1u);  // the owner's room stays
  t.bob.clear();
  join(t.bob, t.game);
  EXPECT_TRUE(contains(t.bob.texts(), "you were kicked from this room"));
}

TEST(RoomOwner, SwapReordersThePlayerNumbersOfTheStart) {
  Room t;
  room_say(t.carol, "/swap 11");
  EXPECT_TRUE(contains(t.carol.texts(), "Usage: /swap"));
  t.carol.clear();
  room_say(t.carol, "/swap 123");  // three numbers for two players
  EXPECT_TRUE(contains(t.carol.texts(), "each of the 2 player numbers once"));
  room_say(t.carol, "/swap 21");
  EXPECT_TRUE(room_notice(t.bob, "Player numbers: P1 bob P2 carol"));
  t.carol.clear();
  t.bob.clear();
  t.carol.send(p::StartGame{});
  ASSERT_EQ(t.carol.got<p::StartGame>().size(), 1u);
  ASSERT_EQ(t.bob.got<p::StartGame>().size(), 1u);
  EXPECT_EQ(t.bob.got<p::StartGame>()[0].player_number, 1);
  EXPECT_EQ(t.carol.got<p::StartGame>()[0].player_number, 2);
  EXPECT_EQ(t.carol.got<p::StartGame>()[0].num_players, 2);
  room_say(t.carol, "/swap 12");
  EXPECT_TRUE(contains(t.carol.texts(), "/swap works before the game starts"));
}

TEST(RoomOwner, StartNStartsWhenTheNthPlayerJoins) {
  Room t;
  t.carol.clear();
  room_say(t.carol, "/startn 0");
  EXPECT_TRUE(contains(t.carol.texts(), "Usage: /startn <players>, 1 to 8"));
  room_say(t.carol, "/startn 9");
  EXPECT_EQ(t.carol.got<p::GameChat>().size(), 2u);
  room_say(t.carol, "/startn 3");
  EXPECT_TRUE(room_notice(t.bob, "The game starts by itself once 3 players are in"));
  EXPECT_TRUE(t.carol.got<p::StartGame>().empty());
  join(t.c.nick, t.game);
  for (FakeClient* u : {&t.carol, &t.bob, &t.c.nick}) {
    ASSERT_EQ(u->got<p::StartGame>().size(), 1u);
    EXPECT_EQ(u->got<p::StartGame>()[0].num_players, 3);
  }
  EXPECT_EQ(t.c.h.server().counters().games_started, 1u);
}

TEST(RoomOwner, StartNDoesNotStartPlayersWhoCannotPlayTogether) {
  // §5.3: every player needs the owner's emulator string; a start by /startn is a start like any other.
  Community c;
  auto& carol = c.h.client(kCarolIp);
  auto& dave = c.h.client(kDaveIp);
  ASSERT_TRUE(carol.login("carol", "MAME32k 0.64"));
  ASSERT_TRUE(dave.login("dave", "MAME32k 0.70"));
  const auto game = create_room(carol);
  room_say(carol, "/startn 2");
  join(dave, game);
  ASSERT_TRUE(in_room(dave, game));
  EXPECT_TRUE(carol.got<p::StartGame>().empty());
  EXPECT_TRUE(dave.got<p::StartGame>().empty());
  EXPECT_TRUE(room_notice(carol, "Start denied: dave uses another emulator (MAME32k 0.70)"));
  EXPECT_EQ(c.h.server().counters().games_started, 0u);
  // /startn stays on: once dave has gone, the next player who can play with carol starts the game.
  dave.send(p::QuitGame{});
  join(c.nick, game);
  EXPECT_EQ(carol.got<p::StartGame>().size(), 1u);
  EXPECT_EQ(c.h.server().counters().games_started, 1u);
}

TEST(RoomOwner, SetEmuAndSetConnRefuseTheJoin) {
  Community c;
  auto& carol = c.h.client(kCarolIp);
  auto& dave = c.h.client(kDaveIp);
  auto& erin = c.h.client(ip(203, 0, 113, 5));
  ASSERT_TRUE(carol.login("carol", "MAME32k 0.64", 1));
  ASSERT_TRUE(dave.login("dave", "MAME32k 0.70", 1));
  ASSERT_TRUE(erin.login("erin", "MAME32k 0.64", 2));
  const auto game = create_room(carol);
  room_say(carol, "/setemu");
  EXPECT_TRUE(room_notice(carol, "Only MAME32k 0.64 may join this room"));
  join(dave, game);
  EXPECT_TRUE(lobby_notice(dave, "Join Game Denied: the room is for MAME32k 0.64 only"));
  EXPECT_FALSE(in_room(dave, game));
  room_say(carol, "/setemu any");
  join(dave, game);
  EXPECT_TRUE(in_room(dave, game));
  dave.send(p::QuitGame{});
  room_say(carol, "/setconn");
  EXPECT_TRUE(room_notice(carol, "Only connection type LAN may join this room"));
  join(erin, game);
  EXPECT_TRUE(lobby_notice(erin, "Join Game Denied: the room is for connection type LAN only"));
  EXPECT_FALSE(in_room(erin, game));
  room_say(carol, "/setconn any");
  join(erin, game);
  EXPECT_TRUE(in_room(erin, game));
}

namespace {
// carol (10 ms) owns a room with bob (100 ms), both LAN; returns the 0x11 delays (carol's, bob's) and the
// delay lines said in the room once both are ready.
struct Delays {
  std::uint16_t carol = 0, bob = 0;
  std::vector<std::string> lines;
};
Delays play_with_delays(r::Config cfg, const std::vector<std::string>& owner_lines) {
  Community c(std::move(cfg));
  auto& carol = c.h.client(kCarolIp);
  auto& bob = c.h.client(kBobIp);
  EXPECT_TRUE(carol.login("carol", "MAME32k 0.64", 1, 10ms));
  EXPECT_TRUE(bob.login("bob", "MAME32k 0.64", 1, 100ms));
  const auto game = create_room(carol);
  join(bob, game);
  for (const auto& l : owner_lines)
    room_say(carol, l);
  carol.clear();
  bob.clear();
  carol.send(p::StartGame{});
  carol.send(p::AllReady{});
  bob.send(p::AllReady{});
  Delays d;
  if (carol.got<p::StartGame>().size() == 1 && bob.got<p::StartGame>().size() == 1) {
    d.carol = carol.got<p::StartGame>()[0].delay;
    d.bob = bob.got<p::StartGame>()[0].delay;
  }
  d.lines = bob.texts();
  return d;
}
}  // namespace

TEST(RoomOwner, FrameDelayPerPlayerByDefaultOrSharedWithSameDelay) {
  // KAILLERA.md §5.3: delay = floor((60 / connType) * ping_seconds) + 1. LAN (1): 10 ms -> floor(0.6) + 1 =
  // 1; 100 ms -> floor(6) + 1 = 7.
  const auto own = play_with_delays(relaxed(), {});
  EXPECT_EQ(own.carol, 1);
  EXPECT_EQ(own.bob, 7);
  EXPECT_TRUE(contains(own.lines, "P1 carol: delay 1"));
  EXPECT_TRUE(contains(own.lines, "P2 bob: delay 7"));
  // /samedelay on: everyone gets the highest ping's delay.
  const auto same = play_with_delays(relaxed(), {"/samedelay on"});
  EXPECT_EQ(same.carol, 7);
  EXPECT_EQ(same.bob, 7);
  EXPECT_TRUE(contains(same.lines, "P1 carol: delay 7"));
  // same_delay in the config starts rooms with it on; /samedelay off goes back to each player's own.
  r::Config shared = relaxed();
  shared.same_delay = true;
  const auto by_config = play_with_delays(shared, {});
  EXPECT_EQ(by_config.carol, 7);
  EXPECT_EQ(by_config.bob, 7);
  const auto off_again = play_with_delays(shared, {"/samedelay off"});
  EXPECT_EQ(off_again.carol, 1);
  EXPECT_EQ(off_again.bob, 7);
}

// --- Everyone's commands
// ---------------------------------------------------------------------------------------

TEST(PlayerCommands, PrivateMessagesAndReplies) {
  Room t;  // bob is in carol's room
  t.c.nick.clear();
  t.bob.clear();
  say(t.c.nick, "/msg " + id(t.bob) + " hi bob");
  // bob is in a room: it arrives as a room line there.
  EXPECT_TRUE(room_notice(t.bob, "PM from nick (id " + id(t.c.nick) + "): hi bob"));
  EXPECT_TRUE(lobby_notice(t.c.nick, "PM to bob (id " + id(t.bob) + "): hi bob"));
  EXPECT_FALSE(contains(t.carol.texts(), "hi bob"));
  room_say(t.bob, "/r hi nick");
  EXPECT_TRUE(lobby_notice(t.c.nick, "PM from bob (id " + id(t.bob) + "): hi nick"));
  t.c.eve.clear();
  say(t.c.eve, "/r anyone?");
  EXPECT_TRUE(lobby_notice(t.c.eve, "No private message to reply to"));
  say(t.c.eve, "/msg " + id(t.c.eve) + " me");
  EXPECT_TRUE(lobby_notice(t.c.eve, "That is you"));
  say(t.c.eve, "/msg 65000 ghost");
  EXPECT_TRUE(lobby_notice(t.c.eve, "No user has id 65000"));
}

TEST(PlayerCommands, MsgOffRefusesNormalSendersButNotStaff) {
  Community c;
  auto& bob = c.h.client(kBobIp);
  ASSERT_TRUE(bob.login("bob"));
  say(bob, "/msgoff");
  EXPECT_TRUE(lobby_notice(bob, "Private messages: off"));
  bob.clear();
  say(c.nick, "/msg " + id(bob) + " are you there");
  EXPECT_TRUE(lobby_notice(c.nick, "bob does not take private messages now"));
  say(c.eve, "/msg " + id(bob) + " elevated is not staff");
  EXPECT_TRUE(lobby_notice(c.eve, "bob does not take private messages now"));
  EXPECT_FALSE(lobby_notice(bob, "PM from"));
  say(c.mia, "/msg " + id(bob) + " staff here");
  EXPECT_TRUE(lobby_notice(bob, "PM from mia"));
  say(bob, "/msgon");
  say(c.nick, "/msg " + id(bob) + " now?");
  EXPECT_TRUE(lobby_notice(bob, "PM from nick"));
}

TEST(PlayerCommands, IgnoreAndIgnoreAllButNeverStaff) {
  Community c;
  auto& bob = c.h.client(kBobIp);
  auto& carol = c.h.client(kCarolIp);
  ASSERT_TRUE(bob.login("bob"));
  ASSERT_TRUE(carol.login("carol"));
  say(bob, "/ignore " + id(c.nick));
  EXPECT_TRUE(lobby_notice(bob, "Ignoring nick"));
  bob.clear();
  carol.clear();
  say(c.nick, "hello all");
  EXPECT_FALSE(chat_from(bob, "nick"));
  EXPECT_TRUE(chat_from(carol, "nick"));
  say(c.nick, "/msg " + id(bob) + " psst");
  EXPECT_TRUE(lobby_notice(c.nick, "bob does not take private messages now"));
  say(bob, "/ignore " + id(c.mia));
  EXPECT_TRUE(lobby_notice(bob, "Staff of this relay cannot be ignored"));
  say(bob, "/unignore " + id(c.nick));
  say(c.nick, "hello again");
  EXPECT_TRUE(chat_from(bob, "nick"));
  say(bob, "/ignoreall");
  bob.clear();
  say(c.nick, "one");
  say(carol, "two");
  say(c.mia, "staff speaking");
  say(c.adam, "admin speaking");
  EXPECT_FALSE(chat_from(bob, "nick"));
  EXPECT_FALSE(chat_from(bob, "carol"));
  EXPECT_TRUE(chat_from(bob, "mia"));
  EXPECT_TRUE(chat_from(bob, "adam"));
  say(bob, "/unignoreall");
  bob.clear();
  say(carol, "three");
  EXPECT_TRUE(chat_from(bob, "carol"));
}

TEST(PlayerCommands, MeMyIpAndAliveCheck) {
  Room t;
  t.c.olga.clear();
  t.bob.clear();
  say(t.c.nick, "/me waves");
  EXPECT_TRUE(lobby_notice(t.c.olga, "* nick waves"));
  room_say(t.carol, "/me dances");
  EXPECT_TRUE(room_notice(t.bob, "* carol dances"));
  EXPECT_FALSE(contains(t.c.olga.texts(), "* carol dances"));  // a room's /me stays in the room
  t.c.nick.clear();
  say(t.c.nick, "/myip");
  EXPECT_TRUE(lobby_notice(t.c.nick, "Your address: 10.0.0.5 (port 40000)"));
  t.c.nick.clear();
  say(t.c.nick, "/alivecheck");
  ASSERT_EQ(t.c.nick.got<p::ServerInformation>().size(), 1u);
  EXPECT_EQ(t.c.nick.got<p::ServerInformation>()[0].message.substr(0, 12), ":ALIVECHECK=");
}

TEST(PlayerCommands, P2pOnQuietsTheLobbyWhileItsGamePlays) {
  Room t;
  t.carol.send(p::StartGame{});
  t.carol.send(p::AllReady{});
  t.bob.send(p::AllReady{});
  ASSERT_FALSE(t.carol.got<p::AllReady>().empty());  // playing
  room_say(t.carol, "/p2pon");
  EXPECT_TRUE(room_notice(t.carol, "P2P mode on"));
  t.carol.clear();
  t.bob.clear();
  say(t.c.nick, "anyone for a game?");
  auto& dave = t.c.h.client(kDaveIp);
  ASSERT_TRUE(dave.login("dave"));
  say(dave, "/me arrives");
  create_room(dave, "Pac-Man");
  // bob (no p2p) gets the lobby's traffic; carol none of it.
  EXPECT_TRUE(chat_from(t.bob, "nick"));
  EXPECT_FALSE(t.bob.got<p::UserJoined>().empty());
  EXPECT_FALSE(t.bob.got<p::CreateGame>().empty());
  EXPECT_FALSE(chat_from(t.carol, "nick"));
  EXPECT_TRUE(t.carol.got<p::UserJoined>().empty());
  EXPECT_TRUE(t.carol.got<p::CreateGame>().empty());
  EXPECT_FALSE(contains(t.carol.texts(), "* dave arrives"));
  // Its own room's messages still arrive.
  room_say(t.bob, "gg");
  EXPECT_TRUE(room_chat_from(t.carol, "bob"));
  // /p2poff: the lobby again.
  room_say(t.carol, "/p2poff");
  say(t.c.eve, "welcome back");
  EXPECT_TRUE(chat_from(t.carol, "eve"));
}

TEST(PlayerCommands, AboveP2pForcedAboveUsersEveryPlayingUserIsQuiet) {
  r::Config cfg = relaxed();
  cfg.p2p_forced_above = 6;  // the Room has 7 users online
  Room t(cfg);
  t.carol.send(p::StartGame{});
  t.carol.send(p::AllReady{});
  t.bob.send(p::AllReady{});
  ASSERT_FALSE(t.carol.got<p::AllReady>().empty());
  t.carol.clear();
  t.bob.clear();
  t.c.olga.clear();
  say(t.c.nick, "lobby news");
  EXPECT_FALSE(chat_from(t.carol, "nick"));
  EXPECT_FALSE(chat_from(t.bob, "nick"));
  EXPECT_TRUE(chat_from(t.c.olga, "nick"));  // not playing: the lobby as usual
  room_say(t.bob, "still here");
  EXPECT_TRUE(room_chat_from(t.carol, "bob"));
}

TEST(PlayerCommands, HelpListsWhatTheLevelMayUse) {
  Community c;
  auto help = [&](FakeClient& u) {
    u.clear();
    say(u, "/help");
    std::string all;
    for (const auto& l : u.texts())
      all += l + "\n";
    return all;
  };
  const auto normal = help(c.nick);
  EXPECT_NE(normal.find("/msg"), std::string::npos);
  EXPECT_NE(normal.find("/alivecheck"), std::string::npos);
  EXPECT_EQ(normal.find("/ban"), std::string::npos);
  EXPECT_EQ(normal.find("/silence"), std::string::npos);
  EXPECT_EQ(normal.find("/tempadmin"), std::string::npos);
  const auto moderator = help(c.mia);
  EXPECT_NE(moderator.find("/silence"), std::string::npos);
  EXPECT_EQ(moderator.find("/ban"), std::string::npos);
  const auto admin = help(c.adam);
  EXPECT_NE(admin.find("/ban"), std::string::npos);
  EXPECT_NE(admin.find("/silence"), std::string::npos);
  EXPECT_EQ(admin.find("/tempadmin"), std::string::npos);
  const auto owner = help(c.olga);
  EXPECT_NE(owner.find("/tempadmin"), std::string::npos);
  EXPECT_NE(owner.find("/ban"), std::string::npos);
  // In a room its owner also sees the owner's commands; another player does not.
  auto& bob = c.h.client(kBobIp);
  ASSERT_TRUE(bob.login("bob"));
  const auto game = create_room(c.nick);
  join(bob, game);
  c.nick.clear();
  room_say(c.nick, "/help");
  EXPECT_TRUE(contains(c.nick.texts(), "/swap"));
  bob.clear();
  room_say(bob, "/help");
  EXPECT_FALSE(contains(bob.texts(), "/swap"));
  EXPECT_TRUE(contains(bob.texts(), "/lagstat"));
}

// --- Abuse limits
// ------------------------------------------------------------------------------------------------

TEST(AbuseLimits, LoginsPerAddress) {
  r::Config cfg = relaxed();
  cfg.max_logins_per_address = 2;
  Community c(cfg);
  constexpr std::uint32_t kHouse = ip(198, 51, 100, 50);
  auto& one = c.h.client(kHouse, 40000);
  auto& two = c.h.client(kHouse, 40001);
  auto& three = c.h.client(kHouse, 40002);
  ASSERT_TRUE(one.login("one"));
  ASSERT_TRUE(two.login("two"));
  EXPECT_FALSE(three.login("three"));
  EXPECT_TRUE(contains(three.texts(), "Too many users from your address (at most 2)"));
  EXPECT_EQ(c.h.server().counters().refused_address_limit, 1u);
  // The same name from the same address is a reconnect: it replaces its old session.
  auto& one_again = c.h.client(kHouse, 40003);
  ASSERT_TRUE(one_again.login("one"));
  EXPECT_TRUE(quit_about(one, one, "Reconnected"));
  EXPECT_EQ(c.h.server().counters().refused_address_limit, 1u);
  // Elevated users are exempt.
  auto& eve2 = c.h.client(kElevatedIp, 41000);
  auto& eve3 = c.h.client(kElevatedIp, 41001);
  EXPECT_TRUE(eve2.login("eve2"));
  EXPECT_TRUE(eve3.login("eve3"));
}

TEST(AbuseLimits, NamesWithWebAddressesAreRefused) {
  Community c;
  auto& a = c.h.client(ip(198, 51, 100, 60));
  auto& b = c.h.client(ip(198, 51, 100, 61));
  EXPECT_FALSE(a.login("www.cheap-roms.example"));
  EXPECT_TRUE(contains(a.texts(), "Username not allowed: no web addresses"));
  EXPECT_FALSE(b.login("visit http://spam.example"));
  EXPECT_EQ(c.h.server().counters().refused_url_name, 2u);
  const auto* refused = find_event(c.journal, "login_refused", "ip", "198.51.100.60");
  ASSERT_NE(refused, nullptr);
  EXPECT_EQ(text_of(*refused, "reason"), "Username not allowed: no web addresses");
  EXPECT_EQ(text_of(*refused, "name"), "www.cheap-roms.example");
  // Elevated users are exempt; and the operator can turn the check off.
  auto& eve2 = c.h.client(kElevatedIp, 41000);
  EXPECT_TRUE(eve2.login("www.eve.example"));
  r::Config off = relaxed();
  off.refuse_url_names = false;
  Harness h(off);
  EXPECT_TRUE(h.client(ip(198, 51, 100, 62)).login("www.fine.example"));
}

TEST(AbuseLimits, JoinSpamOnARoom) {
  Room t;
  t.bob.send(p::QuitGame{});  // bob's first join was the fixture's: four more are allowed ...
  for (int i = 0; i < 3; ++i) {
    join(t.bob, t.game);
    t.bob.send(p::QuitGame{});
  }
  t.bob.clear();
  join(t.bob, t.game);  // ... the fifth of the window is refused
  EXPECT_TRUE(lobby_notice(t.bob, "Join Game Denied: too many joins of this room, wait a minute"));
  EXPECT_FALSE(in_room(t.bob, t.game));
  EXPECT_EQ(t.c.h.server().counters().refused_join_spam, 1u);
  // Counted by address, whoever joins from it.
  auto& bob2 = t.c.h.client(kBobIp, 41000);
  ASSERT_TRUE(bob2.login("bob2"));
  join(bob2, t.game);
  EXPECT_FALSE(in_room(bob2, t.game));
  EXPECT_EQ(t.c.h.server().counters().refused_join_spam, 2u);
  // Elevated users are exempt.
  for (int i = 0; i < 6; ++i) {
    t.c.eve.clear();
    join(t.c.eve, t.game);
    EXPECT_TRUE(in_room(t.c.eve, t.game)) << i;
    t.c.eve.send(p::QuitGame{});
  }
  // After the window, bob may join again.
  t.c.h.advance(std::chrono::seconds(61));
  t.bob.clear();
  join(t.bob, t.game);
  EXPECT_TRUE(in_room(t.bob, t.game));
}

TEST(AbuseLimits, CommandAndChatFlood) {
  Community c{r::Config{}};  // command_burst 5, then one per chat_flood (2 s)
  c.nick.clear();
  for (int i = 0; i < 5; ++i)
    say(c.nick, "/myip");
  EXPECT_EQ(c.nick.texts().size(), 5u);
  EXPECT_FALSE(contains(c.nick.texts(), "flood"));
  say(c.nick, "/myip");
  EXPECT_TRUE(lobby_notice(c.nick, "Commands: flood control, wait a moment"));
  EXPECT_EQ(c.nick.texts().size(), 6u);
  EXPECT_EQ(c.h.server().counters().refused_command_flood, 1u);
  c.h.advance(std::chrono::milliseconds(2100));
  c.nick.clear();
  say(c.nick, "/myip");
  EXPECT_TRUE(lobby_notice(c.nick, "Your address"));
  // Staff and elevated users are exempt.
  c.mia.clear();
  c.eve.clear();
  for (int i = 0; i < 20; ++i) {
    say(c.mia, "/myip");
    say(c.eve, "/myip");
  }
  EXPECT_FALSE(contains(c.mia.texts(), "flood"));
  EXPECT_FALSE(contains(c.eve.texts(), "flood"));
  EXPECT_EQ(c.h.server().counters().refused_command_flood, 1u);
  // Lobby chat: one line per chat_flood for normal users.
  c.adam.clear();
  say(c.nick, "first");
  say(c.nick, "second");
  EXPECT_TRUE(lobby_notice(c.nick, "Chat denied: flood control"));
  EXPECT_EQ(c.h.server().counters().refused_chat_flood, 1u);
  say(c.eve, "first");
  say(c.eve, "second");
  int from_eve = 0;
  for (const auto& m : c.adam.got<p::GlobalChat>())
    from_eve += m.user == "eve";
  EXPECT_EQ(from_eve, 2);
}

TEST(AbuseLimits, GameAndEmulatorPatternsFromTheAccessList) {
  Community c;
  r::AccessList l = community_access();
  l.games_allow = {"Street*", "Metal*"};
  l.games_deny = {"*Turbo*"};
  l.emulators_allow = {"MAME32k*", "Project64k*"};
  l.emulators_deny = {"*cheat*"};
  c.h.set_access(l);
  auto& bob = c.h.client(kBobIp);
  ASSERT_TRUE(bob.login("bob", "MAME32k 0.64"));
  // Games: the deny list wins; a non-empty allow list admits only what it names.
  EXPECT_NE(create_room(bob, "Street Fighter II"), 0u);
  bob.send(p::QuitGame{});
  bob.clear();
  create_room(bob, "Street Fighter II Turbo");
  EXPECT_TRUE(lobby_notice(bob, "Create Game Denied: this game is not allowed on this relay"));
  bob.clear();
  create_room(bob, "Pac-Man");
  EXPECT_TRUE(lobby_notice(bob, "Create Game Denied: this game is not allowed on this relay"));
  EXPECT_EQ(c.h.server().counters().refused_game, 2u);
  const auto* refused = find_event(c.journal, "refused", "game", "Pac-Man");
  ASSERT_NE(refused, nullptr);
  EXPECT_EQ(text_of(*refused, "name"), "bob");
  // Elevated users and staff are exempt.
  EXPECT_NE(create_room(c.eve, "Pac-Man"), 0u);
  EXPECT_NE(create_room(c.mia, "Pac-Man"), 0u);
  EXPECT_EQ(c.h.server().counters().refused_game, 2u);
  // Emulators at login.
  auto& cheater = c.h.client(ip(198, 51, 100, 70));
  EXPECT_FALSE(cheater.login("cheater", "MAME32k cheat build"));
  EXPECT_TRUE(contains(cheater.texts(), "Emulator not allowed on this relay: MAME32k cheat build"));
  auto& snes = c.h.client(ip(198, 51, 100, 71));
  EXPECT_FALSE(snes.login("snes", "Snes9k 0.09"));
  EXPECT_TRUE(contains(snes.texts(), "Emulator not allowed on this relay: Snes9k 0.09"));
  auto& n64 = c.h.client(ip(198, 51, 100, 72));
  EXPECT_TRUE(n64.login("n64", "Project64k 0.13"));
  EXPECT_EQ(c.h.server().counters().refused_emulator, 2u);
  auto& eve2 = c.h.client(kElevatedIp, 41000);
  EXPECT_TRUE(eve2.login("eve2", "Snes9k 0.09"));
}

// --- Audit events
// ------------------------------------------------------------------------------------------------

TEST(Audit, LoginLogoutGamesStaffAndRefusals) {
  Community c;
  // Logins, with where and how the user came.
  const auto* login = find_event(c.journal, "login", "name", "nick");
  ASSERT_NE(login, nullptr);
  EXPECT_EQ(text_of(*login, "ip"), "10.0.0.5");
  EXPECT_EQ(num_of(*login, "ping_ms"), 10);
  EXPECT_EQ(num_of(*login, "conn"), 1);
  EXPECT_EQ(text_of(*login, "emulator"), "MAME32k 0.64");
  EXPECT_EQ(text_of(*login, "level"), "normal");
  const auto* mod_login = find_event(c.journal, "login", "name", "mia");
  ASSERT_NE(mod_login, nullptr);
  EXPECT_EQ(text_of(*mod_login, "level"), "moderator");
  EXPECT_EQ(c.journal.of("login").size(), 5u);
  // A game's life.
  auto& bob = c.h.client(kBobIp);
  auto& carol = c.h.client(kCarolIp);
  ASSERT_TRUE(bob.login("bob", "MAME32k 0.64", 1, 20ms));
  ASSERT_TRUE(carol.login("carol"));
  const auto game = create_room(carol);
  join(bob, game);
  const auto* created = find_event(c.journal, "game_created", "game", "Street Fighter II");
  ASSERT_NE(created, nullptr);
  EXPECT_EQ(text_of(*created, "owner"), "carol");
  EXPECT_EQ(num_of(*created, "game_id"), static_cast<std::int64_t>(game));
  carol.send(p::StartGame{});
  const auto* started = find_event(c.journal, "game_started", "game", "Street Fighter II");
  ASSERT_NE(started, nullptr);
  ASSERT_NE(field(*started, "players"), nullptr);
  const auto* players = std::get_if<std::vector<std::string>>(&field(*started, "players")->value);
  ASSERT_NE(players, nullptr);
  EXPECT_EQ(*players, (std::vector<std::string>{"carol", "bob"}));
  carol.send(p::QuitGame{});
  EXPECT_NE(find_event(c.journal, "game_closed", "game", "Street Fighter II"), nullptr);
  // Logouts with their reason.
  bob.send(p::UserQuit{"", 0xFFFF, "off to bed"});
  const auto* out = find_event(c.journal, "logout", "name", "bob");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(text_of(*out, "reason"), "off to bed");
  EXPECT_EQ(text_of(*out, "ip"), "198.51.100.2");
  // Staff actions with issuer and target.
  say(c.mia, "/silence " + id(c.nick) + " 5 calm down");
  const auto* staff = find_event(c.journal, "staff", "action", "silence");
  ASSERT_NE(staff, nullptr);
  EXPECT_EQ(text_of(*staff, "issuer"), "mia");
  EXPECT_EQ(text_of(*staff, "issuer_ip"), "10.0.0.3");
  EXPECT_EQ(text_of(*staff, "target"), "nick");
  EXPECT_EQ(text_of(*staff, "range"), "10.0.0.5");
  EXPECT_EQ(text_of(*staff, "reason"), "calm down");
  // A refused login with its reason.
  auto& blocked = c.h.client(ip(192, 0, 2, 9));
  EXPECT_FALSE(blocked.login("blocked"));
  const auto* refused = find_event(c.journal, "login_refused", "name", "blocked");
  ASSERT_NE(refused, nullptr);
  EXPECT_EQ(text_of(*refused, "ip"), "192.0.2.9");
  EXPECT_EQ(text_of(*refused, "reason"), "This relay does not admit your address");
}

TEST(Audit, ChatOnlyWhenAsked) {
  {
    Community c;  // audit_chat = false (the default)
    say(c.nick, "lobby line");
    say(c.nick, "/msg " + id(c.eve) + " a private line");
    const auto game = create_room(c.nick);
    join(c.eve, game);
    room_say(c.eve, "room line");
    EXPECT_TRUE(c.journal.of("chat").empty());
  }
  r::Config cfg = relaxed();
  cfg.audit_chat = true;
  Community c(cfg);
  say(c.nick, "lobby line");
  say(c.nick, "/msg " + id(c.eve) + " a private line");
  const auto game = create_room(c.nick);
  join(c.eve, game);
  room_say(c.eve, "room line");
  const auto chats = c.journal.of("chat");
  ASSERT_EQ(chats.size(), 3u);
  EXPECT_EQ(text_of(*chats[0], "where"), "lobby");
  EXPECT_EQ(text_of(*chats[0], "name"), "nick");
  EXPECT_EQ(text_of(*chats[0], "text"), "lobby line");
  EXPECT_EQ(text_of(*chats[1], "where"), "private");
  EXPECT_EQ(text_of(*chats[1], "to"), "eve");
  EXPECT_EQ(text_of(*chats[1], "text"), "a private line");
  EXPECT_EQ(text_of(*chats[2], "where"), "game");
  EXPECT_EQ(text_of(*chats[2], "name"), "eve");
  EXPECT_EQ(text_of(*chats[2], "text"), "room line");
}
