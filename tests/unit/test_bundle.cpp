// Bundle framing, the receive window around wrap-around, and the outbox's redundancy and resends.
#include <gtest/gtest.h>

#include "common/kaillera/bundle.hpp"
#include "tests/unit/describe.hpp"

using namespace kf_test;

namespace {

std::vector<std::uint8_t> bundle_of(std::vector<std::uint16_t> seqs_newest_first) {
  std::vector<p::Framed> f;
  for (auto s : seqs_newest_first)
    f.push_back({s, p::KeepAlive{}});
  std::vector<std::uint8_t> out(1024);
  auto n = p::write_bundle(out, f);
  out.resize(*n);
  return out;
}

std::vector<std::uint16_t> accepted_seqs(p::ReceiveWindow& w, const std::vector<std::uint8_t>& d,
                                         p::ReceiveWindow::Accepted* info = nullptr) {
  auto b = p::parse_bundle(d);
  EXPECT_TRUE(b);
  auto a = w.accept(*b);
  if (info) *info = a;
  std::vector<std::uint16_t> out;
  for (std::size_t i = 0; i < a.count; ++i)
    out.push_back(b->messages[a.order[i]].seq);
  return out;
}

}  // namespace

TEST(Bundle, RejectsBadCountsAndLengths) {
  EXPECT_EQ(p::parse_bundle({}).error(), p::Error::kEmpty);
  const std::uint8_t zero[] = {0};
  EXPECT_EQ(p::parse_bundle(zero).error(), p::Error::kBadCount);
  std::vector<std::uint8_t> big(40, 0);
  big[0] = 33;
  EXPECT_EQ(p::parse_bundle(big).error(), p::Error::kBadCount);
  const std::uint8_t short_len[] = {1, 0, 0, 1, 0, 0x09};  // length 1: type without body
  EXPECT_EQ(p::parse_bundle(short_len).error(), p::Error::kBadLength);
  const std::uint8_t long_len[] = {1, 0, 0, 9, 0, 0x09, 0};  // length past the end
  EXPECT_EQ(p::parse_bundle(long_len).error(), p::Error::kBadLength);
  const std::uint8_t missing[] = {2, 0, 0, 2, 0, 0x09, 0};  // count 2, one message
  EXPECT_EQ(p::parse_bundle(missing).error(), p::Error::kTruncated);
}

TEST(Bundle, DrlFramingVectors) {
  // KAILLERA.md §8: DRL's framing tests.
  auto one = unhex(
      "010000050010"
      "01020304");
  auto b = p::parse_bundle(one);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->count, 1u);
  EXPECT_EQ(b->messages[0].type, 0x10);
  EXPECT_EQ(hex(b->messages[0].body), "01020304");
  auto two = unhex(
      "020100050011010203040000050010"
      "01020304");
  b = p::parse_bundle(two);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->messages[0].seq, 1);
  EXPECT_EQ(b->messages[1].seq, 0);
}

TEST(ReceiveWindow, FirstSeqIsZeroAndDuplicatesAreDropped) {
  p::ReceiveWindow w;
  EXPECT_EQ(accepted_seqs(w, bundle_of({0})), (std::vector<std::uint16_t>{0}));
  EXPECT_EQ(accepted_seqs(w, bundle_of({2, 1, 0})), (std::vector<std::uint16_t>{1, 2}));
  p::ReceiveWindow::Accepted a;
  EXPECT_TRUE(accepted_seqs(w, bundle_of({2, 1, 0}), &a).empty());
  EXPECT_TRUE(a.duplicate_only);
  EXPECT_EQ(w.last(), 2);
}

TEST(ReceiveWindow, GapsAreReportedAsLost) {
  p::ReceiveWindow w;
  accepted_seqs(w, bundle_of({0}));
  p::ReceiveWindow::Accepted a;
  EXPECT_EQ(accepted_seqs(w, bundle_of({6, 5, 4}), &a), (std::vector<std::uint16_t>{4, 5, 6}));
  EXPECT_EQ(a.lost, 3);  // 1, 2, 3 never arrived
  EXPECT_EQ(accepted_seqs(w, bundle_of({9, 7}), &a), (std::vector<std::uint16_t>{7, 9}));
  EXPECT_EQ(a.lost, 1);  // 8
}

