// Active probes of players' addresses, asked for by a master (DESIGN.md data flows 4 and 5): hop count and
// round-trip time to an IPv4 address the relay has never heard from.
//
//   1. ICMP echo: an unprivileged ping socket (SOCK_DGRAM/IPPROTO_ICMP, allowed by net.ipv4.ping_group_range)
//      or else a raw ICMP socket (CAP_NET_RAW). Hops from the reply's TTL, RTT from send to reply.
//   2. When there is no ICMP socket or the echo gets no answer: UDP datagrams to high ports (33434 + TTL - 1)
//      with rising TTL 1..max_ttl and IP_RECVERR. ICMP "time exceeded" names a router at that TTL; "port
//      unreachable" (or any destination-unreachable) from the target itself means it was reached, and the
//      hop count is that TTL - 1: routers in between, the same meaning as initial TTL - received TTL.
//
// Everything runs on the prober's own thread (poll(), non-blocking sockets, one deadline per request), so
// it never delays game traffic. Addresses come only from submit(); each is probed at most once per
// `cache_for` (later requests get the cached result), at most `starts_per_second` probes start per second,
// and a request names at most `max_addresses`. Bad input is reported per address, never thrown.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace kaillera::relay::probe {

enum class Method : std::uint8_t { kNone, kIcmp, kUdp };
inline constexpr std::size_t kMethods = 3;

enum class Outcome : std::uint8_t {
  kReached,      // the target answered: hops and rtt are set
  kNoAnswer,     // nothing from the target before the deadline
  kUnreachable,  // a router (or the local stack) said the target cannot be reached
  kError,        // a local failure (a send the kernel refused for another reason)
  kBadAddress,   // not a unicast IPv4 address; never probed
  kSkipped,      // over the per-request bound, or the rate limit did not let it start before the deadline
};
inline constexpr std::size_t kOutcomes = 6;

std::string_view to_string(Method m);
std::string_view to_string(Outcome o);

struct Result {
  std::string address;   // as it was asked for
  std::uint32_t ip = 0;  // host byte order; 0 for a bad address
  Outcome outcome = Outcome::kNoAnswer;
  Method method = Method::kNone;  // the method that gave the outcome (kNone: never probed)
  std::uint8_t hops = 0;          // routers in between; valid when reached
  std::chrono::microseconds rtt{0};
  std::chrono::system_clock::time_point measured{};  // when the outcome was known
  bool cached = false;  // from an earlier probe of the same address (no packet sent for this request)
  std::string detail;   // for logs: why there is no answer, which router answered last, ...
};

enum class IcmpMode : std::uint8_t {
  kAuto,        // a ping socket, else a raw socket, else UDP only
  kPingSocket,  // only a ping socket
  kRaw,         // only a raw socket
  kOff,         // UDP only
};

struct Options {
  IcmpMode icmp = IcmpMode::kAuto;
  std::chrono::milliseconds default_deadline{3000};  // when a request gives 0
  std::chrono::milliseconds min_deadline{50};
  std::chrono::milliseconds max_deadline{10000};  // a master's deadline_ms is capped to this
  std::chrono::milliseconds cache_for{30000};
  double starts_per_second = 20;
  double start_burst = 20;
  std::size_t max_addresses = 64;  // per request; the rest are kSkipped
  std::size_t max_queued_requests = 256;
  std::uint8_t max_ttl = 30;
  std::uint16_t udp_port = 33434;                // first destination port (TTL 1)
  std::chrono::milliseconds echo_interval{300};  // between echoes of one probe
  int max_echoes = 3;                            // per probe
  std::chrono::milliseconds udp_gap{10};         // between the rising-TTL datagrams of one probe
};

// Totals since start. `attempts[method][outcome]`: one per ICMP or UDP attempt at an address, by how it
// ended (a probe whose echo went unanswered counts icmp/no_answer and then its UDP attempt).
struct Counters {
  std::uint64_t requests = 0;
  std::uint64_t requests_dropped = 0;  // the queue was full or the prober stopping
  std::uint64_t addresses = 0;         // addresses asked for
  std::uint64_t bad_addresses = 0;
  std::uint64_t cache_hits = 0;  // answered from the cache or an attempt already under way
  std::uint64_t skipped = 0;     // over the per-request bound or not started before the deadline
  std::array<std::uint64_t, kMethods> packets{};  // datagrams sent, by method (kNone unused)
  std::uint64_t send_errors = 0;
  std::array<std::array<std::uint64_t, kOutcomes>, kMethods> attempts{};
};

class Prober {
 public:
  using Done = std::function<void(std::vector<Result>)>;

  // Opens the ICMP socket (as `options.icmp` allows) and starts the prober's thread. Sockets live in the
  // network namespace of the calling thread.
  explicit Prober(Options options = {});
  ~Prober();  // stop()
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Queues a request and returns at once. `done` runs once on the prober's thread with one Result per
  // address asked for, in the same order, at the latest when `deadline` (capped) has passed. Returns false,
  // and never calls `done`, when the queue is full or the prober has stopped.
  bool submit(std::vector<std::string> addresses, std::chrono::milliseconds deadline, Done done);

  // submit() and wait for the answer (tests, tools). Empty when submit() refused or stop() dropped it.
  std::vector<Result> probe(std::vector<std::string> addresses, std::chrono::milliseconds deadline);

  // Stops the thread; requests still under way are dropped without calling their `done`.
  void stop();

  Counters counters() const;
  // "ping socket", "raw socket" or "none (<why>)": what ICMP echo uses.
  const std::string& icmp_description() const { return icmp_description_; }
  Method icmp_available() const { return icmp_fd_ >= 0 ? Method::kIcmp : Method::kNone; }

  struct Engine;  // prober.cpp

 private:
  struct Queued {
    std::vector<std::string> addresses;
    std::chrono::milliseconds deadline;
    Done done;
  };
  friend struct Engine;

  void run();

  Options options_;
  int icmp_fd_ = -1;
  bool icmp_raw_ = false;
  std::string icmp_description_;
  int wake_fd_ = -1;

  std::mutex mu_;
  std::deque<Queued> queue_;
  bool stopping_ = false;
  std::thread thread_;

  struct AtomicCounters {
    std::atomic<std::uint64_t> requests{0}, requests_dropped{0}, addresses{0}, bad_addresses{0},
        cache_hits{0}, skipped{0}, send_errors{0};
    std::array<std::atomic<std::uint64_t>, kMethods> packets{};
    std::array<std::array<std::atomic<std::uint64_t>, kOutcomes>, kMethods> attempts{};
  };
  AtomicCounters counters_;
};

}  // namespace kaillera::relay::probe
