// The touch requests of the public list announcements, byte for byte against KAILLERA.md §7: field names and
// order, header formats, the version cut to 8 (kaillera.com) or 30 (Kaillera Reborn) characters of the
// charset, percent-encoding of the raw charset bytes, and which URLs are accepted.
#include <gtest/gtest.h>

#include "relay/announce/touch.hpp"

using namespace kaillera::relay::announce;

namespace {

// "日本語サーバ" in Shift_JIS (CP932): 日 93FA, 本 967B, 語 8CEA, サ 8354, ー 815B, バ 836F.
const std::string kSjisName = "\x93\xFA\x96\x7B\x8C\xEA\x83\x54\x81\x5B\x83\x6F";

ListUrl url(const std::string& text) {
  std::string error;
  auto u = parse_list_url(text, &error);
  EXPECT_TRUE(u.has_value()) << error;
  return u.value_or(ListUrl{});
}

Identity identity() {
  Identity id;
  id.name = "My Relay";
  id.location = "Paris, FR";
  id.website = "http://example.org/k";
  id.public_host = "relay.example.org";
  id.version = "KF0.1.0";
  id.port = 27888;
  id.max_users = 100;
  id.max_games = 20;
  return id;
}

Load load() {
  Load l;
  l.users = 3;
  l.games = 2;
  l.waiting = {{7, "Street Fighter II", "ann", "MAME32k 0.64", 1, 2}, {9, "Tekken 3", "bob", "ePSXe", 2, 4}};
  l.started = {"Tekken 3", "SF2"};
  return l;
}

}  // namespace

TEST(Announce, TouchServerRequestHasTheFieldsOfSection71InOrder) {
  const Request r = build_request(url("http://www.kaillera.com/touch_server.php"), identity(), load());
  EXPECT_EQ(r.target,
            "/touch_server.php?servername=My%20Relay&port=27888&nbusers=3&maxconn=100&version=KF0.1.0"
            "&nbgames=2&location=Paris%2C%20FR&ip=relay.example.org&url=http%3A%2F%2Fexample.org%2Fk");
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.headers[0].first, "Kaillera-games");
  EXPECT_EQ(r.headers[0].second, "Tekken 3|SF2|");
  EXPECT_EQ(r.headers[1].first, "Kaillera-wgames");
  EXPECT_EQ(r.headers[1].second, "7|Street Fighter II|ann|MAME32k 0.64|1|9|Tekken 3|bob|ePSXe|2|");
}

TEST(Announce, TouchListRequestHasTheFieldsOfSection72InOrder) {
  const Request r =
      build_request(url("http://kaillerareborn.2manygames.fr/touch_list.php"), identity(), load());
  EXPECT_EQ(r.target,
            "/touch_list.php?serverName=My%20Relay&ipAddress=relay.example.org&location=Paris%2C%20FR"
            "&website=http%3A%2F%2Fexample.org%2Fk&port=27888&numUsers=3&maxUsers=100&numGames=2&maxGames=20"
            "&version=KF0.1.0");
  ASSERT_EQ(r.headers.size(), 1u);  // no started games on this list
  EXPECT_EQ(r.headers[0].first, "Waiting-games");
  EXPECT_EQ(r.headers[0].second, "Street Fighter II|ann|MAME32k 0.64|1/2|Tekken 3|bob|ePSXe|2/4|");
}

TEST(Announce, AnIdleRelaySendsEmptyGameHeadersAndAnEmptyAddress) {
  Identity id = identity();
  id.public_host.clear();
  id.website.clear();
  const Request s = build_request(url("http://l.example/touch_server.php"), id, Load{});
  EXPECT_EQ(s.target,
            "/touch_server.php?servername=My%20Relay&port=27888&nbusers=0&maxconn=100&version=KF0.1.0"
            "&nbgames=0&location=Paris%2C%20FR&ip=&url=");
  EXPECT_EQ(s.headers[0].second, "");
  EXPECT_EQ(s.headers[1].second, "");
  const Request l = build_request(url("http://l.example/touch_list.php"), id, Load{});
  EXPECT_EQ(l.headers[0].second, "");
}

TEST(Announce, VersionIsCutTo8And30Characters) {
  Identity id = identity();
  id.version = "Kaillera Federation 0.1.0-long-build-name";
  const Request s = build_request(url("http://l.example/touch_server.php"), id, Load{});
  EXPECT_NE(s.target.find("&version=Kaillera&nbgames="), std::string::npos) << s.target;
  const Request l = build_request(url("http://l.example/touch_list.php"), id, Load{});
  EXPECT_TRUE(l.target.ends_with("&version=Kaillera%20Federation%200.1.0-long")) << l.target;
}

TEST(Announce, VersionIsCutInCharactersOfTheCharsetNotBytes) {
  Identity id = identity();
  id.charset = "shift_jis";
  id.version = "KF" + kSjisName;  // 8 characters, 14 bytes
  const Request s = build_request(url("http://l.example/touch_server.php"), id, Load{});
  EXPECT_NE(s.target.find("&version=KF%93%FA%96%7B%8C%EA%83T%81%5B%83o&"), std::string::npos) << s.target;
  id.version = "KFv" + kSjisName;  // 9 characters: the last one (2 bytes) goes, not one byte of it
  const Request t = build_request(url("http://l.example/touch_server.php"), id, Load{});
  EXPECT_NE(t.target.find("&version=KFv%93%FA%96%7B%8C%EA%83T%81%5B&"), std::string::npos) << t.target;
}

