#include "client/load.hpp"

#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/kaillera/bundle.hpp"
#include "common/kaillera/game_cache.hpp"
#include "common/kaillera/handshake.hpp"
#include "common/net/udp_socket.hpp"

namespace kaillera::client {
namespace {

namespace p = kaillera::proto;
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
constexpr auto kFrame = std::chrono::nanoseconds(16'666'667);
constexpr std::size_t kRing = 1024;  // frames remembered per game (send times, inputs)

enum class Phase : std::uint8_t { kHello, kLogin, kLobby, kRoom, kReady, kPlaying, kGone };
enum class Outcome : std::uint8_t { kPending, kStarted, kRefused, kFailed };

struct Game;

struct Player {
  int index = 0;  // 0 = owner, 1 = guest
  Game* game = nullptr;
  std::string name;
  net::UdpSocket socket;
  net::Endpoint game_endpoint;
  Phase phase = Phase::kHello;
  bool said_hello = false;  // counted in logging_in_ until its UserJoined or its game's end
  p::Outbox tx{16, 1400};
  p::ReceiveWindow rx;
  p::GameDataCache in_cache, out_cache;
  std::array<std::uint8_t, 1400> buf{};
  TimePoint last_progress{};
  std::uint16_t user_id = 0;
  std::uint64_t next_block = 0;  // next block expected
};

struct Game {
  int id_index = 0;
  std::uint32_t game_id = 0;  // as the relay numbered it
  std::array<Player, 2> players;
  std::chrono::nanoseconds phase{0};                // offset of this game's frame clock, to spread the load
  std::array<std::int64_t, kRing> input_time[2]{};  // CLOCK_REALTIME ns just before the input's sendto
  Outcome outcome = Outcome::kPending;
  bool both_in = false;
  bool start_sent = false;
  TimePoint opened{};             // when its players said HELLO (the set-up timeout counts from here)
  std::uint64_t first_frame = 0;  // the global frame of its first input: its block k is frame first_frame + k
};

std::int64_t realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::uint8_t input_byte(int player, std::uint64_t frame) {
  // A small alphabet of button states, different per player: realistic for the caches. Never 0, so an input
  // the relay played as zeros (a lost one filled in) is a wrong block, never a lucky match.
  return static_cast<std::uint8_t>(((frame * 2654435761u) >> 7) % 6 + 1 + 16 * player);
}

struct Histogram {
  // 1 µs buckets up to 100 ms, then one overflow bucket.
  std::vector<std::uint64_t> buckets = std::vector<std::uint64_t>(100'001, 0);
  std::uint64_t count = 0;
  double max = 0;
  void add(double us) {
    ++count;
    max = std::max(max, us);
    const auto b = static_cast<std::size_t>(std::clamp(us, 0.0, 100'000.0));
    ++buckets[b];
  }
  double quantile(double q) const {
    if (count == 0) return 0;
    const auto want = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      seen += buckets[i];
      if (seen >= want) return static_cast<double>(i);
    }
    return max;
  }
};

// A process's CPU time so far, in user space and in the kernel on its behalf (system calls, the UDP path).
struct CpuTime {
  double user = -1, sys = -1;
};

CpuTime cpu_seconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return {};
  const auto close = line.rfind(')');
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  const auto tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return {static_cast<double>(utime) / tick, static_cast<double>(stime) / tick};
}

class Runner {
 public:
  explicit Runner(const LoadOptions& o) : o_(o), games_(o.games), ramp_(o.ramp_games_per_second > 0) {}

