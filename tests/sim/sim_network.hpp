// A seeded, deterministic network simulator (DESIGN.md principles: the one mock the design allows).
//
// Virtual time only: the relay core (kaillera::relay::Server) and the clients (kaillera::client::Agent, i.e.
// Sessions or Players) are driven by on_datagram/on_tick with the simulator's clock, so a whole game with
// latency, jitter, loss, duplication and reordering runs in milliseconds of real time and the same seed
// gives the same run, datagram for datagram.
//
// Every client sits behind its own link to the relay; a link's parameters apply to each direction separately.
// Randomness comes from one splitmix64 stream (not <random>'s distributions, whose results differ between
// standard libraries).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <span>
#include <string>
#include <vector>

#include "client/session.hpp"
#include "common/net/address.hpp"
#include "relay/core/server.hpp"

namespace kf_sim {

using kaillera::client::Agent;
using kaillera::net::Endpoint;
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;
using Micros = std::chrono::microseconds;

struct LinkParams {
  Millis latency{10};    // one way
  Millis jitter{0};      // extra delay 0..jitter per datagram; a link stays FIFO (queueing, not reordering)
  double loss = 0;       // probability a datagram is dropped
  double duplicate = 0;  // probability a datagram arrives twice (the copy after an extra 0..latency)
  double reorder = 0;    // probability a datagram is held back by an extra 1..reorder_delay, letting
  Millis reorder_delay{10};  //   the datagrams behind it overtake it
  std::uint8_t hops = 4;     // the relay sees TTL 64 - hops

  static LinkParams clean(Millis latency = Millis(10)) {
    LinkParams p;
    p.latency = latency;
    return p;
  }
};

struct LinkStats {
  std::uint64_t sent = 0, delivered = 0, lost = 0, duplicated = 0, reordered = 0;
};

class SimNetwork {
 public:
  static constexpr std::uint32_t kRelayIp = 0x0A000001;  // 10.0.0.1

  explicit SimNetwork(std::uint64_t seed, Millis tick = Millis(5))
      : rng_(seed ^ 0x5DEECE66Dull), tick_(tick), now_(TimePoint{} + std::chrono::hours(1)) {}

  TimePoint now() const { return now_; }
  std::uint64_t seed_state() const { return rng_; }

  // The relay. Its handshake and game ports come from its config; datagrams to any port of kRelayIp reach it.
  void set_relay(kaillera::relay::Server& server) { relay_ = &server; }
  Endpoint relay_handshake() const { return Endpoint{kRelayIp, relay_->handshake_port()}; }

  // A client agent at 10.1.x.y:port behind a link with `params`. Returns its address.
  Endpoint add_client(Agent& agent, LinkParams params) {
    const auto i = static_cast<std::uint32_t>(clients_.size());
    Endpoint ep{0x0A010000u + i + 1, static_cast<std::uint16_t>(40000 + i)};
    clients_.push_back(std::make_unique<Client>(this, &agent, ep, params));
    by_endpoint_[ep.key()] = clients_.back().get();
    return ep;
  }

  const LinkStats& uplink(std::size_t client) const { return clients_[client]->up.stats; }
  const LinkStats& downlink(std::size_t client) const { return clients_[client]->down.stats; }
  std::uint64_t delivered_total() const { return delivered_; }

  // Optional hook for debugging a run: every datagram's fate ("lost", "held", "sent", "dup", "deliver").
  struct TraceEntry {
    TimePoint now;
    const char* what;
    Endpoint from, to;
    std::span<const std::uint8_t> bytes;
    TimePoint arrives;
  };
  std::function<void(const TraceEntry&)> trace;
  // Optional targeted loss for a test: return true to drop this datagram (counted as lost, RNG unaffected).
  std::function<bool(const Endpoint& from, const Endpoint& to, std::span<const std::uint8_t> bytes)> drop_if;

  // Runs until `done()` is true (checked after every event) or `limit` of virtual time has passed.
  // Returns true when done() became true.
  bool run_until(const std::function<bool()>& done, Millis limit) {
    const TimePoint end = now_ + limit;
    while (!done()) {
      const TimePoint next = queue_.empty() ? next_tick_ : std::min(next_tick_, queue_.top().at);
      if (next > end) {
        now_ = end;
        return done();
      }
      now_ = std::max(now_, next);
      if (!queue_.empty() && queue_.top().at <= next_tick_) {
        Datagram d = queue_.top();
        queue_.pop();
        deliver(d);
      } else {
        tick();
        next_tick_ = now_ + tick_;
      }
    }
    return true;
  }
  bool all_clients_finished() const {
    for (const auto& c : clients_) {
      if (!c->agent->finished()) return false;
    }
    return true;
  }

