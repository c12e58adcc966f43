// The relay's languages (relay/messages/*.toml, relay/shell/messages_file.hpp): every shipped language has
// every key of English with the same placeholders; a bad language, file, key or placeholder stops the relay
// at start-up naming it; a Japanese relay on Shift_JIS sends Japanese in Shift_JIS bytes, and a text its
// charset cannot encode goes out in English, counted.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "relay/core/messages.hpp"
#include "relay/shell/messages_file.hpp"
#include "relay/shell/settings.hpp"
#include "tests/unit/relay_harness.hpp"

using namespace kf_test;
namespace sh = kaillera::relay::shell;

namespace {

const std::string kDir = KF_MESSAGES_DIR;

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::map<std::string, std::string> entries_of(const std::string& path) {
  r::Messages::Entries e;
  const std::string problem = r::Messages::parse(read(path), path, e);
  EXPECT_EQ(problem, "") << path;
  return {e.begin(), e.end()};
}

struct TempFile {
  explicit TempFile(const std::string& text) {
    path = (std::filesystem::temp_directory_path() /
            ("kf_messages_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
             std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".toml"))
               .string();
    std::ofstream(path) << text;
  }
  ~TempFile() { std::filesystem::remove(path); }
  std::string path;
};

std::string bytes_of(std::initializer_list<int> b) {
  std::string s;
  for (int x : b)
    s.push_back(static_cast<char>(x));
  return s;
}

// a logs in; b, with an empty name, is refused.
void login_without_name(FakeClient& a, FakeClient& b) {
  ASSERT_TRUE(a.login("a"));
  EXPECT_FALSE(b.login(""));
}

}  // namespace

TEST(LanguageFiles, EnglishOnDiskIsTheBuiltInCatalog) {
  const auto disk = entries_of(kDir + "/en.toml");
  const auto& built_in = r::Messages::english();
  EXPECT_EQ(disk.size(), built_in.size());
  for (const auto& [key, text] : built_in) {
    ASSERT_TRUE(disk.count(key)) << key;
    EXPECT_EQ(disk.at(key), text) << key;
  }
  EXPECT_GT(built_in.size(), 250u);
}

TEST(LanguageFiles, EveryLanguageHasEveryKeyWithTheSamePlaceholders) {
  const auto en = entries_of(kDir + "/en.toml");
  for (std::string_view lang : sh::kLanguages) {
    const std::string path = kDir + "/" + std::string(lang) + ".toml";
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    const auto tr = entries_of(path);
    for (const auto& [key, text] : en) {
      auto it = tr.find(key);
      if (it == tr.end()) {
        ADD_FAILURE() << lang << ": no " << key;
        continue;
      }
      EXPECT_EQ(r::Messages::placeholders(it->second), r::Messages::placeholders(text))
          << lang << ": " << key;
      EXPECT_FALSE(it->second.empty()) << lang << ": " << key;
    }
    for (const auto& [key, text] : tr)
      EXPECT_TRUE(en.count(key)) << lang << ": unknown key " << key;
    // The files load as the relay loads them (in UTF-8: nothing falls back).
    const auto load = sh::load_messages(lang, "", "utf-8", {kDir});
    ASSERT_TRUE(load.messages) << load.error;
    EXPECT_TRUE(load.fallbacks.empty()) << lang;
  }
}

TEST(LanguageFiles, TranslationsAreTranslated) {
  // Not a copy of English: most texts differ (command words and numbers may stay).
  const auto en = entries_of(kDir + "/en.toml");
  for (std::string_view lang : sh::kLanguages) {
    if (lang == "en") continue;
    const auto tr = entries_of(kDir + "/" + std::string(lang) + ".toml");
    std::size_t same = 0;
    for (const auto& [key, text] : en)
      same += tr.count(key) && tr.at(key) == text ? 1 : 0;
    EXPECT_LT(same, en.size() / 3) << lang << ": " << same << " texts are English";
  }
}

TEST(Placeholders, AreBracedLowerCaseNames) {
  EXPECT_EQ(r::Messages::placeholders("{player} left {game}, {player}"),
            (std::vector<std::string>{"game", "player"}));
  EXPECT_TRUE(r::Messages::placeholders("{} {Player} { x} {a-b} {").empty());
  r::Messages m;
  EXPECT_EQ(m.format("kick.done", {{"player", "ryu"}}), "ryu was kicked from the room");
  EXPECT_EQ(
      m.format(
          "start.delay",
          {{"number", 2}, {"player", "ken"}, {"delay", 3}, {"frames", 8}, {"conn", "Good"}, {"ping", 60}}),
      "P2 ken: delay 3 (8 frames, Good, 60 ms)");
  // A value that looks like a placeholder is not filled again.
  EXPECT_EQ(m.format("kick.done", {{"player", "{player}"}}), "{player} was kicked from the room");
}

