// Admission before overload (relay/core/admission.hpp, docs/OPERATING.md "Admission"): the state changes with
// the measured figures, fed as values with time as an argument, with hysteresis; and the refusals reach the
// client in the form it expects: TOO at the handshake, 0x16 with the reason at login, a room line at start,
// while a game already playing goes on.
#include <gtest/gtest.h>

#include "relay/core/admission.hpp"
#include "tests/unit/relay_harness.hpp"

using namespace kf_test;
using r::Admission;
using r::AdmissionLimits;
using r::LoadFigures;
using Cause = Admission::Cause;
using TP = r::TimePoint;

namespace {

const TP t0 = TP{} + std::chrono::hours(1);

LoadFigures busy(double b, std::uint64_t drops = 0) {
  LoadFigures f;
  f.busy = b;
  f.receive_drops = drops;
  return f;
}

}  // namespace

TEST(Admission, RefusesAtTheLimitAndAdmitsOnlyAfterStayingBelowTheResumeFigure) {
  AdmissionLimits l;  // 50 drops a second, 10 s
  l.busy_limit = 0.85;
  l.busy_resume = 0.6;
  Admission a;
  EXPECT_FALSE(a.update(busy(0.84), l, t0));
  EXPECT_FALSE(a.refusing());
  EXPECT_TRUE(a.update(busy(0.85), l, t0 + 1s));  // at the limit: refusing
  EXPECT_EQ(a.cause(), Cause::kBusyLoop);
  EXPECT_EQ(a.reason(), "loop 85 % busy");
  EXPECT_STREQ(Admission::cause_key(a.cause()), "busy_loop");
  // Between the resume figure and the limit: still refusing, and the calm clock does not start.
  EXPECT_FALSE(a.update(busy(0.7), l, t0 + 2s));
  EXPECT_TRUE(a.refusing());
  // Below 0.6 from 3 s on; 0.65 at 8 s starts the 10 s again.
  for (int s = 3; s <= 7; ++s)
    EXPECT_FALSE(a.update(busy(0.5), l, t0 + std::chrono::seconds(s)));
  EXPECT_FALSE(a.update(busy(0.65), l, t0 + 8s));
  for (int s = 9; s <= 18; ++s)
    EXPECT_FALSE(a.update(busy(0.5), l, t0 + std::chrono::seconds(s))) << s;  // calm since 9 s: 9 s at 18
  EXPECT_TRUE(a.refusing());
  EXPECT_TRUE(a.update(busy(0.5), l, t0 + 19s));  // 10 s calm
  EXPECT_FALSE(a.refusing());
  EXPECT_EQ(a.reason(), "");
}

TEST(Admission, KernelDropsRefuseUntilNoneForTheResumeTime) {
  AdmissionLimits l;
  l.drop_limit = 20;
  l.resume_after = std::chrono::seconds(3);
  Admission a;
  EXPECT_FALSE(a.update(busy(0.2, 19), l, t0));  // under the limit: admitting
  EXPECT_TRUE(a.update(busy(0.2, 20), l, t0 + 1s));
  EXPECT_EQ(a.cause(), Cause::kReceiveDrops);
  EXPECT_EQ(a.reason(), "20 datagrams dropped in 1 s");
  EXPECT_FALSE(a.update(busy(0.2, 0), l, t0 + 2s));  // calm from 2 s
  EXPECT_FALSE(a.update(busy(0.2, 1), l, t0 + 3s));  // one drop: not calm
  EXPECT_FALSE(a.update(busy(0.2, 0), l, t0 + 4s));  // calm from 4 s
  EXPECT_FALSE(a.update(busy(0.2, 0), l, t0 + 6s));
  EXPECT_TRUE(a.update(busy(0.2, 0), l, t0 + 7s));
  EXPECT_FALSE(a.refusing());
  // drop_limit 0 ignores drops; busy_limit 0 ignores the loop.
  l.drop_limit = 0;
  l.busy_limit = 0;
  EXPECT_FALSE(a.update(busy(1.0, 100000), l, t0 + 8s));
  EXPECT_FALSE(a.refusing());
}

TEST(Admission, TheForcedStateStartsAndEndsAtOnce) {
  AdmissionLimits l;
  Admission a;
  l.force_busy = true;
  EXPECT_TRUE(a.update(busy(0.1), l, t0));
  EXPECT_EQ(a.reason(), "forced busy");
  l.force_busy = false;
  EXPECT_TRUE(a.update(busy(0.1), l, t0 + 1s));
  EXPECT_FALSE(a.refusing());
  // Forced while the loop is busy, then released: what is measured takes over.
  l.force_busy = true;
  EXPECT_TRUE(a.update(busy(0.95), l, t0 + 2s));
  l.force_busy = false;
  EXPECT_FALSE(a.update(busy(0.95), l, t0 + 3s));  // still refusing: no change to tell
  EXPECT_EQ(a.cause(), Cause::kBusyLoop);
}