TEST(ReceiveWindow, WrapsAroundFFFF) {
  p::ReceiveWindow w;
  // Walk up to 0xFFFD one step at a time is slow; jump by windows.
  std::uint16_t s = 0;
  accepted_seqs(w, bundle_of({s}));
  while (s != 0xFFFD) {
    s = static_cast<std::uint16_t>(s + 1);
    ASSERT_EQ(accepted_seqs(w, bundle_of({s})).size(), 1u) << s;
  }
  p::ReceiveWindow::Accepted a;
  EXPECT_EQ(accepted_seqs(w, bundle_of({1, 0, 0xFFFF, 0xFFFE}), &a),
            (std::vector<std::uint16_t>{0xFFFE, 0xFFFF, 0, 1}));
  EXPECT_EQ(a.lost, 0);
  EXPECT_EQ(w.last(), 1);
  // After the wrap, old seqs are duplicates, not "new" (EL 0.x's bug was the reverse).
  EXPECT_TRUE(accepted_seqs(w, bundle_of({0xFFFF, 0xFFFE}), &a).empty());
  EXPECT_TRUE(a.duplicate_only);
}

TEST(ReceiveWindow, FarAheadOrBehindIsIgnored) {
  p::ReceiveWindow w;
  accepted_seqs(w, bundle_of({0}));
  EXPECT_TRUE(accepted_seqs(w, bundle_of({129})).empty());     // beyond the window
  EXPECT_TRUE(accepted_seqs(w, bundle_of({0xFFF0})).empty());  // behind
  EXPECT_EQ(w.last(), 0);
  EXPECT_EQ(accepted_seqs(w, bundle_of({128})).size(), 1u);  // exactly at the window edge
}

TEST(Outbox, NumbersFromZeroAndRepeatsPreviousMessages) {
  p::Outbox o(16, 1400);
  std::vector<std::uint8_t> d(1400);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(o.push(p::KeepAlive{}));
    const auto n = o.write_next(d, 3);
    auto b = p::parse_bundle(p::Bytes(d).first(n));
    ASSERT_TRUE(b);
    ASSERT_EQ(b->count, static_cast<std::size_t>(std::min(i + 1, 4))) << i;
    for (std::size_t k = 0; k < b->count; ++k)
      EXPECT_EQ(b->messages[k].seq, i - static_cast<int>(k));
  }
  EXPECT_EQ(o.write_next(d, 3), 0u);  // nothing pending
}

TEST(Outbox, SeveralPendingGoOutOldestFirstWithoutHoles) {
  p::Outbox o(16, 1400);
  std::vector<std::uint8_t> d(1400);
  for (int i = 0; i < 12; ++i)
    o.push(p::GlobalChat{"a", "b"});
  p::ReceiveWindow w;
  std::vector<std::uint16_t> got;
  while (o.pending() > 0) {
    const auto n = o.write_next(d, 3, 8);
    auto b = p::parse_bundle(p::Bytes(d).first(n));
    ASSERT_TRUE(b);
    // n02 accepts a bundle only if its newest seq is at most 9 ahead of what it has.
    const auto ahead = static_cast<std::uint16_t>(b->messages[0].seq - w.last());
    EXPECT_LE(ahead, 9);
    auto a = w.accept(*b);
    EXPECT_EQ(a.lost, 0);
    for (std::size_t i = 0; i < a.count; ++i)
      got.push_back(b->messages[a.order[i]].seq);
  }
  ASSERT_EQ(got.size(), 12u);
  for (std::uint16_t i = 0; i < 12; ++i)
    EXPECT_EQ(got[i], i);
}

