// The Prometheus endpoint: render_metrics() turns the core's counters and snapshot into the text exposition
// format; MetricsServer is a small HTTP/1.1 server (Boost.Beast) on the shell's io_context that answers
// GET /metrics, the health endpoints /healthz and /readyz (common/http/health.hpp) and 404 for anything else.
// Requests are bounded in size and time; bad input closes the connection, never the process.
#pragma once

#include "relay/state/audit_log.hpp"
#include "relay/state/state_store.hpp"
#include <utility>  // before Asio (TOOLCHAIN.md)

#include <cstdint>
#include <functional>
#include <memory>
#include <span>  // server.hpp uses std::span
#include <string>

#include <boost/asio/io_context.hpp>

#include "common/net/address.hpp"
#include "relay/announce/announcer.hpp"
#include "relay/core/server.hpp"
#include "relay/probe/prober.hpp"

namespace kaillera::relay::shell {

// What the shell counts beside the core.
struct ShellStats {
  std::uint64_t send_failures = 0;       // datagrams the kernel did not take (would block or refused)
  std::uint64_t unknown_port_sends = 0;  // the core asked to send from a port the shell has no socket for
  std::uint64_t oversized = 0;           // datagrams larger than the receive buffer, dropped unread
  std::uint64_t receive_drops = 0;       // datagrams the kernel dropped for full receive buffers
  double start_time_seconds = 0;         // Unix time of the start
};

// `announce`: the public list announcer's counters, or nullptr when it does not run (then all zero).
std::string render_metrics(const Counters& c, const Snapshot& s, const ShellStats& shell,
                           const announce::AnnounceCounters* announce = nullptr);

// The prober's counters (relay/probe): probes by method and outcome, packets by method, cache hits, ...
std::string render_probe_metrics(const probe::Counters& c);
// The state file's and the audit log's counters (null: not configured, shown as 0).
std::string render_moderation_metrics(const state::StoreCounters* store, const state::AuditCounters* audit);

class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  using NotReady = std::function<std::string()>;  // "" when ready, else the reason

  // Binds and listens on `at` (port 0 = ephemeral). Throws std::system_error when it cannot. While
  // `not_ready` gives a reason, /readyz and /metrics answer 503 with it (and `render` is not called); an
  // empty `not_ready` means always ready.
  MetricsServer(boost::asio::io_context& io, const net::Endpoint& at, Render render, NotReady not_ready = {});
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  net::Endpoint local() const;
  // Stops accepting and closes open connections.
  void stop();

  struct Impl;  // defined in metrics.cpp

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace kaillera::relay::shell