 private:
  struct Datagram {
    TimePoint at;
    std::uint64_t order;  // FIFO among equal times: keeps runs deterministic
    Endpoint from, to;
    std::uint8_t ttl;
    std::vector<std::uint8_t> bytes;
    bool operator>(const Datagram& o) const { return at != o.at ? at > o.at : order > o.order; }
  };

  struct Direction {
    LinkStats stats;
    TimePoint fifo_floor{};  // the last in-order arrival: later datagrams never arrive before it
  };

  struct Client final : kaillera::client::Sink {
    Client(SimNetwork* n, Agent* a, Endpoint e, LinkParams p) : net(n), agent(a), ep(e), params(p) {}
    void send(const Endpoint& to, std::span<const std::uint8_t> data) override {
      net->transmit(ep, to, data, params, up, 64);
    }
    SimNetwork* net;
    Agent* agent;
    Endpoint ep;
    LinkParams params;
    Direction up, down;
  };

  struct RelaySink final : kaillera::relay::Sink {
    explicit RelaySink(SimNetwork* n) : net(n) {}
    void send(std::uint16_t local_port, const Endpoint& to, kaillera::relay::ByteSpan data) override {
      Client* c = net->client_at(to);
      if (c == nullptr) return;  // nobody there
      net->transmit(Endpoint{kRelayIp, local_port}, to, data, c->params, c->down, 64);
    }
    SimNetwork* net;
  };

  std::uint64_t next_u64() {
    std::uint64_t x = (rng_ += 0x9E3779B97F4A7C15ull);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  }
  double uniform() { return static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0); }
  Micros uniform_delay(Micros max) {
    if (max.count() <= 0) return Micros(0);
    return Micros(static_cast<std::int64_t>(next_u64() % static_cast<std::uint64_t>(max.count() + 1)));
  }

  Client* client_at(const Endpoint& ep) {
    auto it = by_endpoint_.find(ep.key());
    return it == by_endpoint_.end() ? nullptr : it->second;
  }

  void transmit(const Endpoint& from, const Endpoint& to, std::span<const std::uint8_t> data,
                const LinkParams& p, Direction& dir, std::uint8_t initial_ttl) {
    LinkStats& stats = dir.stats;
    ++stats.sent;
    // Draw every random number every time so one decision never shifts the stream of the others.
    const double r_loss = uniform(), r_dup = uniform(), r_reorder = uniform();
    const Micros jitter = uniform_delay(p.jitter), dup_extra = uniform_delay(p.latency),
                 reorder_extra = Micros(1000) + uniform_delay(Micros(p.reorder_delay) - Micros(1000));
    if (r_loss < p.loss || (drop_if && drop_if(from, to, data))) {
      ++stats.lost;
      if (trace) trace({now_, "lost", from, to, data, now_});
      return;
    }
    Datagram d{now_ + p.latency + jitter,
               order_++,
               from,
               to,
               static_cast<std::uint8_t>(initial_ttl - p.hops),
               std::vector<std::uint8_t>(data.begin(), data.end())};
    if (r_reorder < p.reorder) {
      ++stats.reordered;
      d.at = std::max(d.at, dir.fifo_floor) + reorder_extra;  // held back; does not hold the others
    } else {
      d.at = std::max(d.at, dir.fifo_floor);
      dir.fifo_floor = d.at;
    }
    if (r_dup < p.duplicate) {
      ++stats.duplicated;
      Datagram copy = d;
      copy.at += dup_extra;
      copy.order = order_++;
      queue_.push(std::move(copy));
    }
    ++stats.delivered;
    if (trace) trace({now_, r_reorder < p.reorder ? "held" : "sent", from, to, data, d.at});
    queue_.push(std::move(d));
  }

  void deliver(const Datagram& d) {
    ++delivered_;
    if (trace) trace({now_, "deliver", d.from, d.to, d.bytes, now_});
    if (d.to.ip == kRelayIp) {
      if (relay_ != nullptr) relay_->on_datagram(d.to.port, d.from, d.ttl, d.bytes, now_, relay_sink_);
      return;
    }
    if (Client* c = client_at(d.to)) {
      if (!c->agent->finished()) c->agent->on_datagram(d.from, d.bytes, now_, *c);
    }
  }

  void tick() {
    if (relay_ != nullptr) relay_->on_tick(now_, relay_sink_);
    for (auto& c : clients_) {
      if (!c->agent->finished()) c->agent->on_tick(now_, *c);
    }
  }

  std::uint64_t rng_;
  Millis tick_;
  TimePoint now_;
  TimePoint next_tick_ = now_;
  std::uint64_t order_ = 0;
  std::uint64_t delivered_ = 0;
  kaillera::relay::Server* relay_ = nullptr;
  RelaySink relay_sink_{this};
  std::vector<std::unique_ptr<Client>> clients_;
  std::map<std::uint64_t, Client*> by_endpoint_;
  std::priority_queue<Datagram, std::vector<Datagram>, std::greater<Datagram>> queue_;
};

}  // namespace kf_sim
