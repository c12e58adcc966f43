// The access file (relay/shell/access_file.hpp) and the dns: refresher (relay/shell/dns_refresher.hpp).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/net/address.hpp"
#include "relay/shell/access_file.hpp"
#include "relay/shell/dns_refresher.hpp"

namespace {

using kaillera::relay::AccessEntry;
using kaillera::relay::AccessList;
using kaillera::relay::AddressRange;
using kaillera::relay::Level;
using kaillera::relay::shell::AccessLoad;
using kaillera::relay::shell::admins_shorthand;
using kaillera::relay::shell::apply_resolved;
using kaillera::relay::shell::dns_names;
using kaillera::relay::shell::DnsRefresher;
using kaillera::relay::shell::DnsResults;
using kaillera::relay::shell::load_access_file;
using kaillera::relay::shell::merge_admins;
using kaillera::relay::shell::parse_access_toml;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

std::uint32_t ip(const char* text) {
  return *kaillera::net::parse_ipv4(text);
}

AccessLoad parse(std::string_view text, std::string_view charset = "windows-1252") {
  return parse_access_toml(text, "access.toml", charset);
}

// The list of a file that must parse; fails the test with the error otherwise.
AccessList ok(std::string_view text, std::string_view charset = "windows-1252") {
  AccessLoad a = parse(text, charset);
  EXPECT_TRUE(a.list.has_value()) << a.error;
  EXPECT_THAT(a.error, IsEmpty());
  return a.list.value_or(AccessList{});
}

// The error of a file that must not parse.
std::string error_of(std::string_view text, std::string_view charset = "windows-1252") {
  AccessLoad a = parse(text, charset);
  EXPECT_FALSE(a.list.has_value()) << "parsed, but expected an error";
  EXPECT_THAT(a.warnings, IsEmpty());
  return a.error;
}

// ---- Keys and values
// ----------------------------------------------------------------------------------------

TEST(AccessFile, EmptyFileIsTheDefaults) {
  const AccessList l = ok("");
  EXPECT_EQ(l.default_level, Level::kNormal);
  EXPECT_THAT(l.entries, IsEmpty());
  EXPECT_THAT(l.games_allow, IsEmpty());
  EXPECT_THAT(l.games_deny, IsEmpty());
  EXPECT_THAT(l.emulators_allow, IsEmpty());
  EXPECT_THAT(l.emulators_deny, IsEmpty());
  EXPECT_TRUE(l.game_allowed("anything"));
  EXPECT_TRUE(l.emulator_allowed("anything"));
}

TEST(AccessFile, EveryKey) {
  const AccessLoad a = parse(R"(
default_level = "elevated"
games_allow = ["Street Fighter*", "Marvel*"]
games_deny = ["*hentai*"]
emulators_allow = ["MAME32k*"]
emulators_deny = ["*cheat*"]

[[user]]
level = "owner"
addresses = ["203.0.113.7", "198.51.100.0/24", "dns:alice.example.org"]
announce = "Alice (owner) is here"
label = "alice"
silenced = false

[[user]]
label = "spammer"
silenced = true
addresses = ["192.0.2.9"]
level = "Normal"
)");
  ASSERT_TRUE(a.list) << a.error;
  EXPECT_THAT(a.warnings, IsEmpty());
  const AccessList& l = *a.list;
  EXPECT_EQ(l.default_level, Level::kElevated);
  EXPECT_THAT(l.games_allow, ElementsAre("Street Fighter*", "Marvel*"));
  EXPECT_THAT(l.games_deny, ElementsAre("*hentai*"));
  EXPECT_THAT(l.emulators_allow, ElementsAre("MAME32k*"));
  EXPECT_THAT(l.emulators_deny, ElementsAre("*cheat*"));
  ASSERT_EQ(l.entries.size(), 2u);
  const AccessEntry& alice = l.entries[0];
  EXPECT_EQ(alice.level, Level::kOwner);
  EXPECT_THAT(alice.ranges,
              ElementsAre(AddressRange{ip("203.0.113.7"), 32}, AddressRange{ip("198.51.100.0"), 24}));
  EXPECT_THAT(alice.dns, ElementsAre("alice.example.org"));
  EXPECT_THAT(alice.resolved, IsEmpty());
  EXPECT_EQ(alice.announce, "Alice (owner) is here");
  EXPECT_EQ(alice.label, "alice");
  EXPECT_FALSE(alice.silenced);
  const AccessEntry& spammer = l.entries[1];
  EXPECT_EQ(spammer.level, Level::kNormal);  // level names ignore case
  EXPECT_TRUE(spammer.silenced);
  EXPECT_EQ(spammer.label, "spammer");
  EXPECT_THAT(spammer.announce, IsEmpty());
  EXPECT_THAT(spammer.dns, IsEmpty());
}

TEST(AccessFile, EveryLevelName) {
  const std::pair<const char*, Level> levels[] = {
      {"banned", Level::kBanned},       {"normal", Level::kNormal}, {"elevated", Level::kElevated},
      {"moderator", Level::kModerator}, {"admin", Level::kAdmin},   {"owner", Level::kOwner}};
  for (const auto& [name, level] : levels) {
    const AccessList l = ok(std::string("[[user]]\nlevel = \"") + name + "\"\naddresses = [\"10.0.0.1\"]\n");
    ASSERT_EQ(l.entries.size(), 1u);
    EXPECT_EQ(l.entries[0].level, level) << name;
  }
}

TEST(AccessFile, TheExampleFileParsesCleanly) {
  const std::string path = std::string(KF_TEST_DATA) + "/../../deploy/access.example.toml";
  for (const char* charset : {"windows-1252", "shift_jis", "utf-8"}) {
    const AccessLoad a = load_access_file(path, charset);
    ASSERT_TRUE(a.list) << a.error;
    EXPECT_THAT(a.warnings, IsEmpty());
    EXPECT_FALSE(a.list->entries.empty());
  }
}

// ---- Errors: each names the file, the line and the key
// ------------------------------------------------------

TEST(AccessFile, TomlSyntaxErrorNamesTheLine) {
  EXPECT_THAT(error_of("default_level = \"normal\"\n\ngames_deny = [\"x\" \"y\"]\n"),
              StartsWith("access.toml:3:"));
  EXPECT_THAT(error_of("a = 1\na = 2\n"), StartsWith("access.toml:2:"));  // duplicate key
}

TEST(AccessFile, UnknownKeysAreErrors) {
  EXPECT_THAT(error_of("\ndefualt_level = \"normal\"\n"),
              StartsWith("access.toml:2: defualt_level: unknown key"));
  EXPECT_THAT(error_of("[[users]]\nlevel = \"owner\"\n"), StartsWith("access.toml:1: users: unknown key"));
  EXPECT_THAT(error_of("[[user]]\nlevel = \"owner\"\naddresses = [\"10.0.0.1\"]\nlable = \"x\"\n"),
              StartsWith("access.toml:4: [[user]] #1 lable: unknown key (known: level, addresses"));
  // A sub-table of a [[user]] is an unknown key of that user.
  EXPECT_THAT(error_of("[[user]]\nlevel = \"owner\"\naddresses = [\"10.0.0.1\"]\n[user.extra]\nx = 1\n"),
              HasSubstr("[[user]] #1 extra: unknown key"));
}

TEST(AccessFile, TheFirstProblemInTheFileIsReported) {
  // TOML tables are unordered; the parser still reports the earlier line.
  EXPECT_THAT(error_of("zzz = 1\naaa = 2\n"), StartsWith("access.toml:1: zzz:"));
  EXPECT_THAT(error_of("[[user]]\nsilenced = 1\naddresses = [\"bad\"]\nlevel = \"owner\"\n"),
              StartsWith("access.toml:2: [[user]] #1 silenced: must be true or false (got an integer)"));
}

TEST(AccessFile, DefaultLevelErrors) {
  EXPECT_EQ(
      error_of("default_level = \"guest\"\n"),
      "access.toml:1: default_level: must be one of \"banned\", \"normal\", \"elevated\", \"moderator\", "
      "\"admin\", \"owner\" (got \"guest\")");
  EXPECT_THAT(error_of("default_level = 1\n"),
              AllOf(StartsWith("access.toml:1: default_level:"), HasSubstr("(got an integer)")));
}

TEST(AccessFile, UserTablesMustBeAnArrayOfTables) {
  EXPECT_THAT(error_of("[user]\nlevel = \"owner\"\n"),
              StartsWith("access.toml:1: user: must be [[user]] tables (got a table)"));
  EXPECT_THAT(error_of("user = [1, 2]\n"),
              StartsWith("access.toml:1: user: must be [[user]] tables (got an array)"));
}

TEST(AccessFile, LevelIsRequiredAndChecked) {
  EXPECT_THAT(error_of("[[user]]\nlevel = \"owner\"\naddresses = [\"10.0.0.1\"]\n\n[[user]]\naddresses = "
                       "[\"10.0.0.2\"]\n"),
              StartsWith("access.toml:5: [[user]] #2: needs level = "));
  EXPECT_THAT(error_of("[[user]]\naddresses = [\"10.0.0.2\"]\nlevel = \"root\"\n"),
              StartsWith("access.toml:3: [[user]] #1 level: must be one of"));
  EXPECT_THAT(error_of("[[user]]\naddresses = [\"10.0.0.2\"]\nlevel = \"superadmin\"\n"),
              HasSubstr("EmuLinker's SUPERADMIN is \"owner\" here"));
  EXPECT_THAT(error_of("[[user]]\naddresses = [\"10.0.0.2\"]\nlevel = 5\n"),
              AllOf(StartsWith("access.toml:3: [[user]] #1 level:"), HasSubstr("(got an integer)")));
}

TEST(AccessFile, AddressesAreRequiredAndNonEmpty) {
  EXPECT_THAT(error_of("[[user]]\nlevel = \"owner\"\nlabel = \"nobody\"\n"),
              StartsWith("access.toml:1: [[user]] #1: needs addresses = "));
  EXPECT_THAT(error_of("[[user]]\nlevel = \"owner\"\naddresses = []\n"),
              StartsWith("access.toml:3: [[user]] #1 addresses: must be a non-empty array"));
  EXPECT_THAT(error_of("[[user]]\nlevel = \"owner\"\naddresses = \"10.0.0.1\"\n"),
              AllOf(StartsWith("access.toml:3: [[user]] #1 addresses:"), HasSubstr("(got a string)")));
  EXPECT_THAT(error_of("[[user]]\nlevel = \"owner\"\naddresses = [\"10.0.0.1\", 7]\n"),
              StartsWith("access.toml:3: [[user]] #1 addresses[1]: must be a string (got an integer)"));
}

TEST(AccessFile, BadAddressesNameTheItem) {
  auto bad = [](const std::string& address) {
    return error_of(
        "default_level = \"normal\"\n\n[[user]]\nlevel = \"admin\"\naddresses = [\"10.9.9.9\"]\n\n"
        "[[user]]\nlevel = \"owner\"\naddresses = [\n  \"10.0.0.2\",\n  \"" +
        address + "\",\n]\n");
  };
  EXPECT_EQ(
      bad("10.0.0.1/33"),
      "access.toml:11: [[user]] #2 addresses[1]: \"10.0.0.1/33\" is not an address, a CIDR range or dns:HOST "
      "(the prefix length after '/' must be 0..32)");
  EXPECT_EQ(
      bad("10.0.0.1/24"),
      "access.toml:11: [[user]] #2 addresses[1]: \"10.0.0.1/24\" has host bits set: the range is 10.0.0.0/24 "
      "(or write 10.0.0.1 for the one address)");
  EXPECT_EQ(
      bad("10.0.*.*"),
      "access.toml:11: [[user]] #2 addresses[1]: \"10.0.*.*\" is not an address, a CIDR range or dns:HOST "
      "(wildcards are not supported: write 10.0.0.0/16)");
  EXPECT_THAT(bad("10.*.0.*"), HasSubstr("wildcards are not supported: write a CIDR range such as"));
  EXPECT_THAT(bad("2001:db8::1"), HasSubstr("(IPv4 only, without a port"));
  EXPECT_THAT(bad("10.0.0.1:27888"), HasSubstr("(IPv4 only, without a port"));
  EXPECT_EQ(
      bad("256.0.0.1"),
      "access.toml:11: [[user]] #2 addresses[1]: \"256.0.0.1\" is not an address, a CIDR range or dns:HOST");
  EXPECT_THAT(bad("10.0.0.1/"), HasSubstr("prefix length after '/' must be 0..32"));
  EXPECT_THAT(bad("10.0.0.0/-1"), HasSubstr("prefix length after '/' must be 0..32"));
  EXPECT_THAT(bad("alice.example.org"), HasSubstr("is not an address, a CIDR range or dns:HOST"));
  EXPECT_THAT(bad(""), HasSubstr("\"\" is not an address"));
}

TEST(AccessFile, BadDnsNames) {
  auto bad = [](const std::string& address) {
    return error_of("[[user]]\nlevel = \"owner\"\naddresses = [\"" + address + "\"]\n");
  };
  const std::string where = "access.toml:3: [[user]] #1 addresses[0]: ";
  EXPECT_EQ(bad("dns:"), where + "\"dns:\" is not dns:HOST: the host name is empty");
  EXPECT_EQ(bad("dns:alice_home.example.org"), where +
                                                   "\"dns:alice_home.example.org\" is not dns:HOST: a host "
                                                   "name has only letters, digits, '-' and '.'");
  EXPECT_THAT(bad("dns:alice..example.org"), HasSubstr("empty label"));
  EXPECT_THAT(bad("dns:.example.org"), HasSubstr("empty label"));
  EXPECT_THAT(bad("dns:-alice.example.org"), HasSubstr("starts or ends with '-'"));
  EXPECT_THAT(bad("dns:alice-.example.org"), HasSubstr("starts or ends with '-'"));
  EXPECT_THAT(bad("dns:" + std::string(64, 'a') + ".org"), HasSubstr("longer than 63"));
  EXPECT_THAT(bad("dns:alice example.org"), HasSubstr("only letters, digits"));
  // 253 characters pass, 254 do not.
  std::string name;
  while (name.size() < 253)
    name += name.empty() ? "a" : (name.size() % 50 == 49 ? "." : "b");
  ASSERT_EQ(name.size(), 253u);
  ASSERT_NE(name.back(), '.');
  EXPECT_THAT(ok("[[user]]\nlevel = \"owner\"\naddresses = [\"dns:" + name + "\"]\n").entries.at(0).dns,
              ElementsAre(name));
  EXPECT_THAT(bad("dns:" + name + "c"), HasSubstr("longer than 253"));
}

TEST(AccessFile, TextAndBooleanKeyErrors) {
  const std::string head = "[[user]]\nlevel = \"owner\"\naddresses = [\"10.0.0.1\"]\n";
  EXPECT_THAT(error_of(head + "announce = 1\n"),
              StartsWith("access.toml:4: [[user]] #1 announce: must be a string (got an integer)"));
  EXPECT_THAT(error_of(head + "label = true\n"),
              StartsWith("access.toml:4: [[user]] #1 label: must be a string (got a boolean)"));
  EXPECT_THAT(error_of(head + "silenced = \"yes\"\n"),
              StartsWith("access.toml:4: [[user]] #1 silenced: must be true or false (got a string)"));
  // A NUL or a line break would break the Kaillera string or the client's chat line.
  EXPECT_THAT(error_of(head + "announce = \"hi\\u0000there\"\n"),
              StartsWith("access.toml:4: [[user]] #1 announce: must not contain control characters"));
  EXPECT_THAT(error_of(head + "label = \"a\\nb\"\n"),
              StartsWith("access.toml:4: [[user]] #1 label: must not contain control characters"));
  EXPECT_TRUE(ok(head + "announce = \"" + std::string(1000, 'x') + "\"\n").entries.at(0).announce.size() ==
              1000);
  EXPECT_THAT(
      error_of(head + "announce = \"" + std::string(1001, 'x') + "\"\n"),
      StartsWith(
          "access.toml:4: [[user]] #1 announce: is 1001 bytes in charset \"windows-1252\", at most 1000"));
  EXPECT_THAT(error_of(head + "label = \"" + std::string(128, 'x') + "\"\n"),
              StartsWith("access.toml:4: [[user]] #1 label: is 128 bytes"));
}

TEST(AccessFile, PatternErrors) {
  EXPECT_THAT(
      error_of("games_deny = \"*hentai*\"\n"),
      StartsWith("access.toml:1: games_deny: must be an array of glob patterns (* and ?) (got a string)"));
  EXPECT_THAT(error_of("games_allow = [\"a\",\n  3]\n"),
              StartsWith("access.toml:2: games_allow[1]: must be a string (got an integer)"));
  EXPECT_THAT(error_of("emulators_deny = [\"\"]\n"),
              StartsWith("access.toml:1: emulators_deny[0]: is empty"));
  EXPECT_THAT(error_of("\nemulators_allow = {}\n"),
              StartsWith("access.toml:2: emulators_allow: must be an array"));
}

// ---- Addresses: CIDR, first match, dns names
// ----------------------------------------------------------------

TEST(AccessFile, CidrEdgeCases) {
  const AccessList l = ok(R"(
[[user]]
level = "owner"
addresses = ["255.255.255.255/32", "10.1.2.3"]
[[user]]
level = "elevated"
addresses = ["172.16.0.0/12"]
[[user]]
level = "banned"
addresses = ["0.0.0.0/0"]
)");
  ASSERT_EQ(l.entries.size(), 3u);
  EXPECT_THAT(l.entries[0].ranges, ElementsAre(AddressRange{0xffffffffu, 32},
                                               AddressRange{ip("10.1.2.3"), 32}));  // "a.b.c.d" is /32
  EXPECT_THAT(l.entries[2].ranges, ElementsAre(AddressRange{0, 0}));
  auto level = [&](const char* a) {
    const AccessEntry* e = l.match(ip(a));
    return e != nullptr ? e->level : l.default_level;
  };
  EXPECT_EQ(level("255.255.255.255"), Level::kOwner);
  EXPECT_EQ(level("10.1.2.3"), Level::kOwner);
  EXPECT_EQ(level("10.1.2.4"), Level::kBanned);  // /32 is one address; /0 takes the rest
  EXPECT_EQ(level("172.16.0.0"), Level::kElevated);
  EXPECT_EQ(level("172.31.255.255"), Level::kElevated);
  EXPECT_EQ(level("172.32.0.0"), Level::kBanned);
  EXPECT_EQ(level("0.0.0.0"), Level::kBanned);
  // Host bits set are a mistake at any prefix length.
  EXPECT_THAT(error_of("[[user]]\nlevel = \"owner\"\naddresses = [\"0.0.0.1/0\"]\n"),
              HasSubstr("has host bits set: the range is 0.0.0.0/0"));
  EXPECT_THAT(error_of("[[user]]\nlevel = \"owner\"\naddresses = [\"172.17.0.0/12\"]\n"),
              HasSubstr("has host bits set: the range is 172.16.0.0/12"));
}

TEST(AccessFile, FirstMatchingEntryDecides) {
  const AccessLoad a = parse(R"(
default_level = "normal"
[[user]]
level = "owner"
addresses = ["198.51.100.7"]
label = "alice"
[[user]]
level = "banned"
addresses = ["198.51.100.0/24"]
label = "bad neighbourhood"
)");
  ASSERT_TRUE(a.list) << a.error;
  EXPECT_THAT(a.warnings, IsEmpty());  // the narrow entry comes first: nothing is hidden
  const AccessList& l = *a.list;
  ASSERT_NE(l.match(ip("198.51.100.7")), nullptr);
  EXPECT_EQ(l.match(ip("198.51.100.7"))->label, "alice");
  ASSERT_NE(l.match(ip("198.51.100.8")), nullptr);
  EXPECT_EQ(l.match(ip("198.51.100.8"))->level, Level::kBanned);
  EXPECT_EQ(l.match(ip("198.51.101.7")), nullptr);
}

TEST(AccessFile, AnEntryHiddenByAnEarlierOneIsAWarning) {
  const AccessLoad a = parse(R"([[user]]
level = "banned"
addresses = ["198.51.100.0/24"]
[[user]]
level = "owner"
addresses = [
  "203.0.113.1",
  "198.51.100.7",
  "dns:alice.example.org",
]
[[user]]
level = "admin"
addresses = ["dns:ALICE.example.org", "203.0.113.1"]
)");
  ASSERT_TRUE(a.list) << a.error;
  EXPECT_THAT(
      a.warnings,
      ElementsAre(
          "access.toml:8: [[user]] #2 addresses[1]: \"198.51.100.7\" is inside \"198.51.100.0/24\" of "
          "[[user]] #1 (line 3), which comes first and decides (level banned): this entry never "
          "applies there; put the narrower entry first",
          "access.toml:13: [[user]] #3 addresses[0]: \"dns:ALICE.example.org\" is also in [[user]] #2 "
          "(line 9), which comes first and decides",
          HasSubstr("access.toml:13: [[user]] #3 addresses[1]: \"203.0.113.1\" is inside "
                    "\"203.0.113.1\" of [[user]] #2 (line 7)")));
  // Still the list as written: warnings change nothing.
  EXPECT_EQ(a.list->match(ip("198.51.100.7"))->level, Level::kBanned);
}

TEST(AccessFile, DnsNames) {
  const AccessList l = ok(R"(
[[user]]
level = "owner"
addresses = ["DNS:Alice.Example.ORG", "dns:alice.example.org", "dns:bob.example.net"]
[[user]]
level = "moderator"
addresses = ["dns:carol.example.com", "10.0.0.0/8"]
)");
  ASSERT_EQ(l.entries.size(), 2u);
  EXPECT_THAT(l.entries[0].dns, ElementsAre("alice.example.org", "bob.example.net"));  // lower case, once
  EXPECT_THAT(l.entries[0].ranges, IsEmpty());
  EXPECT_THAT(l.entries[0].resolved, IsEmpty());
  EXPECT_THAT(l.entries[1].dns, ElementsAre("carol.example.com"));
  EXPECT_THAT(dns_names(l), ElementsAre("alice.example.org", "bob.example.net", "carol.example.com"));
  // Unresolved names match nothing yet.
  EXPECT_EQ(l.match(ip("203.0.113.7")), nullptr);
}

TEST(AccessFile, DefaultLevelWarnings) {
  const AccessLoad closed =
      parse("default_level = \"banned\"\n[[user]]\nlevel = \"banned\"\naddresses = [\"10.0.0.1\"]\n");
  ASSERT_TRUE(closed.list) << closed.error;
  EXPECT_THAT(closed.warnings,
              ElementsAre(StartsWith("access.toml:1: default_level: \"banned\" and no [[user]] entry "
                                     "above banned: nobody may log in")));
  const AccessLoad private_relay =
      parse("default_level = \"banned\"\n[[user]]\nlevel = \"normal\"\naddresses = [\"10.0.0.0/8\"]\n");
  ASSERT_TRUE(private_relay.list);
  EXPECT_THAT(private_relay.warnings, IsEmpty());
  EXPECT_EQ(private_relay.list->default_level, Level::kBanned);
  const AccessLoad open = parse("\ndefault_level = \"admin\"\n");
  ASSERT_TRUE(open.list);
  EXPECT_THAT(open.warnings,
              ElementsAre("access.toml:2: default_level: every address no entry lists is admin: anyone "
                          "may use staff commands"));
}

// ---- relay.toml's admins
// ------------------------------------------------------------------------------------

TEST(AccessFile, AdminsShorthand) {
  const AccessList a = admins_shorthand({"203.0.113.7", "not an address", "198.51.100.1"});
  ASSERT_EQ(a.entries.size(), 2u);
  EXPECT_EQ(a.entries[0].level, Level::kAdmin);
  EXPECT_THAT(a.entries[0].ranges, ElementsAre(AddressRange{ip("203.0.113.7"), 32}));
  EXPECT_EQ(a.entries[0].label, "relay.toml admins");
  EXPECT_THAT(a.entries[1].ranges, ElementsAre(AddressRange{ip("198.51.100.1"), 32}));
  EXPECT_EQ(a.default_level, Level::kNormal);
}

TEST(AccessFile, MergeAdminsPutsTheAccessFileFirst) {
  const AccessList file = ok(R"(
default_level = "banned"
games_deny = ["*hentai*"]
[[user]]
level = "banned"
addresses = ["203.0.113.0/24"]
[[user]]
level = "owner"
addresses = ["198.51.100.1"]
)");
  std::vector<std::string> warnings;
  const AccessList merged = merge_admins(file, {"203.0.113.7", "192.0.2.5", "198.51.100.1"}, &warnings);
  ASSERT_EQ(merged.entries.size(), 5u);
  EXPECT_EQ(merged.default_level, Level::kBanned);
  EXPECT_THAT(merged.games_deny, ElementsAre("*hentai*"));
  // The access file wins where both name an address.
  EXPECT_EQ(merged.match(ip("203.0.113.7"))->level, Level::kBanned);
  EXPECT_EQ(merged.match(ip("198.51.100.1"))->level, Level::kOwner);
  // Addresses only relay.toml names are admins.
  EXPECT_EQ(merged.match(ip("192.0.2.5"))->level, Level::kAdmin);
  EXPECT_THAT(warnings,
              ElementsAre("relay.toml: admins: 203.0.113.7 is in the access file's [[user]] #1 (level "
                          "banned), which decides: the access file wins",
                          HasSubstr("198.51.100.1 is in the access file's [[user]] #2 (level owner)")));
  // Without a warnings vector it merges the same.
  EXPECT_EQ(merge_admins(file, {"192.0.2.5"}).entries.size(), 3u);
}

// ---- Charsets
// -----------------------------------------------------------------------------------------------

TEST(AccessFile, TextsGoOutInTheRelaysCharset) {
  const std::string file =
      "[[user]]\nlevel = \"owner\"\naddresses = [\"10.0.0.1\"]\nannounce = \"アリス〜\"\nlabel = "
      "\"ぷよぷよ\"\n";
  const AccessList sjis = ok(file, "shift_jis");
  ASSERT_EQ(sjis.entries.size(), 1u);
  // アリス and the wave dash (which Shift_JIS has, though it decodes back as the full-width tilde).
  EXPECT_EQ(sjis.entries[0].announce, "\x83\x41\x83\x8a\x83\x58\x81\x60");
  EXPECT_EQ(sjis.entries[0].label, "\x82\xd5\x82\xe6\x82\xd5\x82\xe6");
  // UTF-8 relays pass the text through.
  EXPECT_EQ(ok(file, "utf-8").entries.at(0).announce, "アリス〜");
  EXPECT_EQ(
      ok("[[user]]\nlevel = \"owner\"\naddresses = [\"10.0.0.1\"]\nannounce = \"Zoë\"\n", "windows-1252")
          .entries.at(0)
          .announce,
      "Zo\xeb");
}

TEST(AccessFile, ACharacterTheCharsetLacksIsAnErrorNamingTheKey) {
  const std::string head = "[[user]]\nlevel = \"owner\"\naddresses = [\"10.0.0.1\"]\n";
  EXPECT_EQ(error_of(head + "announce = \"Łukasz is here\"\n", "windows-1252"),
            "access.toml:4: [[user]] #1 announce: \"Łukasz is here\" has \"Ł\", which the relay's charset "
            "\"windows-1252\" cannot encode (clients would see '?')");
  EXPECT_THAT(error_of(head + "label = \"アリス\"\n", "windows-1252"),
              StartsWith("access.toml:4: [[user]] #1 label: \"アリス\" has \"ア\", which"));
  // Shift_JIS has Cyrillic and kana, but no accented Latin letters.
  EXPECT_EQ(ok(head + "announce = \"Привет\"\n", "shift_jis").entries.at(0).announce,
            "\x84\x50\x84\x82\x84\x79\x84\x72\x84\x75\x84\x84");
  EXPECT_THAT(
      error_of(head + "announce = \"Café ぷよぷよ\"\n", "shift_jis"),
      StartsWith(
          "access.toml:4: [[user]] #1 announce: \"Café ぷよぷよ\" has \"é\", which the relay's charset "
          "\"shift_jis\" cannot encode"));
}

TEST(AccessFile, PatternsAreMatchedInTheCharset) {
  const AccessList l = ok("games_deny = [\"*ぷよぷよ*\"]\n", "shift_jis");
  EXPECT_THAT(l.games_deny, ElementsAre("*\x82\xd5\x82\xe6\x82\xd5\x82\xe6*"));
  EXPECT_FALSE(
      l.game_allowed("\x82\xd5\x82\xe6\x82\xd5\x82\xe6\x92\xca"));  // ぷよぷよ通 as a client sends it
  EXPECT_TRUE(l.game_allowed("Street Fighter II"));
  // A pattern character the charset lacks must not turn into '?', which would match any byte.
  EXPECT_THAT(
      error_of("games_deny = [\"*ぷよぷよ*\"]\n", "windows-1252"),
      StartsWith("access.toml:1: games_deny[0]: \"*ぷよぷよ*\" has \"ぷ\", which the relay's charset"));
}

TEST(AccessFile, UnknownCharsetIsAnError) {
  EXPECT_EQ(error_of("", "klingon"), "access.toml: the relay's charset \"klingon\" is unknown");
}

// ---- Filters
// ------------------------------------------------------------------------------------------------

TEST(AccessFile, GameAndEmulatorFilters) {
  const AccessList deny = ok("games_deny = [\"*hentai*\", \"Test ?\"]\nemulators_deny = [\"*cheat*\"]\n");
  EXPECT_FALSE(deny.game_allowed("Super HENTAI Fighter"));  // case-insensitive
  EXPECT_FALSE(deny.game_allowed("Test 1"));
  EXPECT_TRUE(deny.game_allowed("Test 12"));
  EXPECT_TRUE(deny.game_allowed("Street Fighter II"));
  EXPECT_FALSE(deny.emulator_allowed("MAME32k 0.64 (cheats)"));
  EXPECT_TRUE(deny.emulator_allowed("Project64k 0.13"));

  const AccessList allow = ok(R"(
games_allow = ["Street Fighter*", "Marvel*"]
games_deny = ["*(bootleg)*"]
emulators_allow = ["MAME32k*"]
)");
  EXPECT_TRUE(allow.game_allowed("street fighter alpha 3"));
  EXPECT_TRUE(allow.game_allowed("Marvel vs. Capcom"));
  EXPECT_FALSE(allow.game_allowed("Cadillacs and Dinosaurs"));
  EXPECT_FALSE(allow.game_allowed("Street Fighter II (bootleg)"));  // deny wins over allow
  EXPECT_TRUE(allow.emulator_allowed("MAME32k 0.64"));
  EXPECT_FALSE(allow.emulator_allowed("Project64k 0.13"));
}

// ---- Files
// --------------------------------------------------------------------------------------------------

class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/kf_access_XXXXXX";
    const int fd = ::mkstemp(name);
    EXPECT_GE(fd, 0);
    ::close(fd);
    path_ = name;
    std::ofstream(path_, std::ios::binary) << text;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(AccessFile, LoadsAFileAndNamesItInErrors) {
  const TempFile good("[[user]]\nlevel = \"admin\"\naddresses = [\"10.0.0.1\"]\n");
  const AccessLoad a = load_access_file(good.path(), "windows-1252");
  ASSERT_TRUE(a.list) << a.error;
  EXPECT_EQ(a.list->match(ip("10.0.0.1"))->level, Level::kAdmin);

  const TempFile bad("\n[[user]]\nlevel = \"admin\"\naddresses = [\"10.0.0.1/33\"]\n");
  const AccessLoad b = load_access_file(bad.path(), "windows-1252");
  EXPECT_FALSE(b.list);
  EXPECT_THAT(b.error, StartsWith(bad.path() + ":4: [[user]] #1 addresses[0]: \"10.0.0.1/33\""));

  const AccessLoad missing = load_access_file(good.path() + ".missing", "windows-1252");
  EXPECT_FALSE(missing.list);
  EXPECT_EQ(missing.error, good.path() + ".missing: cannot open the access file (No such file or directory)");
}

// ---- apply_resolved
// -----------------------------------------------------------------------------------------

TEST(AccessFile, ApplyResolvedFillsEachEntry) {
  AccessList l = ok(R"(
[[user]]
level = "owner"
addresses = ["dns:alice.example.org", "dns:bob.example.net"]
[[user]]
level = "moderator"
addresses = ["dns:carol.example.com"]
[[user]]
level = "admin"
addresses = ["10.0.0.1"]
)");
  apply_resolved(l, {{"alice.example.org", {ip("203.0.113.9"), ip("203.0.113.7")}},
                     {"bob.example.net", {ip("203.0.113.7")}},
                     {"unrelated.example", {ip("192.0.2.1")}}});
  EXPECT_THAT(l.entries[0].resolved, ElementsAre(ip("203.0.113.7"), ip("203.0.113.9")));  // sorted, once
  EXPECT_THAT(l.entries[1].resolved, IsEmpty());  // carol: not resolved
  EXPECT_THAT(l.entries[2].resolved, IsEmpty());
  EXPECT_EQ(l.match(ip("203.0.113.9"))->level, Level::kOwner);
  EXPECT_EQ(l.match(ip("192.0.2.1")), nullptr);
  // A later result replaces the earlier one.
  apply_resolved(l, {{"carol.example.com", {ip("198.51.100.3")}}});
  EXPECT_THAT(l.entries[0].resolved, IsEmpty());
  EXPECT_THAT(l.entries[1].resolved, ElementsAre(ip("198.51.100.3")));
  EXPECT_EQ(l.match(ip("203.0.113.9")), nullptr);
  EXPECT_EQ(l.match(ip("198.51.100.3"))->level, Level::kModerator);
}

// ---- DnsRefresher
// -------------------------------------------------------------------------------------------

using Addresses = std::optional<std::vector<std::uint32_t>>;
constexpr auto kGuard =
    std::chrono::seconds(30);  // only against a hang: every wait below ends on a condition

// A scripted DNS: what each name resolves to now, and how many lookups each name had.
class FakeDns {
 public:
  void set(const std::string& name, Addresses a) {
    std::lock_guard lock(mutex_);
    table_[name] = std::move(a);
  }
  DnsRefresher::Resolver resolver() {
    return [this](const std::string& name) {
      std::lock_guard lock(mutex_);
      ++calls_[name];
      changed_.notify_all();
      auto it = table_.find(name);
      return it == table_.end() ? Addresses{} : it->second;
    };
  }
  // Waits until `name` was looked up `n` times; the value that lookup got was read before it counted.
  bool wait_calls(const std::string& name, int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kGuard, [&] { return calls_[name] >= n; });
  }
  int calls(const std::string& name) {
    std::lock_guard lock(mutex_);
    return calls_[name];
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Addresses> table_;
  std::map<std::string, int> calls_;
};

// What the refresher delivered, in order.
class Deliveries {
 public:
  DnsRefresher::Callback callback() {
    return [this](DnsResults r) {
      std::lock_guard lock(mutex_);
      got_.push_back(std::move(r));
      changed_.notify_all();
    };
  }
  // The n-th delivery (1-based), once it came; nullopt if it never does.
  std::optional<DnsResults> wait(std::size_t n) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, kGuard, [&] { return got_.size() >= n; })) return std::nullopt;
    return got_[n - 1];
  }
  std::size_t count() {
    std::lock_guard lock(mutex_);
    return got_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<DnsResults> got_;
};

