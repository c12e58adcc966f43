// A player's own measurement of listed servers (`kaillera probe`, `kaillera pick --self`): PING\0 to each
// server's handshake port, PONG\0 back (KAILLERA.md §1.1), the way list browsers such as n02 ping a list.
// Round-trip time from the send to the kernel's receive timestamp, hop count from the PONG's received TTL
// (DESIGN.md data flow 4, net::hops_from_ttl). No gRPC: the list comes from the caller.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kaillera::client {

struct PingTarget {
  std::string name;  // UTF-8, for people
  std::string host;  // as listed: IPv4 address or host name
  std::uint32_t port = 0;
};

struct PingResult {
  std::string name;
  std::string host;
  std::uint32_t port = 0;
  std::string error;  // non-empty: not pinged at all (host does not resolve, port 0)
  std::uint32_t sent = 0;
  std::uint32_t answered = 0;
  // The smallest hop count among the answers (routes can change between PINGs; the smallest is one the path
  // can take). nullopt: no answer, or the kernel gave no TTL.
  std::optional<std::uint32_t> hops;
  // The median of the answered round trips (the mean of the middle two for an even count): one slow answer
  // does not move it, and a late PONG taken for the next PING's (PINGs carry no id) does not either.
  std::optional<double> rtt_ms;
  std::vector<double> rtts_ms;  // every answered round trip, in send order
};

struct PingOptions {
  std::uint32_t count = 3;                  // PINGs per server, one outstanding at a time
  std::chrono::milliseconds timeout{1000};  // per PING (n02's list ping limit)
  std::size_t parallel = 16;                // servers with a PING outstanding at once (n02: 15)
};

struct PingRun {
  std::string error;                // non-empty: the UDP socket could not be opened; `results` is empty then
  std::vector<PingResult> results;  // one per target, in the targets' order
};

// Pings every target from one UDP socket (IP_RECVTTL, kernel receive timestamps). Targets with the same
// resolved address are pinged once and share the result. Returns when every PING was answered or timed out:
// at most about count * timeout * ceil(servers / parallel).
PingRun ping_servers(const std::vector<PingTarget>& targets, const PingOptions& options);

// Answered servers by RTT (then name), then the others by name.
void sort_by_rtt(std::vector<PingResult>& results);

// NAME, ADDRESS, HOPS, RTT, ANSWERED: one aligned line per server; "-" and "no answer" for the silent.
std::string ping_results_to_table(const std::vector<PingResult>& results);

// [{"name","host","port","hops","rtt_ms","sent","answered"}] (+ "error" when not pinged); hops and rtt_ms
// are null without an answer; rtt_ms has microsecond resolution.
std::string ping_results_to_json(const std::vector<PingResult>& results);

// The RTT as the master's whole milliseconds, where 0 means unknown: rounded up, at least 1.
std::uint32_t rtt_for_master(double rtt_ms);

}  // namespace kaillera::client
