// Reports the relay's load to one master over gRPC (DESIGN.md data flow 2): Register, then one long-lived
// Report stream carrying a LoadReport every interval; the master may push probe requests back on it.
//
// It runs on its own thread and never blocks the caller: publish() swaps the newest data in under a mutex,
// send_probe_result() queues the answer to a probe request for the stream's writer.
// When the master is down or slow the relay keeps serving games; the reporter retries with exponential
// backoff (1 s doubling to 60 s) and logs once per change of state.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "relay/core/server.hpp"

namespace grpc {
class ChannelCredentials;
}

namespace kaillera::relay {

// How the relay talks to a master: TLS trusting the CA in the PEM file `tls_ca`, or plaintext when it is
// empty. Used by the reporter and by /fair's PickRelay call.
std::shared_ptr<grpc::ChannelCredentials> master_credentials(const std::string& tls_ca);

struct ReporterOptions {
  std::string master;  // HOST:PORT of the master's gRPC endpoint
  std::string token;   // empty with the master's --open-registration
  std::string tls_ca;  // PEM file: use TLS and trust this CA; empty = plaintext
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{60000};
  std::chrono::milliseconds rpc_deadline{5000};
};

// What the relay says about itself when it registers.
struct RelayIdentity {
  std::string name, location, website, version, charset, public_host;
  std::uint16_t handshake_port = 27888;
  std::uint16_t game_port_first = 27889, game_port_last = 27889;
  std::uint32_t max_users = 0, max_games = 0;
};

struct ReportData {
  Snapshot snapshot;
  std::vector<PeerMeasurement> measurements;
  TimePoint taken{};  // steady time of the snapshot, to turn measurement times into wall-clock times
};

struct ProbeRequestData {
  std::string master;
  std::string request_id;
  std::vector<std::string> addresses;
  std::uint32_t deadline_ms = 0;
};

// One answer of an active probe (relay/probe), as the master gets it: SOURCE_PROBE.
struct ProbeMeasurement {
  std::string address;  // IPv4, dotted
  std::uint32_t hops = 0;
  std::uint32_t rtt_ms = 0;  // 0 = unknown: round sub-millisecond times up to 1
  std::int64_t measured_unix_ms = 0;
};

class MasterReporter {
 public:
  enum class State : std::uint8_t { kConnecting, kStreaming, kBackoff, kRefused, kStopped };

  MasterReporter(ReporterOptions options, RelayIdentity identity);
  ~MasterReporter();
  MasterReporter(const MasterReporter&) = delete;
  MasterReporter& operator=(const MasterReporter&) = delete;

  void start();
  void stop();
  // Hands over the newest snapshot and any new measurements (they accumulate until a report carries them).
  // Never blocks on the network.
  void publish(ReportData data);
  // Called on the reporter's thread for every probe request from the master. The handler must not block:
  // it hands the request to the prober, which answers later with send_probe_result().
  void on_probe(std::function<void(ProbeRequestData)> handler);
  // Queues a ProbeResult for the master: written on the open stream as soon as the writer wakes (or on the
  // next stream when the master is down right now). Thread-safe, never blocks on the network; at most
  // kMaxQueuedProbeResults wait (the oldest are dropped, and counted).
  void send_probe_result(std::string request_id, std::vector<ProbeMeasurement> measurements);
  static constexpr std::size_t kMaxQueuedProbeResults = 64;

  State state() const { return state_.load(); }
  std::uint64_t reports_sent() const { return reports_sent_.load(); }
  std::uint64_t connect_failures() const { return connect_failures_.load(); }
  std::uint64_t probe_results_sent() const { return probe_results_sent_.load(); }
  std::uint64_t probe_results_dropped() const { return probe_results_dropped_.load(); }
  std::string relay_id() const;
  const std::string& master() const { return options_.master; }
  std::chrono::milliseconds report_interval() const { return std::chrono::milliseconds(interval_ms_.load()); }

 private:
  struct Impl;
  void run();
  void set_state(State s, const std::string& detail);
  bool wait_for(std::chrono::milliseconds d);  // false when stopping
  bool stopping_now();
  struct QueuedProbeResult {
    std::string request_id;
    std::vector<ProbeMeasurement> measurements;
  };

  ReporterOptions options_;
  RelayIdentity identity_;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool fresh_ = false;
  ReportData latest_;
  std::string relay_id_;
  std::function<void(ProbeRequestData)> probe_handler_;
  std::deque<QueuedProbeResult> probe_results_;
  std::atomic<State> state_{State::kConnecting};
  std::atomic<std::uint64_t> reports_sent_{0};
  std::atomic<std::uint64_t> connect_failures_{0};
  std::atomic<std::uint64_t> probe_results_sent_{0};
  std::atomic<std::uint64_t> probe_results_dropped_{0};
  std::atomic<std::uint32_t> interval_ms_{10000};
};

std::string_view to_string(MasterReporter::State s);

}  // namespace kaillera::relay
