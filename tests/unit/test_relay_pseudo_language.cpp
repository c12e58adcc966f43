// Every text the relay core sends comes from its message catalog (relay/core/messages.hpp): the core runs
// with a pseudo-language whose every text is marked, "⟦key|English text⟧", and the test plays through every
// command (each with no arguments, with arguments, as an owner and as a normal user, in the lobby and in a
// room), the login, room and start refusals, a game with its lag notices and drops, moderation and the
// timeouts. A text the relay sends without a mark was written in the code, not taken from the catalog.
#include <gtest/gtest.h>

#include <set>

#include "relay/core/command_parse.hpp"
#include "relay/core/messages.hpp"
#include "tests/unit/relay_harness.hpp"

using namespace kf_test;
using r::Level;

namespace {

constexpr std::string_view kOpen = "\xE2\x9F\xA6";   // ⟦
constexpr std::string_view kClose = "\xE2\x9F\xA7";  // ⟧

r::Messages pseudo_language() {
  r::Messages m;
  for (const auto& [key, text] : r::Messages::english()) {
    const std::string problem = m.set(key, std::string(kOpen) + key + "|" + text + std::string(kClose));
    EXPECT_EQ(problem, "");
  }
  return m;
}

constexpr std::uint32_t kOwnerIp = ip(10, 0, 0, 1);
constexpr std::uint32_t kNickIp = ip(198, 51, 100, 2);
constexpr std::uint32_t kVicIp = ip(203, 0, 113, 9);
constexpr std::uint32_t kEveIp = ip(203, 0, 113, 10);

r::Config pseudo_config() {
  r::Config c;
  c.messages = pseudo_language();
  c.motd = {};  // the operator's own text, not the catalog's
  c.chat_flood = r::Millis(0);
  c.create_flood = r::Millis(0);
  c.lag_notice = r::Millis(50);
  c.allow_single_player = false;
  return c;
}

r::AccessList owner_access() {
  r::AccessList l;
  r::AccessEntry e;
  e.level = Level::kOwner;
  e.ranges.push_back({kOwnerIp, 32});
  e.label = "owner";
  l.entries.push_back(e);
  r::AccessEntry denied;  // an emulator the access file denies
  denied.level = Level::kNormal;
  denied.ranges.push_back({ip(192, 0, 2, 0), 24});
  l.entries.push_back(denied);
  return l;
}

// What the relay itself says: 0x17 lines, 0x08 lines from "Server" and "Error", login refusals, and the quit
// messages it gives for the users it removes (players' own quit messages are theirs: `own_quits`).
struct Said {
  std::vector<std::string> texts;
};

void collect(const FakeClient& c, const std::set<std::string>& own_quits, Said& said) {
  for (const auto& rcv : c.inbox()) {
    if (auto* a = std::get_if<p::ServerInformation>(&rcv.message)) said.texts.emplace_back(a->message);
    if (auto* b = std::get_if<p::GameChat>(&rcv.message); b && (b->user == "Server" || b->user == "Error"))
      said.texts.emplace_back(b->message);
    if (auto* x = std::get_if<p::ConnectionRejected>(&rcv.message)) said.texts.emplace_back(x->message);
    if (auto* q = std::get_if<p::UserQuit>(&rcv.message); q && !own_quits.count(std::string(q->message)))
      said.texts.emplace_back(q->message);
  }
}

// The keys whose marks a set of texts carries.
std::set<std::string> keys_in(const std::vector<std::string>& texts) {
  std::set<std::string> keys;
  for (const auto& t : texts) {
    for (std::size_t at = t.find(kOpen); at != std::string::npos; at = t.find(kOpen, at + 1)) {
      const std::size_t bar = t.find('|', at);
      if (bar != std::string::npos) keys.insert(t.substr(at + kOpen.size(), bar - at - kOpen.size()));
    }
  }
  return keys;
}

// A text is the catalog's when it starts with a mark, or is the one machine-read prefix clients expect.
bool marked(std::string_view t) {
  if (t.rfind(":ALIVECHECK=", 0) == 0) t.remove_prefix(12);
  return t.rfind(kOpen, 0) == 0 && t.find(kClose) != std::string_view::npos;
}

struct Check {
  Said said;
  std::set<std::string> own_quits;
  std::set<std::string> typed;  // what staff typed for /announce: their text, not the relay's
  void take(const FakeClient& c) { collect(c, own_quits, said); }
  void expect_all_marked() {
    ASSERT_FALSE(said.texts.empty());
    for (const auto& t : said.texts) {
      if (!typed.count(t)) {
        EXPECT_TRUE(marked(t)) << "not from the catalog: '" << t << "'";
      }
    }
  }
};

void say_lobby(FakeClient& c, const std::string& line) {
  c.send(p::GlobalChat{"", line});
}
void say_room(FakeClient& c, const std::string& line) {
  c.send(p::GameChat{"", line});
}

// Argument variants for a command: none, the victim's id, numbers, words, a ban's arguments.
std::vector<std::string> variants(std::uint16_t victim, std::uint32_t game_id) {
  const std::string v = std::to_string(victim);
  const std::string g = std::to_string(game_id);
  return {"",
          " " + v,
          " " + v + " hello there",
          " " + v + " 5 spamming",
          " " + v + " perm",
          " 99",
          " 0",
          " 1",
          " 3",
          " 250",
          " 21",
          " on",
          " off",
          " any",
          " nick",
          " zz*",
          " 203.0.113.9",
          " 203.0.113.0/24 10 why",
          " #1",
          " " + g + " " + std::string(kOpen) + "announce" + std::string(kClose),
          " 9999 text"};
}

bool dangerous(std::string_view word) {
  return word == "shutdown" || word == "ban" || word == "kick" || word == "kickall" || word == "closegame" ||
         word == "silence" || word == "mute" || word == "muteall" || word == "swap" || word == "stealthon" ||
         word == "tempadmin" || word == "tempmoderator" || word == "tempelevated" || word == "start" ||
         word == "startn" || word == "maxusers";
}

}  // namespace