TEST(LoadMessages, ABadKeyOrPlaceholderIsRefusedNamingTheKey) {
  r::Messages m;
  EXPECT_EQ(m.set("kick.dnoe", "x"), "kick.dnoe: no such message key");
  EXPECT_EQ(m.set("kick.done", "kicked"), "kick.done: placeholder {player} is missing");
  EXPECT_EQ(m.set("kick.done", "{player} {who}"), "kick.done: unknown placeholder {who}");
  EXPECT_EQ(m.set("kick.done", "{player} kicked out"), "");
  EXPECT_EQ(m.format("kick.done", {{"player", "ryu"}}), "ryu kicked out");

  TempFile unknown("[kick]\ndnoe = \"x\"\n");
  auto r1 = sh::load_messages("en", unknown.path, "utf-8", {kDir});
  EXPECT_FALSE(r1.messages);
  EXPECT_EQ(r1.error, "messages_file: " + unknown.path + ": kick.dnoe: no such message key");
  TempFile missing("[kick]\ndone = \"kicked\"\n");
  auto r2 = sh::load_messages("ja", missing.path, "utf-8", {kDir});
  EXPECT_FALSE(r2.messages);
  EXPECT_NE(r2.error.find("kick.done: placeholder {player} is missing"), std::string::npos) << r2.error;
  TempFile not_text("[kick]\ndone = 3\n");
  auto r3 = sh::load_messages("en", not_text.path, "utf-8", {kDir});
  EXPECT_NE(r3.error.find("kick.done (line 2): must be a string"), std::string::npos) << r3.error;
  TempFile broken("[kick\n");
  EXPECT_NE(sh::load_messages("en", broken.path, "utf-8", {kDir}).error.find("messages_file: "),
            std::string::npos);
}

TEST(LoadMessages, ABadLanguageIsRefusedNamingTheKey) {
  auto r1 = sh::load_messages("xx", "", "utf-8", {kDir});
  EXPECT_FALSE(r1.messages);
  EXPECT_EQ(r1.error.rfind("language: no message file xx.toml in " + kDir, 0), 0u) << r1.error;
  EXPECT_NE(r1.error.find("ja"), std::string::npos) << "names the languages there: " << r1.error;
  auto r2 = sh::load_messages("../en", "", "utf-8", {kDir});
  EXPECT_EQ(r2.error.rfind("language: '../en' is not a language name", 0), 0u) << r2.error;
  auto r3 = sh::load_messages("en", "/nonexistent/texts.toml", "utf-8", {kDir});
  EXPECT_EQ(r3.error, "messages_file: cannot read '/nonexistent/texts.toml'");
  // Through relay.toml and the command line: the start-up error names the key.
  TempFile cfg("language = \"xx\"\nmessages_dir = \"" + kDir + "\"\n");
  auto load = sh::load_settings({"--config", cfg.path});
  EXPECT_TRUE(load.exit);
  EXPECT_EQ(load.error.rfind("invalid setting: language: no message file xx.toml", 0), 0u) << load.error;
}

TEST(LoadMessages, OverridesReplaceOnlyTheirKeys) {
  TempFile over("[login]\nfull = \"満員です。また後で!\"\n");
  auto r1 = sh::load_messages("ja", over.path, "utf-8", {kDir});
  ASSERT_TRUE(r1.messages) << r1.error;
  EXPECT_EQ(*r1.messages->text("login.full"), "満員です。また後で!");
  EXPECT_EQ(*r1.messages->text("kick.self"), entries_of(kDir + "/ja.toml").at("kick.self"));
  // English with overrides: no language file needed.
  TempFile en_over("[quit]\nnormal = \"Bye!\"\n");
  auto r2 = sh::load_messages("en", en_over.path, "windows-1252", {});
  ASSERT_TRUE(r2.messages) << r2.error;
  EXPECT_EQ(r2.messages->format("quit.normal"), "Bye!");
  EXPECT_EQ(r2.messages->format("quit.ping_timeout"), "Ping timeout");
}

