#include <gtest/gtest.h>

#include <chrono>

#include <sys/select.h>
#include <sys/socket.h>

#include "common/net/address.hpp"
#include "common/net/hops.hpp"
#include "common/net/rate_limiter.hpp"
#include "common/net/udp_socket.hpp"

namespace n = kaillera::net;
using namespace std::chrono_literals;

TEST(Address, ParseAndPrint) {
  auto e = n::parse_endpoint("127.0.0.1:27888");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->ip, 0x7F000001u);
  EXPECT_EQ(e->port, 27888);
  EXPECT_EQ(n::to_string(*e), "127.0.0.1:27888");
  EXPECT_EQ(n::parse_endpoint("localhost:1")->ip, 0x7F000001u);
  EXPECT_EQ(n::parse_endpoint("10.0.0.1", 5)->port, 5);
  EXPECT_FALSE(n::parse_endpoint("10.0.0.1"));
  EXPECT_FALSE(n::parse_endpoint("256.0.0.1:1"));
  EXPECT_FALSE(n::parse_endpoint("1.2.3:1"));
  EXPECT_FALSE(n::parse_endpoint("1.2.3.4:65536"));
  EXPECT_FALSE(n::parse_endpoint("1.2.3.4:"));
  EXPECT_TRUE(n::is_private(*n::parse_ipv4("172.20.1.1")));
  EXPECT_FALSE(n::is_private(*n::parse_ipv4("172.32.1.1")));
  EXPECT_TRUE(n::is_private(*n::parse_ipv4("192.168.0.1")));
  EXPECT_FALSE(n::is_private(*n::parse_ipv4("203.0.113.7")));
}

TEST(Hops, InitialTtlIsTheSmallestCommonValueNotBelow) {
  EXPECT_EQ(n::hops_from_ttl(64), 0);
  EXPECT_EQ(n::hops_from_ttl(62), 2);
  EXPECT_EQ(n::hops_from_ttl(32), 0);
  EXPECT_EQ(n::hops_from_ttl(33), 31);   // from 64
  EXPECT_EQ(n::hops_from_ttl(117), 11);  // Windows 128
  EXPECT_EQ(n::hops_from_ttl(240), 15);  // 255
  EXPECT_EQ(n::hops_from_ttl(1), 31);
}

TEST(RateLimiter, BurstThenRate) {
  n::RateLimiter r(10, 3);
  const auto t0 = n::TimePoint{} + 1h;
  EXPECT_TRUE(r.allow(1, t0));
  EXPECT_TRUE(r.allow(1, t0));
  EXPECT_TRUE(r.allow(1, t0));
  EXPECT_FALSE(r.allow(1, t0));
  EXPECT_TRUE(r.allow(2, t0));  // another source has its own bucket
  EXPECT_FALSE(r.allow(1, t0 + 50ms));
  EXPECT_TRUE(r.allow(1, t0 + 100ms));  // one token per 100 ms
  EXPECT_FALSE(r.allow(1, t0 + 100ms));
}

TEST(RateLimiter, TableStaysBounded) {
  n::RateLimiter r(1, 1, 100);
  const auto t0 = n::TimePoint{} + 1h;
  for (std::uint64_t k = 0; k < 10000; ++k)
    r.allow(k, t0 + std::chrono::milliseconds(k));
  EXPECT_LE(r.tracked(), 100u);
  // The newest sources are still limited (their empty buckets were kept).
  EXPECT_FALSE(r.allow(9999, t0 + 9999ms));
}

