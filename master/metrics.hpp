// What the master counts, and /metrics in the Prometheus text exposition format.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "master/catalog.hpp"

namespace kaillera::master {

struct CheckerCounters {
  std::atomic<std::uint64_t> pings_sent{0};
  std::atomic<std::uint64_t> pongs{0};     // checks that succeeded
  std::atomic<std::uint64_t> timeouts{0};  // checks that failed
  std::atomic<std::uint64_t> stray{0};     // datagrams that answered no check
  std::atomic<std::uint64_t> refused{0};   // checks refused because too many were in flight
};

struct MasterCounters {
  std::atomic<std::uint64_t> registrations_ok{0};
  std::atomic<std::uint64_t> registrations_rejected{0};
  std::atomic<std::uint64_t> streams_opened{0};
  std::atomic<std::int64_t> streams_open{0};
  std::atomic<std::uint64_t> reports_ok{0};
  std::atomic<std::uint64_t> reports_rejected{0};
  std::atomic<std::uint64_t> report_ingest_ns{0};  // time spent storing reports
  std::atomic<std::uint64_t> probe_results{0};
  std::atomic<std::uint64_t> directory_requests{0};
  std::atomic<std::uint64_t> pick_requests{0};  // gRPC PickRelay calls
  std::atomic<std::uint64_t> probes_sent{0};    // probe requests pushed to relays
  std::atomic<std::uint64_t> touches_ok{0};
  std::atomic<std::uint64_t> touches_rejected{0};
  std::atomic<std::uint64_t> http_2xx{0};
  std::atomic<std::uint64_t> http_3xx{0};
  std::atomic<std::uint64_t> http_4xx{0};
  std::atomic<std::uint64_t> http_5xx{0};
  std::atomic<std::uint64_t> store_errors{0};
  double start_time_seconds = 0;
};

std::string render_metrics(const CatalogStats& stats, const MasterCounters& c, const CheckerCounters* checks);

}  // namespace kaillera::master
