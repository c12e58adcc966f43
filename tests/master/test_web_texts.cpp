// The web page's languages (master/web_texts.hpp, master/web/texts/*.json): every language has English's keys
// with the same placeholders, every text the page uses is in the catalog, the language follows the browser's
// Accept-Language, and the page is rendered with the language's texts.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "master/web_page.hpp"
#include "master/web_texts.hpp"

namespace kaillera::master {
namespace {

TEST(WebTexts, EveryLanguageHasEveryKeyWithTheSamePlaceholders) {
  EXPECT_EQ(check_web_texts(), "");
  const auto en = nlohmann::json::parse(*web_texts_json("en"));
  for (std::string_view lang : kWebLanguages) {
    const auto t = nlohmann::json::parse(*web_texts_json(lang));
    EXPECT_EQ(t.size(), en.size()) << lang;
    if (lang == "en") continue;
    std::size_t same = 0;
    for (const auto& [k, v] : en.items())
      same += t.contains(k) && t[k] == v ? 1 : 0;
    EXPECT_LT(same, en.size() / 4) << lang << ": " << same << " texts are English";
  }
  EXPECT_FALSE(web_texts_json("fr"));
}

TEST(WebTexts, EveryMarkerAndScriptTextOfThePageIsInTheCatalog) {
  const std::string page(web_page());
  const auto en = nlohmann::json::parse(*web_texts_json("en"));
  std::set<std::string> used;
  const std::regex marker(R"(\{\{([a-z0-9_.]+)\}\})"), call(R"(T\(\s*\"([a-z0-9_.]+)\")"),
      key(R"(\"((unit|summary|lag|group|pick)\.[a-z_]+)\")");
  for (const auto* re : {&marker, &call, &key}) {
    for (auto it = std::sregex_iterator(page.begin(), page.end(), *re); it != std::sregex_iterator(); ++it)
      used.insert((*it)[1]);
  }
  used.erase("key");  // the comment's example
  EXPECT_GT(used.size(), 60u);
  for (const auto& k : used)
    EXPECT_TRUE(en.contains(k)) << "the page uses " << k << ", en.json lacks it";
  for (const auto& [k, v] : en.items())
    EXPECT_TRUE(used.count(k)) << "en.json has " << k << ", the page does not use it";
}

TEST(WebTexts, TheLanguageFollowsAcceptLanguage) {
  EXPECT_EQ(web_language(""), "en");
  EXPECT_EQ(web_language("ja"), "ja");
  EXPECT_EQ(web_language("ja-JP,ja;q=0.9,en-US;q=0.8,en;q=0.7"), "ja");
  EXPECT_EQ(web_language("fr-FR,fr;q=0.9,es;q=0.8,en;q=0.7"), "es");
  EXPECT_EQ(web_language("en;q=0.5, ko;q=0.9"), "ko");
  EXPECT_EQ(web_language("pt-PT"), "pt-BR");
  EXPECT_EQ(web_language("zh-TW,zh;q=0.9"), "zh-CN");
  EXPECT_EQ(web_language("ru-RU;q=0"), "en");  // q=0: not acceptable
  EXPECT_EQ(web_language("de, *;q=0.1"), "en");
  EXPECT_EQ(web_language_of("ZH-cn"), "zh-CN");
  EXPECT_EQ(web_language_of("../etc"), "");
}

TEST(WebTexts, RenderingFillsMarkersEscapedAndGivesTheScriptItsTexts) {
  const std::string page =
      "<html lang=\"{{@lang}}\"><h1>{{title}}</h1><p>{{nope}}</p>"
      "<script type=\"application/json\">{{@texts}}</script>";
  const std::string ja = render_web_page(page, "ja");
  EXPECT_NE(ja.find("<html lang=\"ja\"><h1>Kaillera\xE3\x82\xB5\xE3\x83\xBC\xE3\x83\x90\xE3\x83\xBC</h1>"),
            std::string::npos)
      << ja.substr(0, 200);  // Kailleraサーバー
  EXPECT_NE(ja.find("<p>{{nope}}</p>"), std::string::npos) << "not a key: left alone";
  const auto script = ja.substr(ja.find("application/json\">") + 18);
  const auto texts = nlohmann::json::parse(script.substr(0, script.find("</script>")));
  EXPECT_EQ(texts.at("lag.laggy"), "\xE3\x83\xA9\xE3\x82\xB0\xE3\x81\x82\xE3\x82\x8A");  // ラグあり
  // The real page in English: no marker is left.
  const std::string en = render_web_page(web_page(), "en");
  EXPECT_EQ(en.find("{{"), std::string::npos);
  EXPECT_NE(en.find("<h2 id=\"games-title\">Waiting games</h2>"), std::string::npos);
}

}  // namespace
}  // namespace kaillera::master
