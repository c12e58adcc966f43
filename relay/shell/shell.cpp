#include <utility>  // before Asio (TOOLCHAIN.md)

#include "relay/shell/shell.hpp"

#ifdef KF_HAVE_REPORTER
#include "relay/reporter/fair.hpp"
#include "relay/reporter/reporter.hpp"
#endif

#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/http/health.hpp"
#include "common/http/serve_while.hpp"
#include "common/log/logging.hpp"
#include "common/net/udp_socket.hpp"
#include "common/store/backup.hpp"
#include "common/store/retry.hpp"
#include "relay/announce/announcer.hpp"
#include "relay/core/server.hpp"
#include "relay/probe/prober.hpp"
#include "relay/shell/access_file.hpp"
#include "relay/shell/metrics.hpp"
#include "relay/state/audit_log.hpp"
#include "relay/state/state_store.hpp"

namespace kaillera::relay::shell {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

constexpr auto kTick = std::chrono::milliseconds(10);
// Players in games being played are probed this often (with a prober: docs/RELAY.md "Lag statistics"); the
// prober answers from its cache within 30 s, so no address is probed more often than that.
constexpr auto kPlayProbeInterval = std::chrono::seconds(30);
constexpr int kMaxBatchesPerWake = 16;      // then let the tick and the other sockets run
constexpr int kMaxEvents = 64;              // ready sockets taken from epoll per wake-up
constexpr std::size_t kSharedBatch = 64;    // datagrams per recvmmsg on the handshake and shared ports
constexpr std::size_t kRangeBatch = 8;      // on a per-client port (one client each)
constexpr std::size_t kReceiveSize = 4096;  // n02 sends at most 0x1000 bytes (KAILLERA.md §2.5)
constexpr std::size_t kFlushAt = 1024;      // queued datagrams on one socket that force a flush
constexpr auto kStartupBusyTimeout =
    std::chrono::milliseconds(1000);  // per attempt to open a locked state file

// One bound UDP port: its socket and the datagrams queued for it.
struct PortSocket {
  PortSocket() = default;
  PortSocket(const PortSocket&) = delete;
  PortSocket& operator=(const PortSocket&) = delete;

  struct Pending {
    net::Endpoint to;
    std::size_t offset, size;
  };

  net::UdpSocket udp;
  std::uint16_t port = 0;
  std::size_t batch = 0;
  std::vector<std::uint8_t> out_bytes;
  std::vector<Pending> out;
  std::vector<net::OutgoingDatagram> scratch;
  bool queued = false;  // in the sink's dirty list
};

// Collects what the core sends into one buffer per socket; flush() hands each socket's batch to sendmmsg.
class BatchingSink final : public Sink {
 public:
  BatchingSink(const std::unordered_map<std::uint16_t, PortSocket*>& by_port, ShellStats& stats)
      : by_port_(by_port), stats_(stats) {}

  void send(std::uint16_t local_port, const net::Endpoint& to, ByteSpan data) override {
    auto it = by_port_.find(local_port);
    if (it == by_port_.end()) {
      if (stats_.unknown_port_sends++ == 0)
        spdlog::error("core sent from port {} which has no socket", local_port);
      return;
    }
    PortSocket& s = *it->second;
    s.out.push_back({to, s.out_bytes.size(), data.size()});
    s.out_bytes.insert(s.out_bytes.end(), data.begin(), data.end());
    if (s.out.size() >= kFlushAt) {
      flush(s);
    } else if (!s.queued) {
      s.queued = true;
      dirty_.push_back(&s);
    }
  }

  void flush() {
    for (PortSocket* s : dirty_) {
      flush(*s);
      s->queued = false;
    }
    dirty_.clear();
  }

 private:
  void flush(PortSocket& s) {
    if (s.out.empty()) return;
    s.scratch.clear();
    for (const auto& p : s.out)
      s.scratch.push_back({p.to, ByteSpan(s.out_bytes.data() + p.offset, p.size)});
    const std::size_t sent = s.udp.send_batch(s.scratch);
    if (sent < s.scratch.size()) {
      stats_.send_failures += s.scratch.size() - sent;
      spdlog::debug("port {}: the kernel took {} of {} datagrams", s.port, sent, s.scratch.size());
    }
    s.out.clear();
    s.out_bytes.clear();
  }

  const std::unordered_map<std::uint16_t, PortSocket*>& by_port_;
  ShellStats& stats_;
  std::vector<PortSocket*> dirty_;
};

std::string ports_text(std::uint16_t first, std::uint16_t last) {
  return first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
}

void raise_fd_limit(std::size_t wanted) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= wanted) return;
  lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, wanted);
  ::setrlimit(RLIMIT_NOFILE, &lim);
}