TEST(Outbox, RedundancyCoversWholeDatagramsNotJustMessages) {
  // A fan-out of four messages in one datagram, then one more: if the four-message datagram is lost, the next
  // one must still carry all four (plus what came before, up to `redundancy` datagrams back).
  p::Outbox o(32, 1400);
  std::vector<std::uint8_t> d(1400);
  o.push(p::KeepAlive{});
  o.write_next(d, 3);  // seq 0, alone
  for (int i = 0; i < 4; ++i)
    o.push(p::KeepAlive{});
  o.write_next(d, 3);  // seqs 1-4: "lost"
  o.push(p::KeepAlive{});
  const auto n = o.write_next(d, 3);  // seq 5
  auto b = p::parse_bundle(p::Bytes(d).first(n));
  ASSERT_TRUE(b);
  ASSERT_EQ(b->count, 6u);  // 5, then 4..1 (the lost datagram), then 0 (the one before it)
  for (std::size_t k = 0; k < b->count; ++k)
    EXPECT_EQ(b->messages[k].seq, 5 - k);
}

TEST(Outbox, DatagramsStayUnderTheByteLimit) {
  p::Outbox o(16, 300);
  std::vector<std::uint8_t> d(2048);
  const std::string text(100, 'x');
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(o.push(p::GlobalChat{"a", text}));
    const auto n = o.write_next(d, 5);
    EXPECT_LE(n, 300u);
    EXPECT_GE(n, 100u);
  }
  // A message that can never fit is refused, not truncated.
  EXPECT_FALSE(o.push(p::GlobalChat{"a", std::string(400, 'y')}));
}

TEST(Outbox, ResendRepeatsTheNewestSentMessages) {
  p::Outbox o(16, 1400);
  std::vector<std::uint8_t> d(1400);
  EXPECT_EQ(o.write_resend(d, 5), 0u);  // nothing sent yet
  for (int i = 0; i < 7; ++i) {
    o.push(p::KeepAlive{});
    o.write_next(d, 3);
  }
  o.push(p::KeepAlive{});  // pending, not sent: a resend must not leak it
  const auto n = o.write_resend(d, 5);
  auto b = p::parse_bundle(p::Bytes(d).first(n));
  ASSERT_TRUE(b);
  ASSERT_EQ(b->count, 5u);
  EXPECT_EQ(b->messages[0].seq, 6);
  EXPECT_EQ(b->messages[4].seq, 2);
}

TEST(Outbox, LadderResendLetsANarrowWindowClimbBack) {
  // An n02-like receiver accepts a bundle only if its newest seq is 1..9 ahead of what it has. After it
  // missed 20 messages, a plain resend (newest first) is out of its reach; the ladder is not.
  p::Outbox o(32, 1400);
  std::vector<std::uint8_t> d(1400);
  for (int i = 0; i < 25; ++i) {
    o.push(p::KeepAlive{});
    o.write_next(d, 3);
  }
  std::uint16_t last = 4;  // it has seqs 0..4 and nothing after
  auto n02_accepts = [&](p::Bytes dg) {
    auto b = p::parse_bundle(dg);
    if (!b) return;
    const auto ahead = static_cast<std::uint16_t>(b->messages[0].seq - last);
    if (ahead >= 1 && ahead <= 9) last = b->messages[0].seq;
  };
  n02_accepts(p::Bytes(d).first(o.write_resend(d, 9)));
  EXPECT_EQ(last, 4);  // newest 24 is 20 ahead: ignored
  const auto count = o.write_resend_ladder(d, 32, 8, n02_accepts);
  EXPECT_EQ(count, 4u);  // 25 messages in history: 1 + 8 + 8 + 8
  EXPECT_EQ(last, 24);
}

TEST(Outbox, SeqsWrapAfterFFFF) {
  p::Outbox o(4, 1400);
  std::vector<std::uint8_t> d(1400);
  for (int i = 0; i < 0x10001; ++i) {
    o.push(p::KeepAlive{});
    o.write_next(d, 1);
  }
  EXPECT_EQ(o.next_seq(), 1);
  auto n = o.write_resend(d, 2);
  auto b = p::parse_bundle(p::Bytes(d).first(n));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->messages[0].seq, 0);
  EXPECT_EQ(b->messages[1].seq, 0xFFFF);
}
