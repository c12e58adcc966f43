// Round trips of every message type, malformed bodies, and the lenient forms real clients send.
#include <gtest/gtest.h>

#include "common/kaillera/messages.hpp"
#include "tests/unit/describe.hpp"

using namespace kf_test;

namespace {

std::vector<p::Message> samples() {
  static const std::uint8_t data[] = {1, 2, 3, 4, 5, 6};
  p::ServerStatus ss;
  ss.users = {{"alice", 12, 1, 3, 1}, {"bob", 80, 2, 4, 3}};
  ss.games = {{"Street Fighter II", 7, "MAME32k 0.64", "alice", "1/4", 0}};
  p::PlayerInformation pi;
  pi.players = {{"alice", 12, 3, 1}, {"carol", 300, 9, 6}};
  return {
      p::UserQuit{"alice", 3, "bye"},
      p::UserJoined{"alice", 3, 45, 2},
      p::UserInformation{"alice", "Project 64k 0.13 (01 Aug 2003)", 1},
      ss,
      p::ServerAck{},
      p::ClientAck{},
      p::GlobalChat{"alice", "hello"},
      p::GameChat{"Server", "P1 Delay = 2"},
      p::KeepAlive{},
      p::CreateGame{"alice", "Cadillacs and Dinosaurs", "MAME32k", 0x1234},
      p::QuitGame{"alice", 3},
      p::JoinGame{"", 0x1234, "bob", 80, 4, 3},
      pi,
      p::GameStatus{"", 0x1234, 2, 3, 4},
      p::KickUser{"", 13},
      p::CloseGame{"", 0x1234},
      p::StartGame{"", 3, 2, 4},
      p::GameData{"", p::Bytes(data)},
      p::CachedGameData{"", 255},
      p::PlayerDrop{"bob", 2},
      p::AllReady{},
      p::ConnectionRejected{"server", 3, "Ping Too High"},
      p::ServerInformation{"Server", "Welcome"},
  };
}

}  // namespace

TEST(Messages, EveryTypeHasASampleInTypeOrder) {
  auto s = samples();
  ASSERT_EQ(s.size(), 23u);
  for (std::size_t i = 0; i < s.size(); ++i)
    EXPECT_EQ(p::type_of(s[i]), i + 1);
}

TEST(Messages, RoundTripEveryType) {
  for (const auto& m : samples()) {
    std::vector<std::uint8_t> buf(512);
    auto n = p::encode(m, buf);
    ASSERT_TRUE(n) << p::type_name(p::type_of(m));
    EXPECT_EQ(*n, 1 + p::body_size(m)) << p::type_name(p::type_of(m));
    EXPECT_EQ(buf[0], p::type_of(m));
    auto back = p::decode_body(buf[0], p::Bytes(buf).subspan(1, *n - 1));
    ASSERT_TRUE(back) << p::type_name(p::type_of(m));
    EXPECT_EQ(describe(*back), describe(m)) << p::type_name(p::type_of(m));
    std::vector<std::uint8_t> again(512);
    auto n2 = p::encode(*back, again);
    ASSERT_TRUE(n2);
    EXPECT_EQ(hex(p::Bytes(buf).first(*n)), hex(p::Bytes(again).first(*n2)));
  }
}

TEST(Messages, EveryStrictPrefixOfABodyIsRejected) {
  // Cutting a body anywhere before its last field ends must give an error, never a read past the end.
  for (const auto& m : samples()) {
    std::vector<std::uint8_t> buf(512);
    auto n = p::encode(m, buf);
    ASSERT_TRUE(n);
    const std::size_t body = *n - 1;
    const bool optional_tail = p::type_of(m) == 0x14;  // the drop request's player byte may be absent
    for (std::size_t cut = 0; cut + (optional_tail ? 1 : 0) < body; ++cut) {
      std::vector<std::uint8_t> part(buf.begin() + 1, buf.begin() + 1 + static_cast<long>(cut));
      auto r = p::decode_body(buf[0], part);
      EXPECT_FALSE(r) << p::type_name(buf[0]) << " cut at " << cut;
    }
  }
}

TEST(Messages, UnknownTypesAreErrors) {
  const std::uint8_t body[] = {0};
  EXPECT_EQ(p::decode_body(0x00, body).error(), p::Error::kUnknownType);
  EXPECT_EQ(p::decode_body(0x18, body).error(), p::Error::kUnknownType);
  EXPECT_EQ(p::decode_body(0xFF, body).error(), p::Error::kUnknownType);
}

TEST(Messages, StringsAreRawBytesNotReencoded) {
  // Shift_JIS "じょｎ" and a Windows-1252 byte: echoed exactly.
  const std::string name = "\x82\xb6\x82\xe5\x82\x8e\xe9";
  p::UserJoined j{name, 2, 10, 1};
  std::vector<std::uint8_t> buf(64);
  auto n = p::encode_as(j, buf);
  ASSERT_TRUE(n);
  auto back = p::decode_as<p::UserJoined>(p::Bytes(buf).subspan(1, *n - 1));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->user, name);
}

TEST(Messages, DropRequestOfOneTwoOrThreeBytes) {
  // KAILLERA.md §9.27: n02/SupraClient send 00 00, RMG-K sends 00 00 00, a bare 00 is the empty user string.
  for (std::vector<std::uint8_t> body : {std::vector<std::uint8_t>{0}, {0, 0}, {0, 0, 0}}) {
    auto r = p::decode_body(0x14, body);
    ASSERT_TRUE(r) << body.size();
    EXPECT_EQ(std::get<p::PlayerDrop>(*r).player_number, 0);
  }
}

TEST(Messages, ForgedListCountsAreRefusedBeforeAllocating) {
  // ServerStatus claiming 2^32-1 users in 12 bytes.
  const std::uint8_t body[] = {0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 'a', 0, 0};
  auto r = p::decode_body(0x04, body);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), p::Error::kBadCount);
  const std::uint8_t pi[] = {0, 0x00, 0x00, 0x01, 0x00};
  EXPECT_EQ(p::decode_body(0x0D, pi).error(), p::Error::kBadCount);
}

TEST(Messages, UnterminatedStringIsTyped) {
  const std::uint8_t body[] = {'a', 'b', 'c'};
  EXPECT_EQ(p::decode_body(0x07, body).error(), p::Error::kUnterminatedString);
}

TEST(Messages, GameDataPointsIntoTheDatagram) {
  const std::uint8_t body[] = {0, 3, 0, 7, 8, 9};
  auto r = p::decode_as<p::GameData>(body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->data.data(), body + 3);  // a view, not a copy
  EXPECT_EQ(r->data.size(), 3u);
  const std::uint8_t short_body[] = {0, 4, 0, 7, 8, 9};
  EXPECT_EQ(p::decode_as<p::GameData>(short_body).error(), p::Error::kTruncated);
}

TEST(Messages, EncodeRefusesTooSmallBuffers) {
  p::GlobalChat c{"alice", "a long enough message"};
  std::vector<std::uint8_t> buf(10);
  EXPECT_FALSE(p::encode_as(c, buf));
}
