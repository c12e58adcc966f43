#include <gtest/gtest.h>

#include "common/text/charset.hpp"

namespace t = kaillera::text;

TEST(Charset, KnownNames) {
  EXPECT_EQ(t::iconv_name("windows-1252"), "WINDOWS-1252");
  EXPECT_EQ(t::iconv_name("Shift_JIS"), "CP932");
  EXPECT_EQ(t::iconv_name("GBK"), "GBK");
  EXPECT_EQ(t::iconv_name("cp949"), "CP949");
  EXPECT_EQ(t::iconv_name("windows-1251"), "WINDOWS-1251");
  EXPECT_EQ(t::iconv_name("utf-8"), "UTF-8");
  EXPECT_FALSE(t::known_charset("klingon"));
}

TEST(Charset, DecodesToUtf8) {
  // The capture's user name "じょｎ" in Shift_JIS (KAILLERA.md §8 vector 9).
  EXPECT_EQ(t::to_utf8("\x82\xb6\x82\xe5\x82\x8e", "shift_jis"), "じょｎ");
  EXPECT_EQ(t::to_utf8("caf\xe9", "windows-1252"), "café");
  EXPECT_EQ(t::to_utf8("\xcf\xf0\xe8\xe2\xe5\xf2", "windows-1251"), "Привет");
  EXPECT_EQ(t::to_utf8("plain", "gbk"), "plain");
}

TEST(Charset, UndecodableBytesAreReplacedNotDropped) {
  // 0x81 alone, then valid text: one replacement character, the rest kept.
  EXPECT_EQ(t::to_utf8("a\x81", "shift_jis"), "a\xEF\xBF\xBD");
  EXPECT_EQ(t::to_utf8("\xff\xfe ok", "utf-8"), "\xEF\xBF\xBD\xEF\xBF\xBD ok");
  // Windows-1252 has holes (0x81): replaced.
  EXPECT_EQ(t::to_utf8("x\x81y", "windows-1252"), "x\xEF\xBF\xBDy");
}

TEST(Charset, EncodesFromUtf8) {
  EXPECT_EQ(t::from_utf8("じょｎ", "shift_jis"), "\x82\xb6\x82\xe5\x82\x8e");
  EXPECT_EQ(t::from_utf8("café", "windows-1252"), "caf\xe9");
  EXPECT_EQ(t::from_utf8("ok", "utf-8"), "ok");
}

TEST(Charset, EncodesExactlyOrSaysWhereItCannot) {
  EXPECT_EQ(t::encode_exact("じょｎ", "shift_jis"), "\x82\xb6\x82\xe5\x82\x8e");
  // Shift_JIS encodes the wave dash (it decodes back as the full-width tilde: a round trip would refuse it).
  EXPECT_EQ(t::encode_exact("〜", "shift_jis"), "\x81\x60");
  EXPECT_EQ(t::encode_exact("café", "windows-1252"), "caf\xe9");
  EXPECT_EQ(t::encode_exact("", "gbk"), "");
  EXPECT_EQ(t::encode_exact("ok ぷ", "utf-8"), "ok ぷ");

  std::size_t bad = 99;
  EXPECT_EQ(t::encode_exact("caf\xc3\xa9 \xc5\x81odz", "windows-1252", &bad), std::nullopt);  // "café Łodz"
  EXPECT_EQ(bad, 6u);  // where "Ł" starts: no '?', no transliteration
  bad = 99;
  EXPECT_EQ(t::encode_exact("ab\xff", "utf-8", &bad), std::nullopt);  // not UTF-8
  EXPECT_EQ(bad, 2u);
  bad = 99;
  EXPECT_EQ(t::encode_exact("ab\xe3\x81", "shift_jis", &bad), std::nullopt);  // cut at the end
  EXPECT_EQ(bad, 2u);
  bad = 0;
  EXPECT_EQ(t::encode_exact("ok", "klingon", &bad), std::nullopt);
  EXPECT_EQ(bad, std::string::npos);
}