// The core's Journal: lasting changes to the state file, audit events to the audit log; both queue for their
// own threads and return at once.
class ShellJournal final : public Journal {
 public:
  bool has_state_file() const override { return store != nullptr; }
  bool change(const ModerationChange& c) override {
    return store != nullptr && store->submit(c, Clock::now(), std::chrono::system_clock::now());
  }
  void audit(AuditEvent e) override {
    if (log != nullptr) log->write(std::move(e), std::chrono::system_clock::now());
  }
  state::StateStore* store = nullptr;
  state::AuditLog* log = nullptr;
};

class Relay {
 public:
  explicit Relay(Settings settings)
      : settings_(std::move(settings)), sink_(by_port_, stats_), signals_(io_), hangups_(io_) {}

  // The reporters first (no more probe requests), then the prober (no more answers to them).
  ~Relay() {
#ifdef KF_HAVE_REPORTER
    if (fair_) fair_->shutdown();  // no /fair answer may reach a core being torn down
    for (auto& r : reporters_)
      r->stop();
#endif
    if (prober_) prober_->stop();
    if (dns_) dns_->stop();
    if (store_) store_->stop();  // writes what is queued
    if (epoll_ >= 0) ::close(epoll_);
  }

  int run() {
    const auto listen = net::parse_endpoint(settings_.core.listen);
    if (!listen) {
      spdlog::error("listen: '{}' is not IPv4:PORT", settings_.core.listen);
      return kExitConfig;
    }
    const std::uint16_t first = settings_.core.game_port_first;
    const std::uint16_t last = settings_.core.game_port_last;
    const bool per_client = first != last;
    raise_fd_limit(static_cast<std::size_t>(last - first) + 256);

    // The metrics address first: /healthz answers from here on, /readyz says what start-up is waiting for.
    std::string metrics_text = "metrics off";
    net::Endpoint metrics_at{};
    if (!settings_.metrics.empty()) {
      try {
        metrics_ = std::make_unique<MetricsServer>(
            io_, *net::parse_endpoint(settings_.metrics),
            [this] {
              return render_metrics(server_->counters(), server_->snapshot(), stats_,
                                    announcer_ ? &announcer_->counters() : nullptr) +
                     render_probe_metrics(prober_ ? prober_->counters() : probe::Counters{}) +
                     render_moderation_metrics(store_ ? &store_->counters() : nullptr,
                                               audit_ ? &audit_->counters() : nullptr);
            },
            [this] { return readiness_.not_ready(); });
      } catch (const std::system_error& e) {
        spdlog::error("metrics: cannot listen on {}: {}", settings_.metrics, e.what());
        return kExitRuntime;
      }
      metrics_at = metrics_->local();
      metrics_text = "metrics http://" + net::to_string(metrics_at) + "/metrics";
      spdlog::info("metrics on http://{}/metrics: /healthz answers now, /readyz once the relay serves",
                   net::to_string(metrics_at));
    }
    ::signal(SIGPIPE, SIG_IGN);
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.async_wait([this](error_code ec, int signo) {
      if (ec) return;
      const char* name = signo == SIGINT ? "SIGINT" : "SIGTERM";
      readiness_.set_not_ready("stopping");
      if (!serving_) {
        spdlog::info("{} during start-up: stopping", name);
        stop();
        return;
      }
      spdlog::info("{}: saying goodbye and stopping", name);
      server_->shutdown(settings_.core.messages.format("quit.shutdown"), Clock::now(), sink_);
      sink_.flush();
      stop();
    });
    hangups_.add(SIGHUP);
    wait_for_hangup();

    // Bind everything before the Server exists: with port 0 the core must learn the real ports.
    readiness_.set_not_ready("binding the UDP ports");
    PortSocket* handshake = bind(*listen, kSharedBatch);
    if (handshake == nullptr) return kExitRuntime;
    std::uint16_t game_first = first, game_last = last;
    if (first == 0) {
      PortSocket* game = bind({listen->ip, 0}, kSharedBatch);
      if (game == nullptr) return kExitRuntime;
      game_first = game_last = game->port;
    } else {
      for (std::uint32_t p = first; p <= last; ++p) {
        if (by_port_.count(static_cast<std::uint16_t>(p)))
          continue;  // the handshake port doubles as a game port
        if (bind({listen->ip, static_cast<std::uint16_t>(p)}, per_client ? kRangeBatch : kSharedBatch) ==
            nullptr) {
          return kExitRuntime;
        }
      }
    }
    settings_.core.listen = net::to_string(handshake->udp.local());
    settings_.core.game_port_first = game_first;
    settings_.core.game_port_last = game_last;

    server_ = std::make_unique<Server>(settings_.core);
    if (!start_moderation()) {
      if (!stopping_) return kExitRuntime;
      spdlog::info("stopped during start-up");
      return kExitOk;
    }
    for (std::uint16_t p : server_->game_ports()) {
      if (!by_port_.count(p)) {
        spdlog::error("the core wants game port {} but the shell did not bind it", p);
        return kExitRuntime;
      }
    }
    if (!by_port_.count(server_->handshake_port())) {
      spdlog::error("the core wants handshake port {} but the shell bound {}", server_->handshake_port(),
                    handshake->port);
      return kExitRuntime;
    }

    stats_.start_time_seconds =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

    next_tick_ = Clock::now() + kTick;

    // The one start-up line.
    const std::string game_text = ports_text(game_first, game_last);
    std::string open_text = std::to_string(handshake->port);
    if (!(game_first == game_last && game_first == handshake->port)) open_text += ", " + game_text;
    spdlog::info(
        "kaillera-relay {} listening: handshake udp {}, game udp {} ({}); open/forward these UDP ports: "
        "{}; {}",
        KF_VERSION, settings_.core.listen, game_text, per_client ? "one per client" : "shared", open_text,
        metrics_text);
    start_reporters();
    start_announcer();
    serving_ = true;
    readiness_.set_ready();
    if (!settings_.ready_file.empty() &&
        !write_ready_file(handshake->port, game_first, game_last, metrics_ ? metrics_at : net::Endpoint{})) {
      return kExitRuntime;
    }

    run_loop();
    spdlog::info("stopped");
    return kExitOk;
  }

