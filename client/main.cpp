// The `kaillera` command line tool. `play` runs scripted players through a relay over real UDP and checks
// every lock-step block; `load` drives many games for benchmarks; with gRPC built in, `list` asks a master's
// Directory for its relays, `probe` pings every listed relay (PING/PONG: RTT and hops) and `pick` asks the
// master for the fairest relay for a group of players (Directory.PickRelay).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#ifdef KF_CLIENT_WITH_GRPC
#include "client/directory_client.hpp"
#include "client/pick_client.hpp"
#include "client/server_ping.hpp"
#endif
#include "client/load.hpp"
#include "client/player.hpp"
#include "client/udp_driver.hpp"
#include "common/build_info/build_info.hpp"
#include "common/kaillera/conn_type.hpp"

#ifndef KF_VERSION
#define KF_VERSION "0.0.0"
#endif

namespace {

namespace kc = kaillera::client;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;  // a mismatch, an error, or a player that did not complete
constexpr int kExitTimeout = 2;
constexpr int kExitRefused = 2;  // pick: the master refused the request as malformed (INVALID_ARGUMENT)
constexpr int kExitNotImplemented = 3;
constexpr int kExitUsage = 64;

struct PlayArgs {
  std::string server = "127.0.0.1:27888";
  std::uint32_t players = 2;
  std::uint32_t frames = 600;
  int conn_type = 1;
  std::string game = "Kaillera Federation test";
  std::uint32_t bytes_per_frame = 2;
  double timeout = 60;
  double fps = 0;
  std::uint32_t repeat = 0;
  bool no_cache = false;
  std::string name_prefix = "kfplayer";
  bool json = false;
};

struct LoadArgs {
  std::string server = "127.0.0.1:27888";
  std::uint32_t games = 10;
  double seconds = 10;
  double warmup = 2;
  std::uint32_t bytes_per_frame = 2;
  int relay_pid = 0;
  double ramp = 0;
  double setup_timeout = 60;
  bool cache = false;
  bool json = false;
};

struct ListArgs {
  std::string master = "127.0.0.1:27800";  // the local master `make run` starts
  bool json = false;
  bool all = false;
  bool has_room = false;
  std::string location;
  double timeout = 5;
};

int run_list(const ListArgs& a) {
#ifdef KF_CLIENT_WITH_GRPC
  if (a.master.empty() || a.master.find(':') == std::string::npos || a.timeout <= 0 || a.timeout > 3600) {
    std::cerr << "kaillera list: --master HOST:PORT (the master's gRPC address), --timeout 0..3600 seconds\n";
    return kExitUsage;
  }
  kc::ListRelaysQuery q;
  q.online_only = !a.all;
  q.has_room = a.has_room;
  q.location_contains = a.location;
  auto r =
      kc::list_relays(a.master, q, std::chrono::milliseconds(static_cast<std::int64_t>(a.timeout * 1000)));
  if (!r.ok) {
    std::cerr << "kaillera list: " << r.error << "\n";
    return kExitFailed;
  }
  kc::sort_by_name(r.relays);
  std::cout << (a.json ? kc::relays_to_json(r.relays) : kc::relays_to_table(r.relays));
  return kExitOk;
#else
  (void)a;
  std::cerr
      << "kaillera list: this kaillera was built without gRPC (KF_WITH_SERVICES=OFF), so it cannot ask a "
         "master; use a build with gRPC, or read the master's HTTP list (/api/v1/relays)\n";
  return kExitNotImplemented;
#endif
}

struct ProbeArgs {
  std::string master = "127.0.0.1:27800";
  std::uint32_t count = 3;
  std::uint32_t timeout_ms = 1000;
  bool json = false;
};

struct PingArgs {
  std::vector<std::string> servers;  // HOST:PORT, the handshake ports
  std::uint32_t count = 3;
  std::uint32_t timeout_ms = 1000;
  bool json = false;
};

struct PickArgs {
  std::string master = "127.0.0.1:27800";
  std::vector<std::string> players;
  std::string group;
  std::string objective;  // empty: the master's default
  std::uint32_t deadline_ms = 0;
  std::string self;
  std::uint32_t count = 3;
  std::uint32_t timeout_ms = 1000;
  double timeout = 15;
  bool json = false;
};

#ifdef KF_CLIENT_WITH_GRPC
constexpr std::chrono::milliseconds kListTimeout{5000};

bool valid_master(const std::string& m) {
  return !m.empty() && m.find(':') != std::string::npos;
}

// The master's online servers, pinged: for `probe` and `pick --self`. Returns false (after saying why on
// stderr) when the list did not come or no socket could be opened.
bool probe_listed(const char* command, const std::string& master, std::uint32_t count,
                  std::uint32_t timeout_ms, std::vector<kc::PingResult>& out) {
  kc::ListRelaysQuery q;  // online only, as `kaillera list` shows by default
  const auto list = kc::list_relays(master, q, kListTimeout);
  if (!list.ok) {
    std::cerr << "kaillera " << command << ": " << list.error << "\n";
    return false;
  }
  std::vector<kc::PingTarget> targets;
  for (const auto& r : list.relays)
    targets.push_back({r.name, r.host, r.port});
  kc::PingOptions o;
  o.count = count;
  o.timeout = std::chrono::milliseconds(timeout_ms);
  auto run = kc::ping_servers(targets, o);
  if (!run.error.empty()) {
    std::cerr << "kaillera " << command << ": " << run.error << "\n";
    return false;
  }
  out = std::move(run.results);
  return true;
}
#endif

int run_probe(const ProbeArgs& a) {
#ifdef KF_CLIENT_WITH_GRPC
  if (!valid_master(a.master) || a.count < 1 || a.count > 100 || a.timeout_ms < 1 || a.timeout_ms > 60'000) {
    std::cerr << "kaillera probe: --master HOST:PORT, --count 1..100, --timeout-ms 1..60000\n";
    return kExitUsage;
  }
  std::vector<kc::PingResult> results;
  if (!probe_listed("probe", a.master, a.count, a.timeout_ms, results)) return kExitFailed;
  kc::sort_by_rtt(results);
  std::cout << (a.json ? kc::ping_results_to_json(results) : kc::ping_results_to_table(results));
  return kExitOk;
#else
  (void)a;
  std::cerr
      << "kaillera probe: this kaillera was built without gRPC (KF_WITH_SERVICES=OFF), so it cannot ask "
         "a master for its list\n";
  return kExitNotImplemented;
#endif
}

// `kaillera ping HOST:PORT...`: PING each server's handshake port as a list browser does, no master needed
// (an operator checking that a relay answers, the package tests). Exit 0 when every server answered at least
// once.
int run_ping(const PingArgs& a) {
#ifdef KF_CLIENT_WITH_GRPC
  std::vector<kc::PingTarget> targets;
  for (const auto& server : a.servers) {
    const auto colon = server.rfind(':');
    std::uint32_t port = 0;
    if (colon != std::string::npos && colon > 0) {
      const std::string digits = server.substr(colon + 1);
      if (!digits.empty() && digits.size() <= 5 &&
          std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
        port = static_cast<std::uint32_t>(std::stoul(digits));
    }
    if (port == 0 || port > 65535) {
      std::cerr << "kaillera ping: '" << server << "' is not HOST:PORT (port 1..65535)\n";
      return kExitUsage;
    }
    targets.push_back({server, server.substr(0, colon), port});
  }
  if (targets.empty() || a.count < 1 || a.count > 100 || a.timeout_ms < 1 || a.timeout_ms > 60'000) {
    std::cerr << "kaillera ping: HOST:PORT (one or more), --count 1..100, --timeout-ms 1..60000\n";
    return kExitUsage;
  }
  kc::PingOptions o;
  o.count = a.count;
  o.timeout = std::chrono::milliseconds(a.timeout_ms);
  auto run = kc::ping_servers(targets, o);
  if (!run.error.empty()) {
    std::cerr << "kaillera ping: " << run.error << "\n";
    return kExitFailed;
  }
  const bool all_answered = std::all_of(run.results.begin(), run.results.end(),
                                        [](const kc::PingResult& r) { return r.answered > 0; });
  std::cout << (a.json ? kc::ping_results_to_json(run.results) : kc::ping_results_to_table(run.results));
  return all_answered ? kExitOk : kExitFailed;
#else
  (void)a;
  std::cerr << "kaillera ping: this kaillera was built without gRPC (KF_WITH_SERVICES=OFF)\n";
  return kExitNotImplemented;
#endif
}

int run_pick(PickArgs a) {
#ifdef KF_CLIENT_WITH_GRPC
  if (a.players.empty() && a.group.empty()) {
    std::cerr << "kaillera pick: name the players: --player ADDR (repeatable) or --group CODE\n";
    return kExitUsage;
  }
  if (!valid_master(a.master) || a.deadline_ms > 60'000 || a.timeout <= 0 || a.timeout > 3600 ||
      a.count < 1 || a.count > 100 || a.timeout_ms < 1 || a.timeout_ms > 60'000) {
    std::cerr << "kaillera pick: --master HOST:PORT, --deadline-ms 0..60000, --timeout 0..3600 seconds, "
                 "--count 1..100, --timeout-ms 1..60000\n";
    return kExitUsage;
  }
  if (!a.objective.empty() && !kc::objective_number(a.objective)) {
    std::cerr << "kaillera pick: --objective hops, latency or balanced (got \"" << a.objective << "\")\n";
    return kExitUsage;
  }
  kc::PickQuery q;
  q.players = a.players;
  q.group = a.group;
  q.objective = a.objective;
  q.deadline_ms = a.deadline_ms;
  if (!a.self.empty()) {
    const auto ip = kaillera::net::parse_ipv4(a.self);
    if (!ip) {
      std::cerr << "kaillera pick: --self takes your IPv4 address as the master sees it (got \"" << a.self
                << "\")\n";
      return kExitUsage;
    }
    const std::string self = kaillera::net::ip_to_string(*ip);
    const bool listed = std::any_of(q.players.begin(), q.players.end(), [&](const std::string& p) {
      const auto pip = kaillera::net::parse_ipv4(p);
      return pip && *pip == *ip;
    });
    if (!listed) q.players.push_back(self);
    std::vector<kc::PingResult> results;
    if (!probe_listed("pick", a.master, a.count, a.timeout_ms, results)) return kExitFailed;
    std::size_t answered = 0;
    for (const auto& r : results) {
      if (r.answered == 0) continue;  // no answer says nothing the master could use
      ++answered;
      kc::OwnMeasurement m;
      m.player = self;
      m.host = r.host;
      m.port = r.port;
      m.hops = r.hops;
      m.rtt_ms = r.rtt_ms ? kc::rtt_for_master(*r.rtt_ms) : 0;
      q.own.push_back(std::move(m));
    }
    if (!a.json) {
      std::cout << "Own measurements from " << self << ": " << answered << " of " << results.size()
                << " listed servers answered PING\n";
    }
  }
  // The master may wait up to the deadline for probes (its default is 3 s): never give up before it does.
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(a.timeout * 1000)) +
                       std::chrono::milliseconds(a.deadline_ms);
  const auto r = kc::pick_relay(a.master, q, timeout);
  if (!r.ok) {
    std::cerr << "kaillera pick: " << (r.invalid_argument ? "the master refused the request: " : "")
              << r.error << "\n";
    return r.invalid_argument ? kExitRefused : kExitFailed;
  }
  std::cout << (a.json ? r.json : r.table);
  return kExitOk;
#else
  (void)a;
  std::cerr << "kaillera pick: this kaillera was built without gRPC (KF_WITH_SERVICES=OFF), so it cannot ask "
               "a master; use a build with gRPC, or POST to the master's /api/v1/pick\n";
  return kExitNotImplemented;
#endif
}

int run_load_command(const LoadArgs& a) {
  const auto server = kc::resolve_endpoint(a.server);
  if (!server || a.games < 1 || a.games > 20000 || a.seconds <= 0 || a.bytes_per_frame < 1 ||
      a.bytes_per_frame > 64 || a.ramp < 0 || a.ramp > 1000 || a.setup_timeout <= 0) {
    std::cerr
        << "kaillera load: --server HOST:PORT, --games 1..20000, --seconds > 0, --bytes-per-frame 1..64, "
           "--ramp 0..1000, --setup-timeout > 0\n";
    return kExitUsage;
  }
  kc::LoadOptions o;
  o.server = *server;
  o.games = a.games;
  o.seconds = a.seconds;
  o.warmup_seconds = a.warmup;
  o.bytes_per_frame = a.bytes_per_frame;
  o.use_cache = a.cache;
  o.relay_pid = a.relay_pid;
  o.ramp_games_per_second = a.ramp;
  o.setup_timeout = a.setup_timeout;
  const kc::LoadResult r = kc::run_load(o);
  std::cout << (a.json ? kc::to_json(r) + "\n" : kc::to_text(r));
  return r.ok ? kExitOk : kExitFailed;
}

int run_play(const PlayArgs& a) {
  const auto server = kc::resolve_endpoint(a.server);
  if (!server) {
    std::cerr << "kaillera play: cannot resolve --server " << a.server << " (expected HOST:PORT)\n";
    return kExitUsage;
  }
  if (a.players < 1 || a.players > 255 ||
      !kaillera::proto::valid_conn_type(static_cast<std::uint8_t>(a.conn_type)) || a.bytes_per_frame < 1 ||
      a.frames < 1) {
    std::cerr << "kaillera play: --players 1..255, --conn-type 1..6, --bytes-per-frame >= 1, --frames >= 1\n";
    return kExitUsage;
  }

  std::vector<std::unique_ptr<kc::Player>> players;
  kc::DriverOptions dopt;
  dopt.deadline = kc::Millis(static_cast<std::int64_t>(a.timeout * 1000));
  kc::UdpDriver driver(dopt);
  for (std::uint32_t i = 1; i <= a.players; ++i) {
    kc::PlayerOptions o;
    o.session.server = *server;
    o.session.name = a.name_prefix + std::to_string(i);
    o.session.emulator = std::string("Kaillera Federation ") + KF_VERSION;
    o.session.conn_type = static_cast<std::uint8_t>(a.conn_type);
    o.session.use_cache = !a.no_cache;
    o.role = i == 1 ? kc::PlayerOptions::Role::kCreate : kc::PlayerOptions::Role::kJoinByName;
    o.game = a.game;
    o.players = a.players;
    o.frames = a.frames;
    o.bytes_per_frame = a.bytes_per_frame;
    o.repeat_period = a.repeat;
    o.fps = a.fps;
    o.room_wait = dopt.deadline;
    players.push_back(std::make_unique<kc::Player>(o));
    if (auto err = driver.add(*players.back()); !err.empty()) {
      std::cerr << "kaillera play: " << err << "\n";
      return kExitFailed;
    }
  }
  const auto run = driver.run();

  const std::uint32_t frames = (a.frames + a.conn_type - 1) / a.conn_type * a.conn_type;
  bool ok = !run.timed_out;
  nlohmann::json out;
  out["server"] = kaillera::net::to_string(*server);
  out["frames"] = frames;
  out["conn_type"] = a.conn_type;
  out["bytes_per_frame"] = a.bytes_per_frame;
  out["timed_out"] = run.timed_out;
  out["seconds"] = run.seconds;
  out["players"] = nlohmann::json::array();
  for (const auto& p : players) {
    const auto r = p->result();
    ok = ok && r.completed && r.mismatches == 0 && r.frames_verified == frames;
    nlohmann::json j;
    j["name"] = r.name;
    j["player_number"] = r.player_number;
    j["num_players"] = r.num_players;
    j["game_id"] = r.game_id;
    j["delay"] = r.delay;
    j["frames_sent"] = r.frames_sent;
    j["frames_received"] = r.frames_received;
    j["frames_verified"] = r.frames_verified;
    j["mismatches"] = r.mismatches;
    j["blocks_skipped"] = r.blocks_skipped;
    j["cache_hits_sent"] = r.cache_hits_sent;
    j["cache_hits_received"] = r.cache_hits_received;
    j["resends"] = r.resends;
    j["lost_messages"] = r.lost_messages;
    j["play_seconds"] = r.play_seconds;
    j["completed"] = r.completed;
    j["phase"] = r.phase;
    j["errors"] = r.errors;
    out["players"].push_back(std::move(j));
  }
  out["ok"] = ok;

  if (a.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("kaillera play: %u players, %u frames, conn type %d (%s), %u bytes/frame, server %s\n",
                a.players, frames, a.conn_type,
                std::string(kaillera::proto::conn_type_name(static_cast<std::uint8_t>(a.conn_type))).c_str(),
                a.bytes_per_frame, kaillera::net::to_string(*server).c_str());
    for (const auto& j : out["players"]) {
      const unsigned number = j["player_number"].get<unsigned>();
      std::printf(
          "  player %s %s: frames verified %llu/%u, mismatches %llu, delay %u%s\n",
          number != 0 ? std::to_string(number).c_str() : "-", j["name"].get<std::string>().c_str(),
          j["frames_verified"].get<unsigned long long>(), frames, j["mismatches"].get<unsigned long long>(),
          j["delay"].get<unsigned>(),
          j["completed"].get<bool>() ? "" : (" (incomplete, " + j["phase"].get<std::string>() + ")").c_str());
      for (const auto& e : j["errors"])
        std::printf("    error: %s\n", e.get<std::string>().c_str());
    }
    std::printf("result: %s (%.2f s)\n", ok ? "ok" : (run.timed_out ? "timeout" : "FAILED"), run.seconds);
  }
  if (run.timed_out) return kExitTimeout;
  return ok ? kExitOk : kExitFailed;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kaillera: the Kaillera Federation client tool"};
  app.set_version_flag("--version", kaillera::build_info::version_line("kaillera"));
  app.require_subcommand(1);

  PlayArgs play;
  auto* cmd_play =
      app.add_subcommand("play", "run scripted players in one game through a relay, checking every frame");
  cmd_play->add_option("--server", play.server, "the relay's handshake address HOST:PORT")
      ->capture_default_str();
  cmd_play->add_option("--players", play.players, "players in the game (player 1 creates and starts)")
      ->capture_default_str();
  cmd_play->add_option("--frames", play.frames, "frames each player plays")->capture_default_str();
  cmd_play->add_option("--conn-type", play.conn_type, "connection type 1 (LAN) .. 6 (Bad): frames per packet")
      ->capture_default_str();
  cmd_play->add_option("--game", play.game, "the game (rom) name")->capture_default_str();
  cmd_play->add_option("--bytes-per-frame", play.bytes_per_frame, "input bytes per frame")
      ->capture_default_str();
  cmd_play->add_option("--timeout", play.timeout, "seconds before giving up")->capture_default_str();
  cmd_play->add_option("--fps", play.fps, "frames per second per player; 0 = as fast as lock-step allows")
      ->capture_default_str();
  cmd_play
      ->add_option("--repeat", play.repeat,
                   "inputs repeat every N frames (exercises the 0x13 cache); 0 = never")
      ->capture_default_str();
  cmd_play->add_flag("--no-cache", play.no_cache, "never send 0x13 (as n02 does)");
  cmd_play->add_option("--name-prefix", play.name_prefix, "user names are PREFIX1..PREFIXN")
      ->capture_default_str();
  cmd_play->add_flag("--json", play.json, "print the summary as JSON");

  LoadArgs load;
  auto* cmd_load = app.add_subcommand(
      "load", "drive many 2-player LAN games at 60 inputs/s per player; report latency and relay CPU");
  cmd_load->add_option("--server", load.server, "the relay's handshake address HOST:PORT")
      ->capture_default_str();
  cmd_load->add_option("--games", load.games, "concurrent 2-player games")->capture_default_str();
  cmd_load->add_option("--seconds", load.seconds, "measured seconds of play")->capture_default_str();
  cmd_load->add_option("--warmup", load.warmup, "seconds played before measuring")->capture_default_str();
  cmd_load->add_option("--bytes-per-frame", load.bytes_per_frame, "input bytes per frame")
      ->capture_default_str();
  cmd_load->add_option("--relay-pid", load.relay_pid, "read this process's CPU time from /proc");
  cmd_load
      ->add_option("--ramp", load.ramp,
                   "open a new game every 1/N s, each starting when full and playing to the end, instead of "
                   "all at once (measures every frame of the games the relay admits)")
      ->capture_default_str();
  cmd_load
      ->add_option("--setup-timeout", load.setup_timeout,
                   "seconds a game may take to start or be refused before it counts as failed")
      ->capture_default_str();
  cmd_load->add_flag("--cache", load.cache,
                     "send 0x13 for repeated inputs (SupraClient) instead of always 0x12");
  cmd_load->add_flag("--json", load.json, "print the result as JSON");

  ListArgs list;
  auto* cmd_list = app.add_subcommand("list", "list the relays a master knows (gRPC Directory.ListRelays)");
  cmd_list->add_option("--master", list.master, "the master's gRPC address HOST:PORT")->capture_default_str();
  cmd_list->add_flag("--json", list.json, "print a JSON array instead of a table");
  cmd_list->add_flag("--all", list.all, "include offline relays (default: online only)");
  cmd_list->add_flag("--has-room", list.has_room, "only relays with fewer users than their maximum");
  cmd_list->add_option("--location", list.location, "only relays whose location contains TEXT (any case)");
  cmd_list->add_option("--timeout", list.timeout, "seconds to wait for the master, connecting included")
      ->capture_default_str();

  ProbeArgs probe;
  auto* cmd_probe = app.add_subcommand(
      "probe", "ping every relay the master lists (PING/PONG) and show hops and round-trip time");
  cmd_probe->add_option("--master", probe.master, "the master's gRPC address HOST:PORT")
      ->capture_default_str();
  cmd_probe->add_option("--count", probe.count, "PINGs per relay; the RTT shown is the median of the answers")
      ->capture_default_str();
  cmd_probe->add_option("--timeout-ms", probe.timeout_ms, "how long each PING waits for its PONG")
      ->capture_default_str();
  cmd_probe->add_flag("--json", probe.json, "print a JSON array instead of a table");

  PickArgs pick;
  PingArgs ping;
  auto* cmd_ping = app.add_subcommand(
      "ping", "PING relays' handshake ports yourself (PONG: hops and round-trip time); no master needed");
  cmd_ping->add_option("SERVER", ping.servers, "a relay's handshake address HOST:PORT (one or more)")
      ->required();
  cmd_ping->add_option("--count", ping.count, "PINGs per relay; the RTT shown is the median of the answers")
      ->capture_default_str();
  cmd_ping->add_option("--timeout-ms", ping.timeout_ms, "how long each PING waits for its PONG")
      ->capture_default_str();
  cmd_ping->add_flag("--json", ping.json, "print a JSON array instead of a table");

  auto* cmd_pick = app.add_subcommand(
      "pick", "ask the master for the fairest relay for a group of players (gRPC Directory.PickRelay)");
  cmd_pick->add_option("--master", pick.master, "the master's gRPC address HOST:PORT")->capture_default_str();
  cmd_pick->add_option("--player", pick.players, "a player's IPv4 address (repeatable, up to 8)");
  cmd_pick->add_option("--group", pick.group, "a pick group's code: its members are the players");
  cmd_pick->add_option("--objective", pick.objective, "hops, latency or balanced (default: the master's)");
  cmd_pick
      ->add_option("--deadline-ms", pick.deadline_ms,
                   "how long the master waits for relays' probes; 0 = its default (3000)")
      ->capture_default_str();
  cmd_pick->add_option("--self", pick.self,
                       "your IPv4 address: ping every listed relay first and send the results as your own "
                       "measurements (you join the players)");
  cmd_pick->add_option("--count", pick.count, "with --self: PINGs per relay")->capture_default_str();
  cmd_pick->add_option("--timeout-ms", pick.timeout_ms, "with --self: how long each PING waits")
      ->capture_default_str();
  cmd_pick->add_option("--timeout", pick.timeout, "seconds to wait for the master beyond --deadline-ms")
      ->capture_default_str();
  cmd_pick->add_flag("--json", pick.json, "print the answer as JSON (the shape of POST /api/v1/pick)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (cmd_play->parsed()) return run_play(play);
  if (cmd_load->parsed()) return run_load_command(load);
  if (cmd_list->parsed()) return run_list(list);
  if (cmd_probe->parsed()) return run_probe(probe);
  if (cmd_ping->parsed()) return run_ping(ping);
  if (cmd_pick->parsed()) return run_pick(pick);
  return kExitNotImplemented;
}
