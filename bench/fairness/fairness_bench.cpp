// fairness_bench: how fair is the master's fair pick on a simulated internet (docs/BENCHMARKS.md, "Fair pick:
// simulated internet")? For --seeds seeded networks (bench/fairness/network.hpp) and --groups player groups
// spread over them, it measures every (player, relay) pair with faults (RTT error, missing and stale pairs,
// full relays), runs the master's own scoring (master/pick/scoring.cpp, pick::rank) for every objective, and
// compares the chosen relay's true largest RTT with the best possible one (the oracle):
//   excess = (true max RTT of the pick - oracle's) / oracle's.
// Per objective: share of groups within 5 % of the oracle, median, p95 and mean excess, and answer stability
// (the measurements re-drawn with another seed for the same group; share of groups whose pick changes, and
// share whose pick changes to a relay more than 5 % of the oracle's RTT better or worse).
// Every objective is scored twice on the same measurements: as they are, and with the missing pairs
// estimated (master/pick/estimate.hpp) from relay-to-relay distances measured with the same faults (rows
// "+est"); for those, the share of picks that rest on an estimate and how often such a pick is more than 5 %
// above the oracle.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "bench/fairness/network.hpp"
#include "master/pick/scoring.hpp"

namespace {

using namespace kaillera::bench::fairness;
namespace pick = kaillera::master::pick;

struct Tally {
  std::vector<double> excess;
  int within5 = 0;
  int exact = 0;              // picked the oracle itself
  int changed = 0;            // the re-drawn measurements pick another relay
  int changed_material = 0;   // ... whose true largest RTT differs by more than 5 % of the oracle's
  int within5_measured = 0;   // within 5 % of the best relay the master had every player's value for
  int measured_groups = 0;    // groups with such a relay
  int on_estimate = 0;        // the pick rests on an estimated value for some player
  int on_estimate_wrong = 0;  // ... and is more than 5 % above the oracle
};

// A row of the table: an objective, scored on the measurements alone or with the missing pairs estimated.
struct Row {
  pick::Objective objective;
  bool estimates;
};

std::string row_name(const Row& r) {
  return std::string(pick::to_string(r.objective)) + (r.estimates ? "+est" : "");
}

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<std::size_t>(rank, 1)) - 1];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fairness_bench: the master's fair pick (pick::rank) against the RTT oracle on simulated networks"};
  int seeds = 5;
  std::uint64_t first_seed = 1;
  int groups = 2500;
  NetworkParams net_params;
  GroupParams group_params;
  Faults faults;
  std::string routing_name = "hops";
  int slack = 3;  // the master's default pick_hop_slack
  bool json = false;
  app.add_option("--seeds", seeds, "Networks (one seed each)")->check(CLI::Range(1, 100000));
  app.add_option("--first-seed", first_seed, "Seed of the first network; the others follow from it");
  app.add_option("--groups", groups, "Player groups in all, spread evenly over the networks")
      ->check(CLI::Range(1, 100000000));
  app.add_option("--routers", net_params.routers, "Routers per network")->check(CLI::Range(2, 100000));
  app.add_option("--relays", net_params.relays, "Relays per network")->check(CLI::Range(1, 10000));
  app.add_option("--width-km", net_params.width_km, "Plane width")->check(CLI::PositiveNumber);
  app.add_option("--height-km", net_params.height_km, "Plane height")->check(CLI::PositiveNumber);
  app.add_option("--alpha", net_params.waxman_alpha, "Waxman alpha (link density)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--beta", net_params.waxman_beta, "Waxman beta (share of long links)")
      ->check(CLI::PositiveNumber);
  app.add_option("--error", faults.error, "RTT error bound: RTT x (1 + U(-e, e))")
      ->check(CLI::Range(0.0, 0.9));
  app.add_option("--missing", faults.missing, "Probability that a pair is unknown")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--stale", faults.stale, "Probability that a pair is stale (error x 3)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--full", group_params.full, "Probability that a relay is full")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--routing", routing_name, "Routing model: hops (fewest hops) or delay (least delay)")
      ->check(CLI::IsMember({"hops", "delay"}));
  app.add_option("--slack", slack, "hop_slack of the balanced objective")->check(CLI::Range(0, 100));
  app.add_flag("--json", json, "Print the results as JSON instead of a table");
  CLI11_PARSE(app, argc, argv);
  const Routing routing = routing_name == "hops" ? Routing::kFewestHops : Routing::kLeastDelay;

  std::vector<Row> rows;
  for (const bool est : {false, true})
    for (const pick::Objective o : pick::kObjectives)
      rows.push_back({o, est});
  std::vector<Tally> tallies(rows.size());
  int counted = 0, skipped = 0, oracle_incomplete = 0;
  double degree_sum = 0, oracle_rtt_sum = 0, oracle_hops_sum = 0;
  for (int s = 0; s < seeds; ++s) {
    const std::uint64_t net_seed = derive_seed(first_seed, static_cast<std::uint64_t>(s));
    const Network net = generate_network(net_params, net_seed);
    degree_sum += 2.0 * static_cast<double>(net.links.size()) / static_cast<double>(net.routers.size());
    const RouteTable routes = route(net, routing);
    const auto between_relays = relay_truth(net, routes);
    const int n = groups / seeds + (s < groups % seeds ? 1 : 0);
    for (int g = 0; g < n; ++g) {
      const auto gi = static_cast<std::uint64_t>(g);
      const Group group = make_group(net, routes, group_params, derive_seed(net_seed, 1, gi));
      const auto best_possible = oracle(group);
      if (!best_possible) {
        ++skipped;
        continue;
      }
      ++counted;
      const double oracle_rtt = true_max_rtt(group, *best_possible);
      oracle_rtt_sum += oracle_rtt;
      int hops = 0;
      for (const PairTruth& t : group.truth[*best_possible])
        hops = std::max(hops, t.hops);
      oracle_hops_sum += hops;
      const auto first = measure(group, faults, derive_seed(net_seed, 2, gi));
      const auto again = measure(group, faults, derive_seed(net_seed, 3, gi));
      // The same measurements with the missing pairs estimated from the relays' distances to each other
      // (measured with the same faults, drawn from their own streams).
      auto first_est = first;
      auto again_est = again;
      pick::fill_estimates(first_est, measure_relays(between_relays, faults, derive_seed(net_seed, 4, gi)));
      pick::fill_estimates(again_est, measure_relays(between_relays, faults, derive_seed(net_seed, 5, gi)));
      // The oracle among the relays the master has every player's RTT for: what any scoring could reach
      // without guessing the missing pairs.
      std::optional<double> measured_oracle_rtt;
      for (std::size_t r = 0; r < first.size(); ++r) {
        if (group.full[r]) continue;
        bool complete = true;
        for (const pick::PairValue& v : first[r].players)
          complete = complete && v.rtt_ms >= 0;
        if (complete && (!measured_oracle_rtt || true_max_rtt(group, r) < *measured_oracle_rtt))
          measured_oracle_rtt = true_max_rtt(group, r);
      }
      if (measured_oracle_rtt && *measured_oracle_rtt > oracle_rtt) ++oracle_incomplete;
      for (std::size_t o = 0; o < rows.size(); ++o) {
        const pick::Options options{rows[o].objective, slack};
        const auto& m1 = rows[o].estimates ? first_est : first;
        const auto& m2 = rows[o].estimates ? again_est : again;
        const auto ranking = pick::rank(m1, options);
        const auto a = best_of(ranking);
        const auto b = best_of(pick::rank(m2, options));
        Tally& t = tallies[o];
        // Every relay not full is a candidate, and the oracle is one, so there is always a pick.
        const double excess = (true_max_rtt(group, *a) - oracle_rtt) / oracle_rtt;
        t.excess.push_back(excess);
        if (excess <= 0.05) ++t.within5;
        if (ranking.ranked.front().estimated > 0) {
          ++t.on_estimate;
          if (excess > 0.05) ++t.on_estimate_wrong;
        }
        if (*a == *best_possible) ++t.exact;
        if (a != b) ++t.changed;
        if (std::abs(true_max_rtt(group, *a) - true_max_rtt(group, *b)) > 0.05 * oracle_rtt)
          ++t.changed_material;
        if (measured_oracle_rtt) {
          ++t.measured_groups;
          if (true_max_rtt(group, *a) <= 1.05 * *measured_oracle_rtt) ++t.within5_measured;
        }
      }
    }
  }

  const auto share = [&](int k) { return counted == 0 ? 0.0 : 100.0 * k / counted; };
  nlohmann::json out;
  out["settings"] = {{"seeds", seeds},
                     {"first_seed", first_seed},
                     {"groups", counted},
                     {"skipped_all_full", skipped},
                     {"routers", net_params.routers},
                     {"relays", net_params.relays},
                     {"width_km", net_params.width_km},
                     {"height_km", net_params.height_km},
                     {"alpha", net_params.waxman_alpha},
                     {"beta", net_params.waxman_beta},
                     {"error", faults.error},
                     {"missing", faults.missing},
                     {"stale", faults.stale},
                     {"full", group_params.full},
                     {"routing", routing_name},
                     {"slack", slack}};
  out["network"] = {{"mean_degree", degree_sum / seeds},
                    {"oracle_mean_max_rtt_ms", counted ? oracle_rtt_sum / counted : 0.0},
                    {"oracle_mean_max_hops", counted ? oracle_hops_sum / counted : 0.0},
                    {"oracle_incomplete", share(oracle_incomplete)}};
  for (std::size_t o = 0; o < tallies.size(); ++o) {
    Tally& t = tallies[o];
    std::sort(t.excess.begin(), t.excess.end());
    double sum = 0;
    for (const double e : t.excess)
      sum += e;
    out["objectives"][row_name(rows[o])] = {
        {"within_5pct", share(t.within5)},
        {"oracle_picked", share(t.exact)},
        {"median_excess", 100 * percentile(t.excess, 0.5)},
        {"p95_excess", 100 * percentile(t.excess, 0.95)},
        {"mean_excess", t.excess.empty() ? 0.0 : 100 * sum / static_cast<double>(t.excess.size())},
        {"answer_changed", share(t.changed)},
        {"answer_changed_over_5pct", share(t.changed_material)},
        {"within_5pct_of_measured", t.measured_groups ? 100.0 * t.within5_measured / t.measured_groups : 0.0},
        {"on_estimate", share(t.on_estimate)},
        {"on_estimate_over_5pct", t.on_estimate ? 100.0 * t.on_estimate_wrong / t.on_estimate : 0.0}};
  }
  if (json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf(
      "fair pick vs RTT oracle: %d groups on %d networks (%d routers, %.0fx%.0f km, mean degree %.2f, %d "
      "relays), routing by %s\n",
      counted, seeds, net_params.routers, net_params.width_km, net_params.height_km, degree_sum / seeds,
      net_params.relays, routing == Routing::kFewestHops ? "fewest hops" : "least delay");
  std::printf(
      "faults: RTT error +-%.0f %%, missing %.0f %%, stale %.0f %% (error x%.0f), full %.0f %%; slack %d\n",
      100 * faults.error, 100 * faults.missing, 100 * faults.stale, faults.stale_error_factor,
      100 * group_params.full, slack);
  std::printf(
      "oracle = the relay not full with the smallest true largest RTT; excess = the pick's over it; changes "
      "= "
      "re-drawn measurements pick another relay (by > 5 %%: one more than 5 %% better or worse); 5 %% of msd "
      "= "
      "within 5 %% of the best relay measured for every player; +est = missing pairs estimated from the "
      "relays' "
      "distances to each other (triangle bounds); on est = the pick rests on an estimate; est > 5 %% = of "
      "those, the share more than 5 %% above the oracle\n");
  std::printf(
      "oracle: mean largest RTT %.1f ms, mean largest hop count %.1f; %.1f %% of groups lack a player's RTT "
      "at "
      "the oracle and every relay as good%s\n",
      out["network"]["oracle_mean_max_rtt_ms"].get<double>(),
      out["network"]["oracle_mean_max_hops"].get<double>(), share(oracle_incomplete),
      skipped ? (", " + std::to_string(skipped) + " groups skipped (every relay full)").c_str() : "");
  std::printf("%-12s %11s %11s %11s %11s %11s %11s %11s %11s %11s %11s\n", "objective", "within 5 %",
              "oracle", "median exc", "p95 exc", "mean exc", "changes", "by > 5 %", "5 % of msd", "on est",
              "est > 5 %");
  for (std::size_t o = 0; o < tallies.size(); ++o) {
    const auto& j = out["objectives"][row_name(rows[o])];
    std::printf(
        "%-12s %9.1f %% %9.1f %% %9.1f %% %9.1f %% %9.1f %% %9.1f %% %9.1f %% %9.1f %% %9.1f %% %9.1f %%\n",
        row_name(rows[o]).c_str(), j["within_5pct"].get<double>(), j["oracle_picked"].get<double>(),
        j["median_excess"].get<double>(), j["p95_excess"].get<double>(), j["mean_excess"].get<double>(),
        j["answer_changed"].get<double>(), j["answer_changed_over_5pct"].get<double>(),
        j["within_5pct_of_measured"].get<double>(), j["on_estimate"].get<double>(),
        j["on_estimate_over_5pct"].get<double>());
  }
  return 0;
}