  LoadResult run() {
    LoadResult r;
    r.games = o_.games;
    r.ramp = ramp_;
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) return fail(r, "epoll_create1 failed");
    std::uint32_t n = 0;
    for (std::size_t g = 0; g < games_.size(); ++g) {
      Game& game = games_[g];
      game.id_index = static_cast<int>(g);
      game.phase = std::chrono::nanoseconds(kFrame.count() * static_cast<long long>(g) /
                                            static_cast<long long>(games_.size()));
      for (int i = 0; i < 2; ++i) {
        Player& pl = game.players[i];
        pl.index = i;
        pl.game = &game;
        pl.name = "load" + std::to_string(g) + (i == 0 ? "a" : "b");
        // Each player its own loopback address: per-IP limits of the relay see ordinary players.
        const std::uint32_t ip = (127u << 24) | (1u << 16) | ((n / 250) << 8) | (n % 250 + 1);
        ++n;
        if (auto err = pl.socket.open({ip, 0}, 8, 2048); !err.empty()) return fail(r, err);
        pl.socket.enable_timestamps();
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = &pl;
        ::epoll_ctl(epoll_, EPOLL_CTL_ADD, pl.socket.fd(), &ev);
      }
    }
    if (ramp_) {
      play_ramp();
    } else if (!set_up_all(r)) {
      return r;
    }
    // Players leave as clients do when closed, so that the relay is empty for the next run.
    for (auto& g : games_)
      leave(g);
    ::close(epoll_);
    epoll_ = -1;

    r.games_started = static_cast<std::uint32_t>(started_);
    r.refused = refused_;
    r.first_refusal = first_refusal_;
    r.games_failed = static_cast<std::uint32_t>(failed_);
    r.seconds = std::chrono::duration<double>(measure_to_ - measure_from_).count();
    r.inputs_sent = inputs_sent_;
    r.blocks_received = hist_.count;
    r.blocks_expected = frames_both_sent_ * 2;
    r.on_time = on_time_;
    r.mismatches = mismatches_;
    r.lost_for_good = lost_;
    r.p50_us = hist_.quantile(0.50);
    r.p90_us = hist_.quantile(0.90);
    r.p99_us = hist_.quantile(0.99);
    r.p999_us = hist_.quantile(0.999);
    r.max_us = hist_.max;
    if (cpu0_.user >= 0 && cpu1_.user >= 0) {
      const double user = cpu1_.user - cpu0_.user, sys = cpu1_.sys - cpu0_.sys;
      r.relay_cpu_percent = 100.0 * (user + sys) / r.seconds;
      if (inputs_sent_ > 0) {
        const double n = static_cast<double>(inputs_sent_);
        r.relay_cpu_us_per_input = 1e6 * (user + sys) / n;
        r.relay_user_us_per_input = 1e6 * user / n;
        r.relay_sys_us_per_input = 1e6 * sys / n;
      }
    }
    // Refused games are the relay's answer, not a failure; a run where every game was refused measured
    // nothing and says so in its counts.
    const bool all_refused = refused_.total() == games_.size();
    r.ok = mismatches_ == 0 && failed_ == 0 && (r.blocks_expected > 0 || all_refused);
    if (!r.ok && r.error.empty()) {
      r.error = mismatches_ ? "blocks with wrong contents"
                : failed_   ? std::to_string(failed_) + " games neither started nor were refused"
                            : "no frames measured";
    }
    return r;
  }

 private:
  static std::chrono::nanoseconds to_duration(double s) {
    return std::chrono::nanoseconds(static_cast<long long>(s * 1e9));
  }
  LoadResult& fail(LoadResult& r, std::string why) {
    r.ok = false;
    r.error = std::move(why);
    if (epoll_ >= 0) ::close(epoll_);
    epoll_ = -1;
    return r;
  }