 private:
  PortSocket* bind(const net::Endpoint& at, std::size_t batch) {
    if (epoll_ < 0) {
      epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
      if (epoll_ < 0) {
        spdlog::error("epoll_create1: {}", std::strerror(errno));
        return nullptr;
      }
    }
    auto s = std::make_unique<PortSocket>();
    if (std::string err = s->udp.open(at, batch, kReceiveSize); !err.empty()) {
      spdlog::error("cannot open udp {}: {}", net::to_string(at), err);
      return nullptr;
    }
    s->port = s->udp.local().port;
    s->batch = batch;
    // Level-triggered and registered once: a socket left with datagrams is simply reported again.
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = s.get();
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, s->udp.fd(), &ev) != 0) {
      spdlog::error("cannot watch udp {}: {}", net::to_string(at), std::strerror(errno));
      return nullptr;
    }
    PortSocket* raw = s.get();
    by_port_[raw->port] = raw;
    sockets_.push_back(std::move(s));
    return raw;
  }

  // The relay's loop (docs/RELAY.md "Shell"): one thread waits in epoll_wait on the UDP sockets, registered
  // once, until data comes or the next 10 ms tick is due; the tick then also runs what is ready on the Asio
  // io_context (signals, the metrics server, answers posted by the reporter, prober and DNS threads). The
  // datagram path costs epoll_wait, recvmmsg and sendmmsg per wake-up and nothing else: an Asio wait on each
  // socket cost an epoll_ctl to re-arm it on every wake-up besides (docs/BENCHMARKS.md).
  void run_loop() {
    auto work = asio::make_work_guard(io_);  // io_.poll() must not find "no work" and stop the context
    std::array<epoll_event, kMaxEvents> events{};
    while (!stopping_) {
      TimePoint now = Clock::now();
      if (now >= next_tick_) {
        on_tick(now);
        io_.poll();
        continue;
      }
      const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_tick_ - now);
      const int n = ::epoll_wait(epoll_, events.data(), kMaxEvents, static_cast<int>(wait.count()));
      for (int i = 0; i < n && !stopping_; ++i)
        drain(*static_cast<PortSocket*>(events[static_cast<std::size_t>(i)].data.ptr));
    }
  }

  // The time spent here counts as busy (measure_load).
  void drain(PortSocket& s) {
    const TimePoint t0 = Clock::now();
    for (int i = 0; i < kMaxBatchesPerWake; ++i) {
      const auto before = s.udp.truncated();
      const auto batch = s.udp.receive_batch();
      stats_.oversized += s.udp.truncated() - before;
      if (batch.empty()) break;
      const TimePoint now = Clock::now();
      for (const auto& d : batch)
        server_->on_datagram(s.port, d.from, d.ttl, d.data, now, sink_);
      sink_.flush();
      if (batch.size() < s.batch) break;  // the socket is empty (more would be reported again by epoll)
    }
    meter_.busy += Clock::now() - t0;
  }

  void on_tick(TimePoint now) {
    meter_.worst_late =
        std::max(meter_.worst_late, std::chrono::duration_cast<std::chrono::milliseconds>(now - next_tick_));
    server_->on_tick(now, sink_);
    sink_.flush();
    measure_load(now);
    publish_reports(now);
    publish_announce(now);
    probe_players(now);
    meter_.busy += Clock::now() - now;
    if (server_->shutdown_requested()) {
      spdlog::info("an admin asked for /shutdown: stopping");
      server_->shutdown(settings_.core.messages.format("quit.shutdown"), now, sink_);
      sink_.flush();
      stop();
      return;
    }
    next_tick_ += kTick;
    if (next_tick_ <= now) next_tick_ = now + kTick;  // fell behind: do not burst
  }