TEST(PseudoLanguage, EveryCommandAndRefusalSpeaksFromTheCatalog) {
  Harness h(pseudo_config());
  h.set_access(owner_access());
  Check check;
  check.own_quits = {"bye"};
  check.typed.insert(std::string(kOpen) + "announce" + std::string(kClose));
  FakeClient& olga = h.client(kOwnerIp);
  FakeClient& nick = h.client(kNickIp);
  FakeClient& vic = h.client(kVicIp);
  ASSERT_TRUE(olga.login("olga"));
  ASSERT_TRUE(nick.login("nick"));
  ASSERT_TRUE(vic.login("vic"));

  // A room owned by olga with nick in it; vic stays in the lobby.
  olga.send(p::CreateGame{"", "Street Fighter II", "", 0xFFFFFFFF});
  const std::uint32_t game_id = olga.got<p::CreateGame>().back().game_id;
  nick.send(p::JoinGame{"", game_id, "", 0, 0xFFFF, 1});
  h.advance(100ms);
  for (const auto& v : variants(vic.user_id, game_id)) {
    for (std::size_t cut = 0; cut < v.size(); ++cut)
      check.typed.insert(v.substr(cut));  // /announce's text and /announcegame's after the game id
  }

  // Every command, every argument variant, by the owner and by a normal user, in the lobby and in the room.
  // The ones that remove someone or change levels come last, on the victim.
  std::vector<const r::CommandInfo*> later;
  for (const auto& c : r::command_table()) {
    if (dangerous(c.word)) {
      later.push_back(&c);
      continue;
    }
    for (const auto& args : variants(vic.user_id, game_id)) {
      const std::string line = "/" + std::string(c.word) + args;
      for (FakeClient* who : {&olga, &nick}) {
        say_lobby(*who, line);
        say_room(*who, line);
        h.advance(20ms);
      }
    }
  }
  say_lobby(nick, "/nosuchcommand");
  say_room(nick, "/nosuchcommand");
  // Chat refusals: too long, control characters.
  say_lobby(nick, std::string(400, 'x'));
  say_lobby(nick, std::string("a\x01"));
  say_room(nick, std::string(400, 'x'));
  // Create and join refusals.
  nick.send(p::CreateGame{"", "Another game", "", 0xFFFFFFFF});  // already in a game
  vic.send(p::CreateGame{"", "", "", 0xFFFFFFFF});
  vic.send(p::CreateGame{"", std::string(200, 'g'), "", 0xFFFFFFFF});
  vic.send(p::CreateGame{"", "a|b", "", 0xFFFFFFFF});
  vic.send(p::JoinGame{"", 12345, "", 0, 0xFFFF, 1});
  nick.send(p::StartGame{});  // only the owner
  h.advance(100ms);
  for (const auto* c : later) {
    for (const auto& args : variants(vic.user_id, game_id)) {
      const std::string line = "/" + std::string(c->word) + args;
      say_lobby(nick, line);
      say_room(nick, line);
    }
  }
  // The owner's room controls, then a start refused (different emulators), then a game.
  for (const char* line : {"/swap 9", "/swap 12", "/swap 21", "/swap", "/mute 999", "/muteall", "/unmuteall"})
    say_room(olga, line);
  h.advance(100ms);
  FakeClient& eve = h.client(kEveIp);
  ASSERT_TRUE(eve.login("eve", "Other emulator 1.0"));
  eve.send(p::JoinGame{"", game_id, "", 0, 0xFFFF, 1});
  say_room(olga, "/start");
  eve.send(p::QuitGame{"", 0xFFFF});
  say_room(olga, "/setemu");
  eve.send(p::JoinGame{"", game_id, "", 0, 0xFFFF, 1});
  say_room(olga, "/setemu any");
  say_room(olga, "/setconn");
  say_room(olga, "/startn 3");
  h.advance(100ms);
  eve.send(p::UserQuit{"", 0xFFFF, "bye"});
  h.advance(100ms);

  // The game: start lines, lag notice, /lagstat, /fps, /lagreset, a cache error, then a drop by deadline.
  say_room(olga, "/samedelay on");
  say_room(olga, "/detectautofire 5");
  olga.send(p::StartGame{});
  olga.send(p::AllReady{});
  nick.send(p::AllReady{});
  h.advance(20ms);
  say_room(nick, "/start");  // already started
  vic.send(p::JoinGame{"", game_id, "", 0, 0xFFFF, 1});
  for (int f = 0; f < 120; ++f) {
    const std::uint8_t button = (f % 2) ? 0x10 : 0x00;  // autofire: a button toggling every frame
    olga.send(p::GameData{"", std::vector<std::uint8_t>{button, 0}});
    if (f % 10 == 5) h.advance(200ms);  // nick makes the game wait
    nick.send(p::GameData{"", std::vector<std::uint8_t>{1, 1}});
    h.advance(16ms);
  }
  for (const char* line : {"/lagstat", "/fps 50", "/fps 9999", "/lagreset", "/lagstat", "/fair", "/num",
                           "/swap 21", "/startn 2", "/maxusers 1", "/maxusers 2"})
    say_room(olga, line);
  olga.send(p::CachedGameData{"", 77});
  h.advance(12s);  // nobody sends game data: the data deadline drops both

  // Moderation on the victim, and the dangerous commands by the owner.
  say_lobby(olga, "/silence " + std::to_string(vic.user_id) + " 5 spam");
  say_lobby(vic, "hello");                                         // silenced
  say_lobby(vic, "/msg " + std::to_string(olga.user_id) + " hi");  // no private messages
  say_lobby(vic, "/me waves");                                     // silenced
  say_lobby(olga, "/unsilence " + std::to_string(vic.user_id));
  say_lobby(nick, "/msgoff");
  say_lobby(vic, "/msg " + std::to_string(nick.user_id) + " hi");  // nick takes none
  say_lobby(vic, "/msg " + std::to_string(nick.user_id) + " " + std::string(300, 'x'));
  say_lobby(vic, "/me " + std::string(300, 'x'));
  say_lobby(vic, "/r hi");  // nobody to reply to
  // A quit without a message, and the same player coming back from the same address.
  FakeClient& quiet = h.client(ip(198, 19, 0, 1));
  ASSERT_TRUE(quiet.login("quiet"));
  quiet.send(p::UserQuit{"", 0xFFFF, ""});
  FakeClient& twice = h.client(ip(198, 19, 0, 2));
  ASSERT_TRUE(twice.login("twice"));
  FakeClient& again = h.client(ip(198, 19, 0, 2), 40001);
  ASSERT_TRUE(again.login("twice"));
  h.advance(100ms);
  for (const auto* c : later) {
    for (const auto& args : variants(vic.user_id, game_id)) {
      if (c->word == "shutdown") continue;
      const std::string line = "/" + std::string(c->word) + args;
      say_lobby(olga, line);
      say_room(olga, line);
      h.advance(20ms);
    }
  }
  say_lobby(olga, "/bans");
  say_lobby(olga, "/info 203.0.113.9");
  say_lobby(olga, "/clear 203.0.113.9");
  h.advance(100ms);

  // Login refusals.
  std::vector<FakeClient*> refused;
  auto try_login = [&](std::uint32_t addr, std::string_view name, std::string_view emulator = "MAME32k 0.64",
                       std::uint8_t conn = 1) {
    FakeClient& c = h.client(addr, 41000);
    c.login(name, emulator, conn);
    refused.push_back(&c);
  };
  try_login(ip(198, 18, 0, 1), "");
  try_login(ip(198, 18, 0, 2), std::string(31, 'n'));
  try_login(ip(198, 18, 0, 3), "Server");
  try_login(ip(198, 18, 0, 4), "emu", std::string(200, 'e'));
  try_login(ip(198, 18, 0, 5), "conn", "MAME32k 0.64", 9);
  try_login(ip(198, 18, 0, 6), "www.example.com");
  try_login(ip(198, 18, 0, 7), "nick");  // in use, from another address
  olga.send(p::GlobalChat{"", "/ban 203.0.113.20 perm"});
  try_login(ip(203, 0, 113, 20), "banned");

  // The admin's shutdown ends it (the shell passes the catalog's text).
  say_lobby(olga, "/shutdown");
  RecordingSink sink;
  h.server().shutdown(h.config().messages.format("quit.shutdown"), h.now(), sink);

  for (FakeClient* c : {&olga, &nick, &vic, &eve})
    check.take(*c);
  for (FakeClient* c : refused)
    check.take(*c);
  check.expect_all_marked();

  // The test reached most of the catalog (a change that stops a scenario early shows here).
  const auto seen = keys_in(check.said.texts);
  std::string missing;
  for (const auto& [key, text] : r::Messages::english()) {
    if (!seen.count(key)) missing += " " + key;
  }
  EXPECT_GT(seen.size(), r::Messages::english().size() * 3 / 5) << "keys never sent:" << missing;
  std::cout << "keys sent: " << seen.size() << " of " << r::Messages::english().size()
            << "; never sent here:" << missing << "\n";
}