  // All at once: every game set up (or refused), all started together, then a warm-up and the measured
  // window. False (with r's error) when the set-up timed out.
  bool set_up_all(LoadResult& r) {
    const TimePoint now0 = Clock::now();
    for (auto& g : games_)
      open_game(g, now0);
    const TimePoint setup_deadline = now0 + to_duration(o_.setup_timeout);
    while (started_ + refused_.total() < games_.size()) {
      hello_waiting();
      if (Clock::now() > setup_deadline) {
        std::array<std::size_t, 7> phases{};
        for (auto& g : games_) {
          if (g.outcome != Outcome::kPending) continue;
          ++failed_;
          for (auto& pl : g.players)
            ++phases[static_cast<std::size_t>(pl.phase)];
        }
        r.games_started = static_cast<std::uint32_t>(started_);
        r.refused = refused_;
        r.games_failed = static_cast<std::uint32_t>(failed_);
        fail(r, "set-up timed out: " + std::to_string(started_) + " of " + std::to_string(games_.size()) +
                    " games started, " + std::to_string(refused_.total()) +
                    " refused; players of the others in hello/login/lobby/room/ready/playing: " +
                    std::to_string(phases[0]) + "/" + std::to_string(phases[1]) + "/" +
                    std::to_string(phases[2]) + "/" + std::to_string(phases[3]) + "/" +
                    std::to_string(phases[4]) + "/" + std::to_string(phases[5]));
        return false;
      }
      poll_once(1);
      retry_stalled(Clock::now());
    }

    // Play: warm-up, then the measured window.
    base_ = Clock::now() + std::chrono::milliseconds(20);
    measure_from_ = base_ + to_duration(o_.warmup_seconds);
    measure_to_ = measure_from_ + to_duration(o_.seconds);
    play_until(measure_to_ + std::chrono::milliseconds(200), [](TimePoint) {});  // let the last blocks arrive
    return true;
  }

  // A ramp: game i opens at base + i / rate; each starts when its room is full and plays to the end. Every
  // frame of an admitted game counts; the window ends `seconds` after the last game opened.
  void play_ramp() {
    base_ = Clock::now() + std::chrono::milliseconds(20);
    measure_from_ = base_;
    const auto every = to_duration(1.0 / o_.ramp_games_per_second);
    measure_to_ = base_ + every * static_cast<long long>(games_.size()) + to_duration(o_.seconds);
    const auto setup_timeout = to_duration(o_.setup_timeout);
    std::size_t next_open = 0;
    play_until(measure_to_ + std::chrono::milliseconds(200), [&](TimePoint now) {
      while (next_open < games_.size() && base_ + every * static_cast<long long>(next_open) <= now &&
             now < measure_to_) {
        open_game(games_[next_open++], now);
      }
      hello_waiting();
      retry_stalled(now);
      if (now - last_timeout_scan_ < std::chrono::milliseconds(250)) return;
      last_timeout_scan_ = now;
      for (std::size_t i = 0; i < next_open; ++i) {
        Game& g = games_[i];
        if (g.outcome == Outcome::kPending && now - g.opened > setup_timeout) {
          g.outcome = Outcome::kFailed;
          ++failed_;
          leave(g);
        }
      }
    });
    // Games still setting up when the window closed neither started nor failed: the run ended first.
    for (auto& g : games_) {
      if (g.outcome == Outcome::kPending && g.opened != TimePoint{}) {
        g.outcome = Outcome::kFailed;
        ++failed_;
      }
    }
  }

  // Sends go round-robin through (frame, game, player): game g's frame f is due at base + f*frame +
  // phase(g); a game sends from its first frame on. `each` runs every round (set-up work of a ramp).
  template <class Each>
  void play_until(TimePoint end, Each each) {
    bool cpu_started = false, cpu_done = false;
    std::size_t next_game = 0;
    while (true) {
      const TimePoint now = Clock::now();
      if (!cpu_started && now >= measure_from_) {
        cpu_started = true;
        if (o_.relay_pid) cpu0_ = cpu_seconds(o_.relay_pid);
      }
      if (!cpu_done && now >= measure_to_) {
        cpu_done = true;
        if (o_.relay_pid) cpu1_ = cpu_seconds(o_.relay_pid);
      }
      if (now >= end) break;
      each(now);
      // Everything due.
      while (true) {
        const TimePoint due = base_ + frame_ * kFrame + games_[next_game].phase;
        if (due > now || due >= measure_to_) break;
        Game& g = games_[next_game];
        if (g.outcome == Outcome::kStarted && frame_ >= g.first_frame) {
          for (auto& pl : g.players)
            send_input(pl, frame_, due);
        }
        if (++next_game == games_.size()) {
          next_game = 0;
          ++frame_;
        }
      }
      const TimePoint next_due = base_ + frame_ * kFrame + games_[next_game].phase;
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_due - Clock::now());
      poll_once(static_cast<int>(std::clamp<long long>(wait.count(), 0, ramp_ ? 1 : 5)));
    }
  }