#ifdef KF_HAVE_REPORTER
  // "/fair" asks the first master; its answer comes back on a gRPC thread and is posted onto ours.
  void start_fair() {
    fair_ = std::make_unique<FairAsker>(settings_.masters.front(), settings_.master_tls_ca);
    fair_->set_charset(settings_.core.charset);
    fair_->set_messages(settings_.messages_utf8);
    server_->set_fair_hook([this](std::uint32_t game_id, const std::vector<Server::FairPlayer>& players,
                                  Server::FairPurpose purpose) {
      std::vector<FairPlayerInfo> info;
      for (const auto& p : players)
        info.push_back({net::ip_to_string(p.ip), p.name});
      fair_->set_own_relay_id(reporters_.front()->relay_id());
      const auto question = purpose == Server::FairPurpose::kNearer ? FairAsker::Question::kNearer
                                                                    : FairAsker::Question::kFairest;
      return fair_->ask(std::move(info), question, [this, game_id](std::vector<std::string> lines) {
        asio::post(io_, [this, game_id, lines = std::move(lines)] {
          server_->fair_answer(game_id, lines, Clock::now(), sink_);
          sink_.flush();
        });
      });
    });
  }
#endif

  void start_reporters() {
#ifdef KF_HAVE_REPORTER
    RelayIdentity id;
    id.name = settings_.core.name;
    id.location = settings_.core.location;
    id.website = settings_.core.website;
    id.version = KF_VERSION;
    id.charset = settings_.core.charset;
    id.public_host = settings_.core.public_address;
    id.handshake_port = server_->handshake_port();
    id.game_port_first = settings_.core.game_port_first;
    id.game_port_last = settings_.core.game_port_last;
    id.max_users = settings_.core.max_users;
    id.max_games = settings_.core.max_games;
    if (!settings_.masters.empty()) start_prober();
    for (const auto& m : settings_.masters) {
      ReporterOptions o;
      o.master = m;
      o.token = settings_.token;
      o.tls_ca = settings_.master_tls_ca;
      auto r = std::make_unique<MasterReporter>(o, id);
      answer_probes(*r);
      r->start();
      reporters_.push_back(std::move(r));
    }
    if (!reporters_.empty()) {
      spdlog::info("reporting to {} master(s)", reporters_.size());
      start_fair();
    }
#else
    if (!settings_.masters.empty()) spdlog::warn("this build has no master reporter (built without gRPC)");
#endif
  }

  // The public list announcements (--announce): their own thread; settings.cpp checked every URL.
  void start_announcer() {
    if (settings_.announce.empty()) return;
    announce::AnnouncerOptions o;
    for (const auto& url : settings_.announce)
      o.lists.push_back(*announce::parse_list_url(url));
    o.identity.name = settings_.core.name;  // in the charset already (settings.cpp)
    o.identity.location = settings_.core.location;
    o.identity.website = settings_.core.website;
    o.identity.public_host = settings_.core.public_address;
    o.identity.version = "KF" KF_VERSION;
    o.identity.charset = settings_.core.charset;
    o.identity.port = server_->handshake_port();
    o.identity.max_users = settings_.core.max_users;
    o.identity.max_games = settings_.core.max_games;
    o.first = std::chrono::seconds(settings_.announce_first_s);
    o.interval = std::chrono::seconds(settings_.announce_interval_s);
    o.timeout = std::chrono::seconds(settings_.announce_timeout_s);
    announcer_ = std::make_unique<announce::Announcer>(std::move(o));
    publish_announce(Clock::now());
    announcer_->start();
    spdlog::info("announcing to {} public list(s), first in {} s, then every {} s", settings_.announce.size(),
                 settings_.announce_first_s, settings_.announce_interval_s);
  }

  // Once a second: the load and the games started since, for the announcer's next touches. Never waits on
  // the network.
  void publish_announce(TimePoint now) {
    if (!announcer_ || now - last_announce_publish_ < std::chrono::seconds(1)) return;
    last_announce_publish_ = now;
    const Snapshot snap = server_->snapshot();
    std::vector<announce::WaitingGame> waiting;
    waiting.reserve(snap.waiting.size());
    for (const auto& w : snap.waiting)
      waiting.push_back({w.id, w.rom, w.owner, w.emulator, w.players, w.max_players});
    std::vector<std::string> started = server_->started_since(announce_started_);
    announce_started_ = server_->counters().games_started;
    announcer_->publish(snap.users, snap.games, std::move(waiting), std::move(started));
  }

  // Active probes for the masters (docs/RELAY.md "Active probes"): the prober has its own thread, so a probe
  // request costs the game-traffic thread nothing.
  void start_prober() {
    if (!settings_.probe) {
      spdlog::info("probes: off (probe = false): probe requests from masters get empty answers");
      return;
    }
    prober_ = std::make_unique<probe::Prober>();
    if (prober_->icmp_available() == probe::Method::kNone) {
      spdlog::warn("probes: no ICMP echo, UDP with rising TTL only: {}", prober_->icmp_description());
    } else {
      spdlog::info("probes: ICMP echo over a {}, UDP with rising TTL as the fallback",
                   prober_->icmp_description());
    }
  }

  // Headroom (docs/OPERATING.md "Admission"): over each second, the time spent in handlers over wall time,
  // the datagrams the kernel dropped for full receive buffers, the sends it refused, and how late the tick
  // ran; the core decides from them whether to take new load.
  void measure_load(TimePoint now) {
    if (meter_.since == TimePoint{}) meter_.since = now;
    const auto wall = std::chrono::duration_cast<std::chrono::nanoseconds>(now - meter_.since);
    if (wall < std::chrono::seconds(1)) return;
    std::uint64_t drops = 0;
    for (const auto& s : sockets_)
      drops += s->udp.kernel_drops();
    stats_.receive_drops = drops;
    LoadFigures f;
    f.busy = static_cast<double>(meter_.busy.count()) / static_cast<double>(wall.count());
    f.receive_drops = drops - meter_.drops_before;
    f.send_failures = stats_.send_failures - meter_.send_failures_before;
    f.tick_late = meter_.worst_late;
    if (server_->set_load(f, now)) {
      if (server_->admission().refusing()) {
        spdlog::warn(
            "admission: refusing new connections, logins and game starts ({}); games already playing "
            "continue",
            server_->admission().reason());
      } else {
        spdlog::info(
            "admission: taking new load again (loop {:.0f} % busy, {} receive drops in the last second)",
            f.busy * 100, f.receive_drops);
      }
    }
    meter_ = LoadMeter{now, {}, {}, drops, stats_.send_failures};
  }

  // The round trips of the players in play, for /lagstat (Server::note_rtt): asked of the prober, whose
  // answer comes on its thread and is posted onto ours. Only what was reached counts.
  void probe_players(TimePoint now) {
    if (!prober_ || now - last_play_probe_ < kPlayProbeInterval) return;
    last_play_probe_ = now;
    std::vector<std::string> addresses;
    for (const std::uint32_t ip : server_->playing_addresses())
      addresses.push_back(net::ip_to_string(ip));
    if (addresses.empty()) return;
    prober_->submit(std::move(addresses), std::chrono::milliseconds(2000),
                    [this](std::vector<probe::Result> results) {
                      std::vector<std::pair<std::uint32_t, std::uint32_t>> rtts;
                      for (const auto& r : results) {
                        if (r.outcome != probe::Outcome::kReached) continue;
                        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(r.rtt).count();
                        rtts.emplace_back(r.ip, static_cast<std::uint32_t>(std::max<std::int64_t>(ms, 1)));
                      }
                      if (rtts.empty()) return;
                      asio::post(io_, [this, rtts = std::move(rtts)] {
                        for (const auto& [ip, ms] : rtts)
                          server_->note_rtt(ip, ms);
                      });
                    });
  }