// ユーザーネームがありません ("there is no user name", ja.toml's login.empty_name) in Shift_JIS, from the JIS
// X 0208 table: katakana ユ 0x8386, ザ 0x8355, ネ 0x836C, ム 0x8380 (katakana after ミ 0x837E skip 0x837F),
// the long vowel mark ー 0x815B; hiragana が 0x82AA, あ 0x82A0, り 0x82E8, ま 0x82DC, せ 0x82B9, ん 0x82F1.
const std::string kNoNameInShiftJis =
    bytes_of({0x83, 0x86, 0x81, 0x5B, 0x83, 0x55, 0x81, 0x5B, 0x83, 0x6C, 0x81, 0x5B, 0x83,
              0x80, 0x82, 0xAA, 0x82, 0xA0, 0x82, 0xE8, 0x82, 0xDC, 0x82, 0xB9, 0x82, 0xF1});

TEST(ShiftJisRelay, SendsJapaneseInShiftJisBytes) {
  auto load = sh::load_messages("ja", "", "shift_jis", {kDir});
  ASSERT_TRUE(load.messages) << load.error;
  EXPECT_TRUE(load.fallbacks.empty());
  r::Config c;
  c.charset = "shift_jis";
  c.messages = *load.messages;
  Harness h(c);
  FakeClient& a = h.client(ip(10, 0, 0, 1));
  FakeClient& b = h.client(ip(10, 0, 0, 2));
  login_without_name(a, b);
  const auto refusals = b.got<p::ConnectionRejected>();
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(std::string(refusals[0].message), kNoNameInShiftJis);
  EXPECT_EQ(h.server().counters().texts_in_english, 0u);
}

TEST(ShiftJisRelay, ATextTheCharsetCannotEncodeFallsBackToEnglishCounted) {
  // Hangul is not in Shift_JIS: that one text goes out in English; the others stay Japanese.
  TempFile over("[login]\nempty_name = \"사용자 이름이 없습니다\"\n");
  auto load = sh::load_messages("ja", over.path, "shift_jis", {kDir});
  ASSERT_TRUE(load.messages) << load.error;
  EXPECT_EQ(load.fallbacks, std::vector<std::string>{"login.empty_name"});
  EXPECT_TRUE(load.messages->is_fallback("login.empty_name"));
  EXPECT_EQ(load.utf8.format("login.empty_name"), "Empty username");
  r::Config c;
  c.charset = "shift_jis";
  c.messages = *load.messages;
  Harness h(c);
  FakeClient& a = h.client(ip(10, 0, 0, 1));
  FakeClient& b = h.client(ip(10, 0, 0, 2));
  login_without_name(a, b);
  ASSERT_EQ(b.got<p::ConnectionRejected>().size(), 1u);
  EXPECT_EQ(b.got<p::ConnectionRejected>()[0].message, "Empty username");
  EXPECT_EQ(h.server().counters().texts_in_english, 1u);
  // A Japanese text that Shift_JIS has is still Japanese: /myip's "あなたのアドレス" starts 82 A0 82 C8 82
  // BD.
  a.send(p::GlobalChat{"", "/myip"});
  bool japanese = false;
  for (const auto& m : a.got<p::ServerInformation>())
    japanese =
        japanese || std::string(m.message).rfind(bytes_of({0x82, 0xA0, 0x82, 0xC8, 0x82, 0xBD}), 0) == 0;
  EXPECT_TRUE(japanese);
  EXPECT_EQ(h.server().counters().texts_in_english, 1u);
  // Japanese on a windows-1252 relay: every Japanese text falls back.
  auto latin = sh::load_messages("ja", "", "windows-1252", {kDir});
  ASSERT_TRUE(latin.messages);
  EXPECT_GT(latin.fallbacks.size(), 200u);
  EXPECT_EQ(latin.messages->format("login.full"), "Server is full");
}

TEST(ShiftJisRelay, TheSettingsCarryTheLanguageToTheCore) {
  TempFile cfg("charset = \"shift_jis\"\nlanguage = \"ja\"\nmessages_dir = \"" + kDir + "\"\n");
  auto load = sh::load_settings({"--config", cfg.path}, false);
  ASSERT_FALSE(load.exit) << load.error;
  EXPECT_EQ(load.settings.core.messages.format("login.empty_name"), kNoNameInShiftJis);
  EXPECT_EQ(load.settings.language, "ja");
  auto flag = sh::load_settings({"--language", "es", "--config", cfg.path}, false);
  ASSERT_FALSE(flag.exit) << flag.error;
  EXPECT_EQ(flag.settings.language, "es");
}