  void open_game(Game& g, TimePoint now) {
    g.opened = now;
    for (auto& pl : g.players)
      waiting_.push_back(&pl);
  }

  // Logins are ramped: at most kLoggingIn players between HELLO and their own UserJoined at once, as
  // players arrive over time on a real server (each login sends every user a UserJoined).
  void hello_waiting() {
    while (logging_in_ < kLoggingIn && next_waiting_ < waiting_.size()) {
      Player& pl = *waiting_[next_waiting_++];
      if (pl.phase != Phase::kHello) continue;  // its game was refused meanwhile
      ++logging_in_;
      pl.said_hello = true;
      hello(pl, Clock::now());
    }
  }

  void done_logging_in(Player& pl) {
    if (!pl.said_hello) return;
    pl.said_hello = false;
    --logging_in_;
  }

  // The relay refused the game: count it where, and its players leave (a logged-in one says so, as a client
  // closing does; one still logging in just stops).
  void refuse(Game& g, std::uint32_t Refusals::*where, std::string_view reason) {
    if (g.outcome != Outcome::kPending) return;
    g.outcome = Outcome::kRefused;
    ++(refused_.*where);
    if (first_refusal_.empty()) first_refusal_ = std::string(reason);
    leave(g);
    if (!ramp_) maybe_start_all();
  }

  void leave(Game& g) {
    for (auto& pl : g.players) {
      done_logging_in(pl);
      if (pl.phase != Phase::kHello && pl.phase != Phase::kLogin && pl.phase != Phase::kGone)
        send(pl, p::UserQuit{"", 0xFFFF, "load: leaving"});
      pl.phase = Phase::kGone;
    }
  }

  // All at once: the starts go out together once every game is full or refused, so that an early game does
  // not wait for the others with no data flowing (the relay's data deadline would drop its players).
  void maybe_start_all() {
    if (all_started_ || rooms_full_ + refused_.total() < games_.size()) return;
    all_started_ = true;
    for (auto& g : games_) {
      if (g.outcome == Outcome::kPending && g.both_in) start(g);
    }
  }

  void start(Game& g) {
    g.start_sent = true;
    send(g.players[0], p::StartGame{});
  }

  void hello(Player& pl, TimePoint now) {
    std::array<std::uint8_t, 16> h{};
    auto n = p::write_hello(h);
    pl.socket.send_to(o_.server, std::span<const std::uint8_t>(h.data(), *n));
    pl.last_progress = now;
  }

  template <class T>
  void send(Player& pl, const T& m) {
    pl.tx.push(m);
    const auto len = pl.tx.write_next(pl.buf, 3);
    if (len) pl.socket.send_to(pl.game_endpoint, std::span<const std::uint8_t>(pl.buf.data(), len));
  }

  void retry_stalled(TimePoint now) {
    if (now - last_retry_scan_ < std::chrono::milliseconds(250)) return;
    last_retry_scan_ = now;
    for (auto& g : games_) {
      for (auto& pl : g.players) {
        if (pl.phase == Phase::kPlaying || pl.phase == Phase::kGone || pl.last_progress == TimePoint{} ||
            now - pl.last_progress < std::chrono::milliseconds(1000)) {
          continue;
        }
        pl.last_progress = now;
        if (pl.phase == Phase::kHello) {
          hello(pl, now);
        } else {
          const auto len = pl.tx.write_resend(pl.buf, 5);  // the relay answers a duplicate with a resend
          if (len) pl.socket.send_to(pl.game_endpoint, std::span<const std::uint8_t>(pl.buf.data(), len));
        }
      }
    }
  }