#ifdef KF_HAVE_REPORTER
  // Runs on the reporter's stream reader; hands the request over and returns. The answer goes back to the
  // master that asked, from the prober's thread.
  void answer_probes(MasterReporter& reporter) {
    reporter.on_probe([this, &reporter](ProbeRequestData req) {
      std::string id = req.request_id;
      const std::size_t asked = req.addresses.size();
      if (!prober_) {
        reporter.send_probe_result(std::move(id), {});
        return;
      }
      const bool queued = prober_->submit(
          std::move(req.addresses), std::chrono::milliseconds(req.deadline_ms),
          [&reporter, id, master = req.master](std::vector<probe::Result> results) {
            std::vector<ProbeMeasurement> out;
            std::size_t bad = 0, reached = 0;
            for (const auto& r : results) {
              if (r.outcome == probe::Outcome::kBadAddress) ++bad;
              // Only what was reached: hops 0 / rtt 0 would read as "unknown" or, worse, as 0 hops.
              if (r.outcome != probe::Outcome::kReached) continue;
              ++reached;
              const auto rtt = std::chrono::ceil<std::chrono::milliseconds>(r.rtt).count();
              out.push_back(
                  {r.address, r.hops, static_cast<std::uint32_t>(std::max<std::int64_t>(rtt, 1)),
                   std::chrono::duration_cast<std::chrono::milliseconds>(r.measured.time_since_epoch())
                       .count()});
            }
            spdlog::debug("probe {} from master {}: {} address(es), {} reached, {} bad", id, master,
                          results.size(), reached, bad);
            reporter.send_probe_result(id, std::move(out));
          });
      if (!queued) {
        spdlog::warn("probe {} from master {}: the prober is busy; {} address(es) not probed", id, req.master,
                     asked);
        reporter.send_probe_result(std::move(id), {});
      }
    });
  }
