#include "client/server_ping.hpp"

#include <poll.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "client/directory_client.hpp"
#include "client/udp_driver.hpp"
#include "common/net/hops.hpp"
#include "common/net/udp_socket.hpp"

namespace kaillera::client {

namespace {

using Steady = std::chrono::steady_clock;

constexpr std::array<std::uint8_t, 5> kPing = {'P', 'I', 'N', 'G', 0};

std::int64_t realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// "PONG\0" as servers send it (KAILLERA.md §1.1); a missing NUL is forgiven.
bool is_pong(std::span<const std::uint8_t> d) {
  return (d.size() == 5 || d.size() == 4) && std::memcmp(d.data(), "PONG", 4) == 0 &&
         (d.size() == 4 || d[4] == 0);
}

// One resolved address: the PING state machine (at most one PING outstanding) and what came back.
struct Probe {
  net::Endpoint at;
  std::uint32_t sent = 0;
  bool waiting = false;
  Steady::time_point sent_steady{};
  std::int64_t sent_real_ns = 0;
  std::vector<double> rtts_ms;
  std::optional<std::uint32_t> hops;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

std::string ms_text(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ms < 10 ? "%.2f ms" : "%.0f ms", ms);
  return buf;
}

}  // namespace

PingRun ping_servers(const std::vector<PingTarget>& targets, const PingOptions& options) {
  PingRun run;
  std::vector<Probe> probes;
  std::unordered_map<std::uint64_t, std::size_t> by_address;  // Endpoint::key -> probes index
  std::vector<std::optional<std::size_t>> probe_of(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& t = targets[i];
    PingResult r;
    r.name = t.name;
    r.host = t.host;
    r.port = t.port;
    if (t.host.empty() || t.port == 0 || t.port > 65535) {
      r.error = "no address to ping";
    } else if (const auto at = resolve_endpoint(t.host + ":" + std::to_string(t.port)); !at) {
      r.error = "cannot resolve " + t.host;
    } else {
      const auto [it, added] = by_address.try_emplace(at->key(), probes.size());
      if (added) probes.emplace_back().at = *at;
      probe_of[i] = it->second;
    }
    run.results.push_back(std::move(r));
  }

  net::UdpSocket socket;
  if (!probes.empty()) {
    if (auto err = socket.open(net::Endpoint{0, 0}, 64, 512); !err.empty()) {
      run.error = "cannot open a UDP socket: " + err;
      run.results.clear();
      return run;
    }
    socket.enable_timestamps();  // without them the RTT includes this loop's own delay
  }

  const std::uint32_t count = std::max<std::uint32_t>(options.count, 1);
  const std::size_t parallel = std::max<std::size_t>(options.parallel, 1);
  const auto timeout = std::max(options.timeout, std::chrono::milliseconds(1));
  std::size_t next = 0;  // probes [0, next) have started
  std::size_t waiting = 0;
  const auto finished = [&](const Probe& p) { return !p.waiting && p.sent >= count; };
  while (true) {
    // Start PINGs: every started server without one outstanding sends its next; new servers join while
    // fewer than `parallel` have one outstanding.
    for (std::size_t i = 0; i < probes.size(); ++i) {
      Probe& p = probes[i];
      if (i >= next) {
        if (waiting >= parallel) break;
        next = i + 1;
      }
      if (p.waiting || p.sent >= count) continue;
      ++p.sent;
      p.sent_steady = Steady::now();
      p.sent_real_ns = realtime_ns();
      if (socket.send_to(p.at, kPing)) {
        p.waiting = true;
        ++waiting;
      }  // else the kernel refused it (no route): counted as sent, never answered
    }
    if (waiting == 0 && next >= probes.size() && std::all_of(probes.begin(), probes.end(), finished)) break;
    if (waiting == 0) continue;  // sends were refused; start the next ones

    // Wait for the first PONG or the earliest deadline.
    auto now = Steady::now();
    Steady::time_point earliest = Steady::time_point::max();
    for (const Probe& p : probes)
      if (p.waiting) earliest = std::min(earliest, p.sent_steady + timeout);
    const auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>(earliest - now).count();
    pollfd pfd{socket.fd(), POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(std::clamp<std::int64_t>(wait_ms, 0, 60'000)));
    if (ready > 0) {
      for (const auto& d : socket.receive_batch()) {
        if (!is_pong(d.data)) continue;
        const auto it = by_address.find(d.from.key());
        if (it == by_address.end()) continue;
        Probe& p = probes[it->second];
        if (!p.waiting) continue;  // late, after its timeout: not this PING's answer
        const auto at = Steady::now();
        double rtt_ms = std::chrono::duration<double, std::milli>(at - p.sent_steady).count();
        if (d.rx_time_ns != 0) {
          const double kernel_ms = static_cast<double>(d.rx_time_ns - p.sent_real_ns) / 1e6;
          if (kernel_ms >= 0 && kernel_ms <= rtt_ms) rtt_ms = kernel_ms;  // else the wall clock stepped
        }
        p.rtts_ms.push_back(rtt_ms);
        if (d.ttl != 0) {
          const std::uint32_t h = net::hops_from_ttl(d.ttl);
          p.hops = p.hops ? std::min(*p.hops, h) : h;
        }
        p.waiting = false;
        --waiting;
      }
    }
    now = Steady::now();
    for (Probe& p : probes) {
      if (p.waiting && now >= p.sent_steady + timeout) {
        p.waiting = false;
        --waiting;
      }
    }
  }

  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (!probe_of[i]) continue;
    const Probe& p = probes[*probe_of[i]];
    PingResult& r = run.results[i];
    r.sent = p.sent;
    r.answered = static_cast<std::uint32_t>(p.rtts_ms.size());
    r.rtts_ms = p.rtts_ms;
    r.hops = p.hops;
    if (!p.rtts_ms.empty()) r.rtt_ms = median(p.rtts_ms);
  }
  return run;
}

void sort_by_rtt(std::vector<PingResult>& results) {
  std::stable_sort(results.begin(), results.end(), [](const PingResult& a, const PingResult& b) {
    if (a.rtt_ms.has_value() != b.rtt_ms.has_value()) return a.rtt_ms.has_value();
    if (a.rtt_ms && *a.rtt_ms != *b.rtt_ms) return *a.rtt_ms < *b.rtt_ms;
    if (a.name != b.name) return a.name < b.name;
    if (a.host != b.host) return a.host < b.host;
    return a.port < b.port;
  });
}

std::string ping_results_to_table(const std::vector<PingResult>& results) {
  constexpr std::size_t kColumns = 5;
  std::vector<std::array<std::string, kColumns>> rows;
  rows.push_back({"NAME", "ADDRESS", "HOPS", "RTT", "ANSWERED"});
  for (const auto& r : results) {
    std::string answered = std::to_string(r.answered) + "/" + std::to_string(r.sent);
    if (!r.error.empty()) {
      answered = "not pinged: " + r.error;
    } else if (r.answered == 0) {
      answered += " (no answer)";
    }
    rows.push_back({printable(r.name), printable(r.host + ":" + std::to_string(r.port)),
                    r.hops ? std::to_string(*r.hops) : "-", r.rtt_ms ? ms_text(*r.rtt_ms) : "-",
                    printable(answered)});
  }
  std::array<std::size_t, kColumns> widths{};
  for (const auto& row : rows)
    for (std::size_t c = 0; c < kColumns; ++c)
      widths[c] = std::max(widths[c], display_width(row[c]));
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < kColumns; ++c) {
      line += row[c];
      if (c + 1 < kColumns) line.append(widths[c] + 2 - display_width(row[c]), ' ');
    }
    out += line + "\n";
  }
  if (results.empty()) out += "(no servers listed)\n";
  return out;
}

std::string ping_results_to_json(const std::vector<PingResult>& results) {
  using nlohmann::json;
  json out = json::array();
  for (const auto& r : results) {
    json j = {{"name", r.name},
              {"host", r.host},
              {"port", r.port},
              {"hops", r.hops ? json(*r.hops) : json(nullptr)},
              {"rtt_ms", r.rtt_ms ? json(std::round(*r.rtt_ms * 1000.0) / 1000.0) : json(nullptr)},
              {"sent", r.sent},
              {"answered", r.answered}};
    if (!r.error.empty()) j["error"] = r.error;
    out.push_back(std::move(j));
  }
  return out.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::uint32_t rtt_for_master(double rtt_ms) {
  if (!(rtt_ms > 1.0)) return 1;
  return static_cast<std::uint32_t>(std::min(std::ceil(rtt_ms), 600'000.0));
}

}  // namespace kaillera::client