  void send_input(Player& pl, std::uint64_t frame, TimePoint due) {
    if (pl.phase != Phase::kPlaying) return;
    Game& g = *pl.game;
    const std::uint64_t local = frame - g.first_frame;
    std::uint8_t in[64];
    const std::uint32_t bpf = std::min<std::uint32_t>(o_.bytes_per_frame, 64);
    for (std::uint32_t i = 0; i < bpf; ++i)
      in[i] = static_cast<std::uint8_t>(input_byte(pl.index, local) + i);
    const p::Bytes data(in, bpf);
    g.input_time[pl.index][frame % kRing] = realtime_ns();
    if (o_.use_cache) {
      const auto d = p::cache_for_send(pl.out_cache, data);
      if (d.cached) {
        send(pl, p::CachedGameData{"", d.index});
      } else {
        send(pl, p::GameData{"", data});
      }
    } else {
      send(pl, p::GameData{"", data});
    }
    if (due >= measure_from_ && due < measure_to_) {
      ++inputs_sent_;
      if (pl.index == 1) ++frames_both_sent_;
    }
  }

  void poll_once(int timeout_ms) {
    std::array<epoll_event, 256> events;
    const int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), timeout_ms);
    for (int i = 0; i < n; ++i) {
      auto* pl = static_cast<Player*>(events[static_cast<std::size_t>(i)].data.ptr);
      for (int rounds = 0; rounds < 4; ++rounds) {
        auto batch = pl->socket.receive_batch();
        if (batch.empty()) break;
        const TimePoint now = Clock::now();
        for (const auto& d : batch) {
          rx_ns_ = d.rx_time_ns ? d.rx_time_ns : realtime_ns();
          on_datagram(*pl, d.from, d.data, now);
        }
      }
    }
  }

  void on_datagram(Player& pl, const net::Endpoint& from, std::span<const std::uint8_t> data, TimePoint now) {
    if (pl.phase == Phase::kGone) return;
    if (pl.phase == Phase::kHello) {
      auto h = p::parse_handshake(data);
      if (!h) return;
      if (h->kind == p::HandshakeKind::kToo) {
        refuse(*pl.game, &Refusals::hello, "TOO");
        return;
      }
      if (h->kind != p::HandshakeKind::kHelloD00D) return;
      pl.game_endpoint = {from.ip, h->port};
      pl.phase = Phase::kLogin;
      pl.last_progress = now;
      send(pl, p::UserInformation{pl.name, "Kaillera Federation load", 1});
      return;
    }
    auto b = p::parse_bundle(data);
    if (!b) return;
    auto a = pl.rx.accept(*b);
    lost_ += a.lost;
    for (std::size_t i = 0; i < a.count && pl.phase != Phase::kGone; ++i) {
      const auto& raw = b->messages[a.order[i]];
      on_message(pl, raw, now);
    }
  }

  void on_message(Player& pl, const p::RawMessage& raw, TimePoint now) {
    using T = p::MessageType;
    const auto t = static_cast<T>(raw.type);
    if (pl.phase == Phase::kPlaying) {
      if (t == T::kGameData) {
        auto m = p::decode_as<p::GameData>(raw.body);
        if (!m) return;
        pl.in_cache.append(m->data);
        on_block(pl, m->data, now);
      } else if (t == T::kCachedGameData) {
        auto m = p::decode_as<p::CachedGameData>(raw.body);
        if (!m) return;
        auto e = pl.in_cache.at(m->index);
        if (!e) {
          ++mismatches_;
          return;
        }
        on_block(pl, *e, now);
      }
      return;
    }
    pl.last_progress = now;
    Game& g = *pl.game;
    switch (t) {
      case T::kServerAck:
        send(pl, p::ClientAck{});
        break;
      case T::kConnectionRejected:
        if (pl.phase == Phase::kLogin) {
          auto m = p::decode_as<p::ConnectionRejected>(raw.body);
          refuse(g, &Refusals::login, m ? m->message : std::string_view("ConnectionRejected"));
        }
        break;
      case T::kGameChat: {
        // A refused start comes back as a room line from "Error" (what every client shows in the room).
        auto m = p::decode_as<p::GameChat>(raw.body);
        if (m && m->user == "Error" && pl.index == 0 && g.start_sent && pl.phase == Phase::kRoom)
          refuse(g, &Refusals::start, m->message);
        break;
      }
      case T::kUserJoined: {
        auto m = p::decode_as<p::UserJoined>(raw.body);
        if (m && m->user == pl.name && pl.phase == Phase::kLogin) {
          pl.user_id = m->user_id;
          pl.phase = Phase::kLobby;
          done_logging_in(pl);
          if (pl.index == 0) {
            send(pl, p::CreateGame{"", "load-" + std::to_string(g.id_index), "", 0xFFFFFFFF});
          } else if (g.game_id != 0) {
            send(pl, p::JoinGame{"", g.game_id, "", 0, 0xFFFF, 1});
          }
        }
        break;
      }
      case T::kJoinGame: {
        auto m = p::decode_as<p::JoinGame>(raw.body);
        if (!m) break;
        if (pl.index == 0 && m->user == pl.name && g.game_id == 0) {
          // Our room exists: the guest may join.
          g.game_id = m->game_id;
          pl.phase = Phase::kRoom;
          Player& guest = g.players[1];
          if (guest.phase == Phase::kLobby) send(guest, p::JoinGame{"", g.game_id, "", 0, 0xFFFF, 1});
        } else if (pl.index == 0 && m->user == g.players[1].name && !g.both_in) {
          g.both_in = true;
          ++rooms_full_;
          if (ramp_) {
            start(g);
          } else {
            maybe_start_all();
          }
        } else if (pl.index == 1 && m->user == pl.name) {
          pl.phase = Phase::kRoom;
        }
        break;
      }
      case T::kStartGame:
        pl.phase = Phase::kReady;
        pl.in_cache.clear();
        pl.out_cache.clear();
        send(pl, p::AllReady{});
        break;
      case T::kAllReady:
        pl.phase = Phase::kPlaying;
        if (g.outcome == Outcome::kPending && g.players[0].phase == Phase::kPlaying &&
            g.players[1].phase == Phase::kPlaying) {
          g.outcome = Outcome::kStarted;
          // Both players send from the next frame of the round on (all at once: frame 0, before the clock).
          g.first_frame = ramp_ ? frame_ + 1 : 0;
          ++started_;
        }
        break;
      default:
        break;
    }
  }

  void on_block(Player& pl, std::span<const std::uint8_t> block, TimePoint now) {
    Game& g = *pl.game;
    const std::uint64_t k = pl.next_block++;
    const std::uint32_t bpf = std::min<std::uint32_t>(o_.bytes_per_frame, 64);
    bool good = block.size() == 2 * bpf;
    for (std::uint32_t i = 0; good && i < bpf; ++i) {
      good = block[i] == static_cast<std::uint8_t>(input_byte(0, k) + i) &&
             block[bpf + i] == static_cast<std::uint8_t>(input_byte(1, k) + i);
    }
    if (!good) ++mismatches_;
    const std::uint64_t frame = g.first_frame + k;
    const TimePoint due = base_ + frame * kFrame + g.phase;
    if (due < measure_from_ || due >= measure_to_) return;
    (void)now;
    // From the later of the frame's two inputs leaving us to the block reaching our socket (kernel time).
    const std::int64_t later = std::max(g.input_time[0][frame % kRing], g.input_time[1][frame % kRing]);
    const double us = static_cast<double>(rx_ns_ - later) / 1000.0;
    hist_.add(us);
    if (rx_ns_ - later <= kFrame.count()) ++on_time_;
  }

  LoadOptions o_;
  std::vector<Game> games_;
  bool ramp_ = false;
  int epoll_ = -1;
  std::size_t started_ = 0, failed_ = 0;
  Refusals refused_;
  std::string first_refusal_;
  std::size_t rooms_full_ = 0;
  bool all_started_ = false;
  static constexpr std::size_t kLoggingIn = 32;
  std::vector<Player*> waiting_;
  std::size_t next_waiting_ = 0, logging_in_ = 0;
  std::uint64_t frame_ = 0;  // the round of the send clock
  TimePoint base_{}, measure_from_{}, measure_to_{}, last_retry_scan_{}, last_timeout_scan_{};
  CpuTime cpu0_, cpu1_;
  std::uint64_t inputs_sent_ = 0, frames_both_sent_ = 0, on_time_ = 0, mismatches_ = 0, lost_ = 0;
  Histogram hist_;
  std::int64_t rx_ns_ = 0;  // kernel arrival time of the datagram being handled
};

}  // namespace

