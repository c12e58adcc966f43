// The relay's active prober (relay/probe): ICMP echo and UDP with rising TTL. Probes go only to loopback or
// into network namespaces the tests make themselves (those need root; without it they are skipped, loudly).
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "relay/probe/prober.hpp"

namespace p = kaillera::relay::probe;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

namespace {

std::size_t m(p::Method x) {
  return static_cast<std::size_t>(x);
}
std::size_t o(p::Outcome x) {
  return static_cast<std::size_t>(x);
}

// Skips the calling test unless the prober has an ICMP socket, naming why not.
#define REQUIRE_ICMP(prober)                                                                  \
  do {                                                                                        \
    if ((prober).icmp_available() == p::Method::kNone) {                                      \
      std::fprintf(stderr,                                                                    \
                   "\n*** SKIPPING an ICMP test: %s. Run as root, give CAP_NET_RAW or widen " \
                   "net.ipv4.ping_group_range. ***\n\n",                                      \
                   (prober).icmp_description().c_str());                                      \
      GTEST_SKIP() << "NO ICMP SOCKET (" << (prober).icmp_description()                       \
                   << "): needs CAP_NET_RAW or net.ipv4.ping_group_range";                    \
    }                                                                                         \
  } while (0)

p::Options udp_only() {
  p::Options opt;
  opt.icmp = p::IcmpMode::kOff;
  return opt;
}

// Runs `body` on a thread of its own inside a fresh network namespace after running the shell commands in
// `setup` there (a Prober made on that thread keeps its sockets in the namespace). Returns "" or why the
// namespace could not be made (the caller skips then).
std::string in_new_netns(const std::vector<std::string>& setup, const std::function<void()>& body,
                         const std::vector<std::string>& cleanup = {}) {
  std::string problem;
  std::thread t([&] {
    struct Cleanup {
      const std::vector<std::string>& cmds;
      ~Cleanup() {
        for (const auto& cmd : cmds)
          [[maybe_unused]] int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
      }
    } cleanup_guard{cleanup};
    if (::unshare(CLONE_NEWNET) != 0) {
      problem = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno) + " (needs CAP_SYS_ADMIN)";
      return;
    }
    for (const auto& cmd : setup) {
      const std::string quiet = cmd + " >/dev/null 2>&1";
      if (std::system(quiet.c_str()) != 0) {  // children of this thread start in its namespace
        problem = "'" + cmd + "' failed";
        return;
      }
    }
    body();
  });
  t.join();  // the namespace goes away with the thread and its sockets
  return problem;
}

#define SKIP_UNLESS_NETNS(problem)                                                                    \
  do {                                                                                                \
    if (!(problem).empty()) {                                                                         \
      std::fprintf(stderr, "\n*** SKIPPING a network namespace test: %s ***\n\n", (problem).c_str()); \
      GTEST_SKIP() << "NO NETWORK NAMESPACE: " << (problem);                                          \
    }                                                                                                 \
  } while (0)

// lo up, and 10.77.0.2 behind a veth whose neighbour entry points at a MAC nobody has: datagrams to it
// leave and nothing ever answers.
const std::vector<std::string> kSilentNet = {
    "ip link set lo up",
    "ip link add kfp0 type veth peer name kfp1",
    "ip link set kfp0 up",
    "ip link set kfp1 up",
    "ip addr add 10.77.0.1/24 dev kfp0",
    "ip neigh replace 10.77.0.2 lladdr 02:00:00:00:00:02 dev kfp0 nud permanent",
};

}  // namespace

