// Test harness for the relay core: the Server driven directly (no sockets), with fake clients that speak the
// wire protocol through the codec. Time is virtual and moves only when a test says so.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <vector>

#include "common/kaillera/bundle.hpp"
#include "common/kaillera/handshake.hpp"
#include "relay/core/server.hpp"

namespace kf_test {

namespace p = kaillera::proto;
namespace r = kaillera::relay;
namespace n = kaillera::net;
using namespace std::chrono_literals;

// An IPv4 address a.b.c.d as the core keys it.
constexpr std::uint32_t ip(int a, int b, int c, int d) {
  return (static_cast<std::uint32_t>(a) << 24) | (b << 16) | (c << 8) | d;
}

struct Captured {
  std::uint16_t local_port;
  n::Endpoint to;
  std::vector<std::uint8_t> bytes;
};

class RecordingSink : public r::Sink {
 public:
  void send(std::uint16_t local_port, const n::Endpoint& to, r::ByteSpan data) override {
    out.push_back({local_port, to, std::vector<std::uint8_t>(data.begin(), data.end())});
  }
  std::vector<Captured> out;
};

class Harness;

// A received message with the datagram bytes it points into kept alive.
struct Received {
  std::shared_ptr<std::vector<std::uint8_t>> datagram;
  p::Message message;
  std::uint16_t seq;
};

class FakeClient {
 public:
  FakeClient(Harness& h, n::Endpoint addr) : h_(h), addr_(addr) {}

  // Raw handshake datagram to the handshake port; returns the reply text (without NUL) or "" if none.
  std::string handshake(std::string_view text, bool with_nul = true);
  // HELLO + login + the four ACK round trips (advancing `ack_delay` per round trip). True if logged in.
  bool login(std::string_view name, std::string_view emulator = "MAME32k 0.64", std::uint8_t conn = 1,
             std::chrono::milliseconds ack_delay = 10ms);
  // Sends one message (with redundancy, as clients do) to the game port.
  template <class T>
  void send(const T& m) {
    tx_.push(m);
    std::vector<std::uint8_t> d(2048);
    d.resize(tx_.write_next(d, 3));
    last_request_size_ = d.size();
    deliver(d);
  }
  void send_raw(const std::vector<std::uint8_t>& d) { deliver(d); }
  // Queues and "sends" a message whose datagram is lost on the way.
  template <class T>
  void send_silently(const T& m) {
    tx_.push(m);
    std::vector<std::uint8_t> d(2048);
    tx_.write_next(d, 3);
  }
  // Repeats the newest `n` sent messages (a duplicate-only bundle when the relay had them all).
  void resend_last(std::size_t n = 3) {
    std::vector<std::uint8_t> d(2048);
    d.resize(tx_.write_resend(d, n));
    deliver(d);
  }

  void receive(const Captured& c);

  template <class T>
  std::vector<T> got() const {
    std::vector<T> v;
    for (const auto& r : inbox_) {
      if (auto* m = std::get_if<T>(&r.message)) v.push_back(*m);
    }
    return v;
  }
  std::vector<std::uint8_t> types() const {
    std::vector<std::uint8_t> v;
    for (const auto& r : inbox_)
      v.push_back(p::type_of(r.message));
    return v;
  }
  std::vector<std::string> texts() const;  // 0x17 and 0x08 lines, and 0x16 reasons
  void clear() { inbox_.clear(); }
  const std::vector<Received>& inbox() const { return inbox_; }
  std::vector<std::size_t> datagram_sizes;  // every v086 datagram we received
  std::vector<std::string> raw_replies;
  std::uint16_t game_port = 0;
  std::uint8_t ttl = 64;  // the IP TTL its datagrams arrive with
  std::uint16_t user_id = 0;
  n::Endpoint addr() const { return addr_; }
  void set_source_port(std::uint16_t port) { addr_.port = port; }
  std::size_t last_request_size() const { return last_request_size_; }
  std::uint64_t lost = 0;
  int drop_next = 0;  // lose this many of the next datagrams addressed to us