LoadResult run_load(const LoadOptions& options) {
  auto runner = std::make_unique<Runner>(options);
  return runner->run();
}

std::string to_json(const LoadResult& r) {
  nlohmann::json j = {
      {"ok", r.ok},
      {"error", r.error},
      {"games", r.games},
      {"games_started", r.games_started},
      {"games_refused", r.refused.total()},
      {"refused", {{"hello", r.refused.hello}, {"login", r.refused.login}, {"start", r.refused.start}}},
      {"refusal", r.first_refusal},
      {"games_failed", r.games_failed},
      {"mode", r.ramp ? "ramp" : "all_at_once"},
      {"seconds", r.seconds},
      {"inputs_sent", r.inputs_sent},
      {"blocks_expected", r.blocks_expected},
      {"blocks_received", r.blocks_received},
      {"on_time", r.on_time},
      {"on_time_percent",
       r.blocks_expected ? 100.0 * static_cast<double>(r.on_time) / static_cast<double>(r.blocks_expected)
                         : 0.0},
      {"mismatches", r.mismatches},
      {"lost_for_good", r.lost_for_good},
      {"latency_us",
       {{"p50", r.p50_us}, {"p90", r.p90_us}, {"p99", r.p99_us}, {"p999", r.p999_us}, {"max", r.max_us}}},
      {"relay_cpu_percent", r.relay_cpu_percent},
      {"relay_cpu_us_per_input", r.relay_cpu_us_per_input},
      {"relay_user_us_per_input", r.relay_user_us_per_input},
      {"relay_sys_us_per_input", r.relay_sys_us_per_input},
  };
  return j.dump(2, ' ', false,
                nlohmann::json::error_handler_t::replace);  // the reason is in the relay's charset
}

