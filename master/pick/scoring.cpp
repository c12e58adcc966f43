#include "master/pick/scoring.hpp"

#include <algorithm>
#include <climits>
#include <tuple>

namespace kaillera::master::pick {

std::string_view to_string(Objective o) {
  switch (o) {
    case Objective::kHops:
      return "hops";
    case Objective::kLatency:
      return "latency";
    case Objective::kBalanced:
      return "balanced";
  }
  return "hops";
}

std::optional<Objective> parse_objective(std::string_view s) {
  for (const Objective o : kObjectives)
    if (s == to_string(o)) return o;
  return std::nullopt;
}

std::string_view to_string(Source s) {
  switch (s) {
    case Source::kMissing:
      return "missing";
    case Source::kMeasured:
      return "measured";
    case Source::kProbed:
      return "probed";
    case Source::kReported:
      return "reported";
    case Source::kEstimated:
      return "estimated";
  }
  return "missing";
}

namespace {

constexpr std::int64_t kUnlimited = std::int64_t{1} << 40;

// Unknown values order after every known one.
int known_or_max(int v) {
  return v < 0 ? INT_MAX : v;
}

auto hop_key(const Score& s) {
  return std::make_tuple(s.missing_hops, known_or_max(s.max_hops_upper), known_or_max(s.spread),
                         s.missing_rtt, known_or_max(s.max_rtt_upper_ms), s.estimated, s.stale,
                         -s.free_slots);
}

auto latency_key(const Score& s) {
  return std::make_tuple(s.missing_rtt, known_or_max(s.max_rtt_upper_ms), s.estimated, s.missing_hops,
                         known_or_max(s.max_hops_upper), known_or_max(s.spread), s.stale, -s.free_slots);
}

auto balanced_key(const Score& s) {
  return std::make_tuple(known_or_max(s.max_rtt_upper_ms), s.estimated, known_or_max(s.spread), s.stale,
                         -s.free_slots, known_or_max(s.max_hops_upper));
}

}  // namespace

Score score_of(const Candidate& c, std::size_t index) {
  Score s;
  s.candidate = index;
  for (const PairValue& p : c.players) {
    if (p.hops < 0) {
      ++s.missing_hops;
    } else {
      s.max_hops = std::max(s.max_hops, p.hops);
      s.min_hops = s.min_hops < 0 ? p.hops : std::min(s.min_hops, p.hops);
      s.max_hops_upper = std::max(s.max_hops_upper, p.hops + std::max(0, p.hops_uncertainty));
    }
    if (p.rtt_ms < 0) {
      ++s.missing_rtt;
    } else {
      s.max_rtt_ms = std::max(s.max_rtt_ms, p.rtt_ms);
      s.max_rtt_upper_ms = std::max(s.max_rtt_upper_ms, p.rtt_ms + std::max(0, p.rtt_uncertainty_ms));
      s.max_rtt_uncertainty_ms = std::max(s.max_rtt_uncertainty_ms, p.rtt_uncertainty_ms);
    }
    if (p.stale && (p.hops >= 0 || p.rtt_ms >= 0)) ++s.stale;
    if (p.estimated) ++s.estimated;
  }
  if (s.max_hops >= 0) s.spread = s.max_hops - s.min_hops;
  s.free_slots = c.max_users <= 0 ? kUnlimited : std::max<std::int64_t>(0, c.max_users - c.users);
  return s;
}

Ranking rank(std::span<const Candidate> candidates, const Options& options) {
  Ranking r;
  r.objective = options.objective;
  r.ranked.reserve(candidates.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    if (!c.online) {
      r.excluded.push_back({i, "offline"});
    } else if (!c.reachable) {
      r.excluded.push_back({i, "unreachable"});
    } else if (c.max_users > 0 && c.users >= c.max_users) {
      r.excluded.push_back({i, "full"});
    } else if (c.busy) {
      r.excluded.push_back({i, "busy"});
    } else {
      r.ranked.push_back(score_of(c, i));
    }
  }
  const auto id_less = [&](const Score& a, const Score& b) {
    return candidates[a.candidate].id < candidates[b.candidate].id;
  };

  for (const Score& s : r.ranked) {
    // Estimated hop counts take part at their upper end, so a low estimate cannot narrow the slack set.
    if (s.missing_hops == 0 && s.max_hops_upper >= 0 &&
        (r.best_max_hops < 0 || s.max_hops_upper < r.best_max_hops)) {
      r.best_max_hops = s.max_hops_upper;
    }
  }
  const int slack = std::max(0, options.hop_slack);
  for (Score& s : r.ranked) {
    s.in_slack = r.best_max_hops >= 0 && s.missing_hops == 0 && s.max_hops_upper <= r.best_max_hops + slack;
    if (options.objective == Objective::kBalanced && s.in_slack && s.missing_rtt > 0) r.rtt_fallback = true;
  }

  switch (options.objective) {
    case Objective::kHops:
      std::sort(r.ranked.begin(), r.ranked.end(), [&](const Score& a, const Score& b) {
        const auto ka = hop_key(a), kb = hop_key(b);
        return ka != kb ? ka < kb : id_less(a, b);
      });
      break;
    case Objective::kLatency:
      std::sort(r.ranked.begin(), r.ranked.end(), [&](const Score& a, const Score& b) {
        const auto ka = latency_key(a), kb = latency_key(b);
        return ka != kb ? ka < kb : id_less(a, b);
      });
      break;
    case Objective::kBalanced: {
      const bool by_rtt = !r.rtt_fallback;
      std::sort(r.ranked.begin(), r.ranked.end(), [&](const Score& a, const Score& b) {
        if (a.in_slack != b.in_slack) return a.in_slack;
        if (a.in_slack && by_rtt) {
          const auto ka = balanced_key(a), kb = balanced_key(b);
          return ka != kb ? ka < kb : id_less(a, b);
        }
        const auto ka = hop_key(a), kb = hop_key(b);
        return ka != kb ? ka < kb : id_less(a, b);
      });
      break;
    }
  }
  return r;
}

std::array<Ranking, 3> rank_all(std::span<const Candidate> candidates, int hop_slack) {
  return {rank(candidates, {Objective::kHops, hop_slack}), rank(candidates, {Objective::kLatency, hop_slack}),
          rank(candidates, {Objective::kBalanced, hop_slack})};
}

}  // namespace kaillera::master::pick