TEST(Prober, IcmpEchoToLoopbackGivesZeroHopsAndAnRtt) {
  p::Prober prober;
  REQUIRE_ICMP(prober);
  const auto t0 = Steady::now();
  const auto r = prober.probe({"127.0.0.1"}, 2000ms);
  const auto took = Steady::now() - t0;
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].outcome, p::Outcome::kReached) << r[0].detail;
  EXPECT_EQ(r[0].method, p::Method::kIcmp);
  EXPECT_EQ(r[0].hops, 0);
  EXPECT_EQ(r[0].ip, 0x7f000001u);
  EXPECT_EQ(r[0].address, "127.0.0.1");
  EXPECT_FALSE(r[0].cached);
  EXPECT_LT(r[0].rtt, 2000ms);
  EXPECT_LT(took, 2000ms);
  const auto c = prober.counters();
  EXPECT_GE(c.packets[m(p::Method::kIcmp)], 1u);
  EXPECT_EQ(c.packets[m(p::Method::kUdp)], 0u);  // the echo was answered: no fallback
  EXPECT_EQ(c.attempts[m(p::Method::kIcmp)][o(p::Outcome::kReached)], 1u);
}

TEST(Prober, RawSocketEchoToLoopback) {
  p::Options opt;
  opt.icmp = p::IcmpMode::kRaw;
  p::Prober prober(opt);
  REQUIRE_ICMP(prober);
  EXPECT_EQ(prober.icmp_description(), "raw socket");
  const auto r = prober.probe({"127.0.0.1"}, 2000ms);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].outcome, p::Outcome::kReached) << r[0].detail;
  EXPECT_EQ(r[0].method, p::Method::kIcmp);
  EXPECT_EQ(r[0].hops, 0);
}

TEST(Prober, PingSocketEchoToLoopbackInANamespaceThatAllowsIt) {
  // ping_group_range is per network namespace: widen it in our own to test the unprivileged path.
  std::vector<p::Result> r;
  std::string description;
  const std::string problem =
      in_new_netns({"ip link set lo up", "sysctl -w net.ipv4.ping_group_range='0 2147483647'"}, [&] {
        p::Options opt;
        opt.icmp = p::IcmpMode::kPingSocket;
        p::Prober prober(opt);
        description = prober.icmp_description();
        if (prober.icmp_available() != p::Method::kNone) r = prober.probe({"127.0.0.1"}, 2000ms);
      });
  SKIP_UNLESS_NETNS(problem);
  ASSERT_EQ(description, "ping socket");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].outcome, p::Outcome::kReached) << r[0].detail;
  EXPECT_EQ(r[0].method, p::Method::kIcmp);
  EXPECT_EQ(r[0].hops, 0);
  EXPECT_LT(r[0].rtt, 2000ms);
}

TEST(Prober, UdpFallbackToLoopbackGivesZeroHops) {
  p::Prober prober(udp_only());
  EXPECT_EQ(prober.icmp_available(), p::Method::kNone);
  const auto t0 = Steady::now();
  const auto r = prober.probe({"127.0.0.1"}, 2000ms);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].outcome, p::Outcome::kReached) << r[0].detail;
  EXPECT_EQ(r[0].method, p::Method::kUdp);
  EXPECT_EQ(r[0].hops, 0);  // port unreachable for TTL 1: no router in between
  EXPECT_LT(r[0].rtt, 2000ms);
  EXPECT_LT(Steady::now() - t0, 2000ms);
  const auto c = prober.counters();
  EXPECT_GE(c.packets[m(p::Method::kUdp)], 1u);
  EXPECT_EQ(c.packets[m(p::Method::kIcmp)], 0u);
  EXPECT_EQ(c.attempts[m(p::Method::kUdp)][o(p::Outcome::kReached)], 1u);
}

TEST(Prober, SeveralAddressesAreProbedInParallel) {
  p::Prober prober(udp_only());
  const std::vector<std::string> asked = {"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"};
  const auto r = prober.probe(asked, 1500ms);
  ASSERT_EQ(r.size(), asked.size());
  for (std::size_t i = 0; i < r.size(); ++i) {
    EXPECT_EQ(r[i].address, asked[i]);  // in the order asked
    EXPECT_EQ(r[i].outcome, p::Outcome::kReached) << asked[i] << ": " << r[i].detail;
    EXPECT_EQ(r[i].hops, 0);
  }
  EXPECT_EQ(prober.counters().attempts[m(p::Method::kUdp)][o(p::Outcome::kReached)], asked.size());
}

