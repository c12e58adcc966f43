#include "bench/fairness/network.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

namespace kaillera::bench::fairness {

std::uint64_t Rng::below(std::uint64_t n) {
  // The largest multiple of n that fits in 2^64: draws at or above it would favour the small residues.
  const std::uint64_t limit =
      std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
  for (;;) {
    const std::uint64_t x = next();
    if (x < limit) return x % n;
  }
}

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b) {
  std::uint64_t z = seed;
  for (const std::uint64_t v : {a, b}) {
    z += 0x9e3779b97f4a7c15ULL + v;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
  }
  return z;
}

namespace {

double distance_km(const Router& a, const Router& b) {
  return std::hypot(a.x_km - b.x_km, a.y_km - b.y_km);
}

std::vector<std::vector<std::pair<int, double>>> adjacency(const Network& net) {
  std::vector<std::vector<std::pair<int, double>>> adj(net.routers.size());
  for (const Link& l : net.links) {
    adj[static_cast<std::size_t>(l.a)].emplace_back(l.b, l.delay_ms);
    adj[static_cast<std::size_t>(l.b)].emplace_back(l.a, l.delay_ms);
  }
  return adj;
}

// Component number of every router (0, 1, ... in order of their lowest router).
std::vector<int> components(const Network& net, int* count) {
  const auto adj = adjacency(net);
  std::vector<int> comp(net.routers.size(), -1);
  int next = 0;
  std::vector<int> stack;
  for (std::size_t start = 0; start < comp.size(); ++start) {
    if (comp[start] >= 0) continue;
    comp[start] = next;
    stack.assign(1, static_cast<int>(start));
    while (!stack.empty()) {
      const int u = stack.back();
      stack.pop_back();
      for (const auto& [v, delay] : adj[static_cast<std::size_t>(u)]) {
        (void)delay;
        if (comp[static_cast<std::size_t>(v)] < 0) {
          comp[static_cast<std::size_t>(v)] = next;
          stack.push_back(v);
        }
      }
    }
    ++next;
  }
  *count = next;
  return comp;
}

}  // namespace

Network generate_network(const NetworkParams& p, std::uint64_t seed) {
  Rng rng(seed);
  Network net;
  net.routers.resize(static_cast<std::size_t>(p.routers));
  for (Router& r : net.routers) {
    r.x_km = rng.uniform(0, p.width_km);
    r.y_km = rng.uniform(0, p.height_km);
  }
  const double diagonal = std::hypot(p.width_km, p.height_km);
  const auto add_link = [&](int a, int b) {
    const double d =
        distance_km(net.routers[static_cast<std::size_t>(a)], net.routers[static_cast<std::size_t>(b)]);
    net.links.push_back({a, b, d / p.km_per_ms + rng.uniform(p.equipment_min_ms, p.equipment_max_ms)});
  };
  for (int a = 0; a < p.routers; ++a) {
    for (int b = a + 1; b < p.routers; ++b) {
      const double d =
          distance_km(net.routers[static_cast<std::size_t>(a)], net.routers[static_cast<std::size_t>(b)]);
      if (rng.uniform01() < p.waxman_alpha * std::exp(-d / (p.waxman_beta * diagonal))) add_link(a, b);
    }
  }
  // Join the component of router 0 to the nearest router outside it until there is one component.
  for (;;) {
    int count = 0;
    const std::vector<int> comp = components(net, &count);
    if (count <= 1) break;
    int best_a = -1, best_b = -1;
    double best_d = std::numeric_limits<double>::infinity();
    for (int a = 0; a < p.routers; ++a) {
      if (comp[static_cast<std::size_t>(a)] != 0) continue;
      for (int b = 0; b < p.routers; ++b) {
        if (comp[static_cast<std::size_t>(b)] == 0) continue;
        const double d =
            distance_km(net.routers[static_cast<std::size_t>(a)], net.routers[static_cast<std::size_t>(b)]);
        if (d < best_d) {
          best_d = d;
          best_a = a;
          best_b = b;
        }
      }
    }
    add_link(std::min(best_a, best_b), std::max(best_a, best_b));
  }
  net.relays.resize(static_cast<std::size_t>(p.relays));
  for (Attachment& r : net.relays) {
    r.router = static_cast<int>(rng.below(static_cast<std::uint64_t>(p.routers)));
    r.access_ms = rng.uniform(p.relay_access_min_ms, p.relay_access_max_ms);
  }
  return net;
}

