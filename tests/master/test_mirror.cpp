// Mirroring external lists, without sockets: the parsers of KAILLERA.md §7's formats (the two-line text list,
// the waiting-games line, the JSON lists in both shapes) with good and odd content, the --mirror URL and its
// charset option, and the Catalog's handling of mirrored entries with a real SQLite file and time as an
// argument (replaced per list, dropped, kept after a failed fetch, and never above a relay or a touch
// server). Expected values come from the formats in KAILLERA.md §7 and the byte vectors of §8, not from the
// code.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "master/catalog.hpp"
#include "master/formats.hpp"
#include "master/mirror_parse.hpp"
#include "master/store/migrations.hpp"
#include "master/tokens.hpp"
#include "tests/master/master_harness.hpp"

namespace kaillera::master {
namespace {

using kf_master_test::TempDir;
using nlohmann::json;

// KAILLERA.md §8 vector 9: the user name "じょｎ" in Shift_JIS, and the same characters in UTF-8.
const std::string kJonSjis = "\x82\xb6\x82\xe5\x82\x8e";
const std::string kJonUtf8 = "\xE3\x81\x98\xE3\x82\x87\xEF\xBD\x8E";
// §8 vector 25: "定員30名" in Shift_JIS and UTF-8.
const std::string kTeiinSjis = "\x92\xe8\x88\xf5\x33\x30\x96\xbc";
const std::string kTeiinUtf8 = "\xE5\xAE\x9A\xE5\x93\xA1\x33\x30\xE5\x90\x8D";

// ---- the two-line text format (§7.1:
// "<name>\n<ip>:<port>;<users>/<maxusers>;<games>;<version>;<location>\n")

TEST(MirrorParse, TwoLineListAsKemuPrintsIt) {
  const auto l = parse_server_list_text(
      "Berlin Netplay\r\n1.2.3.4:27888;3/16;2;0.86;Berlin\r\n"
      "Tokyo\r\n5.6.7.8:27999;0/32;0;ELK0.11;Japan, Tokyo\r\n",
      "windows-1252");
  ASSERT_TRUE(l.ok);
  EXPECT_EQ(l.skipped, 0u);
  EXPECT_EQ(l.charset, "windows-1252");
  ASSERT_EQ(l.servers.size(), 2u);
  const auto& a = l.servers[0];
  EXPECT_EQ(a.name, "Berlin Netplay");
  EXPECT_EQ(a.host, "1.2.3.4");
  EXPECT_EQ(a.port, 27888);
  EXPECT_EQ(a.users, 3);
  EXPECT_EQ(a.max_users, 16);
  EXPECT_EQ(a.games, 2);
  EXPECT_EQ(a.version, "0.86");
  EXPECT_EQ(a.location, "Berlin");
  EXPECT_EQ(l.servers[1].name, "Tokyo");
  EXPECT_EQ(l.servers[1].port, 27999);
  EXPECT_EQ(l.servers[1].max_users, 32);
  EXPECT_EQ(l.servers[1].location, "Japan, Tokyo");
}

TEST(MirrorParse, TwoLineListWithLfOnlyAndSfdocsLineWithoutGames) {
  // The n02 parser splits on \n; SFDOC's example data line has no games field.
  const auto l = parse_server_list_text("A\n1.2.3.4:27888;1/10;0.86;Paris\nB\n5.6.7.8:1;0/0;7;v;\n", "utf-8");
  ASSERT_EQ(l.servers.size(), 2u);
  EXPECT_EQ(l.servers[0].users, 1);
  EXPECT_EQ(l.servers[0].max_users, 10);
  EXPECT_EQ(l.servers[0].games, 0);
  EXPECT_EQ(l.servers[0].version, "0.86");
  EXPECT_EQ(l.servers[0].location, "Paris");
  EXPECT_EQ(l.servers[1].games, 7);
  EXPECT_EQ(l.servers[1].location, "");
  EXPECT_EQ(l.skipped, 0u);
}

TEST(MirrorParse, BadEntriesAreSkippedAndCountedWithoutLosingTheirNeighbours) {
  const std::string body =
      "Good One\r\n1.2.3.4:27888;1/8;0;0.86;A\r\n"
      "Bad Port\r\n1.2.3.4:99999;1/8;0;0.86;B\r\n"           // port out of range
      "Zero Port\r\n1.2.3.4:0;1/8;0;0.86;B\r\n"              // port 0
      "Bad Users\r\n1.2.3.4:27889;many/8;0;0.86;C\r\n"       // users not a number
      "Orphan name without a data line\r\n"                  //
      "Good Two\r\n9.8.7.6:27888;0/4;1;0.86;D\r\n"           //
      "1.1.1.1:27888;0/4;1;0.86;data line without name\r\n"  // (follows a data line)
      "Good Three\r\n8.8.8.8:7000;2/2;1;0.86;E\r\n"
      "Trailing name\r\n";
  const auto l = parse_server_list_text(body, "windows-1252");
  ASSERT_TRUE(l.ok);
  ASSERT_EQ(l.servers.size(), 3u);
  EXPECT_EQ(l.servers[0].name, "Good One");
  EXPECT_EQ(l.servers[1].name, "Good Two");
  EXPECT_EQ(l.servers[1].host, "9.8.7.6");
  EXPECT_EQ(l.servers[2].name, "Good Three");
  EXPECT_EQ(l.servers[2].port, 7000);
  EXPECT_EQ(l.skipped, 6u);
}

TEST(MirrorParse, NameBytesAreKeptAsTheyCame) {
  // 0x81 is not a character in windows-1252, 0xE9 is "é": both bytes stay; only renderings to UTF-8 change
  // them.
  const std::string name = "Caf\xE9 \x81 Netplay";
  const auto l = parse_server_list_text(name + "\r\n1.2.3.4:27888;0/8;0;0.86;M\xFCnchen\r\n", "windows-1252");
  ASSERT_EQ(l.servers.size(), 1u);
  EXPECT_EQ(l.servers[0].name, name);
  EXPECT_EQ(l.servers[0].location, "M\xFCnchen");
}

TEST(MirrorParse, EmptyListsAreGoodLists) {
  for (const char* body : {"", "\r\n", "\n\n"}) {
    const auto l = parse_server_list_text(body, "windows-1252");
    EXPECT_TRUE(l.ok);
    EXPECT_TRUE(l.servers.empty());
    EXPECT_EQ(l.skipped, 0u);
  }
  const auto g = parse_game_line("\n", "windows-1252");
  EXPECT_TRUE(g.ok);
  EXPECT_TRUE(g.games.empty());
  EXPECT_EQ(g.skipped, 0u);
}

// ---- the waiting-games line (§7.2: "<game>|<ip>:<port>|<user>|<emulator>|<players
// n/m>|<server>|<location>|")

TEST(MirrorParse, GameLine) {
  const auto l = parse_game_line(
      "Street Fighter II|1.2.3.4:27888|ryu|MAME32k 0.64|1/2|Berlin Netplay|Berlin|"
      "Tetris|5.6.7.8:27999|ken|Nestopia|1/4|Tokyo|Japan|\n",
      "windows-1252");
  ASSERT_TRUE(l.ok);
  EXPECT_EQ(l.skipped, 0u);
  ASSERT_EQ(l.games.size(), 2u);
  const auto& g = l.games[0];
  EXPECT_EQ(g.rom, "Street Fighter II");
  EXPECT_EQ(g.host, "1.2.3.4");
  EXPECT_EQ(g.port, 27888);
  EXPECT_EQ(g.owner, "ryu");
  EXPECT_EQ(g.emulator, "MAME32k 0.64");
  EXPECT_EQ(g.players, 1);
  EXPECT_EQ(g.max_players, 2);
  EXPECT_EQ(g.server_name, "Berlin Netplay");
  EXPECT_EQ(g.location, "Berlin");
  EXPECT_EQ(l.games[1].rom, "Tetris");
  EXPECT_EQ(l.games[1].max_players, 4);
}

TEST(MirrorParse, GameLineSkipsAGameWithABadAddressAndKeepsTheOthers) {
  const auto l = parse_game_line(
      "A|1.2.3.4:27888|o1|e1|1/2|S1|L1|"
      "B|1.2.3.4:70000|o2|e2|1/2|S2|L2|"  // port out of range
      "C|5.6.7.8:27888|o3|e3|2/4|S3|L3|\n",
      "windows-1252");
  ASSERT_EQ(l.games.size(), 2u);
  EXPECT_EQ(l.games[0].rom, "A");
  EXPECT_EQ(l.games[1].rom, "C");
  EXPECT_EQ(l.games[1].owner, "o3");
  EXPECT_EQ(l.skipped, 1u);
}

TEST(MirrorParse, GameLineWithATruncatedTail) {
  const auto l = parse_game_line("A|1.2.3.4:27888|o1|e1|1/2|S1|L1|B|5.6.7.8:1|o2", "windows-1252");
  ASSERT_EQ(l.games.size(), 1u);
  EXPECT_EQ(l.skipped, 1u);
}

// ---- JSON (§7.2: an array, optionally wrapped as {"data": [...]}, with the KRW keys)

TEST(MirrorParse, JsonServerListAsBareArrayAndAsData) {
  const std::string items =
      R"([{"serverName":"Berlin Netplay","website":"http://b.example","location":"Berlin","numUsers":3,)"
      R"("numGames":1,"version":"ELK0.11","ipAddress":"1.2.3.4:27888"},)"
      R"({"serverName":"Strings","website":"","location":"Lyon","numUsers":"5","maxUsers":"10","numGames":"2",)"
      R"("version":"0.86","ipAddress":"5.6.7.8:27999"}])";
  for (const std::string& body : {items, R"({"data":)" + items + "}"}) {
    const auto l = parse_json_list(body, "utf-8");
    ASSERT_TRUE(l.ok) << l.error;
    EXPECT_EQ(l.charset, "utf-8");
    EXPECT_EQ(l.skipped, 0u);
    ASSERT_EQ(l.servers.size(), 2u);
    EXPECT_EQ(l.servers[0].name, "Berlin Netplay");
    EXPECT_EQ(l.servers[0].website, "http://b.example");
    EXPECT_EQ(l.servers[0].host, "1.2.3.4");
    EXPECT_EQ(l.servers[0].port, 27888);
    EXPECT_EQ(l.servers[0].users, 3);
    EXPECT_EQ(l.servers[0].games, 1);
    EXPECT_EQ(l.servers[0].version, "ELK0.11");
    EXPECT_EQ(l.servers[1].users, 5);
    EXPECT_EQ(l.servers[1].max_users, 10);
    EXPECT_EQ(l.servers[1].games, 2);
  }
}

TEST(MirrorParse, JsonGameList) {
  const auto l = parse_json_list(
      R"([{"gameName":"Tekken 3","emulatorName":"ePSXe","userName":"ann","playerCount":"1/2",)"
      R"("serverName":"Berlin Netplay","location":"Berlin","ipAddress":"1.2.3.4:27888"}])",
      "utf-8");
  ASSERT_TRUE(l.ok) << l.error;
  ASSERT_EQ(l.games.size(), 1u);
  EXPECT_EQ(l.games[0].rom, "Tekken 3");
  EXPECT_EQ(l.games[0].emulator, "ePSXe");
  EXPECT_EQ(l.games[0].owner, "ann");
  EXPECT_EQ(l.games[0].players, 1);
  EXPECT_EQ(l.games[0].max_players, 2);
  EXPECT_EQ(l.games[0].server_name, "Berlin Netplay");
  EXPECT_EQ(l.games[0].host, "1.2.3.4");
  EXPECT_EQ(l.games[0].port, 27888);
}

TEST(MirrorParse, JsonBadEntriesAreSkippedAndCounted) {
  const auto l = parse_json_list(
      R"({"data":[
        {"serverName":"good","ipAddress":"1.2.3.4:27888","numUsers":1},
        {"serverName":"no address","numUsers":1},
        {"serverName":"bad port","ipAddress":"1.2.3.4:65536"},
        {"serverName":"negative","ipAddress":"1.2.3.4:27889","numUsers":-1},
        {"serverName":["not","text"],"ipAddress":"1.2.3.4:27890"},
        42, "text", null,
        {"gameName":"no players","ipAddress":"1.2.3.4:27888","playerCount":"x"}
      ]})",
      "utf-8");
  ASSERT_TRUE(l.ok) << l.error;
  ASSERT_EQ(l.servers.size(), 1u);
  EXPECT_EQ(l.servers[0].name, "good");
  EXPECT_EQ(l.skipped, 8u);
}