TEST(Prober, ASecondRequestWithinTheCacheTimeGetsTheCachedResultWithoutSending) {
  p::Prober prober(udp_only());
  const auto first = prober.probe({"127.0.0.1"}, 2000ms);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(first[0].outcome, p::Outcome::kReached) << first[0].detail;
  const auto before = prober.counters();
  const auto second = prober.probe({"127.0.0.1", "127.0.0.1"}, 2000ms);
  const auto after = prober.counters();
  ASSERT_EQ(second.size(), 2u);
  for (const auto& r : second) {
    EXPECT_TRUE(r.cached);
    EXPECT_EQ(r.outcome, p::Outcome::kReached);
    EXPECT_EQ(r.method, first[0].method);
    EXPECT_EQ(r.hops, first[0].hops);
    EXPECT_EQ(r.rtt, first[0].rtt);
  }
  EXPECT_EQ(after.packets, before.packets);  // nothing sent
  EXPECT_EQ(after.cache_hits, before.cache_hits + 2);
  EXPECT_EQ(after.attempts, before.attempts);
}

TEST(Prober, TheSameAddressTwiceInOneRequestIsProbedOnce) {
  p::Prober prober(udp_only());
  const auto r = prober.probe({"127.0.0.1", "127.0.0.1"}, 2000ms);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].outcome, p::Outcome::kReached);
  EXPECT_EQ(r[1].outcome, p::Outcome::kReached);
  EXPECT_FALSE(r[0].cached);
  EXPECT_TRUE(r[1].cached);
  EXPECT_EQ(prober.counters().attempts[m(p::Method::kUdp)][o(p::Outcome::kReached)], 1u);
}

TEST(Prober, BadAddressesAreSkippedAndReported) {
  p::Prober prober(udp_only());
  const std::vector<std::string> bad = {"",
                                        "not-an-ip",
                                        "256.1.1.1",
                                        "1.2.3",
                                        "1.2.3.4.5",
                                        "0.0.0.0",
                                        "224.0.0.1",
                                        "255.255.255.255",
                                        " 127.0.0.1",
                                        std::string(5000, '7'),
                                        std::string("127.0.0.1\0x", 11)};
  std::vector<std::string> asked = bad;
  asked.push_back("127.0.0.1");
  const auto r = prober.probe(asked, 2000ms);
  ASSERT_EQ(r.size(), asked.size());
  for (std::size_t i = 0; i < bad.size(); ++i) {
    EXPECT_EQ(r[i].outcome, p::Outcome::kBadAddress) << "#" << i;
    EXPECT_EQ(r[i].method, p::Method::kNone);
    EXPECT_FALSE(r[i].detail.empty());
    EXPECT_LE(r[i].address.size(), 64u);  // a huge string is not echoed back whole
  }
  EXPECT_EQ(r.back().outcome, p::Outcome::kReached) << r.back().detail;
  const auto c = prober.counters();
  EXPECT_EQ(c.bad_addresses, bad.size());
  EXPECT_EQ(c.addresses, asked.size());
  EXPECT_EQ(c.attempts[m(p::Method::kUdp)][o(p::Outcome::kReached)], 1u);
}

TEST(Prober, ARequestIsBoundedInAddresses) {
  p::Options opt = udp_only();
  opt.max_addresses = 2;
  p::Prober prober(opt);
  const auto r = prober.probe({"127.0.0.1", "127.0.0.2", "127.0.0.3"}, 2000ms);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].outcome, p::Outcome::kReached);
  EXPECT_EQ(r[1].outcome, p::Outcome::kReached);
  EXPECT_EQ(r[2].outcome, p::Outcome::kSkipped);
  EXPECT_EQ(prober.counters().skipped, 1u);
  EXPECT_EQ(prober.counters().attempts[m(p::Method::kUdp)][o(p::Outcome::kReached)], 2u);
}