int count_components(const Network& net) {
  int count = 0;
  components(net, &count);
  return count;
}

RouteTable route(const Network& net, Routing routing) {
  const auto adj = adjacency(net);
  const std::size_t n = net.routers.size();
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // Lexicographic keys: (edges, delay) for fewest hops, (delay, edges) for least delay.
  const auto better = [routing](int e1, double d1, int e2, double d2) {
    if (e2 < 0) return e1 >= 0;
    if (routing == Routing::kFewestHops) return e1 != e2 ? e1 < e2 : d1 < d2;
    return d1 != d2 ? d1 < d2 : e1 < e2;
  };
  RouteTable t;
  t.edges.assign(net.relays.size(), std::vector<int>(n, -1));
  t.delay_ms.assign(net.relays.size(), std::vector<double>(n, kInf));
  std::vector<char> done(n);
  for (std::size_t r = 0; r < net.relays.size(); ++r) {
    std::vector<int>& edges = t.edges[r];
    std::vector<double>& delay = t.delay_ms[r];
    std::fill(done.begin(), done.end(), 0);
    const auto source = static_cast<std::size_t>(net.relays[r].router);
    edges[source] = 0;
    delay[source] = 0;
    // O(n^2) Dijkstra: n is a few hundred, and the lowest-numbered router wins exact ties.
    for (;;) {
      std::size_t u = n;
      for (std::size_t v = 0; v < n; ++v) {
        if (done[v] || edges[v] < 0) continue;
        if (u == n || better(edges[v], delay[v], edges[u], delay[u])) u = v;
      }
      if (u == n) break;
      done[u] = 1;
      for (const auto& [v, d] : adj[u]) {
        const auto vi = static_cast<std::size_t>(v);
        if (done[vi]) continue;
        if (better(edges[u] + 1, delay[u] + d, edges[vi], delay[vi])) {
          edges[vi] = edges[u] + 1;
          delay[vi] = delay[u] + d;
        }
      }
    }
  }
  return t;
}

PairTruth pair_truth(const Network& net, const RouteTable& routes, const Attachment& player,
                     std::size_t relay) {
  const auto router = static_cast<std::size_t>(player.router);
  const int edges = routes.edges[relay][router];
  if (edges < 0) return {};
  // Routers on the path: one more than the links between the player's router and the relay's.
  return {edges + 1, 2 * (player.access_ms + routes.delay_ms[relay][router] + net.relays[relay].access_ms)};
}

Group group_of(const Network& net, const RouteTable& routes, std::vector<Attachment> players,
               std::vector<bool> full) {
  Group g;
  g.players = std::move(players);
  g.full = std::move(full);
  g.full.resize(net.relays.size(), false);
  g.truth.resize(net.relays.size());
  for (std::size_t r = 0; r < net.relays.size(); ++r) {
    for (const Attachment& p : g.players)
      g.truth[r].push_back(pair_truth(net, routes, p, r));
  }
  g.max_users = 64;
  g.users.assign(net.relays.size(), 0);
  for (std::size_t r = 0; r < net.relays.size(); ++r)
    if (g.full[r]) g.users[r] = g.max_users;
  return g;
}

Group make_group(const Network& net, const RouteTable& routes, const GroupParams& p, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<Attachment> players(static_cast<std::size_t>(rng.between(p.min_players, p.max_players)));
  for (Attachment& a : players) {
    a.router = static_cast<int>(rng.below(net.routers.size()));
    a.access_ms = rng.uniform(p.access_min_ms, p.access_max_ms);
  }
  std::vector<bool> full(net.relays.size());
  std::vector<std::int64_t> users(net.relays.size());
  for (std::size_t r = 0; r < full.size(); ++r) {
    full[r] = rng.chance(p.full);
    users[r] =
        full[r] ? p.max_users : static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(p.max_users)));
  }
  Group g = group_of(net, routes, std::move(players), std::move(full));
  g.max_users = p.max_users;
  g.users = std::move(users);
  return g;
}

