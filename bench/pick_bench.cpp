// pick_bench: the fair pick's benchmark (issue 5). A real Catalog on a real SQLite file with --relays token
// relays, each having reported hop counts and RTTs for the --players players, then:
//
//   1. in-process: Picker::pick() with every pair fresh (no probes), --picks times: the master's own cost;
//   2. over gRPC: Directory.PickRelay against the master's real DirectoryService on 127.0.0.1, ranking cut at
//      20, --picks times: what a client waits, serialization included;
//   3. with probes: players nobody measured, every relay asked; simulated relays answer after 1-100 ms and
//      --silent of them never do, so each pick ends at its deadline: completion time against the deadline.
//
// Prints p50/p99/max per phase. Results: docs/BENCHMARKS.md "Fair pick: PickRelay".
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <future>
#include <mutex>
#include <queue>
#include <random>
#include <thread>

#include "kaillera/directory/v1/directory.grpc.pb.h"
#include "master/catalog.hpp"
#include "master/grpc_services.hpp"
#include "master/metrics.hpp"
#include "master/pick/picker.hpp"
#include "master/store/migrations.hpp"
#include "master/tokens.hpp"

namespace {

using namespace kaillera::master;
using Clock = std::chrono::steady_clock;
namespace v1 = kaillera::directory::v1;

UnixMillis unix_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Stats {
  std::vector<double> ms;
  void add(Clock::duration d) { ms.push_back(std::chrono::duration<double, std::milli>(d).count()); }
  double pct(double p) {
    if (ms.empty()) return 0;
    std::sort(ms.begin(), ms.end());
    return ms[std::min(ms.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(ms.size())))];
  }
  void print(const char* what) {
    std::printf("%-34s n=%-6zu p50 %8.3f ms   p99 %8.3f ms   max %8.3f ms\n", what, ms.size(), pct(50),
                pct(99), ms.empty() ? 0.0 : *std::max_element(ms.begin(), ms.end()));
  }
};

std::string player(int i) {
  return "203.0." + std::to_string(113 + i / 250) + "." + std::to_string(1 + i % 250);
}

}  // namespace