#endif

  // Once a second: the snapshot and the measurements taken since the last one, to every reporter. Cheap, and
  // never waits on the network (the reporters have their own threads).
  void publish_reports([[maybe_unused]] TimePoint now) {
#ifdef KF_HAVE_REPORTER
    if (reporters_.empty() || now - last_publish_ < std::chrono::seconds(1)) return;
    ReportData data;
    data.snapshot = server_->snapshot(now);
    data.taken = now;
    for (const auto& m : server_->measurements()) {
      if (m.when > last_publish_) data.measurements.push_back(m);
    }
    last_publish_ = now;
    for (auto& r : reporters_)
      r->publish(data);
#endif
  }

  // --- Moderation: the state file, the audit log, the access file and its dns: names.

  bool start_moderation() {
    try {
      if (!settings_.state_db.empty()) {
        store_ = open_state_file();
        if (!store_) return false;  // stopped while waiting
        const ModerationState loaded = store_->load(Clock::now(), std::chrono::system_clock::now());
        spdlog::info("state file {}: {} ban(s), {} silence(s), {} grant(s) active", settings_.state_db,
                     loaded.bans.size(), loaded.silences.size(), loaded.grants.size());
        server_->load_moderation(loaded);
        store_->start();
        journal_.store = store_.get();
      } else {
        spdlog::warn("no state_db: bans, silences and grants made with commands last until restart");
      }
      if (!settings_.audit_log.empty()) {
        audit_ = std::make_unique<state::AuditLog>(settings_.audit_log, settings_.core.charset);
        journal_.log = audit_.get();
      }
    } catch (const std::exception& e) {
      spdlog::error("moderation: {}", e.what());
      return false;
    }
    server_->set_journal(&journal_);
    server_->set_reload_hook([this](std::uint16_t user_id) {
      asio::post(io_, [this, user_id] {
        server_->notice(user_id, reload_access(), Clock::now(), sink_);
        sink_.flush();
      });
    });
    for (const auto& w : settings_.access_warnings)
      spdlog::warn("access file: {}", w);
    if (!settings_.messages_source.empty()) {
      spdlog::info("language {}: texts from {}{}", settings_.language, settings_.messages_source,
                   settings_.messages_file.empty() ? "" : " and " + settings_.messages_file);
    } else if (!settings_.messages_file.empty()) {
      spdlog::info("language en: texts built in and from {}", settings_.messages_file);
    }
    // Logged once; each text sent in English counts on /metrics (texts_in_english).
    if (const auto& keys = settings_.message_fallbacks; !keys.empty()) {
      std::string some;
      for (std::size_t i = 0; i < keys.size() && i < 8; ++i)
        some += (i ? ", " : "") + keys[i];
      if (keys.size() > 8) some += ", ... (" + std::to_string(keys.size() - 8) + " more)";
      spdlog::warn("language {}: {} text(s) cannot be written in charset {} and are sent in English: {}",
                   settings_.language, keys.size(), settings_.core.charset, some);
    }
    use_access(settings_.access);
    if (!settings_.access_file.empty()) {
      spdlog::info("access file {}: {} entr{}", settings_.access_file, settings_.access.entries.size(),
                   settings_.access.entries.size() == 1 ? "y" : "ies");
    }
    return true;
  }

  // The state file, opened and migrated while the metrics address already answers /healthz and /readyz: a
  // lock that another connection holds (another process migrating it, or writing a long transaction) is
  // waited out, with /readyz saying so. Null when a signal stopped the wait; throws what cannot be waited
  // out.
  std::unique_ptr<state::StateStore> open_state_file() {
    const std::string& path = settings_.state_db;
    readiness_.set_not_ready("opening the state file " + path);
    const auto on_written = [this](std::uint64_t id, bool ok) {
      asio::post(io_, [this, id, ok] {
        server_->change_written(id, ok, Clock::now(), sink_);
        sink_.flush();
      });
    };
    std::atomic<bool> give_up{false};
    std::unique_ptr<state::StateStore> opened;
    try {
      opened = kaillera::http::serve_while(
          io_,
          [&] {
            return kaillera::store::retry_while_locked(
                [&] { return std::make_unique<state::StateStore>(path, on_written, kStartupBusyTimeout); },
                [&](const kaillera::store::StoreError& e, int attempt) {
                  readiness_.set_not_ready("the state file " + path +
                                           " is locked by another connection; waiting for it (" + e.what() +
                                           ")");
                  if (attempt == 1)
                    spdlog::warn("state file {}: locked by another connection; waiting: {}", path, e.what());
                },
                give_up);
          },
          [&] {
            if (stopping_) give_up = true;
            return stopping_;
          });
    } catch (const kaillera::store::StoreError&) {
      if (!stopping_) throw;  // a signal ended the wait: the last "locked" is no error
    }
    if (stopping_) return nullptr;
    return opened;
  }

  // Hands `list` to the core (with the dns: names resolved so far) and (re)starts the refresher for its
  // names.
  std::size_t use_access(AccessList list) {
    access_ = std::move(list);
    const auto names = dns_names(access_);
    if (dns_) dns_->stop();
    dns_.reset();
    AccessList resolved = access_;
    apply_resolved(resolved, resolved_);
    const std::size_t changed = server_->set_access(std::move(resolved), Clock::now(), sink_);
    sink_.flush();
    if (!names.empty()) {
      dns_ = std::make_unique<DnsRefresher>(
          names, std::chrono::seconds(settings_.access_dns_refresh_s),
          [this](DnsRefresher::Results r) {
            asio::post(io_, [this, r = std::move(r)] {
              if (r == resolved_) return;
              resolved_ = r;
              AccessList list = access_;
              apply_resolved(list, resolved_);
              server_->set_access(std::move(list), Clock::now(), sink_);
              sink_.flush();
            });
          },
          DnsRefresher::Resolver{}, resolved_);  // a name that fails after a reload keeps its addresses
    }
    return changed;
  }

  // SIGHUP and /reload: the access file again (a bad one is refused and the old one stays). Returns the line
  // that says what happened (also logged).
  std::string reload_access() {
    if (settings_.access_file.empty()) {
      const std::size_t changed = use_access(merge_admins({}, settings_.core.admins));
      spdlog::info("reload: no access file (admins from relay.toml only); {} user level(s) changed", changed);
      return settings_.core.messages.format("reload.no_file", {{"changed", changed}});
    }
    AccessLoad a = load_access_file(settings_.access_file, settings_.core.charset);
    if (!a.list) {
      spdlog::error("access file refused: {}; the old one stays", a.error);
      return settings_.core.messages.format("reload.refused", {{"error", a.error}});
    }
    AccessList merged = merge_admins(std::move(*a.list), settings_.core.admins, &a.warnings);
    for (const auto& w : a.warnings)
      spdlog::warn("access file: {}", w);
    const std::size_t before = access_.entries.size();
    const std::size_t changed = use_access(std::move(merged));
    const std::initializer_list<MessageArg> args = {{"entries", access_.entries.size()},
                                                    {"before", before},
                                                    {"dns", dns_names(access_).size()},
                                                    {"changed", changed}};
    spdlog::info("{}", Messages().format("reload.done", args));
    return settings_.core.messages.format("reload.done", args);
  }

  // SIGHUP: the log file is reopened; once serving, relay.toml's reloadable keys, the access file and the
  // audit log follow.
  void wait_for_hangup() {
    hangups_.async_wait([this](error_code ec, int) {
      if (ec || stopping_) return;
      kaillera::log::reopen_and_say();
      if (!serving_) {
        spdlog::info("SIGHUP during start-up: only the log file was reopened");
      } else {
        spdlog::info("SIGHUP: reloading the config, the access file and reopening the audit log");
        reload_config();
        reload_access();
        if (audit_) audit_->reopen();
      }
      wait_for_hangup();
    });
  }

  // relay.toml again (settings.hpp plan_reload): the reloadable keys take their new values, the others are
  // named when they changed, and the announcer restarts when its settings changed.
  void reload_config() {
    if (settings_.config_file.empty()) {
      spdlog::info("reload: no config file (--config)");
      return;
    }
    ReloadPlan plan = plan_reload(settings_);
    if (!plan.error.empty()) {
      spdlog::error("reload: {}; every setting keeps its value", plan.error);
      return;
    }
    kaillera::log::log_reload(plan.changed, plan.restart, settings_.config_file);
    if (plan.settings.log_level != settings_.log_level) kaillera::log::set_level(plan.settings.log_level);
    settings_ = std::move(plan.settings);
    server_->set_admission_limits(settings_.core.admission);
    if (plan.announce_changed) {
      if (announcer_) announcer_->stop();
      announcer_.reset();
      last_announce_publish_ = {};
      start_announcer();
      if (settings_.announce.empty()) spdlog::info("reload: announcing to no public list now");
    }
  }

  void stop() {
    if (stopping_) return;
    stopping_ = true;
    error_code ignored;
    signals_.cancel(ignored);
    hangups_.cancel(ignored);
    if (metrics_) metrics_->stop();
    if (announcer_) announcer_->stop();
    io_.stop();
  }

  bool write_ready_file(std::uint16_t handshake, std::uint16_t game_first, std::uint16_t game_last,
                        const net::Endpoint& metrics) {
    nlohmann::json j = {
        {"pid", ::getpid()},
        {"version", KF_VERSION},
        {"handshake", settings_.core.listen},
        {"handshake_port", handshake},
        {"game_port_first", game_first},
        {"game_port_last", game_last},
        {"metrics_port", metrics.port},
    };
    const std::string tmp = settings_.ready_file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << j.dump() << "\n";
      if (!out) {
        spdlog::error("cannot write the ready file {}", tmp);
        return false;
      }
    }
    if (std::rename(tmp.c_str(), settings_.ready_file.c_str()) != 0) {
      spdlog::error("cannot rename {} to {}", tmp, settings_.ready_file);
      return false;
    }
    return true;
  }

  // Declaration order is destruction order reversed: the io_context outlives everything that uses it.
  asio::io_context io_{1};
  Settings settings_;
  ShellStats stats_;
  std::vector<std::unique_ptr<PortSocket>> sockets_;
  std::unordered_map<std::uint16_t, PortSocket*> by_port_;
  BatchingSink sink_;
  std::unique_ptr<Server> server_;
  asio::signal_set signals_;
  asio::signal_set hangups_;                         // SIGHUP: reload
  kaillera::http::Readiness readiness_{"starting"};  // /readyz
  bool serving_ = false;                             // start-up is done
  ShellJournal journal_;
  std::unique_ptr<state::StateStore> store_;  // with state_db
  std::unique_ptr<state::AuditLog> audit_;    // with audit_log
  AccessList access_;                         // as read (dns: names unresolved)
  DnsRefresher::Results resolved_;            // what the dns: names resolved to last
  std::unique_ptr<DnsRefresher> dns_;
  std::unique_ptr<MetricsServer> metrics_;
  int epoll_ = -1;  // the UDP sockets (run_loop)
  TimePoint next_tick_{};
  bool stopping_ = false;
  std::unique_ptr<probe::Prober> prober_;  // with masters and probe = true
  std::unique_ptr<announce::Announcer> announcer_;
  TimePoint last_announce_publish_{};
  std::uint64_t announce_started_ = 0;  // games_started when the announcer last heard of starts
  TimePoint last_play_probe_{};
  struct LoadMeter {
    TimePoint since{};
    std::chrono::nanoseconds busy{0};         // in handlers since `since`
    std::chrono::milliseconds worst_late{0};  // the latest tick since `since`
    std::uint64_t drops_before = 0, send_failures_before = 0;
  } meter_;