// The refusals as clients see them.
TEST(AdmissionRefusals, TooAtTheHandshakeReasonAtLoginLineAtStartAndTheRunningGameGoesOn) {
  r::Config c;
  c.admission.resume_after = std::chrono::seconds(2);
  Harness h(c);
  auto& a = h.client(ip(203, 0, 113, 1));
  auto& b = h.client(ip(198, 51, 100, 2));
  auto& owner = h.client(ip(198, 51, 100, 3));
  auto& guest = h.client(ip(198, 51, 100, 4));
  ASSERT_TRUE(a.login("alice"));
  ASSERT_TRUE(b.login("bob"));
  ASSERT_TRUE(owner.login("olga"));
  ASSERT_TRUE(guest.login("gus"));
  // A game playing before the relay gets busy.
  a.send(p::CreateGame{"", "Street Fighter II", "", 0xFFFFFFFF});
  b.send(p::JoinGame{"", a.got<p::CreateGame>().back().game_id, "", 0, 0xFFFF, 1});
  a.send(p::StartGame{});
  a.send(p::AllReady{});
  b.send(p::AllReady{});
  // A room waiting to start.
  owner.send(p::CreateGame{"", "Tekken 3", "", 0xFFFFFFFF});
  guest.send(p::JoinGame{"", owner.got<p::CreateGame>().back().game_id, "", 0, 0xFFFF, 1});
  // Someone who said hello just before.
  auto& late = h.client(ip(192, 0, 2, 9));
  const std::string hello = late.handshake("HELLO0.83");
  ASSERT_EQ(hello.rfind("HELLOD00D", 0), 0u) << hello;
  late.game_port = static_cast<std::uint16_t>(std::stoi(hello.substr(9)));

  ASSERT_TRUE(h.server().set_load(busy(0.97), h.now()));
  EXPECT_TRUE(h.server().snapshot().refusing);
  EXPECT_EQ(h.server().snapshot().refusing_cause, "busy_loop");

  // A new connection: TOO, which clients show as a full server.
  EXPECT_EQ(h.client(ip(192, 0, 2, 10)).handshake("HELLO0.83"), "TOO");
  // A login under way: refused with the reason.
  late.send(p::UserInformation{"latecomer", "MAME32k 0.64", 1});
  for (int i = 0; i < 8 && late.got<p::ConnectionRejected>().empty(); ++i) {
    h.advance(10ms);
    late.send(p::ClientAck{});
  }
  ASSERT_EQ(late.got<p::ConnectionRejected>().size(), 1u);
  EXPECT_TRUE(contains(late.texts(), "Server busy: it takes no new players right now"))
      << ::testing::PrintToString(late.texts());
  // A start: a line in the room, the room stays waiting.
  owner.clear();
  owner.send(p::StartGame{});
  EXPECT_TRUE(contains(owner.texts(), "Start denied: the server is busy and starts no new games right now"))
      << ::testing::PrintToString(owner.texts());
  EXPECT_TRUE(owner.got<p::StartGame>().empty());
  // The game already playing goes on: both players get the frame.
  a.clear();
  b.clear();
  const std::vector<std::uint8_t> in_a{1, 1}, in_b{2, 2};
  a.send(p::GameData{"", in_a});
  b.send(p::GameData{"", in_b});
  const auto frames = a.got<p::GameData>();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(std::vector<std::uint8_t>(frames[0].data.begin(), frames[0].data.end()),
            (std::vector<std::uint8_t>{1, 1, 2, 2}));
  ASSERT_EQ(b.got<p::GameData>().size(), 1u);
  const auto& k = h.server().counters();
  EXPECT_EQ(k.refused_busy_hello, 1u);
  EXPECT_EQ(k.refused_busy_login, 1u);
  EXPECT_EQ(k.refused_busy_start, 1u);

  // Calm for resume_after: new load is taken again.
  EXPECT_FALSE(h.server().set_load(busy(0.3), h.now() + 1s));
  EXPECT_TRUE(h.server().set_load(busy(0.3), h.now() + 3s));
  EXPECT_EQ(h.client(ip(192, 0, 2, 11)).handshake("HELLO0.83").rfind("HELLOD00D", 0), 0u);
  owner.clear();
  owner.send(p::StartGame{});
  EXPECT_EQ(owner.got<p::StartGame>().size(), 1u);
}