TEST(Prober, StartsPerSecondAreLimited) {
  p::Options opt = udp_only();
  opt.starts_per_second = 0.01;  // one token now, the next in 100 s
  opt.start_burst = 1;
  p::Prober prober(opt);
  const auto t0 = Steady::now();
  const auto r = prober.probe({"127.0.0.1", "127.0.0.2"}, 300ms);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].outcome, p::Outcome::kReached) << r[0].detail;
  EXPECT_EQ(r[1].outcome, p::Outcome::kSkipped) << r[1].detail;
  EXPECT_EQ(r[1].method, p::Method::kNone);
  EXPECT_GE(Steady::now() - t0, 290ms);  // the second waited for a token until the deadline
  EXPECT_LT(Steady::now() - t0, 1500ms);
  const auto c = prober.counters();
  EXPECT_EQ(c.skipped, 1u);
  EXPECT_EQ(c.attempts[m(p::Method::kUdp)][o(p::Outcome::kReached)], 1u);
}

TEST(Prober, AnAddressThatAnswersNothingTimesOutWithinTheDeadline) {
  std::vector<p::Result> r;
  p::Counters c;
  bool icmp = false;
  Steady::duration took{};
  const std::string problem = in_new_netns(kSilentNet, [&] {
    p::Prober prober;  // ICMP when it can, then the UDP fallback
    icmp = prober.icmp_available() != p::Method::kNone;
    const auto t0 = Steady::now();
    r = prober.probe({"10.77.0.2"}, 1000ms);
    took = Steady::now() - t0;
    c = prober.counters();
  });
  SKIP_UNLESS_NETNS(problem);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].outcome, p::Outcome::kNoAnswer) << r[0].detail;
  EXPECT_EQ(r[0].method, p::Method::kUdp);  // the echo went unanswered, so UDP was tried as well
  EXPECT_GE(took, 950ms);
  EXPECT_LT(took, 1500ms);                       // answered at the deadline, not later
  EXPECT_GE(c.packets[m(p::Method::kUdp)], 2u);  // rising TTL
  EXPECT_EQ(c.attempts[m(p::Method::kUdp)][o(p::Outcome::kNoAnswer)], 1u);
  if (icmp) {
    EXPECT_GE(c.packets[m(p::Method::kIcmp)], 1u);
    EXPECT_EQ(c.attempts[m(p::Method::kIcmp)][o(p::Outcome::kNoAnswer)], 1u);
  }
}