double true_max_rtt(const Group& group, std::size_t relay) {
  double worst = 0;
  for (const PairTruth& t : group.truth[relay]) {
    if (t.hops < 0) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, t.rtt_ms);
  }
  return worst;
}

std::optional<std::size_t> oracle(const Group& group) {
  std::optional<std::size_t> best;
  double best_rtt = 0;
  for (std::size_t r = 0; r < group.truth.size(); ++r) {
    if (group.full[r]) continue;
    const double rtt = true_max_rtt(group, r);
    if (!best || rtt < best_rtt) {
      best = r;
      best_rtt = rtt;
    }
  }
  return best;
}

std::vector<master::pick::Candidate> measure(const Group& group, const Faults& faults, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<master::pick::Candidate> out(group.truth.size());
  for (std::size_t r = 0; r < out.size(); ++r) {
    master::pick::Candidate& c = out[r];
    char id[32];
    std::snprintf(id, sizeof id, "relay-%03zu", r);
    c.id = id;
    c.users = group.users[r];
    c.max_users = group.max_users;
    for (const PairTruth& t : group.truth[r]) {
      // Every pair takes the same four draws whatever the outcome, so one fault's rate does not shift the
      // others' draws.
      const bool missing = rng.chance(faults.missing);
      const bool stale = rng.chance(faults.stale);
      const double e = rng.uniform(-1, 1);
      const double age = rng.uniform01();
      master::pick::PairValue v;
      if (!missing && t.hops >= 0) {
        const double bound = stale ? faults.error * faults.stale_error_factor : faults.error;
        v.hops = t.hops;
        v.rtt_ms = static_cast<int>(std::max(0L, std::lround(t.rtt_ms * (1 + bound * e))));
        v.source = master::pick::Source::kMeasured;
        v.stale = stale;
        // Fresh: within the last minute; stale: 10 to 60 minutes old.
        v.age_ms = stale ? 600'000 + static_cast<std::int64_t>(age * 3'000'000)
                         : static_cast<std::int64_t>(age * 60'000);
      }
      c.players.push_back(v);
    }
  }
  return out;
}

std::vector<std::vector<PairTruth>> relay_truth(const Network& net, const RouteTable& routes) {
  std::vector<std::vector<PairTruth>> out(net.relays.size());
  for (std::size_t i = 0; i < net.relays.size(); ++i) {
    for (std::size_t j = 0; j < net.relays.size(); ++j) {
      // Relay j seen from relay i is like a player at j's router behind j's access link.
      out[i].push_back(pair_truth(net, routes, net.relays[j], i));
    }
  }
  return out;
}

master::pick::RelayMatrix measure_relays(const std::vector<std::vector<PairTruth>>& truth,
                                         const Faults& faults, std::uint64_t seed) {
  Rng rng(seed);
  master::pick::RelayMatrix m(truth.size());
  for (std::size_t i = 0; i < truth.size(); ++i) {
    for (std::size_t j = 0; j < truth[i].size(); ++j) {
      // The same four draws per pair as measure(), whatever the outcome.
      const bool missing = rng.chance(faults.missing);
      const bool stale = rng.chance(faults.stale);
      const double e = rng.uniform(-1, 1);
      (void)rng.uniform01();
      const PairTruth& t = truth[i][j];
      if (i == j || missing || t.hops < 0) continue;
      const double bound = stale ? faults.error * faults.stale_error_factor : faults.error;
      m.set(i, j, {t.hops, static_cast<int>(std::max(0L, std::lround(t.rtt_ms * (1 + bound * e))))});
    }
  }
  return m;
}

std::optional<std::size_t> best_of(const master::pick::Ranking& ranking) {
  if (ranking.ranked.empty()) return std::nullopt;
  return ranking.ranked.front().candidate;
}

}  // namespace kaillera::bench::fairness