constexpr auto kLong = std::chrono::hours(24);

TEST(DnsRefresher, DeliversTheFirstRoundAndChangesAfterIt) {
  FakeDns dns;
  dns.set("alice.example.org", std::vector<std::uint32_t>{ip("203.0.113.7")});
  dns.set("bob.example.net", std::vector<std::uint32_t>{ip("198.51.100.2"), ip("198.51.100.1")});
  Deliveries got;
  DnsRefresher r({"alice.example.org", "bob.example.net"}, kLong, got.callback(), dns.resolver());

  const auto first = got.wait(1);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, (DnsResults{{"alice.example.org", {ip("203.0.113.7")}},
                                {"bob.example.net", {ip("198.51.100.1"), ip("198.51.100.2")}}}));  // sorted

  // alice moves: the next round delivers it.
  dns.set("alice.example.org", std::vector<std::uint32_t>{ip("203.0.113.99")});
  r.refresh_now();
  const auto second = got.wait(2);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->at("alice.example.org"), std::vector<std::uint32_t>{ip("203.0.113.99")});
  EXPECT_EQ(second->at("bob.example.net"),
            (std::vector<std::uint32_t>{ip("198.51.100.1"), ip("198.51.100.2")}));
}

TEST(DnsRefresher, AFailedLookupKeepsTheLastAddresses) {
  FakeDns dns;
  dns.set("alice.example.org", std::vector<std::uint32_t>{ip("203.0.113.7")});
  dns.set("bob.example.net", std::vector<std::uint32_t>{ip("198.51.100.1")});
  // carol.example.com is not in the table: it never resolves.
  Deliveries got;
  DnsRefresher r({"alice.example.org", "bob.example.net", "carol.example.com"}, kLong, got.callback(),
                 dns.resolver());
  const auto first = got.wait(1);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->count("carol.example.com"), 0u);  // never resolved: not in the results
  EXPECT_EQ(first->size(), 2u);

  dns.set("alice.example.org", std::nullopt);  // alice's lookup fails now
  dns.set("bob.example.net", std::vector<std::uint32_t>{ip("198.51.100.2")});
  r.refresh_now();
  const auto second = got.wait(2);
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, (DnsResults{{"alice.example.org", {ip("203.0.113.7")}},
                                 {"bob.example.net", {ip("198.51.100.2")}}}));
}

