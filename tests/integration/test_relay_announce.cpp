// The real kaillera-relay announcing itself to public server lists (KAILLERA.md §7) over real HTTP on
// loopback: a small list server started by each test records every touch request. Checked: both request
// kinds carry their fields in order, their headers, the waiting and the started games, the relay's charset
// bytes percent-encoded, the first delay and the interval; and a list that is down, never answers or answers
// 500 disturbs neither logins nor a game, is counted in /metrics and logged once per change of state.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "client/player.hpp"
#include "client/udp_driver.hpp"
#include "tests/integration/servers.hpp"

using namespace kf_test;
namespace kc = kaillera::client;
namespace n = kaillera::net;

namespace {

// One recorded request.
struct Touch {
  Clock::time_point at;
  std::string method, target, path;
  std::vector<std::pair<std::string, std::string>> query;  // in order, values still percent-encoded
  std::map<std::string, std::string> headers;              // lower-case names

  std::vector<std::string> keys() const {
    std::vector<std::string> k;
    for (const auto& [key, value] : query)
      k.push_back(key);
    return k;
  }
  std::string param(const std::string& key) const {
    for (const auto& [k, v] : query) {
      if (k == key) return v;
    }
    return "<absent>";
  }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "<absent>" : it->second;
  }
};

Touch parse_request(const std::string& head, Clock::time_point at) {
  Touch t;
  t.at = at;
  std::istringstream in(head);
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::istringstream first(line);
  first >> t.method >> t.target;
  const auto q = t.target.find('?');
  t.path = t.target.substr(0, q);
  if (q != std::string::npos) {
    std::string_view rest = std::string_view(t.target).substr(q + 1);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      const auto eq = pair.find('=');
      t.query.emplace_back(std::string(pair.substr(0, eq)),
                           eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    }
  }
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    for (auto& c : key)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ')
      value.erase(0, 1);
    t.headers[key] = value;
  }
  return t;
}

// A list server on 127.0.0.1: records each request's line and headers, then answers 200, answers 500, or
// holds the connection open without a word (kSilent). Runs on its own thread until destroyed.
class ListServer {
 public:
  enum class Mode { kOk, kError, kSilent };

  explicit ListServer(Mode mode) : mode_(mode) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) {
      ::close(fd_);
      throw std::runtime_error("bind/listen failed");
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::jthread([this](std::stop_token st) { loop(st); });
  }
  ~ListServer() {
    thread_.request_stop();
    thread_.join();
    ::close(fd_);
  }
  ListServer(const ListServer&) = delete;
  ListServer& operator=(const ListServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void set_mode(Mode m) { mode_ = m; }

  // The requests so far whose path is `path`.
  std::vector<Touch> touches(const std::string& path) const {
    std::lock_guard lock(mu_);
    std::vector<Touch> out;
    for (const auto& t : touches_) {
      if (t.path == path) out.push_back(t);
    }
    return out;
  }
  // Waits until `count` requests to `path` arrived; returns them (fewer after the timeout).
  std::vector<Touch> wait(const std::string& path, std::size_t count,
                          std::chrono::milliseconds timeout) const {
    poll_until([&] { return touches(path).size() >= count; }, timeout, 10ms);
    return touches(path);
  }

 private:
  struct Conn {
    int fd;
    std::string in;
    bool recorded = false;
  };

  void loop(const std::stop_token& st) {
    std::vector<Conn> conns;
    while (!st.stop_requested()) {
      std::vector<pollfd> p{{fd_, POLLIN, 0}};
      for (const auto& c : conns)
        p.push_back({c.fd, POLLIN, 0});
      if (::poll(p.data(), p.size(), 20) <= 0) continue;
      std::vector<Conn> keep;
      for (std::size_t i = 0; i < conns.size(); ++i) {
        Conn& c = conns[i];
        bool open = true;
        if (p[i + 1].revents != 0) {
          char buf[4096];
          const ssize_t got = ::recv(c.fd, buf, sizeof buf, 0);
          if (got <= 0) {
            open = false;
          } else if (!c.recorded) {
            c.in.append(buf, static_cast<std::size_t>(got));
            if (c.in.find("\r\n\r\n") != std::string::npos) {
              c.recorded = true;
              {
                std::lock_guard lock(mu_);
                touches_.push_back(parse_request(c.in.substr(0, c.in.find("\r\n\r\n") + 2), Clock::now()));
              }
              open = answer(c.fd);
            }
          }
        }
        if (open) {
          keep.push_back(c);
        } else {
          ::close(c.fd);
        }
      }
      conns = std::move(keep);
      if (p[0].revents & POLLIN) {
        const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) conns.push_back({fd, {}});
      }
    }
    for (const auto& c : conns)
      ::close(c.fd);
  }

  // False when the connection is done with.
  bool answer(int fd) {
    const Mode m = mode_;
    if (m == Mode::kSilent) return true;
    const std::string body = m == Mode::kOk ? "OK\n" : "database down\n";
    const std::string res =
        std::string(m == Mode::kOk ? "HTTP/1.1 200 OK" : "HTTP/1.1 500 Internal Server Error") +
        "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n" + body;
    ::send(fd, res.data(), res.size(), MSG_NOSIGNAL);
    return false;
  }

  std::atomic<Mode> mode_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  mutable std::mutex mu_;
  std::vector<Touch> touches_;
  std::jthread thread_;
};

