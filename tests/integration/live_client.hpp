// A Kaillera client for tests against a real relay, driven step by step: the client library's Session on its
// own UDP socket, bound to a loopback address the test picks (127.0.0.2, 127.0.0.20, ... so that bans of an
// address or range can be tested on one machine). Every wait pumps the socket and the session's timers until
// a condition holds or a deadline passes; nothing sleeps and hopes.
#pragma once

#include <poll.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "client/session.hpp"
#include "common/net/udp_socket.hpp"

namespace kf_test {

namespace kc = kaillera::client;

constexpr std::uint32_t loopback_ip(int last, int third = 0) {
  return (127u << 24) | (static_cast<std::uint32_t>(third) << 8) | static_cast<std::uint32_t>(last);
}

class LiveClient final : public kc::Sink {
 public:
  LiveClient(std::uint16_t handshake_port, std::string name, std::uint32_t bind_ip = loopback_ip(1),
             std::string emulator = "MAME32k 0.64", std::uint8_t conn_type = 1)
      : session_(options(handshake_port, std::move(name), std::move(emulator), conn_type)) {
    error_ = socket_.open({bind_ip, 0}, 16, 4096);
  }

  const std::string& socket_error() const { return error_; }
  kc::Session& session() { return session_; }
  const std::vector<kc::Event>& events() const { return events_; }
  std::uint16_t id() const { return session_.user_id().value_or(0); }

  void send(kaillera::net::Endpoint const& to, kc::Bytes data) override { socket_.send_to(to, data); }

  // Connects and waits until logged in or refused. True when logged in.
  bool login(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    session_.connect(kc::Clock::now(), *this);
    return wait([&] { return session_.logged_in() || session_.finished(); }, timeout) && session_.logged_in();
  }

  // Requests, sent at once.
  void chat(std::string_view text) {
    act([&] { session_.chat(text); });
  }
  void game_chat(std::string_view text) {
    act([&] { session_.game_chat(text); });
  }
  void create_game(std::string_view rom) {
    act([&] { session_.create_game(rom); });
  }
  void join_game(std::uint32_t id) {
    act([&] { session_.join_game(id); });
  }
  void start_game() {
    act([&] { session_.start_game(); });
  }
  void ready() {
    act([&] { session_.ready(); });
  }
  void quit() {
    act([&] { session_.quit("bye"); });
  }

  // Pumps until `done()` or the timeout; true when done.
  bool wait(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = kc::Clock::now() + timeout;
    while (!done()) {
      if (kc::Clock::now() >= deadline) return false;
      pump(std::chrono::milliseconds(5));
    }
    return true;
  }
  // Pumps until an event with a text containing `needle` arrived (from index `from` on); its index or -1.
  long wait_text(std::string_view needle, std::size_t from = 0,
                 std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    long found = -1;
    wait(
        [&] {
          found = find_text(needle, from);
          return found >= 0;
        },
        timeout);
    return found;
  }
  long find_text(std::string_view needle, std::size_t from = 0) const {
    for (std::size_t i = from; i < events_.size(); ++i) {
      if (events_[i].text.find(needle) != std::string::npos) return static_cast<long>(i);
    }
    return -1;
  }
  // Keeps the session alive (acks, resends) for a while.
  void pump(std::chrono::milliseconds for_how_long) {
    const auto end = kc::Clock::now() + for_how_long;
    do {
      pollfd p{socket_.fd(), POLLIN, 0};
      ::poll(&p, 1, 2);
      const auto now = kc::Clock::now();
      for (const auto& d : socket_.receive_batch())
        session_.on_datagram(d.from, d.data, now, *this);
      session_.on_tick(now, *this);
      for (auto& e : session_.take_events())
        events_.push_back(std::move(e));
    } while (kc::Clock::now() < end);
  }

 private:
  static kc::SessionOptions options(std::uint16_t port, std::string name, std::string emulator,
                                    std::uint8_t conn) {
    kc::SessionOptions o;
    o.server = {loopback_ip(1), port};
    o.name = std::move(name);
    o.emulator = std::move(emulator);
    o.conn_type = conn;
    return o;
  }
  template <class F>
  void act(F&& f) {
    f();
    session_.flush(kc::Clock::now(), *this);
    pump(std::chrono::milliseconds(1));
  }

  kc::Session session_;
  kaillera::net::UdpSocket socket_;
  std::string error_;
  std::vector<kc::Event> events_;
};

}  // namespace kf_test