TEST(Prober, ARouterInBetweenCountsAsOneHopForBothMethods) {
  // This thread's namespace -- router namespace (forwarding) -- target namespace.
  const std::string tag = std::to_string(::getpid());
  const std::string router = "kfpr" + tag, target = "kfpb" + tag;
  const std::vector<std::string> setup = {
      "ip netns add " + router,
      "ip netns add " + target,
      "ip link set lo up",
      "ip link add kfa0 type veth peer name kfr0 netns " + router,
      "ip addr add 10.1.0.1/24 dev kfa0",
      "ip link set kfa0 up",
      "ip route add default via 10.1.0.254",
      "ip -n " + router + " link add kfr1 type veth peer name kfb0 netns " + target,
      "ip -n " + router + " addr add 10.1.0.254/24 dev kfr0",
      "ip -n " + router + " addr add 10.2.0.254/24 dev kfr1",
      "ip -n " + router + " link set kfr0 up",
      "ip -n " + router + " link set kfr1 up",
      "ip netns exec " + router + " sysctl -w net.ipv4.ip_forward=1",
      "ip -n " + target + " link set lo up",
      "ip -n " + target + " addr add 10.2.0.2/24 dev kfb0",
      "ip -n " + target + " link set kfb0 up",
      "ip -n " + target + " route add default via 10.2.0.254",
  };
  std::vector<p::Result> icmp, udp;
  bool have_icmp = false;
  const std::string problem = in_new_netns(setup,
                                           [&] {
                                             p::Prober with_icmp;
                                             have_icmp = with_icmp.icmp_available() != p::Method::kNone;
                                             if (have_icmp) icmp = with_icmp.probe({"10.2.0.2"}, 2000ms);
                                             p::Prober without(udp_only());
                                             udp = without.probe({"10.2.0.2"}, 2000ms);
                                           },
                                           {"ip netns del " + router, "ip netns del " + target});
  SKIP_UNLESS_NETNS(problem);
  ASSERT_EQ(udp.size(), 1u);
  EXPECT_EQ(udp[0].outcome, p::Outcome::kReached) << udp[0].detail;
  EXPECT_EQ(udp[0].method, p::Method::kUdp);
  EXPECT_EQ(udp[0].hops, 1);  // time exceeded from the router at TTL 1, port unreachable at TTL 2
  if (!have_icmp) {
    std::fprintf(stderr, "\n*** the ICMP half of this test did not run: no ICMP socket ***\n\n");
    return;
  }
  ASSERT_EQ(icmp.size(), 1u);
  EXPECT_EQ(icmp[0].outcome, p::Outcome::kReached) << icmp[0].detail;
  EXPECT_EQ(icmp[0].method, p::Method::kIcmp);
  EXPECT_EQ(icmp[0].hops, 1);  // the reply left with TTL 64 and arrived with 63
}

TEST(Prober, AnUnreachableAddressIsReportedAtOnce) {
  std::vector<p::Result> r;
  Steady::duration took{};
  const std::string problem =
      in_new_netns({"ip link set lo up", "ip route add unreachable 10.88.0.0/16"}, [&] {
        p::Prober prober;
        const auto t0 = Steady::now();
        r = prober.probe({"10.88.0.1"}, 2000ms);
        took = Steady::now() - t0;
      });
  SKIP_UNLESS_NETNS(problem);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].outcome, p::Outcome::kUnreachable) << r[0].detail;
  EXPECT_EQ(r[0].method, p::Method::kUdp);
  EXPECT_LT(took, 1000ms);
}

TEST(Prober, StopDropsARequestUnderWayWithoutCallingIt) {
  std::atomic<bool> called{false};
  bool submitted = false, sending = false;
  Steady::duration took{};
  const std::string problem = in_new_netns(kSilentNet, [&] {
    p::Prober prober(udp_only());
    submitted = prober.submit({"10.77.0.2"}, 5000ms, [&](std::vector<p::Result>) { called = true; });
    // Wait until the probe is sending (a datagram went out), then stop long before its deadline.
    const auto until = Steady::now() + 2s;
    while (prober.counters().packets[m(p::Method::kUdp)] == 0 && Steady::now() < until)
      std::this_thread::sleep_for(1ms);
    sending = prober.counters().packets[m(p::Method::kUdp)] > 0;
    const auto t0 = Steady::now();
    prober.stop();
    took = Steady::now() - t0;
  });
  SKIP_UNLESS_NETNS(problem);
  ASSERT_TRUE(submitted);
  ASSERT_TRUE(sending);
  EXPECT_FALSE(called);
  EXPECT_LT(took, 1000ms);  // the thread does not wait for the 5 s deadline
}

TEST(Prober, AfterStopNothingIsAccepted) {
  p::Prober prober(udp_only());
  prober.stop();
  bool called = false;
  EXPECT_FALSE(prober.submit({"127.0.0.1"}, 100ms, [&](std::vector<p::Result>) { called = true; }));
  EXPECT_TRUE(prober.probe({"127.0.0.1"}, 100ms).empty());
  EXPECT_FALSE(called);
  EXPECT_EQ(prober.counters().requests_dropped, 2u);
}