TEST(Announce, TruncateCountsCharactersOfEachCharset) {
  EXPECT_EQ(truncate_chars(kSjisName, 4, "shift_jis"), kSjisName.substr(0, 8));
  EXPECT_EQ(truncate_chars(kSjisName, 6, "shift_jis"), kSjisName);
  EXPECT_EQ(truncate_chars(kSjisName, 30, "shift_jis"), kSjisName);
  EXPECT_EQ(truncate_chars(kSjisName, 0, "shift_jis"), "");
  EXPECT_EQ(truncate_chars("Caf\xE9s", 4, "windows-1252"), "Caf\xE9");  // one byte per character
  EXPECT_EQ(truncate_chars("Caf\xC3\xA9s", 4, "utf-8"), "Caf\xC3\xA9");
  EXPECT_EQ(truncate_chars("Caf\xC3\xA9s", 3, "utf-8"), "Caf");
  EXPECT_EQ(truncate_chars("\xD6\xD0\xCE\xC4", 1, "gbk"), "\xD6\xD0");                       // 中文
  EXPECT_EQ(truncate_chars("\xC7\xD1\xB1\xDB", 1, "cp949"), "\xC7\xD1");                     // 한글
  EXPECT_EQ(truncate_chars("\xCF\xF0\xE8\xE2\xE5\xF2", 3, "windows-1251"), "\xCF\xF0\xE8");  // Привет
  // A byte that does not decode (a lone lead byte) counts as one character.
  EXPECT_EQ(truncate_chars("AB\x81", 3, "shift_jis"), "AB\x81");
  EXPECT_EQ(truncate_chars("AB\x81", 2, "shift_jis"), "AB");
}

TEST(Announce, UrlEncodingKeepsOnlyUnreservedBytes) {
  EXPECT_EQ(url_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(url_encode(" +&=?/%#|"), "%20%2B%26%3D%3F%2F%25%23%7C");
  // Raw Shift_JIS bytes, each byte on its own; a trail byte in the ASCII range stays when unreserved.
  EXPECT_EQ(url_encode(kSjisName), "%93%FA%96%7B%8C%EA%83T%81%5B%83o");
  EXPECT_EQ(url_encode(std::string("a\0b", 3)), "a%00b");
}

TEST(Announce, TheNameTravelsAsRawCharsetBytes) {
  Identity id = identity();
  id.charset = "shift_jis";
  id.name = kSjisName;
  const Request r = build_request(url("http://l.example/touch_list.php"), id, Load{});
  EXPECT_TRUE(r.target.starts_with("/touch_list.php?serverName=%93%FA%96%7B%8C%EA%83T%81%5B%83o&ipAddress="))
      << r.target;
}

TEST(Announce, HeaderTextCannotEndTheHeaderLine) {
  Load l;
  l.waiting = {{1, "Rom\r\nX-Evil: 1", "own\ner", "emu\x7F", 1, 2}};
  l.started = {"a\rb"};
  const Request s = build_request(url("http://l.example/touch_server.php"), identity(), l);
  EXPECT_EQ(s.headers[0].second, "a b|");
  EXPECT_EQ(s.headers[1].second, "1|Rom  X-Evil: 1|own er|emu |1|");
  // Bytes of the charset above 0x7F go as they are.
  l.waiting = {{1, kSjisName, "o", "e", 1, 2}};
  const Request t = build_request(url("http://l.example/touch_list.php"), identity(), l);
  EXPECT_EQ(t.headers[0].second, kSjisName + "|o|e|1/2|");
}

TEST(Announce, AcceptedUrls) {
  const ListUrl a = url("http://www.kaillera.com/touch_server.php");
  EXPECT_EQ(a.kind, ListKind::kTouchServer);
  EXPECT_EQ(a.host, "www.kaillera.com");
  EXPECT_EQ(a.port, 80);
  EXPECT_EQ(a.target, "/touch_server.php");
  EXPECT_EQ(kind_name(a.kind), "touch_server");

  const ListUrl b = url("http://127.0.0.1:8080/lists/touch_list.php?key=1");
  EXPECT_EQ(b.kind, ListKind::kTouchList);
  EXPECT_EQ(b.host, "127.0.0.1");
  EXPECT_EQ(b.port, 8080);
  EXPECT_EQ(b.target, "/lists/touch_list.php?key=1");
  EXPECT_EQ(kind_name(b.kind), "touch_list");
  // A query of the URL's own stays in front of ours.
  EXPECT_TRUE(
      build_request(b, identity(), Load{}).target.starts_with("/lists/touch_list.php?key=1&serverName="));

  const ListUrl c = url("http://[::1]:81/touch_list.php");
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.port, 81);
}

TEST(Announce, RefusedUrlsNameTheUrlAndTheAcceptedForms) {
  for (const std::string bad :
       {"http://www.kaillera.com/raw_server_list.php", "http://l.example/touch_server.php.bak",
        "http://l.example/", "http://l.example", "ftp://l.example/touch_list.php", "l.example/touch_list.php",
        "http:///touch_list.php", "http://l.example:0/touch_list.php",
        "http://l.example:99999/touch_list.php", "http://l.example:/touch_list.php",
        "http://user@l.example/touch_list.php", "http://l.example/touch_list.php#x",
        "http://l.example/touch list.php"}) {
    std::string error;
    EXPECT_FALSE(parse_list_url(bad, &error).has_value()) << bad;
    EXPECT_NE(error.find("'" + bad + "'"), std::string::npos) << error;
    EXPECT_NE(error.find("touch_server.php"), std::string::npos) << error;
    EXPECT_NE(error.find("touch_list.php"), std::string::npos) << error;
  }
  std::string error;
  EXPECT_FALSE(parse_list_url("https://kaillerareborn.2manygames.fr/touch_list.php", &error).has_value());
  EXPECT_NE(error.find("https"), std::string::npos) << error;
}
