#include <gtest/gtest.h>

#include "common/kaillera/handshake.hpp"

namespace p = kaillera::proto;

namespace {
p::Result<p::Handshake> parse(std::string_view s) {
  return p::parse_handshake(p::as_bytes(s));
}
}  // namespace

TEST(Handshake, HelloWithAndWithoutNul) {
  auto a = parse(std::string_view("HELLO0.83\0", 10));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, p::HandshakeKind::kHello);
  EXPECT_EQ(a->version, "0.83");
  auto b = parse("HELLO0.83");  // homemade clients omit the NUL (§9.6)
  ASSERT_TRUE(b);
  EXPECT_EQ(b->version, "0.83");
  auto c = parse(std::string_view("HELLO0.86\0junk", 14));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->version, "0.86");
}

TEST(Handshake, HelloD00DPorts) {
  EXPECT_EQ(parse(std::string_view("HELLOD00D27889\0", 15))->port, 27889);
  EXPECT_EQ(parse("HELLOD00D1")->port, 1);
  EXPECT_EQ(parse("HELLOD00D65535")->port, 65535);
  EXPECT_EQ(parse("HELLOD00D65536").error(), p::Error::kBadPort);
  EXPECT_EQ(parse("HELLOD00D0").error(), p::Error::kBadPort);
  EXPECT_EQ(parse("HELLOD00D").error(), p::Error::kBadPort);
  EXPECT_EQ(parse("HELLOD00D12a").error(), p::Error::kBadPort);
}

TEST(Handshake, ShortMessagesAndGarbage) {
  EXPECT_EQ(parse(std::string_view("PING\0", 5))->kind, p::HandshakeKind::kPing);
  EXPECT_EQ(parse(std::string_view("PONG\0", 5))->kind, p::HandshakeKind::kPong);
  EXPECT_EQ(parse(std::string_view("TOO\0", 4))->kind, p::HandshakeKind::kToo);
  EXPECT_EQ(parse(std::string_view("VER\0", 4))->kind, p::HandshakeKind::kVer);
  EXPECT_EQ(parse("PINGPONG").error(), p::Error::kNotHandshake);
  EXPECT_EQ(parse("hello").error(), p::Error::kNotHandshake);
  EXPECT_EQ(p::parse_handshake({}).error(), p::Error::kEmpty);
}

TEST(Handshake, BundlesAreNotHandshakes) {
  const std::uint8_t bundle[] = {1, 0, 0, 2, 0, 9, 0};
  EXPECT_FALSE(p::looks_like_handshake(bundle));
  EXPECT_TRUE(p::looks_like_handshake(p::as_bytes("HELLO0.83")));
}
