// Charsets, the classic list formats byte for byte, the JSON formats, query and touch parsing, and the checks
// of what relays send over gRPC (proto_convert).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "master/charset.hpp"
#include "master/formats.hpp"
#include "master/proto_convert.hpp"
#include "master/touch.hpp"

namespace kaillera::master {
namespace {

using nlohmann::json;

// ---- charsets
// -----------------------------------------------------------------------------------------------

TEST(MasterCharset, DecodesWindows1252AndShiftJis) {
  EXPECT_EQ(to_utf8(std::string("Caf\xE9", 4), "windows-1252"), "Caf\xC3\xA9");
  EXPECT_EQ(to_utf8(std::string("\x80", 1), "WINDOWS-1252"), "\xE2\x82\xAC");  // euro sign
  // "定員" in Shift_JIS
  EXPECT_EQ(to_utf8(std::string("\x92\xe8\x88\xf5", 4), "shift_jis"), "\xE5\xAE\x9A\xE5\x93\xA1");
  EXPECT_EQ(to_utf8("plain", "no-such-charset"), "plain");
}

TEST(MasterCharset, ReplacesUndecodableBytesInsteadOfDroppingThem) {
  // 0x81 is undefined in Windows-1252: one U+FFFD, and the rest survives.
  EXPECT_EQ(to_utf8(std::string("a\x81z", 3), "windows-1252"), "a\xEF\xBF\xBDz");
  // Invalid UTF-8 claimed as UTF-8.
  EXPECT_EQ(to_utf8(std::string("a\xFF\xC3", 3), "utf-8"), "a\xEF\xBF\xBD\xEF\xBF\xBD");
  // A truncated Shift_JIS pair at the end.
  EXPECT_EQ(to_utf8(std::string("x\x92", 2), "shift_jis"), "x\xEF\xBF\xBD");
  // Unknown charset: ASCII kept, every other byte replaced.
  EXPECT_EQ(to_utf8(std::string("A\xE9", 2), "nope"), "A\xEF\xBF\xBD");
  EXPECT_TRUE(is_valid_utf8(to_utf8(std::string("\xFF\xFE\x00\x01", 4), "utf-8")));
}

TEST(MasterCharset, KnowsCharsetsAndGuessesTouchText) {
  EXPECT_TRUE(charset_known("windows-1252"));
  EXPECT_TRUE(charset_known("Shift_JIS"));
  EXPECT_TRUE(charset_known("utf-8"));
  EXPECT_FALSE(charset_known("klingon-9"));
  EXPECT_FALSE(charset_known(""));
  EXPECT_EQ(guess_charset("Caf\xC3\xA9", "windows-1252"), "utf-8");
  EXPECT_EQ(guess_charset(std::string("Caf\xE9", 4), "windows-1252"), "windows-1252");
  EXPECT_EQ(guess_charset("ascii", "windows-1252"), "windows-1252");
}

// ---- formats
// ------------------------------------------------------------------------------------------------

Snapshot sample_snapshot() {
  Snapshot s;
  s.built_unix_ms = 1234;
  ListedServer a;
  a.id = "1";
  a.relay_id = 1;
  a.source = "token";
  a.online = true;
  a.name = make_text(std::string("Caf\xE9 Relay", 10), "windows-1252");
  a.location = make_text("Paris; FR", "windows-1252");
  a.website = make_text("https://example.org", "utf-8");
  a.version = make_text("kf 0.1", "utf-8");
  a.host = "203.0.113.5";
  a.port = 27888;
  a.game_port_first = 27889;
  a.game_port_last = 27889;
  a.users = 3;
  a.max_users = 16;
  a.games = 2;
  a.playing_games = 1;
  a.waiting_games = 1;
  ListedServer b;
  b.id = "ext:198.51.100.7:27888";
  b.source = "touch_server";
  b.external = true;
  b.online = true;
  b.name = make_text("Line\r\nBreak", "windows-1252");
  b.location = make_text("Tokyo", "windows-1252");
  b.version = make_text("ELK", "windows-1252");
  b.host = "198.51.100.7";
  b.port = 27888;
  b.users = 0;
  b.max_users = 0;
  ListedServer c = a;
  c.id = "3";
  c.online = false;
  c.name = make_text("Sleeping", "windows-1252");
  s.servers = {a, b, c};
  ListedGame g;
  g.game_id = 7;
  g.rom = make_text("Street Fighter|II", "windows-1252");
  g.owner = make_text(std::string("J\xF6rg", 4), "windows-1252");
  g.emulator = make_text("MAME32k 0.64", "windows-1252");
  g.players = 1;
  g.max_players = 2;
  g.server = 0;
  s.games = {g};
  ListedPlaying p;
  p.game_id = 8;
  p.rom = make_text(std::string("Pok\xE9mon Stadium", 15), "windows-1252");
  p.emulator = make_text("Project64k", "windows-1252");
  p.players = 4;
  p.window_ms = 60'000;
  p.wait_ms = 4'000;
  p.worst_wait_ms = 3'500;
  p.lag = LagMark::kLaggy;
  p.server = 0;
  s.playing = {p};
  s.servers[0].lag = LagMark::kLaggy;
  return s;
}

TEST(MasterFormats, TwoLineServerListPassesBytesThroughWithCrlf) {
  const Snapshot s = sample_snapshot();
  EXPECT_EQ(render_server_list(s),
            std::string("Caf\xE9 Relay\r\n203.0.113.5:27888;3/16;2;kf 0.1;Paris, FR\r\n"
                        "Line  Break\r\n198.51.100.7:27888;0/0;0;ELK;Tokyo\r\n"));
}

TEST(MasterFormats, GameLineHasSevenFieldsPerGame) {
  const Snapshot s = sample_snapshot();
  EXPECT_EQ(
      render_game_line(s),
      std::string("Street Fighter/II|203.0.113.5:27888|J\xF6rg|MAME32k 0.64|1/2|Caf\xE9 Relay|Paris; FR|\n"));
  Snapshot empty;
  EXPECT_EQ(render_game_line(empty), "\n");
}

TEST(MasterFormats, JsonListsUseTheRebornKeysAndUtf8) {
  const Snapshot s = sample_snapshot();
  const auto servers = json::parse(render_server_list_json(s));
  ASSERT_EQ(servers.size(), 2u);  // offline servers are not in the public lists
  EXPECT_EQ(servers[0]["serverName"], "Caf\xC3\xA9 Relay");
  EXPECT_EQ(servers[0]["ipAddress"], "203.0.113.5:27888");
  EXPECT_EQ(servers[0]["numUsers"], 3);
  EXPECT_EQ(servers[0]["maxUsers"], 16);
  EXPECT_EQ(servers[0]["numGames"], 2);
  EXPECT_EQ(servers[0]["location"], "Paris; FR");
  EXPECT_EQ(servers[1]["external"], true);
  const auto games = json::parse(render_game_list_json(s));
  ASSERT_EQ(games.size(), 1u);
  EXPECT_EQ(games[0]["gameName"], "Street Fighter|II");
  EXPECT_EQ(games[0]["userName"], "J\xC3\xB6rg");
  EXPECT_EQ(games[0]["emulatorName"], "MAME32k 0.64");
  EXPECT_EQ(games[0]["playerCount"], "1/2");
  EXPECT_EQ(games[0]["serverName"], "Caf\xC3\xA9 Relay");
  EXPECT_EQ(games[0]["ipAddress"], "203.0.113.5:27888");
}

TEST(MasterFormats, ApiRelaysIncludesOfflineAndFilters) {
  const Snapshot s = sample_snapshot();
  auto all = json::parse(render_api_relays(s));
  ASSERT_EQ(all["relays"].size(), 3u);
  EXPECT_EQ(all["relays"][0]["name"], "Caf\xC3\xA9 Relay");
  EXPECT_EQ(all["relays"][0]["charset"], "windows-1252");
  EXPECT_EQ(all["relays"][0]["game_ports"], "27889");
  EXPECT_EQ(all["relays"][2]["online"], false);
  RelayFilter online;
  online.online_only = true;
  EXPECT_EQ(json::parse(render_api_relays(s, online))["relays"].size(), 2u);
  RelayFilter paris;
  paris.location_contains = "PARIS";
  EXPECT_EQ(json::parse(render_api_relays(s, paris))["relays"].size(), 2u);  // a and its offline twin
  RelayFilter room;
  room.has_room = true;
  Snapshot full = s;
  full.servers[0].users = 16;
  EXPECT_EQ(json::parse(render_api_relays(full, room))["relays"].size(), 2u);
  const auto games = json::parse(render_api_games(s));
  ASSERT_EQ(games["games"].size(), 1u);
  EXPECT_EQ(games["games"][0]["relay_id"], "1");
  EXPECT_EQ(games["games"][0]["players"], 1);
}

// Issue 18: the lag of playing games in the JSON API.
TEST(MasterFormats, ApiGamesListsPlayingGamesWithTheirLagMark) {
  const Snapshot s = sample_snapshot();
  const auto games = json::parse(render_api_games(s));
  ASSERT_EQ(games["playing"].size(), 1u);
  const auto& p = games["playing"][0];
  EXPECT_EQ(p["relay_id"], "1");
  EXPECT_EQ(p["rom"], "Pok\u00e9mon Stadium");
  EXPECT_EQ(p["players"], 4);
  EXPECT_EQ(p["lag"], "laggy");
  EXPECT_EQ(p["wait_ms"], 4000);
  EXPECT_EQ(p["window_ms"], 60000);
  EXPECT_EQ(p["worst_player_wait_ms"], 3500);
  const auto relays = json::parse(render_api_relays(s, {}));
  EXPECT_EQ(relays["relays"][0]["lag"], "laggy");
  EXPECT_TRUE(relays["relays"][1]["lag"].is_null());  // a touch server: nothing known
}

// 1 % and 5 % of the window, worked out by hand: 600 ms and 3 s of a minute.
TEST(MasterLagMark, FromTheShareOfTheWindowTheGameLost) {
  EXPECT_EQ(lag_mark(60'000, 0), LagMark::kGood);
  EXPECT_EQ(lag_mark(60'000, 600), LagMark::kGood);
  EXPECT_EQ(lag_mark(60'000, 601), LagMark::kSomeLag);
  EXPECT_EQ(lag_mark(60'000, 3'000), LagMark::kSomeLag);
  EXPECT_EQ(lag_mark(60'000, 3'001), LagMark::kLaggy);
  EXPECT_EQ(lag_mark(10'000, 100), LagMark::kGood);  // the shortest window with a mark
  EXPECT_EQ(lag_mark(9'999, 0), LagMark::kUnknown);  // too short to say
  EXPECT_EQ(lag_mark(0, 0), LagMark::kUnknown);
  EXPECT_EQ(lag_mark_key(LagMark::kSomeLag), "some_lag");
  EXPECT_EQ(lag_mark_key(LagMark::kUnknown), "");
}

TEST(MasterFormats, SnapshotCachesEachRendering) {
  const Snapshot s = sample_snapshot();
  int calls = 0;
  auto render = [&](const Snapshot& x) {
    ++calls;
    return render_server_list(x);
  };
  const std::string& a = s.cached(kSlotServerList, render);
  const std::string& b = s.cached(kSlotServerList, render);
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(calls, 1);
}

// ---- query and touch parsing
// --------------------------------------------------------------------------------

TEST(MasterQuery, DecodesPercentAndPlus) {
  Query q;
  ASSERT_EQ(parse_query("servername=Caf%E9+Relay&port=27888&&empty=&flag", q), "");
  EXPECT_EQ(*q.get("servername"), std::string("Caf\xE9 Relay", 10));
  EXPECT_EQ(*q.get("PORT"), "27888");
  EXPECT_EQ(*q.get("empty"), "");
  EXPECT_EQ(*q.get("flag"), "");
  EXPECT_EQ(q.get("missing"), nullptr);
}

TEST(MasterQuery, RejectsBadEscapesNamingTheParameter) {
  Query q;
  EXPECT_EQ(parse_query("a=1&servername=bad%zz", q),
            "bad percent-encoding in query parameter \"servername\"");
  EXPECT_EQ(parse_query("x=%4", q), "bad percent-encoding in query parameter \"x\"");
  EXPECT_EQ(parse_query("=1", q), "a query parameter has an empty name");
  std::string many;
  for (int i = 0; i < 70; ++i)
    many += "k" + std::to_string(i) + "=1&";
  EXPECT_EQ(parse_query(many, q), "too many query parameters (at most 64)");
}

TEST(MasterTouch, ParsesAnEmuLinkerTouchServer) {
  Query q;
  ASSERT_EQ(parse_query("servername=My%20Server&port=27888&nbusers=3&maxconn=100&version=elk&nbgames=2"
                        "&location=Berlin&ip=6.6.6.6&url=http%3A%2F%2Fexample.org",
                        q),
            "");
  const auto r =
      parse_touch("touch_server", q, "12|Street Fighter|ann|MAME32k|1|13|Tekken|bob|ePSXe|2|", 0x7F000001);
  ASSERT_TRUE(r.status.ok()) << r.status.message;
  EXPECT_EQ(r.input.address.ip, 0x7F000001u);  // the source address, not the ip parameter
  EXPECT_EQ(r.input.address.port, 27888);
  EXPECT_EQ(r.input.name, "My Server");
  EXPECT_EQ(r.input.users, 3);
  EXPECT_EQ(r.input.max_users, 100);
  EXPECT_EQ(r.input.games, 2);
  EXPECT_EQ(r.input.website, "http://example.org");
  ASSERT_EQ(r.input.waiting.size(), 2u);
  EXPECT_EQ(r.input.waiting[0].game_id, 12);
  EXPECT_EQ(r.input.waiting[0].rom, "Street Fighter");
  EXPECT_EQ(r.input.waiting[1].owner, "bob");
  EXPECT_EQ(r.input.waiting[1].players, 2);
}

TEST(MasterTouch, ParsesAnEmuLinkerSfTouchList) {
  Query q;
  ASSERT_EQ(parse_query("serverName=SF&ipAddress=&location=Lyon&website=&port=27999&numUsers=4&maxUsers=50"
                        "&numGames=1&maxGames=10&version=ESF93",
                        q),
            "");
  const auto r = parse_touch("touch_list", q, "Tekken 3|bob|ePSXe|1/2|", 0x7F000001);
  ASSERT_TRUE(r.status.ok()) << r.status.message;
  EXPECT_EQ(r.input.address.port, 27999);
  EXPECT_EQ(r.input.max_games, 10);
  ASSERT_EQ(r.input.waiting.size(), 1u);
  EXPECT_EQ(r.input.waiting[0].max_players, 2);
}

TEST(MasterTouch, BadInputGetsAPreciseError) {
  const auto touch = [](const std::string& query, const std::string& header = "") {
    Query q;
    EXPECT_EQ(parse_query(query, q), "");
    return parse_touch("touch_server", q, header, 0x7F000001).status;
  };
  EXPECT_EQ(touch("servername=x").message, "port: required");
  EXPECT_EQ(touch("servername=x&port=0").message, "port: must be an integer 1..65535 (got \"0\")");
  EXPECT_EQ(touch("servername=x&port=99999").message, "port: must be an integer 1..65535 (got \"99999\")");
  EXPECT_EQ(touch("port=27888").message, "servername: required");
  EXPECT_EQ(touch("servername=x&port=27888&nbusers=lots").message,
            "nbusers: must be an integer 0..1000000 (got \"lots\")");
  EXPECT_EQ(touch("servername=" + std::string(200, 'a') + "&port=1").message,
            "servername: at most 128 bytes (got 200)");
  EXPECT_EQ(touch("servername=a%00b&port=1").message, "servername: must not contain NUL bytes");
  EXPECT_EQ(
      touch("servername=x&port=1", "1|rom|owner|").message,
      "Kaillera-wgames: expected 5 '|'-separated fields per game (<id>|<rom>|<owner>|<emulator>|<players>|), "
      "got 3 fields");
  EXPECT_EQ(touch("servername=x&port=1", "x|rom|owner|emu|1|").message,
            "Kaillera-wgames: game 1: id must be an integer (got \"x\")");
  EXPECT_EQ(touch("servername=x&port=1", "1|rom|owner|emu|many|").message,
            "Kaillera-wgames: game 1: players must be \"N\" or \"N/M\" (got \"many\")");
  EXPECT_EQ(touch("servername=x").code, Code::kInvalidArgument);
  EXPECT_TRUE(touch("servername=x&port=1").ok());
}

// ---- what relays send
// ---------------------------------------------------------------------------------------

v1::RegisterRequest good_register() {
  v1::RegisterRequest req;
  auto* info = req.mutable_info();
  info->mutable_name()->set_raw("Relay");
  info->set_charset("windows-1252");
  info->set_public_host("203.0.113.5");
  info->set_handshake_port(27888);
  info->set_game_port_first(27889);
  info->set_max_users(16);
  return req;
}

TEST(MasterProtoConvert, AcceptsAGoodRegistration) {
  RegisterInput in;
  const auto s = register_from_proto(good_register(), in);
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(in.info.game_port_last, 27889);  // 0 = one shared port
  EXPECT_EQ(in.info.charset, "windows-1252");
}

TEST(MasterProtoConvert, NamesTheBadField) {
  const auto problem = [](const std::function<void(v1::RegisterRequest&)>& change) {
    v1::RegisterRequest req = good_register();
    change(req);
    RegisterInput in;
    return register_from_proto(req, in).message;
  };
  EXPECT_EQ(problem([](auto& r) { r.clear_info(); }), "info: required");
  EXPECT_EQ(problem([](auto& r) { r.mutable_info()->mutable_name()->set_raw(""); }),
            "info.name.raw: required");
  EXPECT_EQ(problem([](auto& r) { r.mutable_info()->mutable_name()->set_raw(std::string(200, 'x')); }),
            "info.name.raw: longer than 128 bytes (200)");
  EXPECT_EQ(problem([](auto& r) { r.mutable_info()->mutable_name()->set_raw(std::string("a\0b", 3)); }),
            "info.name.raw: must not contain NUL bytes");
  EXPECT_EQ(problem([](auto& r) { r.mutable_info()->set_charset("klingon"); }),
            "info.charset: unknown charset \"klingon\"");
  EXPECT_EQ(problem([](auto& r) { r.mutable_info()->set_handshake_port(0); }),
            "info.handshake_port: must be 1..65535 (got 0)");
  EXPECT_EQ(problem([](auto& r) { r.mutable_info()->set_game_port_last(100); }),
            "info.game_port_last (100) is below info.game_port_first (27889)");
  EXPECT_EQ(problem([](auto& r) { r.mutable_info()->set_public_host("evil;host"); }),
            "info.public_host: must be an IPv4 address or a host name (letters, digits, '.', '-'), got "
            "\"evil;host\"");
  EXPECT_EQ(problem([](auto& r) { r.mutable_info()->set_version("a\nb"); }),
            "info.version: must not contain control characters");
  EXPECT_EQ(problem([](auto& r) { r.mutable_info()->set_max_users(5'000'000); }),
            "info.max_users: at most 1000000 (got 5000000)");
}

TEST(MasterProtoConvert, ChecksReports) {
  const auto problem = [](const std::function<void(v1::LoadReport&)>& change) {
    v1::LoadReport r;
    r.set_users(2);
    r.set_games(1);
    auto* w = r.add_waiting();
    w->set_game_id(1);
    w->mutable_rom()->set_raw("rom");
    w->set_players(1);
    w->set_max_players(2);
    change(r);
    ReportInput in;
    return report_from_proto(r, 1'000'000, in).message;
  };
  EXPECT_EQ(problem([](auto&) {}), "");
  EXPECT_EQ(problem([](auto& r) { r.set_playing_games(2); }),
            "report.playing_games (2) exceeds report.games (1)");
  EXPECT_EQ(problem([](auto& r) { r.mutable_waiting(0)->mutable_rom()->set_raw(""); }),
            "report.waiting[0].rom.raw: required");
  EXPECT_EQ(problem([](auto& r) { r.add_waiting()->CopyFrom(r.waiting(0)); }),
            "report.waiting[1].game_id: 1 appears twice");
  const auto playing = [](auto& r) {
    auto* g = r.add_playing();
    g->set_game_id(2);
    g->mutable_rom()->set_raw("Tekken");
    g->set_players(2);
    g->set_window_ms(60'000);
    g->set_wait_ms(1'000);
    g->set_worst_player_wait_ms(800);
    return g;
  };
  EXPECT_EQ(problem([&](auto& r) { playing(r); }), "");
  EXPECT_EQ(problem([&](auto& r) { playing(r)->set_wait_ms(60'001); }),
            "report.playing[0].wait_ms (60001) exceeds window_ms (60000)");
  EXPECT_EQ(problem([&](auto& r) { playing(r)->set_worst_player_wait_ms(1'001); }),
            "report.playing[0].worst_player_wait_ms (1001) exceeds wait_ms (1000)");
  EXPECT_EQ(problem([&](auto& r) { playing(r)->set_window_ms(3'600'001); }),
            "report.playing[0].window_ms: at most 3600000 (got 3600001)");
  EXPECT_EQ(problem([&](auto& r) { playing(r)->mutable_rom()->set_raw(""); }),
            "report.playing[0].rom.raw: required");
  EXPECT_EQ(problem([&](auto& r) {
              playing(r);
              playing(r);
            }),
            "report.playing[1].game_id: 2 appears twice");
  EXPECT_EQ(problem([](auto& r) { r.add_measurements()->set_address("not-an-ip"); }),
            "report.measurements[0].address: must be an IPv4 address (got \"not-an-ip\")");
  EXPECT_EQ(problem([](auto& r) {
              auto* m = r.add_measurements();
              m->set_address("10.0.0.1");
              m->set_hops(300);
            }),
            "report.measurements[0].hops: at most 255 (got 300)");
}

}  // namespace
}  // namespace kaillera::master