TEST(MirrorParse, JsonThatIsNoListIsAnError) {
  EXPECT_FALSE(parse_json_list("<html>503</html>", "utf-8").ok);
  EXPECT_FALSE(parse_json_list(R"({"servers":[]})", "utf-8").ok);
  EXPECT_FALSE(parse_json_list("17", "utf-8").ok);
  EXPECT_FALSE(parse_json_list("[{\"serverName\":\"cut", "utf-8").ok);
  EXPECT_FALSE(parse_json_list(std::string(10'000, '[') + std::string(10'000, ']'), "utf-8").ok);
  const auto empty = parse_json_list("[]", "utf-8");
  EXPECT_TRUE(empty.ok);
  EXPECT_TRUE(empty.servers.empty());
  EXPECT_TRUE(parse_json_list(R"({"data":[]})", "utf-8").ok);
}

TEST(MirrorParse, JsonWithBytesThatAreNotUtf8IsRepairedNotDropped) {
  const auto l = parse_json_list("[{\"serverName\":\"Caf\xE9\",\"ipAddress\":\"1.2.3.4:27888\"}]", "utf-8");
  ASSERT_TRUE(l.ok) << l.error;
  ASSERT_EQ(l.servers.size(), 1u);
  EXPECT_EQ(l.servers[0].name, "Caf\xEF\xBF\xBD");  // U+FFFD
  EXPECT_FALSE(l.error.empty());
}

TEST(MirrorParse, JsonDeclaredInAnotherCharsetIsConverted) {
  const auto l =
      parse_json_list("[{\"serverName\":\"" + kJonSjis + "\",\"ipAddress\":\"1.2.3.4:27888\"}]", "shift_jis");
  ASSERT_TRUE(l.ok) << l.error;
  ASSERT_EQ(l.servers.size(), 1u);
  EXPECT_EQ(l.servers[0].name, kJonUtf8);
}

// ---- URLs, formats, charsets

TEST(MirrorUrlParse, HttpUrlsWithTheCharsetOption) {
  std::string error;
  auto u = parse_mirror_url("http://www.kaillera.com/raw_server_list2.php?version=0.9", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->url, "http://www.kaillera.com/raw_server_list2.php?version=0.9");
  EXPECT_EQ(u->host, "www.kaillera.com");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/raw_server_list2.php?version=0.9");
  EXPECT_EQ(u->charset, "");

  u = parse_mirror_url("http://127.0.0.1:8081/server_list.php#charset=Shift_JIS", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->url, "http://127.0.0.1:8081/server_list.php");
  EXPECT_EQ(u->port, 8081);
  EXPECT_EQ(u->charset, "shift_jis");

  u = parse_mirror_url("http://Example.org", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->host, "example.org");
  EXPECT_EQ(u->target, "/");
}

TEST(MirrorUrlParse, RefusesWhatItCannotFetch) {
  std::string error;
  EXPECT_FALSE(parse_mirror_url("https://kaillerareborn.2manygames.fr/server_list.json", error));
  EXPECT_NE(error.find("https is not supported"), std::string::npos) << error;
  EXPECT_FALSE(parse_mirror_url("ftp://x/list", error));
  EXPECT_NE(error.find("is not an http:// URL"), std::string::npos) << error;
  EXPECT_FALSE(parse_mirror_url("http://x:0/list", error));
  EXPECT_NE(error.find("bad port"), std::string::npos) << error;
  EXPECT_FALSE(parse_mirror_url("http://user:pw@x/list", error));
  EXPECT_FALSE(parse_mirror_url("http://x/list#charset=klingon", error));
  EXPECT_NE(error.find("unknown charset 'klingon'"), std::string::npos) << error;
  EXPECT_FALSE(parse_mirror_url("http://x/list#format=json", error));
  EXPECT_NE(error.find("unknown option 'format'"), std::string::npos) << error;
}

TEST(MirrorUrlParse, FormatFromThePathThenTheContent) {
  EXPECT_EQ(detect_format("/server_list.json", ""), MirrorFormat::kJson);
  EXPECT_EQ(detect_format("/game_list.json", ""), MirrorFormat::kJson);
  EXPECT_EQ(detect_format("/server_list.php", "[JP] name\r\n"), MirrorFormat::kTextServers);
  EXPECT_EQ(detect_format("/raw_server_list2.php?version=0.9", ""), MirrorFormat::kTextServers);
  EXPECT_EQ(detect_format("/raw_server_list2.php?version=0.9&wg=1", ""), MirrorFormat::kTextGames);
  EXPECT_EQ(detect_format("/game_list.php", ""), MirrorFormat::kTextGames);
  EXPECT_EQ(detect_format("/list", " [ ]"), MirrorFormat::kJson);
  EXPECT_EQ(detect_format("/list", "{\"data\":[]}"), MirrorFormat::kJson);
  EXPECT_EQ(detect_format("/list", "name\r\n1.2.3.4:1;0/0;0;v;l\r\n"), MirrorFormat::kTextServers);
}

TEST(MirrorUrlParse, CharsetOfATextList) {
  const std::string cp1252 = "Caf\xE9";
  EXPECT_EQ(choose_charset("shift_jis", "text/plain; charset=utf-8", cp1252, "windows-1252"), "shift_jis");
  EXPECT_EQ(choose_charset("", "text/plain; charset=Shift_JIS", kJonSjis, "windows-1252"), "shift_jis");
  EXPECT_EQ(choose_charset("", "text/plain;charset=\"windows-1251\"", "x", "windows-1252"), "windows-1251");
  // A declared UTF-8 that the bytes are not: the default.
  EXPECT_EQ(choose_charset("", "text/html; charset=UTF-8", cp1252, "windows-1252"), "windows-1252");
  // Undeclared: UTF-8 when the bytes are UTF-8 with some non-ASCII, else the default.
  EXPECT_EQ(choose_charset("", "text/html", "Caf\xC3\xA9", "windows-1252"), "utf-8");
  EXPECT_EQ(choose_charset("", "", "plain", "windows-1252"), "windows-1252");
  EXPECT_EQ(choose_charset("", "text/plain; charset=no-such-charset", "plain", "iso-8859-2"), "iso-8859-2");
}

TEST(MirrorUrlParse, AnErrorPageServedWithStatus200IsNoList) {
  std::string error;
  const auto u = parse_mirror_url("http://x/server_list.php", error);
  ASSERT_TRUE(u);
  const auto l = parse_mirror_response(*u, "text/html", "<html>\n<body>Service Unavailable</body>\n</html>\n",
                                       "windows-1252");
  EXPECT_FALSE(l.ok);
  EXPECT_EQ(l.skipped, 3u);
  // An empty list is a list: the source lists nobody now.
  EXPECT_TRUE(parse_mirror_response(*u, "text/plain", "", "windows-1252").ok);
}

// ---- the Catalog

constexpr UnixMillis kT0 = 1'700'000'000'000;
const std::string kListA = "http://127.0.0.1:9001/server_list.php";
const std::string kListB = "http://127.0.0.1:9002/server_list.json";
const std::string kGamesA = "http://127.0.0.1:9001/game_list.php";

class MirrorCatalog : public ::testing::Test {
 protected:
  MirrorCatalog() {
    db_ = std::make_unique<store::Db>(dir_ / "m.db");
    store::migrate(*db_, store::embedded_migrations(), kT0);
    store_ = std::make_unique<store::Store>(*db_);
    CatalogSettings s;
    s.report_interval_ms = 1000;
    s.touch_ttl_ms = 100'000;
    s.mirror_keep_ms = 5000;
    s.mirrors = {kListA, kListB, kGamesA};
    catalog_ = std::make_unique<Catalog>(*store_, s, kT0);
  }

  static MirrorList text(const std::string& body, const std::string& charset = "windows-1252") {
    return parse_server_list_text(body, charset);
  }

  json relays(UnixMillis now) { return json::parse(render_api_relays(*catalog_->snapshot(now)))["relays"]; }

  static const json* find(const json& relays, const std::string& address) {
    for (const auto& r : relays)
      if (r["address"] == address) return &r;
    return nullptr;
  }

  // A token relay at 127.0.0.1:`port`, registered and reporting.
  void add_relay(const std::string& name, int port, UnixMillis now) {
    const std::string token = new_token();
    store_->add_token_relay(name, sha256(token), now);
    RegisterInput in;
    in.token = token;
    in.observed_ip = "127.0.0.1";
    in.info.name = name;
    in.info.charset = "windows-1252";
    in.info.handshake_port = port;
    in.info.game_port_first = port + 1;
    in.info.game_port_last = port + 1;
    in.info.max_users = 16;
    const auto reg = catalog_->register_relay(in, now);
    ASSERT_TRUE(reg.status.ok()) << reg.status.message;
    ReportInput r;
    r.users = 2;
    ASSERT_TRUE(catalog_->apply_report(reg.relay_id, r, now).ok());
  }

  TempDir dir_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Catalog> catalog_;
};

TEST_F(MirrorCatalog, MirroredServersAreListedExternalWithTheirSource) {
  catalog_->mirror_update(kListA, text("Far Away\r\n10.0.0.5:27888;4/10;1;0.86;Oslo\r\n"), kT0);
  const auto snap = catalog_->snapshot(kT0 + 1);
  ASSERT_EQ(snap->servers.size(), 1u);
  const auto& s = snap->servers[0];
  EXPECT_EQ(s.id, "ext:10.0.0.5:27888");
  EXPECT_EQ(s.relay_id, 0);
  EXPECT_TRUE(s.external);
  EXPECT_TRUE(s.online);
  EXPECT_EQ(s.host, "10.0.0.5");  // private addresses are kept like any other
  EXPECT_EQ(s.port, 27888);
  EXPECT_EQ(s.source, "mirror:" + kListA);
  // Every format shows it; the classic one as the two lines it came as.
  EXPECT_EQ(render_server_list(*snap), "Far Away\r\n10.0.0.5:27888;4/10;1;0.86;Oslo\r\n");
  const auto r = relays(kT0 + 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["name"], "Far Away");
  EXPECT_EQ(r[0]["external"], true);
  EXPECT_EQ(r[0]["source"], "mirror:" + kListA);
  EXPECT_EQ(r[0]["users"], 4);
  EXPECT_EQ(r[0]["max_users"], 10);
  const auto j = json::parse(render_server_list_json(*snap));
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["ipAddress"], "10.0.0.5:27888");
  EXPECT_EQ(j[0]["external"], true);
}