#ifdef KF_HAVE_REPORTER
  std::vector<std::unique_ptr<MasterReporter>> reporters_;
  std::unique_ptr<FairAsker> fair_;
  TimePoint last_publish_{};
#endif
};

}  // namespace

int run_relay(Settings settings) {
  Relay relay(std::move(settings));
  return relay.run();
}

int relay_main(int argc, const char* const* argv) {
  LoadResult r = load_settings(argc, argv);
  if (r.exit) {
    if (!r.output.empty()) std::fputs(r.output.c_str(), stdout);
    if (!r.error.empty()) std::fprintf(stderr, "kaillera-relay: %s\n", r.error.c_str());
    return r.exit_code;
  }
  if (r.command == Command::kBackup)
    return kaillera::store::run_backup_command("kaillera-relay", r.settings.state_db, r.backup_out, r.force);
  if (const std::string problem = kaillera::log::setup("kaillera-relay", r.settings.log_level,
                                                       r.settings.log_file, "%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
      !problem.empty()) {
    std::fprintf(stderr, "kaillera-relay: %s\n", problem.c_str());
    return kExitRuntime;
  }
  try {
    return run_relay(std::move(r.settings));
  } catch (const std::exception& e) {
    spdlog::critical("fatal: {}", e.what());
    return kExitRuntime;
  }
}

}  // namespace kaillera::relay::shell