TEST(DnsRefresher, AReplacementKeepsWhatItsPredecessorKnew) {
  // On reload the shell starts a new refresher: a name that fails now keeps the addresses the old one found.
  FakeDns dns;
  dns.set("bob.example.net", std::vector<std::uint32_t>{ip("198.51.100.2")});
  Deliveries got;
  DnsRefresher r({"alice.example.org", "bob.example.net"}, kLong, got.callback(), dns.resolver(),
                 DnsResults{{"alice.example.org", {ip("203.0.113.7")}},
                            {"bob.example.net", {ip("198.51.100.1")}},
                            {"gone.example.com", {ip("192.0.2.1")}}});  // no longer in the file
  const auto first = got.wait(1);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, (DnsResults{{"alice.example.org", {ip("203.0.113.7")}},
                                {"bob.example.net", {ip("198.51.100.2")}}}));
}

TEST(DnsRefresher, ARoundThatChangesNothingIsNotDelivered) {
  FakeDns dns;
  dns.set("alice.example.org", std::vector<std::uint32_t>{ip("203.0.113.7")});
  Deliveries got;
  DnsRefresher r({"alice.example.org"}, kLong, got.callback(), dns.resolver());
  ASSERT_TRUE(got.wait(1));

  r.refresh_now();  // round 2: the same answer
  ASSERT_TRUE(dns.wait_calls("alice.example.org", 2));
  // Round 2 read its answer before it counted, so this change is round 3's.
  dns.set("alice.example.org", std::vector<std::uint32_t>{ip("203.0.113.8")});
  r.refresh_now();
  const auto second = got.wait(2);
  ASSERT_TRUE(second);
  // Had round 2 delivered its unchanged results, the second delivery would hold .7.
  EXPECT_EQ(second->at("alice.example.org"), std::vector<std::uint32_t>{ip("203.0.113.8")});
  EXPECT_EQ(dns.calls("alice.example.org"), 3);
}