// A loopback port nobody listens on: bound, then closed.
std::uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

kc::PlayerOptions player(const RunningRelay& r, const std::string& name, const std::string& game, bool owner,
                         std::uint32_t frames = 240) {
  kc::PlayerOptions o;
  o.session.server = {0x7F000001, r.handshake_port};
  o.session.name = name;
  o.session.emulator = "MAME32k 0.64";
  o.role = owner ? kc::PlayerOptions::Role::kCreate : kc::PlayerOptions::Role::kJoinByName;
  o.game = game;
  o.frames = frames;
  o.fps = 120;
  return o;
}

std::string describe(const kc::PlayerResult& r) {
  std::string s = r.name + ": verified " + std::to_string(r.frames_verified) + ", mismatches " +
                  std::to_string(r.mismatches) + ", phase " + r.phase;
  for (const auto& e : r.errors)
    s += "; " + e;
  return s;
}

// Plays one two-player game through the relay; both players must finish it with every frame right.
void play_a_game(const RunningRelay& relay, const std::string& rom) {
  kc::Player a(player(relay, "alice", rom, true));
  kc::Player b(player(relay, "bob", rom, false));
  kc::DriverOptions d;
  d.deadline = kc::Millis(30000);
  kc::UdpDriver driver(d);
  ASSERT_EQ(driver.add(a), "");
  ASSERT_EQ(driver.add(b), "");
  ASSERT_FALSE(driver.run().timed_out);
  for (const auto* p : {&a, &b}) {
    const auto r = p->result();
    EXPECT_TRUE(r.completed) << describe(r);
    EXPECT_EQ(r.mismatches, 0u) << describe(r);
    EXPECT_EQ(r.frames_verified, 240u) << describe(r);
  }
}

// A player who sits in its room until told to stop.
class Stoppable final : public kc::Agent {
 public:
  Stoppable(kc::Player& p, const std::atomic<bool>& stop) : p_(p), stop_(stop) {}
  void on_datagram(const n::Endpoint& from, kc::Bytes d, kc::TimePoint now, kc::Sink& out) override {
    p_.on_datagram(from, d, now, out);
  }
  void on_tick(kc::TimePoint now, kc::Sink& out) override { p_.on_tick(now, out); }
  bool finished() const override { return stop_ || p_.finished(); }

 private:
  kc::Player& p_;
  const std::atomic<bool>& stop_;
};

std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
    ++n;
  return n;
}

std::string announce_metric(const std::string& list, const std::string& outcome) {
  return "kaillera_relay_announce_total{list=\"" + list + "\",outcome=\"" + outcome + "\"}";
}

const std::string kVersion = std::string("KF" KF_VERSION);

}  // namespace

