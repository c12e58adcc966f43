#include "master/pick/estimate.hpp"

#include <algorithm>
#include <cstdlib>

namespace kaillera::master::pick {

void RelayMatrix::set(std::size_t i, std::size_t j, RelayLink link) {
  if (i >= n_ || j >= n_ || (link.hops < 0 && link.rtt_ms < 0)) return;
  links_[static_cast<std::uint64_t>(i) * n_ + j] = link;
}

RelayLink RelayMatrix::at(std::size_t i, std::size_t j) const {
  if (i >= n_ || j >= n_) return {};
  const auto get = [&](std::size_t a, std::size_t b) {
    const auto it = links_.find(static_cast<std::uint64_t>(a) * n_ + b);
    return it == links_.end() ? RelayLink{} : it->second;
  };
  RelayLink a = get(i, j);
  const RelayLink b = get(j, i);
  if (a.hops < 0) a.hops = b.hops;
  if (a.rtt_ms < 0) a.rtt_ms = b.rtt_ms;
  return a;
}

namespace {

// The tightest interval over every other relay with both distances known. `own` gives the player's measured
// value at candidate k (-1 when not measured), `link` the relay-relay value, `join` the upper bound's
// correction (hops: the shared router counts once).
template <typename Own, typename Link>
Bound tightest(std::size_t n, std::size_t relay, Own own, Link link, int join) {
  int lo = -1, hi = -1;
  int best_lo = -1, best_hi = -1;  // the narrowest single interval, for crossed bounds
  for (std::size_t k = 0; k < n; ++k) {
    if (k == relay) continue;
    const int a = own(k);
    const int d = link(k);
    if (a < 0 || d < 0) continue;
    const int l = std::abs(a - d);
    const int h = std::max(l, a + d + join);
    lo = std::max(lo, l);
    hi = hi < 0 ? h : std::min(hi, h);
    if (best_lo < 0 || h - l < best_hi - best_lo) {
      best_lo = l;
      best_hi = h;
    }
  }
  if (lo < 0) return {};
  if (lo > hi) return {best_lo, best_hi};
  return {lo, hi};
}

bool measured_rtt(const PairValue& v) {
  return v.rtt_ms >= 0 && v.rtt_uncertainty_ms < 0;
}
bool measured_hops(const PairValue& v) {
  return v.hops >= 0 && v.hops_uncertainty < 0;
}

}  // namespace

Bound rtt_bound(std::span<const Candidate> candidates, const RelayMatrix& links, std::size_t relay,
                std::size_t player) {
  return tightest(
      candidates.size(), relay,
      [&](std::size_t k) {
        const auto& ps = candidates[k].players;
        return player < ps.size() && measured_rtt(ps[player]) ? ps[player].rtt_ms : -1;
      },
      [&](std::size_t k) { return links.at(k, relay).rtt_ms; }, 0);
}

Bound hop_bound(std::span<const Candidate> candidates, const RelayMatrix& links, std::size_t relay,
                std::size_t player) {
  return tightest(
      candidates.size(), relay,
      [&](std::size_t k) {
        const auto& ps = candidates[k].players;
        return player < ps.size() && measured_hops(ps[player]) ? ps[player].hops : -1;
      },
      [&](std::size_t k) { return links.at(k, relay).hops; }, -1);
}

std::size_t fill_estimates(std::vector<Candidate>& candidates, const RelayMatrix& links) {
  // Every bound first, from measured values only, then the fill: an estimate never feeds another.
  struct Fill {
    std::size_t relay, player;
    Bound hops, rtt;
  };
  std::vector<Fill> fills;
  for (std::size_t r = 0; r < candidates.size(); ++r) {
    for (std::size_t p = 0; p < candidates[r].players.size(); ++p) {
      const PairValue& v = candidates[r].players[p];
      if (v.hops >= 0 && v.rtt_ms >= 0) continue;
      Fill f{r, p, {}, {}};
      if (v.hops < 0) f.hops = hop_bound(candidates, links, r, p);
      if (v.rtt_ms < 0) f.rtt = rtt_bound(candidates, links, r, p);
      if (f.hops.known() || f.rtt.known()) fills.push_back(f);
    }
  }
  std::size_t filled = 0;
  for (const Fill& f : fills) {
    PairValue& v = candidates[f.relay].players[f.player];
    const bool nothing_measured = v.hops < 0 && v.rtt_ms < 0;
    if (f.hops.known()) {
      v.hops = f.hops.mid();
      v.hops_uncertainty = f.hops.half_width();
      ++filled;
    }
    if (f.rtt.known()) {
      v.rtt_ms = f.rtt.mid();
      v.rtt_uncertainty_ms = f.rtt.half_width();
      ++filled;
    }
    v.estimated = true;
    if (nothing_measured) {
      v.source = Source::kEstimated;
      v.stale = false;
      v.age_ms = 0;
    }
  }
  return filled;
}

}  // namespace kaillera::master::pick