// The timeouts and the full server speak from the catalog too.
TEST(PseudoLanguage, TimeoutsAndAFullServer) {
  r::Config c = pseudo_config();
  c.max_users = 2;
  c.keepalive_timeout = r::Millis(5000);
  c.idle_timeout = r::Millis(3000);
  c.max_ping_ms = 50;
  Harness h(c);
  Check check;
  FakeClient& a = h.client(ip(10, 1, 0, 1));
  FakeClient& b = h.client(ip(10, 1, 0, 2));
  FakeClient& slow = h.client(ip(10, 1, 0, 3));
  ASSERT_TRUE(a.login("a"));
  EXPECT_FALSE(slow.login("slow", "MAME32k 0.64", 1, 200ms));  // ping too high
  ASSERT_TRUE(b.login("b"));
  FakeClient& c3 = h.client(ip(10, 1, 0, 4));
  EXPECT_FALSE(c3.login("c3"));  // full
  // a stays active (keeps chatting) so b's inactivity and then b's silence end b.
  for (int i = 0; i < 8; ++i) {
    say_lobby(a, "/myip");
    h.advance(1000ms);
  }
  for (FakeClient* x : {&a, &b, &slow, &c3})
    check.take(*x);
  check.expect_all_marked();
  EXPECT_TRUE(contains(check.said.texts, "quit.inactivity|")) << "b timed out as inactive";
}