TEST(RelayAnnounce, BothListsGetTheirFieldsHeadersWaitingAndStartedGames) {
  TempDir dir;
  ListServer list(ListServer::Mode::kOk);
  const auto config = dir / "relay.toml";
  std::ofstream(config)
      << "name = \"Test Relay\"\nlocation = \"Loopback, LAN\"\nwebsite = \"http://example.org/r\"\n"
         "public_address = \"relay.example.org\"\nmax_games = 7\n"
         "announce = [\""
      << list.url("/touch_server.php") << "\", \"" << list.url("/list/touch_list.php")
      << "\"]\nannounce_first_s = 0\nannounce_interval_s = 1\n";
  auto relay = start_relay(dir, "fields", {"--config", config.string()});
  ASSERT_NE(relay.handshake_port, 0) << relay.process->log();
  const std::string port = std::to_string(relay.handshake_port);

  // kaillera.com's request (§7.1), with an idle relay.
  auto server = list.wait("/touch_server.php", 1, 10s);
  ASSERT_GE(server.size(), 1u) << relay.process->log();
  const Touch& s = server[0];
  EXPECT_EQ(s.method, "GET");
  EXPECT_EQ(s.keys(), (std::vector<std::string>{"servername", "port", "nbusers", "maxconn", "version",
                                                "nbgames", "location", "ip", "url"}));
  EXPECT_EQ(s.param("servername"), "Test%20Relay");
  EXPECT_EQ(s.param("port"), port);
  EXPECT_EQ(s.param("nbusers"), "0");
  EXPECT_EQ(s.param("maxconn"), "0");  // --max-users 0 (unlimited), as the test harness starts relays
  EXPECT_EQ(s.param("version"), kVersion.substr(0, 8));
  EXPECT_EQ(s.param("nbgames"), "0");
  EXPECT_EQ(s.param("location"), "Loopback%2C%20LAN");
  EXPECT_EQ(s.param("ip"), "relay.example.org");
  EXPECT_EQ(s.param("url"), "http%3A%2F%2Fexample.org%2Fr");
  EXPECT_EQ(s.header("kaillera-games"), "");
  EXPECT_EQ(s.header("kaillera-wgames"), "");
  EXPECT_EQ(s.header("host"), "127.0.0.1:" + std::to_string(list.port()));

  // Kaillera Reborn's request (§7.2).
  auto reborn = list.wait("/list/touch_list.php", 1, 10s);
  ASSERT_GE(reborn.size(), 1u) << relay.process->log();
  const Touch& l = reborn[0];
  EXPECT_EQ(l.keys(), (std::vector<std::string>{"serverName", "ipAddress", "location", "website", "port",
                                                "numUsers", "maxUsers", "numGames", "maxGames", "version"}));
  EXPECT_EQ(l.param("serverName"), "Test%20Relay");
  EXPECT_EQ(l.param("ipAddress"), "relay.example.org");
  EXPECT_EQ(l.param("location"), "Loopback%2C%20LAN");
  EXPECT_EQ(l.param("website"), "http%3A%2F%2Fexample.org%2Fr");
  EXPECT_EQ(l.param("port"), port);
  EXPECT_EQ(l.param("numUsers"), "0");
  EXPECT_EQ(l.param("maxUsers"), "0");
  EXPECT_EQ(l.param("numGames"), "0");
  EXPECT_EQ(l.param("maxGames"), "7");
  EXPECT_EQ(l.param("version"), kVersion.substr(0, 30));
  EXPECT_EQ(l.header("waiting-games"), "");
  EXPECT_EQ(l.header("kaillera-games"), "<absent>");

  // A player waits in a room: both lists see the waiting game in their own format.
  {
    kc::Player waiter(player(relay, "waiter", "Waiting Room", true));
    std::atomic<bool> stop{false};
    Stoppable agent(waiter, stop);
    kc::DriverOptions d;
    d.deadline = kc::Millis(20000);
    kc::UdpDriver driver(d);
    ASSERT_EQ(driver.add(agent), "");
    std::jthread run([&] { driver.run(); });
    auto has_waiting = [&](const std::string& path, const std::string& header) {
      for (const auto& t : list.touches(path)) {
        if (t.header(header) != "") return true;
      }
      return false;
    };
    EXPECT_TRUE(poll_until([&] { return has_waiting("/touch_server.php", "kaillera-wgames"); }, 10s));
    EXPECT_TRUE(poll_until([&] { return has_waiting("/list/touch_list.php", "waiting-games"); }, 10s));
    stop = true;
  }
  for (const auto& t : list.touches("/touch_server.php")) {
    if (t.header("kaillera-wgames") == "") continue;
    EXPECT_EQ(t.header("kaillera-wgames"), "1|Waiting Room|waiter|MAME32k 0.64|1|");
    EXPECT_EQ(t.param("nbusers"), "1");
    EXPECT_EQ(t.param("nbgames"), "1");
    break;
  }
  for (const auto& t : list.touches("/list/touch_list.php")) {
    if (t.header("waiting-games") == "") continue;
    EXPECT_EQ(t.header("waiting-games"), "Waiting Room|waiter|MAME32k 0.64|1/8|");
    EXPECT_EQ(t.param("numUsers"), "1");
    EXPECT_EQ(t.param("numGames"), "1");
    break;
  }

  // A game is played: the next touch of kaillera.com's list names it once in Kaillera-games, the touch after
  // that no more (games started since the previous touch).
  const std::size_t before = list.touches("/touch_server.php").size();
  play_a_game(relay, "Started Game");
  std::vector<Touch> after;
  ASSERT_TRUE(poll_until(
      [&] {
        after = list.touches("/touch_server.php");
        for (std::size_t i = before; i < after.size(); ++i) {
          if (after[i].header("kaillera-games") != "" && i + 1 < after.size()) return true;
        }
        return false;
      },
      10s));
  std::size_t named = 0;
  for (std::size_t i = before; i < after.size(); ++i) {
    const std::string games = after[i].header("kaillera-games");
    if (games.empty()) continue;
    EXPECT_EQ(games, "Started Game|");
    ++named;
  }
  EXPECT_EQ(named, 1u);
  EXPECT_EQ(metric(relay.metrics_port, announce_metric("touch_server", "ok")),
            static_cast<double>(list.touches("/touch_server.php").size()));
  EXPECT_GE(metric(relay.metrics_port, announce_metric("touch_list", "ok")), 2);
  EXPECT_EQ(metric(relay.metrics_port, announce_metric("touch_server", "http_error")), 0);
}