TEST_F(MirrorCatalog, EachGoodFetchReplacesTheListsEntriesWholesale) {
  catalog_->mirror_update(kListA, text("One\r\n1.1.1.1:1;0/0;0;v;l\r\nTwo\r\n2.2.2.2:2;0/0;0;v;l\r\n"), kT0);
  catalog_->mirror_update(kListB, parse_json_list(R"([{"serverName":"Bee","ipAddress":"3.3.3.3:3"}])", ""),
                          kT0);
  EXPECT_EQ(relays(kT0).size(), 3u);
  // List A stops naming "One": it drops out; list B's entry is untouched.
  catalog_->mirror_update(kListA, text("Two\r\n2.2.2.2:2;0/0;0;v;l\r\n"), kT0 + 1000);
  const auto r = relays(kT0 + 1000);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(find(r, "1.1.1.1:1"), nullptr);
  EXPECT_NE(find(r, "2.2.2.2:2"), nullptr);
  EXPECT_NE(find(r, "3.3.3.3:3"), nullptr);
  // An empty list empties it.
  catalog_->mirror_update(kListA, text(""), kT0 + 2000);
  EXPECT_EQ(relays(kT0 + 2000).size(), 1u);
}

TEST_F(MirrorCatalog, ALastGoodCopyIsKeptForTheKeepTimeThenDropped) {
  catalog_->mirror_update(kListA, text("One\r\n1.1.1.1:1;0/0;0;v;l\r\n"), kT0);
  // No further good fetch: the entry stays for mirror_keep_ms (5000) ...
  EXPECT_EQ(relays(kT0 + 5000).size(), 1u);
  auto held = catalog_->mirror_held(kT0 + 5000);
  ASSERT_EQ(held.size(), 3u);  // the configured lists, in order
  EXPECT_EQ(held[0].url, kListA);
  EXPECT_EQ(held[0].servers, 1u);
  EXPECT_EQ(held[0].last_good_unix_ms, kT0);
  EXPECT_EQ(held[1].last_good_unix_ms, 0);
  // ... and not a millisecond longer.
  EXPECT_TRUE(relays(kT0 + 5001).empty());
  EXPECT_EQ(render_server_list(*catalog_->snapshot(kT0 + 5001)), "");
  EXPECT_EQ(catalog_->mirror_held(kT0 + 5001)[0].servers, 0u);
  EXPECT_NE(catalog_->maintain(kT0 + 20'000).find("mirror " + kListA), std::string::npos);
  // A good fetch brings it back.
  catalog_->mirror_update(kListA, text("One\r\n1.1.1.1:1;0/0;0;v;l\r\n"), kT0 + 30'000);
  EXPECT_EQ(relays(kT0 + 30'000).size(), 1u);
}

TEST_F(MirrorCatalog, ARegisteredRelayIsShownOnceAsOurOwn) {
  add_relay("Our Relay", 27888, kT0);
  catalog_->mirror_update(
      kListA, text("Impostor\r\n127.0.0.1:27888;99/99;9;x;y\r\nOther\r\n127.0.0.1:27999;1/2;0;v;l\r\n"), kT0);
  const auto r = relays(kT0 + 1);
  ASSERT_EQ(r.size(), 2u);
  const json* ours = find(r, "127.0.0.1:27888");
  ASSERT_NE(ours, nullptr);
  EXPECT_EQ((*ours)["name"], "Our Relay");
  EXPECT_EQ((*ours)["external"], false);
  EXPECT_EQ((*ours)["users"], 2);
  EXPECT_EQ((*ours)["max_users"], 16);
  EXPECT_EQ((*ours)["source"], "token");
  const json* other = find(r, "127.0.0.1:27999");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ((*other)["external"], true);
  // The relay's stored row is untouched by the mirror.
  const auto rows = store_->load_relays();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].relay.name, "Our Relay");
}

TEST_F(MirrorCatalog, ATouchServerOutranksAMirrorAndTheFirstListOutranksTheNext) {
  TouchInput t;
  t.protocol = std::string(store::kProtocolTouchServer);
  t.address = net::Endpoint{0x05060708, 27888};
  t.name = "Touched";
  t.users = 1;
  const auto tr = catalog_->touch(t, kT0);
  ASSERT_TRUE(tr.check.has_value());
  catalog_->touch_checked(*tr.check, true, kT0);
  catalog_->mirror_update(kListB,
                          parse_json_list(R"([{"serverName":"From B","ipAddress":"5.6.7.8:27888"},
                                              {"serverName":"B's copy","ipAddress":"9.9.9.9:1"}])",
                                          ""),
                          kT0);
  catalog_->mirror_update(kListA, text("A's copy\r\n9.9.9.9:1;0/0;0;v;l\r\n"), kT0);
  const auto r = relays(kT0 + 1);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ((*find(r, "5.6.7.8:27888"))["name"], "Touched");
  EXPECT_EQ((*find(r, "5.6.7.8:27888"))["source"], "touch_server");
  // List A comes first in CatalogSettings::mirrors, whichever arrived first.
  EXPECT_EQ((*find(r, "9.9.9.9:1"))["name"], "A's copy");
  EXPECT_EQ((*find(r, "9.9.9.9:1"))["source"], "mirror:" + kListA);
}

TEST_F(MirrorCatalog, WaitingGamesJoinTheirServer) {
  add_relay("Our Relay", 27888, kT0);
  catalog_->mirror_update(kListA, text("Far Away\r\n10.0.0.5:27888;4/10;1;0.86;Oslo\r\n"), kT0);
  catalog_->mirror_update(kGamesA,
                          parse_game_line("Tekken|10.0.0.5:27888|ann|ePSXe|1/2|Far Away|Oslo|"
                                          "Ghost|127.0.0.1:27888|x|y|1/2|Our Relay|here|"
                                          "Alone|10.0.0.9:7000|bob|Kawaks|1/2|Games Only|Rome|\n",
                                          "windows-1252"),
                          kT0);
  const auto snap = catalog_->snapshot(kT0 + 1);
  // Our relay reports its own games (none): the list's game at its address is left out.
  EXPECT_EQ(render_game_line(*snap),
            "Tekken|10.0.0.5:27888|ann|ePSXe|1/2|Far Away|Oslo|Alone|10.0.0.9:7000|bob|Kawaks|1/2|Games "
            "Only|Rome|\n");
  const auto r = relays(kT0 + 1);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ((*find(r, "10.0.0.5:27888"))["waiting_games"], 1);
  const json* alone = find(r, "10.0.0.9:7000");
  ASSERT_NE(alone, nullptr);
  EXPECT_EQ((*alone)["name"], "Games Only");
  EXPECT_EQ((*alone)["location"], "Rome");
  EXPECT_EQ((*alone)["external"], true);
  EXPECT_EQ((*alone)["source"], "mirror:" + kGamesA);
}

TEST_F(MirrorCatalog, ShiftJisNamesAreRawInClassicListsAndCharactersInJson) {
  catalog_->mirror_update(
      kListA, text(kJonSjis + "\r\n1.2.3.4:27888;0/8;0;0.86;" + kTeiinSjis + "\r\n", "shift_jis"), kT0);
  const auto snap = catalog_->snapshot(kT0 + 1);
  EXPECT_EQ(render_server_list(*snap), kJonSjis + "\r\n1.2.3.4:27888;0/8;0;0.86;" + kTeiinSjis + "\r\n");
  const auto r = relays(kT0 + 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["name"], kJonUtf8);
  EXPECT_EQ(r[0]["location"], kTeiinUtf8);
  EXPECT_EQ(r[0]["charset"], "shift_jis");
  EXPECT_EQ(json::parse(render_server_list_json(*snap))[0]["serverName"], kJonUtf8);
}

TEST_F(MirrorCatalog, BytesInvalidInTheCharsetBecomeReplacementCharactersOnlyInUtf8) {
  // 0x81 is undefined in windows-1252.
  catalog_->mirror_update(kListA, text("Bad \x81 Byte\r\n1.2.3.4:27888;0/8;0;0.86;x\r\n"), kT0);
  const auto snap = catalog_->snapshot(kT0 + 1);
  EXPECT_EQ(render_server_list(*snap), "Bad \x81 Byte\r\n1.2.3.4:27888;0/8;0;0.86;x\r\n");
  EXPECT_EQ(relays(kT0 + 1)[0]["name"], "Bad \xEF\xBF\xBD Byte");
}

}  // namespace
}  // namespace kaillera::master