// The English catalog is today's texts: a sample of lines as the relay has always sent them.
TEST(PseudoLanguage, EnglishIsTheBuiltInCatalog) {
  r::Messages en;
  EXPECT_EQ(en.format("command.unknown", {{"command", "frob"}}), "Unknown command /frob. Try /help");
  EXPECT_EQ(en.format("pm.from", {{"player", "ann"}, {"id", 7}, {"text", "hi"}}),
            "PM from ann (id 7): hi  (/r to reply)");
  EXPECT_EQ(en.format("usage.kick_player"), "/kick <player number>");
  EXPECT_EQ(en.format("usage.kick"), "/kick <user id>");
  // Every command has its usage line in the catalog.
  for (const auto& c : r::command_table()) {
    const std::string key =
        "usage." + (c.verb == r::Verb::kRoomKick ? std::string("kick_player") : std::string(c.word));
    ASSERT_NE(en.text(key), nullptr) << key;
    EXPECT_EQ(*en.text(key), c.usage) << key;
  }
}

// Issue 14's refusals while the relay refuses new load: a login under way and a game start.
TEST(PseudoLanguage, BusyRefusals) {
  Harness h(pseudo_config());
  Check check;
  FakeClient& owner = h.client(ip(10, 2, 0, 1));
  FakeClient& guest = h.client(ip(10, 2, 0, 2));
  ASSERT_TRUE(owner.login("owner"));
  ASSERT_TRUE(guest.login("guest"));
  owner.send(p::CreateGame{"", "Street Fighter II", "", 0xFFFFFFFF});
  guest.send(p::JoinGame{"", owner.got<p::CreateGame>().back().game_id, "", 0, 0xFFFF, 1});
  FakeClient& late = h.client(ip(10, 2, 0, 3));
  const std::string hello = late.handshake("HELLO0.83");
  ASSERT_EQ(hello.rfind("HELLOD00D", 0), 0u);
  late.game_port = static_cast<std::uint16_t>(std::stoi(hello.substr(9)));
  r::LoadFigures busy;
  busy.busy = 0.99;
  ASSERT_TRUE(h.server().set_load(busy, h.now()));
  late.send(p::UserInformation{"late", "MAME32k 0.64", 1});
  for (int i = 0; i < 8 && late.got<p::ConnectionRejected>().empty(); ++i) {
    h.advance(10ms);
    late.send(p::ClientAck{});
  }
  owner.send(p::StartGame{});
  for (FakeClient* x : {&owner, &guest, &late})
    check.take(*x);
  check.expect_all_marked();
  EXPECT_TRUE(contains(check.said.texts, "login.busy|"));
  EXPECT_TRUE(contains(check.said.texts, "start.busy|"));
}