// Names are Shift_JIS bytes on a Japanese relay: the lists get those bytes, percent-encoded, not UTF-8.
TEST(RelayAnnounce, AShiftJisNameArrivesAsItsRawBytes) {
  TempDir dir;
  ListServer list(ListServer::Mode::kOk);
  const auto config = dir / "relay.toml";
  std::ofstream(config) << "charset = \"shift_jis\"\nname = \"日本語サーバ\"\nlocation = \"東京\"\n"
                           "announce = [\""
                        << list.url("/touch_server.php") << "\", \"" << list.url("/touch_list.php")
                        << "\"]\nannounce_first_s = 0\n";
  auto relay = start_relay(dir, "sjis", {"--config", config.string()});
  ASSERT_NE(relay.handshake_port, 0) << relay.process->log();
  // 日 93FA, 本 967B, 語 8CEA, サ 8354, ー 815B, バ 836F; 東 938C, 京 8B9E (Shift_JIS). 0x54 is 'T' and 0x6F
  // 'o': unreserved bytes stay as they are.
  const std::string name = "%93%FA%96%7B%8C%EA%83T%81%5B%83o";
  const std::string location = "%93%8C%8B%9E";
  auto s = list.wait("/touch_server.php", 1, 10s);
  ASSERT_GE(s.size(), 1u) << relay.process->log();
  EXPECT_EQ(s[0].param("servername"), name);
  EXPECT_EQ(s[0].param("location"), location);
  auto l = list.wait("/touch_list.php", 1, 10s);
  ASSERT_GE(l.size(), 1u) << relay.process->log();
  EXPECT_EQ(l[0].param("serverName"), name);
  EXPECT_EQ(l[0].param("location"), location);
}