 private:
  void deliver(const std::vector<std::uint8_t>& d);
  Harness& h_;
  n::Endpoint addr_;
  p::Outbox tx_{16, 1400};
  p::ReceiveWindow rx_;
  std::vector<Received> inbox_;
  std::size_t last_request_size_ = 0;
};

class Harness {
 public:
  explicit Harness(r::Config c = {}) : config_(std::move(c)) {
    config_.listen = "127.0.0.1:27888";
    server_ = std::make_unique<r::Server>(config_);
  }
  FakeClient& client(std::uint32_t ip, std::uint16_t port = 40000) {
    clients_.push_back(std::make_unique<FakeClient>(*this, n::Endpoint{ip, port}));
    return *clients_.back();
  }
  // Delivers a datagram to the server and routes whatever it sends to the clients.
  void to_server(std::uint16_t local_port, const n::Endpoint& from, const std::vector<std::uint8_t>& d,
                 std::uint8_t ttl = 64) {
    server_->on_datagram(local_port, from, ttl, d, now_, sink_);
    pump();
  }
  void advance(std::chrono::milliseconds d) {
    // Tick in 10 ms steps, as the shell does.
    const auto end = now_ + d;
    while (now_ < end) {
      now_ = std::min(end, now_ + std::chrono::milliseconds(10));
      server_->on_tick(now_, sink_);
      pump();
    }
  }
  void pump() {
    auto out = std::move(sink_.out);
    sink_.out.clear();
    for (const auto& c : out) {
      all_sent.push_back(c);
      for (auto& cl : clients_) {
        if (cl->addr() == c.to) cl->receive(c);
      }
    }
  }
  // The shell's delivery of a /fair answer.
  void fair_answer(std::uint32_t game_id, const std::vector<std::string>& lines) {
    server_->fair_answer(game_id, lines, now_, sink_);
    pump();
  }
  // The shell's side of moderation: a new access list (start-up, SIGHUP, /reload), a change the store wrote
  // (or could not write), a line to one user (the answer to /reload).
  void set_access(r::AccessList list) {
    server_->set_access(std::move(list), now_, sink_);
    pump();
  }
  void change_written(std::uint64_t change_id, bool ok) {
    server_->change_written(change_id, ok, now_, sink_);
    pump();
  }
  void notice(std::uint16_t user_id, std::string_view line) {
    server_->notice(user_id, line, now_, sink_);
    pump();
  }
  r::Server& server() { return *server_; }
  const r::Config& config() const { return config_; }
  r::TimePoint now() const { return now_; }
  std::vector<Captured> all_sent;

 private:
  r::Config config_;
  std::unique_ptr<r::Server> server_;
  r::TimePoint now_ = r::TimePoint{} + 1h;
  RecordingSink sink_;
  std::vector<std::unique_ptr<FakeClient>> clients_;
};

inline void FakeClient::deliver(const std::vector<std::uint8_t>& d) {
  h_.to_server(game_port, addr_, d, ttl);
}

inline void FakeClient::receive(const Captured& c) {
  if (drop_next > 0) {
    --drop_next;
    return;
  }
  if (p::looks_like_handshake(c.bytes)) {
    std::string t(c.bytes.begin(), c.bytes.end());
    if (!t.empty() && t.back() == '\0') t.pop_back();
    raw_replies.push_back(t);
    return;
  }
  datagram_sizes.push_back(c.bytes.size());
  auto keep = std::make_shared<std::vector<std::uint8_t>>(c.bytes);
  auto b = p::parse_bundle(*keep);
  if (!b) return;
  auto a = rx_.accept(*b);
  lost += a.lost;
  for (std::size_t i = 0; i < a.count; ++i) {
    const auto& raw = b->messages[a.order[i]];
    auto m = p::decode_body(raw.type, raw.body);
    if (m) inbox_.push_back({keep, *m, raw.seq});
  }
}

inline std::string FakeClient::handshake(std::string_view text, bool with_nul) {
  std::vector<std::uint8_t> d(text.begin(), text.end());
  if (with_nul) d.push_back(0);
  const auto before = raw_replies.size();
  h_.to_server(27888, addr_, d);
  if (raw_replies.size() == before) return "";
  return raw_replies.back();
}

inline bool FakeClient::login(std::string_view name, std::string_view emulator, std::uint8_t conn,
                              std::chrono::milliseconds ack_delay) {
  const std::string reply = handshake("HELLO0.83");
  if (reply.rfind("HELLOD00D", 0) != 0) return false;
  game_port = static_cast<std::uint16_t>(std::stoi(reply.substr(9)));
  send(p::UserInformation{name, emulator, conn});
  for (int i = 0; i < 8; ++i) {
    const auto acks = got<p::ServerAck>().size();
    if (!got<p::ConnectionRejected>().empty()) return false;
    if (!got<p::ServerStatus>().empty()) break;
    if (acks == 0) return false;
    h_.advance(ack_delay);
    send(p::ClientAck{});
  }
  if (got<p::ServerStatus>().empty()) return false;
  // The rest of the post-login burst is paced over the next ticks.
  for (int t = 0; t < 200 && user_id == 0; ++t) {
    for (const auto& j : got<p::UserJoined>()) {
      if (j.user == name) user_id = j.user_id;
    }
    if (user_id == 0) h_.advance(10ms);
  }
  h_.advance(50ms);
  return !got<p::ServerStatus>().empty() && user_id != 0;
}

inline std::vector<std::string> FakeClient::texts() const {
  std::vector<std::string> v;
  for (const auto& r : inbox_) {
    if (auto* a = std::get_if<p::ServerInformation>(&r.message)) v.emplace_back(a->message);
    if (auto* b = std::get_if<p::GameChat>(&r.message)) v.emplace_back(b->message);
    if (auto* c = std::get_if<p::ConnectionRejected>(&r.message)) v.emplace_back(c->message);
  }
  return v;
}

inline bool contains(const std::vector<std::string>& lines, std::string_view needle) {
  for (const auto& l : lines) {
    if (l.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace kf_test