int main(int argc, char** argv) {
  int relays = 1000, players = 4, picks = 2000, probe_picks = 20, silent = 10;
  UnixMillis deadline_ms = 500;
  CLI::App app{"pick_bench: the fair pick's cost over many relays"};
  app.add_option("--relays", relays)->capture_default_str();
  app.add_option("--players", players)->capture_default_str();
  app.add_option("--picks", picks)->capture_default_str();
  app.add_option("--probe-picks", probe_picks, "picks that need probes")->capture_default_str();
  app.add_option("--silent", silent, "relays that never answer probes")->capture_default_str();
  app.add_option("--deadline-ms", deadline_ms, "deadline of the picks that need probes")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const auto dir = std::filesystem::temp_directory_path() / ("kf-pick-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  int rc = 0;
  {
    store::Db db(dir / "m.db");
    store::migrate(db, store::embedded_migrations(), unix_now());
    store::Store st(db);
    CatalogSettings cs;
    cs.report_interval_ms = 3'600'000;  // nobody goes offline during the run
    Catalog catalog(st, cs, unix_now());

    std::mt19937_64 rng(42);
    std::vector<std::int64_t> ids;
    const auto t_setup = Clock::now();
    for (int r = 0; r < relays; ++r) {
      const std::string token = new_token();
      st.add_token_relay("relay-" + std::to_string(r), sha256(token), unix_now());
      RegisterInput in;
      in.token = token;
      in.observed_ip = "127.0.0.1";
      in.info.name = "Relay " + std::to_string(r);
      in.info.charset = "windows-1252";
      in.info.public_host = "10." + std::to_string(r / 250) + "." + std::to_string(r % 250) + ".1";
      in.info.handshake_port = 27888;
      in.info.game_port_first = in.info.game_port_last = 27889;
      in.info.max_users = 64;
      const auto reg = catalog.register_relay(in, unix_now());
      if (!reg.status.ok()) {
        std::fprintf(stderr, "register: %s\n", reg.status.message.c_str());
        return 1;
      }
      ReportInput rep;
      rep.users = static_cast<std::int64_t>(rng() % 64);
      for (int p = 0; p < players; ++p) {
        store::MeasurementRow m;
        m.player_address = player(p);
        m.hops = static_cast<std::int64_t>(1 + rng() % 25);
        m.rtt_ms = static_cast<std::int64_t>(5 + rng() % 250);
        m.source = 4;
        m.measured_unix_ms = unix_now();
        rep.measurements.push_back(m);
      }
      catalog.apply_report(reg.relay_id, rep, unix_now());
      ids.push_back(reg.relay_id);
    }
    std::printf("setup: %d relays with %d measured players each in %.1f s\n", relays, players,
                std::chrono::duration<double>(Clock::now() - t_setup).count());

    // Simulated relays answering probes: a timer thread delivers each answer after 1-100 ms.
    struct Answer {
      Clock::time_point at;
      std::int64_t relay;
      std::string rid;
      std::vector<std::string> addresses;
      bool operator>(const Answer& o) const { return at > o.at; }
    };
    std::mutex mu;
    std::condition_variable cv;
    std::priority_queue<Answer, std::vector<Answer>, std::greater<>> answers;
    bool stop = false;
    pick::Picker* picker_ptr = nullptr;
    std::thread answerer([&] {
      std::unique_lock lock(mu);
      while (!stop) {
        if (answers.empty()) {
          cv.wait(lock);
          continue;
        }
        if (Clock::now() < answers.top().at) {
          cv.wait_until(lock, answers.top().at);
          continue;
        }
        Answer a = answers.top();
        answers.pop();
        lock.unlock();
        std::vector<store::MeasurementRow> rows;
        for (const auto& addr : a.addresses) {
          store::MeasurementRow m;
          m.player_address = addr;
          m.hops = 7;
          m.rtt_ms = 50;
          m.source = 5;
          m.measured_unix_ms = unix_now();
          rows.push_back(m);
        }
        catalog.add_measurements(a.relay, rows, unix_now());
        picker_ptr->on_probe_result(a.relay, a.rid, rows.size());
        lock.lock();
      }
    });
    std::uniform_int_distribution<int> delay(1, 100);
    pick::PickerSettings ps;
    pick::Picker picker(
        catalog, ps, unix_now,
        [&](std::int64_t relay, const std::string& rid, const std::vector<std::string>& addresses,
            std::uint32_t) {
          if (relay < ids[0] + silent) return true;  // asked, but never answers
          std::lock_guard lock(mu);
          answers.push({Clock::now() + std::chrono::milliseconds(delay(rng)), relay, rid, addresses});
          cv.notify_all();
          return true;
        });
    picker_ptr = &picker;

    std::vector<std::string> measured;
    for (int p = 0; p < players; ++p)
      measured.push_back(player(p));

    // 1. In-process.
    Stats local;
    for (int i = 0; i < picks; ++i) {
      pick::PickInput in;
      in.players = measured;
      const auto t0 = Clock::now();
      std::size_t got = 0;
      picker.pick(in, [&](pick::PickOutput out) { got = out.ranking.size(); });
      local.add(Clock::now() - t0);
      if (got == 0) {
        std::fprintf(stderr, "no ranking\n");
        rc = 1;
        break;
      }
    }
    local.print("in-process pick (fresh pairs)");

    // 2. Over gRPC.
    MasterCounters counters;
    DirectoryService directory(catalog, counters, unix_now, &picker);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&directory);
    auto server = builder.BuildAndStart();
    auto stub = v1::Directory::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
    Stats remote;
    std::size_t bytes = 0;
    for (int i = 0; i < picks; ++i) {
      v1::PickRequest req;
      for (const auto& p : measured)
        req.add_players(p);
      v1::PickResponse resp;
      grpc::ClientContext ctx;
      const auto t0 = Clock::now();
      const auto s = stub->PickRelay(&ctx, req, &resp);
      remote.add(Clock::now() - t0);
      if (!s.ok() || !resp.has_best()) {
        std::fprintf(stderr, "PickRelay: %s\n", s.error_message().c_str());
        rc = 1;
        break;
      }
      bytes = resp.ByteSizeLong();
    }
    remote.print("gRPC PickRelay (fresh pairs)");
    std::printf("  answer size %zu bytes (ranking cut at 20)\n", bytes);

    // 3. With probes: unmeasured players, every relay asked; `silent` relays never answer.
    Stats probed;
    std::uint32_t asked = 0, answered = 0;
    for (int i = 0; i < probe_picks; ++i) {
      pick::PickInput in;
      for (int p = 0; p < players; ++p)
        in.players.push_back(player(1000 + i * players + p));
      in.deadline_ms = deadline_ms;
      std::promise<pick::PickOutput> done;
      auto f = done.get_future();
      const auto t0 = Clock::now();
      picker.pick(in, [&](pick::PickOutput out) { done.set_value(std::move(out)); });
      const auto out = f.get();
      probed.add(Clock::now() - t0);
      asked += out.probes_requested;
      answered += out.probes_answered;
    }
    char label[96];
    std::snprintf(label, sizeof label, "pick with probes (deadline %lld ms)",
                  static_cast<long long>(deadline_ms));
    probed.print(label);
    std::printf("  probes: %u pairs asked, %u answered (%d relays silent)\n", asked, answered, silent);

    server->Shutdown();
    picker.stop();
    {
      std::lock_guard lock(mu);
      stop = true;
    }
    cv.notify_all();
    answerer.join();
  }
  std::filesystem::remove_all(dir);
  return rc;
}