// The first touch waits announce_first_s; then one every announce_interval_s, never sooner. The log says
// when a list starts failing and when it works again, not at every touch.
TEST(RelayAnnounce, FirstDelayIntervalAndOneLogLinePerChange) {
  TempDir dir;
  ListServer list(ListServer::Mode::kOk);
  const auto config = dir / "relay.toml";
  std::ofstream(config) << "announce = [\"" << list.url("/touch_list.php")
                        << "\"]\nannounce_first_s = 2\nannounce_interval_s = 1\n";
  const auto spawned = Clock::now();
  auto relay = start_relay(dir, "interval", {"--config", config.string()});
  ASSERT_NE(relay.handshake_port, 0) << relay.process->log();
  auto t = list.wait("/touch_list.php", 3, 15s);
  ASSERT_GE(t.size(), 3u) << relay.process->log();
  EXPECT_GE(t[0].at - spawned, 2000ms);
  for (std::size_t i = 1; i < t.size(); ++i)
    EXPECT_GE(t[i].at - t[i - 1].at, 950ms) << "touch " << i;

  list.set_mode(ListServer::Mode::kError);
  const std::size_t ok_touches = list.touches("/touch_list.php").size();
  ASSERT_GE(list.wait("/touch_list.php", ok_touches + 3, 15s).size(), ok_touches + 3);
  list.set_mode(ListServer::Mode::kOk);
  ASSERT_TRUE(poll_until(
      [&] {
        return metric(relay.metrics_port, announce_metric("touch_list", "ok")) >=
               static_cast<double>(ok_touches + 1);
      },
      15s));
  const std::string log = relay.process->log();
  const std::string url = list.url("/touch_list.php");
  EXPECT_GE(metric(relay.metrics_port, announce_metric("touch_list", "http_error")), 3);
  EXPECT_EQ(count_of(log, "announce: " + url + " fails: http_error: HTTP 500: database down"), 1u) << log;
  EXPECT_EQ(count_of(log, "announce: " + url + " takes our touches"), 2u) << log;
}

// Lists that are down, that never answer, or that answer 500 change nothing for the players: logins and a
// whole game go on while every touch fails, and each failure is counted by its outcome.
TEST(RelayAnnounce, FailingListsDisturbNeitherLoginsNorGames) {
  TempDir dir;
  ListServer silent(ListServer::Mode::kSilent);
  ListServer failing(ListServer::Mode::kError);
  const std::string down = "http://127.0.0.1:" + std::to_string(closed_port()) + "/touch_server.php";
  const auto config = dir / "relay.toml";
  std::ofstream(config) << "announce = [\"" << down << "\", \"" << silent.url("/touch_list.php") << "\", \""
                        << failing.url("/touch_server.php")
                        << "\"]\nannounce_first_s = 0\nannounce_interval_s = 1\nannounce_timeout_s = 1\n";
  auto relay = start_relay(dir, "failing", {"--config", config.string()});
  ASSERT_NE(relay.handshake_port, 0) << relay.process->log();
  // The silent list has a request pending before the game starts.
  ASSERT_GE(silent.wait("/touch_list.php", 1, 10s).size(), 1u) << relay.process->log();

  play_a_game(relay, "Unlisted Game");

  EXPECT_TRUE(poll_until(
      [&] {
        return metric(relay.metrics_port, announce_metric("touch_list", "timeout")) >= 2 &&
               metric(relay.metrics_port, announce_metric("touch_server", "connect_failed")) >= 2 &&
               metric(relay.metrics_port, announce_metric("touch_server", "http_error")) >= 2;
      },
      15s))
      << relay.process->log();
  EXPECT_EQ(metric(relay.metrics_port, announce_metric("touch_server", "ok")), 0);
  EXPECT_EQ(metric(relay.metrics_port, announce_metric("touch_list", "ok")), 0);
  EXPECT_GE(failing.touches("/touch_server.php").size(), 2u);
  EXPECT_EQ(metric(relay.metrics_port, "kaillera_relay_games_started_total"), 1);
  EXPECT_FALSE(relay.process->poll_exit().has_value());
  const std::string log = relay.process->log();
  EXPECT_EQ(count_of(log, "announce: " + down + " fails: connect_failed"), 1u) << log;
  EXPECT_EQ(count_of(log, "announce: " + silent.url("/touch_list.php") + " fails: timeout"), 1u) << log;
  EXPECT_EQ(count_of(log, "announce: " + failing.url("/touch_server.php") + " fails: http_error"), 1u) << log;

  // It still stops promptly on SIGTERM with a touch in flight.
  relay.process->signal(SIGTERM);
  EXPECT_EQ(relay.process->wait_exit(5s), 0);
}

// Off unless configured: without announce URLs no touch goes anywhere, and /metrics shows zeros.
TEST(RelayAnnounce, OffUnlessConfigured) {
  TempDir dir;
  auto relay = start_relay(dir, "off");
  ASSERT_NE(relay.handshake_port, 0) << relay.process->log();
  EXPECT_EQ(metric(relay.metrics_port, announce_metric("touch_server", "ok")), 0);
  EXPECT_EQ(relay.process->log().find("announcing to"), std::string::npos);
}