TEST(UdpSocket, LoopbackBatchWithTtl) {
  n::UdpSocket a, b;
  ASSERT_EQ(a.open({0x7F000001, 0}), "");
  ASSERT_EQ(b.open({0x7F000001, 0}), "");
  const std::uint8_t msg1[] = {1, 2, 3};
  const std::uint8_t msg2[] = {4, 5};
  n::OutgoingDatagram out[] = {{b.local(), msg1}, {b.local(), msg2}};
  ASSERT_EQ(a.send_batch(out), 2u);
  std::vector<std::vector<std::uint8_t>> got;
  for (int tries = 0; tries < 1000 && got.size() < 2; ++tries) {
    for (const auto& d : b.receive_batch()) {
      EXPECT_EQ(d.from, a.local());
      EXPECT_EQ(d.ttl, 64);  // Linux default TTL, no hop on loopback
      got.emplace_back(d.data.begin(), d.data.end());
    }
    if (got.size() < 2) {
      fd_set fds;
      FD_ZERO(&fds);
      FD_SET(b.fd(), &fds);
      timeval tv{0, 10000};
      select(b.fd() + 1, &fds, nullptr, nullptr, &tv);
    }
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], std::vector<std::uint8_t>(msg1, msg1 + 3));
  EXPECT_EQ(got[1], std::vector<std::uint8_t>(msg2, msg2 + 2));
}

TEST(UdpSocket, BindErrorIsText) {
  n::UdpSocket a, b;
  ASSERT_EQ(a.open({0x7F000001, 0}), "");
  EXPECT_NE(b.open(a.local()), "");
}

TEST(UdpSocket, OversizedDatagramsAreCountedNotReturned) {
  n::UdpSocket a, b;
  ASSERT_EQ(a.open({0x7F000001, 0}), "");
  ASSERT_EQ(b.open({0x7F000001, 0}, 8, 512), "");
  std::vector<std::uint8_t> big(3000, 7), small(10, 1);
  ASSERT_TRUE(a.send_to(b.local(), big));
  ASSERT_TRUE(a.send_to(b.local(), small));
  std::size_t got = 0;
  for (int tries = 0; tries < 200 && got == 0; ++tries) {
    for (const auto& d : b.receive_batch())
      got += d.data.size();
    if (got == 0) {
      fd_set fds;
      FD_ZERO(&fds);
      FD_SET(b.fd(), &fds);
      timeval tv{0, 10000};
      select(b.fd() + 1, &fds, nullptr, nullptr, &tv);
    }
  }
  EXPECT_EQ(got, 10u);
  EXPECT_EQ(b.truncated(), 1u);
}

// Issue 14: a receive buffer that overflows while nobody reads. The kernel stamps its drop count on the
// datagrams it queues after the drops, so the count arrives with the next datagram read: once a marker sent
// after the burst is read, what was read plus what the kernel reports dropped is what was sent.
TEST(UdpSocket, KernelDropsOfAFullReceiveBufferAreCounted) {
  n::UdpSocket a, b;
  ASSERT_EQ(a.open({0x7F000001, 0}), "");
  ASSERT_EQ(b.open({0x7F000001, 0}, 64, 512), "");
  int small = 4096;  // the kernel doubles it; a 100-byte datagram takes about 1 KiB of it
  ASSERT_EQ(setsockopt(b.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  const std::vector<std::uint8_t> payload(100, 9), marker(10, 1);
  constexpr std::size_t kSent = 200;
  for (std::size_t i = 0; i < kSent; ++i)
    ASSERT_TRUE(a.send_to(b.local(), payload));
  const auto read_until_marker = [&](std::size_t& received) {
    for (int tries = 0; tries < 200; ++tries) {
      const auto batch = b.receive_batch();
      for (const auto& d : batch) {
        if (d.data.size() == marker.size()) return true;
        ++received;
      }
      if (batch.empty()) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(b.fd(), &fds);
        timeval tv{0, 10000};
        select(b.fd() + 1, &fds, nullptr, nullptr, &tv);
      }
    }
    return false;
  };
  // Drain what the buffer held, then send the marker: the first datagram queued after the drops.
  std::size_t received = 0;
  for (auto batch = b.receive_batch(); !batch.empty(); batch = b.receive_batch())
    received += batch.size();
  ASSERT_TRUE(a.send_to(b.local(), marker));
  ASSERT_TRUE(read_until_marker(received));
  EXPECT_GT(received, 0u);
  EXPECT_LT(received, kSent);  // the buffer holds far fewer than 200
  EXPECT_EQ(b.kernel_drops(), kSent - received);
  // Nothing dropped since: the next datagram shows the same total.
  ASSERT_TRUE(a.send_to(b.local(), marker));
  ASSERT_TRUE(read_until_marker(received));
  EXPECT_EQ(b.kernel_drops(), kSent - received);
}