std::string to_text(const LoadResult& r) {
  char buf[1024];
  const double pct = r.blocks_expected
                         ? 100.0 * static_cast<double>(r.on_time) / static_cast<double>(r.blocks_expected)
                         : 0.0;
  std::snprintf(
      buf, sizeof buf,
      "games %u (started %u, refused %u: %u at hello, %u at login, %u at start; failed %u), %.1f s measured\n"
      "inputs sent %llu, blocks %llu of %llu, on time %.3f %%, wrong blocks %llu, lost for good %llu\n"
      "relay-added latency us: p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f\n"
      "relay CPU: %.1f %% of a core, %.2f us per input packet (user %.2f, kernel %.2f)\n",
      r.games, r.games_started, r.refused.total(), r.refused.hello, r.refused.login, r.refused.start,
      r.games_failed, r.seconds, static_cast<unsigned long long>(r.inputs_sent),
      static_cast<unsigned long long>(r.blocks_received), static_cast<unsigned long long>(r.blocks_expected),
      pct, static_cast<unsigned long long>(r.mismatches), static_cast<unsigned long long>(r.lost_for_good),
      r.p50_us, r.p90_us, r.p99_us, r.p999_us, r.max_us, r.relay_cpu_percent, r.relay_cpu_us_per_input,
      r.relay_user_us_per_input, r.relay_sys_us_per_input);
  std::string out = buf;
  if (!r.first_refusal.empty()) out += "the relay's reason: " + r.first_refusal + "\n";
  return out + (r.ok ? "" : "FAILED: " + r.error + "\n");
}

}  // namespace kaillera::client