TEST(DnsRefresher, RefreshesEveryInterval) {
  // Each lookup answers a new address, so every round delivers; nothing but the interval starts rounds.
  std::mutex m;
  std::uint32_t next = ip("10.0.0.1");
  Deliveries got;
  DnsRefresher r({"alice.example.org"}, std::chrono::milliseconds(2), got.callback(),
                 [&](const std::string&) -> Addresses {
                   std::lock_guard lock(m);
                   return std::vector<std::uint32_t>{next++};
                 });
  const auto third = got.wait(3);
  ASSERT_TRUE(third);
  EXPECT_EQ(got.wait(1)->at("alice.example.org"), std::vector<std::uint32_t>{ip("10.0.0.1")});
  EXPECT_EQ(got.wait(2)->at("alice.example.org"), std::vector<std::uint32_t>{ip("10.0.0.2")});
  EXPECT_EQ(third->at("alice.example.org"), std::vector<std::uint32_t>{ip("10.0.0.3")});
}

TEST(DnsRefresher, StopWakesTheThreadAtOnce) {
  FakeDns dns;
  dns.set("alice.example.org", std::vector<std::uint32_t>{ip("203.0.113.7")});
  Deliveries got;
  auto r = std::make_unique<DnsRefresher>(std::vector<std::string>{"alice.example.org"}, kLong,
                                          got.callback(), dns.resolver());
  ASSERT_TRUE(got.wait(1));
  // The thread now waits out a 24-hour interval; stop() must wake it, not wait for it.
  auto stopped = std::async(std::launch::async, [&] { r->stop(); });
  ASSERT_EQ(stopped.wait_for(kGuard), std::future_status::ready);
  EXPECT_EQ(dns.calls("alice.example.org"), 1);  // woken to stop, not to resolve again
  EXPECT_EQ(got.count(), 1u);
  r->stop();  // again: nothing left to do
  r.reset();
  EXPECT_EQ(dns.calls("alice.example.org"), 1);
}

TEST(DnsRefresher, ADestructorStopsItToo) {
  FakeDns dns;
  dns.set("alice.example.org", std::vector<std::uint32_t>{ip("203.0.113.7")});
  Deliveries got;
  auto destroyed = std::async(std::launch::async, [&] {
    DnsRefresher r({"alice.example.org"}, kLong, got.callback(), dns.resolver());
    EXPECT_TRUE(got.wait(1));
  });
  ASSERT_EQ(destroyed.wait_for(kGuard), std::future_status::ready);
  EXPECT_EQ(got.count(), 1u);
}

TEST(DnsRefresher, SystemResolverFindsLocalhost) {
  const auto a = DnsRefresher::system_resolve("localhost");
  ASSERT_TRUE(a);
  EXPECT_THAT(*a, ::testing::Contains(ip("127.0.0.1")));
  // And through the refresher with its default resolver.
  Deliveries got;
  DnsRefresher r({"localhost"}, kLong, got.callback());
  const auto first = got.wait(1);
  ASSERT_TRUE(first);
  EXPECT_THAT(first->at("localhost"), ::testing::Contains(ip("127.0.0.1")));
}

}  // namespace
