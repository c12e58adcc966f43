// Every entry of shared/protocol/vectors.json (copied to tests/data) decodes to its documented fields and
// re-encodes to the same bytes.
#include <gtest/gtest.h>

#include <fstream>

#include "common/kaillera/bundle.hpp"
#include "common/kaillera/handshake.hpp"
#include "tests/unit/describe.hpp"

using namespace kf_test;

namespace {

json load_vectors() {
  std::ifstream f(KF_TEST_DATA "/vectors.json");
  return json::parse(f);
}

// Compares every documented field; reports the first difference with the vector's name.
void expect_fields(const json& expected, const json& actual, const std::string& where) {
  for (auto& [key, value] : expected.items()) {
    if (key == "message_type") continue;
    ASSERT_TRUE(actual.contains(key)) << where << ": decoded message has no field " << key;
    EXPECT_EQ(actual[key], value) << where << " field " << key;
  }
}

std::uint8_t type_from(const json& j) {
  return static_cast<std::uint8_t>(std::stoi(j.get<std::string>(), nullptr, 16));
}

// The vectors name a few types as their sources do; everything else is spelled the same.
std::string our_name(const std::string& theirs) {
  if (theirs == "ServerACK") return "ServerAck";
  if (theirs == "ClientACK") return "ClientAck";
  if (theirs == "Quit") return "UserQuit";
  if (theirs == "InformationMessage") return "ServerInformation";
  return theirs;
}

}  // namespace

TEST(Vectors, FileHasThirtyEntries) {
  EXPECT_EQ(load_vectors().size(), 30u);
}

TEST(Vectors, RawHandshake) {
  int seen = 0;
  for (const auto& v : load_vectors()) {
    if (v["layer"] != "raw_handshake") continue;
    ++seen;
    const auto bytes = unhex(v["hex"].get<std::string>());
    auto h = p::parse_handshake(bytes);
    const std::string text = v["fields"]["text"];
    std::vector<std::uint8_t> out(64);
    p::Result<std::size_t> n = p::Error::kEmpty;
    if (text.rfind("HELLOD00D", 0) == 0) {
      // 424242 is the source's test value and no valid UDP port: it must be refused, not wrapped to 31634.
      ASSERT_FALSE(h) << v["name"];
      EXPECT_EQ(h.error(), p::Error::kBadPort);
      // The layout with a real port, as the vector's note gives it: HELLOD00D27888\0.
      n = p::write_hellod00d(out, 27888);
      ASSERT_TRUE(n);
      EXPECT_EQ(hex(p::Bytes(out).first(*n)), hex(p::as_bytes(std::string_view("HELLOD00D27888\0", 15))));
      auto back = p::parse_handshake(p::Bytes(out).first(*n));
      ASSERT_TRUE(back);
      EXPECT_EQ(back->port, 27888);
      continue;
    }
    ASSERT_TRUE(h) << v["name"];
    if (text.rfind("HELLO", 0) == 0) {
      ASSERT_EQ(h->kind, p::HandshakeKind::kHello);
      EXPECT_EQ(h->version, text.substr(5));
      n = p::write_hello(out, h->version);
    } else {
      n = p::write_simple(out, h->kind);
    }
    ASSERT_TRUE(n) << v["name"];
    out.resize(*n);
    EXPECT_EQ(hex(out), v["hex"].get<std::string>()) << v["name"];
  }
  EXPECT_EQ(seen, 6);
}

TEST(Vectors, UdpPayloads) {
  int seen = 0;
  for (const auto& v : load_vectors()) {
    if (v["layer"] != "udp_payload") continue;
    ++seen;
    const std::string name = v["name"];
    const auto bytes = unhex(v["hex"].get<std::string>());
    auto b = p::parse_bundle(bytes);
    ASSERT_TRUE(b) << name << ": " << p::to_string(b.error());
    ASSERT_EQ(b->count, v["fields"]["count"].get<std::size_t>()) << name;
    std::vector<p::Framed> framed;
    std::size_t i = 0;
    for (const auto& m : v["fields"]["messages"]) {
      if (m.contains("_trailing_bytes")) continue;
      ASSERT_LT(i, b->count) << name;
      const auto& raw = b->messages[i];
      EXPECT_EQ(raw.seq, m["seq"].get<int>()) << name;
      EXPECT_EQ(raw.body.size() + 1, m["length"].get<std::size_t>()) << name;
      EXPECT_EQ(raw.type, type_from(m["type"])) << name;
      EXPECT_EQ(p::type_name(raw.type), our_name(m["name"])) << name;
      auto msg = p::decode_body(raw.type, raw.body);
      ASSERT_TRUE(msg) << name << " #" << raw.seq << ": " << p::to_string(msg.error());
      expect_fields(m["fields"], describe(*msg), name + " #" + std::to_string(raw.seq));
      framed.push_back({raw.seq, *msg});
      ++i;
    }
    EXPECT_EQ(i, b->count) << name;
    // Re-encode: the same bytes (for the short-count vector, the bytes up to the messages `count` names).
    std::vector<std::uint8_t> out(2048);
    auto n = p::write_bundle(out, framed);
    ASSERT_TRUE(n) << name;
    out.resize(*n);
    const std::string want = v["hex"].get<std::string>();
    EXPECT_EQ(hex(out), want.substr(0, out.size() * 2)) << name;
    if (name != "count_byte_smaller_than_payload") {
      EXPECT_EQ(out.size() * 2, want.size()) << name;
    }
  }
  EXPECT_EQ(seen, 20);
}

TEST(Vectors, MessageBodies) {
  int seen = 0;
  for (const auto& v : load_vectors()) {
    if (v["layer"] != "message_body") continue;
    ++seen;
    const auto bytes = unhex(v["hex"].get<std::string>());
    const std::uint8_t type = type_from(v["fields"]["message_type"]);
    auto msg = p::decode_body(type, bytes);
    ASSERT_TRUE(msg) << v["name"];
    expect_fields(v["fields"], describe(*msg), v["name"]);
    std::vector<std::uint8_t> out(256);
    auto n = p::encode(*msg, out);
    ASSERT_TRUE(n);
    EXPECT_EQ(out[0], type);
    EXPECT_EQ(hex(p::Bytes(out).subspan(1, *n - 1)), v["hex"].get<std::string>()) << v["name"];
  }
  EXPECT_EQ(seen, 4);
}
