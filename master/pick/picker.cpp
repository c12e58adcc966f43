#include "master/pick/picker.hpp"

#include <algorithm>
#include <chrono>
#include <set>

#include "common/net/address.hpp"
#include "master/pick/estimate.hpp"

namespace kaillera::master::pick {

namespace {

constexpr int kSourceProbe = 5;  // Measurement.SOURCE_PROBE

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

Status bad(std::string m) {
  return Status{Code::kInvalidArgument, std::move(m)};
}

bool wanted(const ListedServer& s, const PickInput& in, const std::string& location) {
  if (!in.relay_ids.empty() &&
      std::find(in.relay_ids.begin(), in.relay_ids.end(), s.id) == in.relay_ids.end())
    return false;
  if (!location.empty() && lower(s.location.utf8).find(location) == std::string::npos) return false;
  if (s.external) {
    // Third-party servers have no relay measuring for us: only the players' own measurements can rank them.
    return std::any_of(in.own.begin(), in.own.end(),
                       [&](const OwnMeasurement& m) { return m.host == s.host && m.port == s.port; });
  }
  return true;
}

}  // namespace

Status validate(PickInput& in, const PickerSettings& settings) {
  if (in.players.empty()) return bad("players: at least one player address is needed");
  if (in.players.size() > kMaxPlayers) {
    return bad("players: at most " + std::to_string(kMaxPlayers) + " (got " +
               std::to_string(in.players.size()) + ")");
  }
  std::set<std::uint32_t> seen;
  for (std::size_t i = 0; i < in.players.size(); ++i) {
    const auto ip = net::parse_ipv4(in.players[i]);
    if (!ip) {
      return bad("players[" + std::to_string(i) + "]: not an IPv4 address (\"" + in.players[i].substr(0, 64) +
                 "\")");
    }
    if (!seen.insert(*ip).second) {
      return bad("players[" + std::to_string(i) + "]: " + in.players[i] + " is listed twice");
    }
    in.players[i] = net::ip_to_string(*ip);  // canonical form: what relays report
  }
  if (in.deadline_ms && (*in.deadline_ms < 0 || *in.deadline_ms > settings.max_deadline_ms)) {
    return bad("deadline_ms: 0 to " + std::to_string(settings.max_deadline_ms) + " (got " +
               std::to_string(*in.deadline_ms) + ")");
  }
  if (in.hop_slack && (*in.hop_slack < 0 || *in.hop_slack > 32)) {
    return bad("hop_slack: 0 to 32 (got " + std::to_string(*in.hop_slack) + ")");
  }
  if (in.relay_ids.size() > 10'000) return bad("filter.relay_ids: at most 10000");
  if (in.limit < 1 || in.limit > kMaxLimit) {
    return bad("limit: 1 to " + std::to_string(kMaxLimit) + " (got " + std::to_string(in.limit) + ")");
  }
  if (in.location_contains.size() > kMaxLocationBytes) return bad("filter.location_contains: too long");
  if (in.own.size() > kMaxOwnMeasurements) {
    return bad("own_measurements: at most " + std::to_string(kMaxOwnMeasurements));
  }
  for (std::size_t i = 0; i < in.own.size(); ++i) {
    auto& m = in.own[i];
    const std::string f = "own_measurements[" + std::to_string(i) + "]";
    const auto ip = net::parse_ipv4(m.player);
    if (!ip || !seen.count(*ip))
      return bad(f + ".player: must be one of the players (got \"" + m.player.substr(0, 64) + "\")");
    m.player = net::ip_to_string(*ip);
    if (m.host.empty() || m.host.size() > kMaxHostBytes)
      return bad(f + ".server_host: required, a host name");
    if (m.port < 1 || m.port > 65535) return bad(f + ".server_port: 1 to 65535");
    if (m.hops > 255) return bad(f + ".hops: at most 255");
    if (m.rtt_ms > 600'000) return bad(f + ".rtt_ms: at most 600000");
  }
  return Status::Ok();
}

Picker::Picker(Catalog& catalog, PickerSettings settings, std::function<UnixMillis()> now, SendProbe send)
    : catalog_(catalog), settings_(settings), now_(std::move(now)), send_(std::move(send)) {
  thread_ = std::thread([this] { run(); });
}

Picker::~Picker() {
  stop();
}

void Picker::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t Picker::pending() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

PickOutput Picker::pick_now(const PickInput& in, UnixMillis now) const {
  PickOutput out;
  out.objective = in.objective.value_or(settings_.default_objective);
  out.players = in.players;
  const int slack = in.hop_slack.value_or(settings_.hop_slack);
  const auto snap = catalog_.snapshot(now);
  const std::string location = lower(in.location_contains);
  std::vector<std::uint32_t> ips;
  for (const auto& p : in.players)
    ips.push_back(net::parse_ipv4(p).value_or(0));

  std::vector<const ListedServer*> servers;
  std::vector<Candidate> candidates;
  for (const ListedServer& s : snap->servers) {
    if (!wanted(s, in, location)) continue;
    Candidate c;
    c.id = s.id;
    c.online = s.online;
    c.reachable = !s.host.empty() && s.port > 0;
    c.users = s.users;
    c.max_users = s.max_users;
    c.busy = s.busy();
    c.players.resize(in.players.size());
    for (std::size_t i = 0; i < in.players.size(); ++i) {
      PairValue& v = c.players[i];
      if (s.relay_id > 0) {
        if (const auto e = catalog_.measurements().get(s.relay_id, ips[i])) {
          if (e->hops >= 0) {
            v.hops = e->hops;
            v.source = e->hops_source == kSourceProbe ? Source::kProbed : Source::kMeasured;
            v.age_ms = std::max<UnixMillis>(0, now - e->hops_unix_ms);
          }
          if (e->rtt_ms > 0) {
            v.rtt_ms = e->rtt_ms;
            if (v.source == Source::kMissing) {
              v.source = e->rtt_source == kSourceProbe ? Source::kProbed : Source::kMeasured;
              v.age_ms = std::max<UnixMillis>(0, now - e->rtt_unix_ms);
            }
          }
          v.stale = (e->hops >= 0 && now - e->hops_unix_ms > settings_.fresh_ms) ||
                    (e->rtt_ms > 0 && now - e->rtt_unix_ms > settings_.fresh_ms);
        }
      }
      // The player's own measurement fills what the relays do not know (or only know from long ago).
      for (const OwnMeasurement& m : in.own) {
        if (m.player != in.players[i] || m.host != s.host || m.port != s.port) continue;
        const bool use_hops = m.hops >= 0 && (v.hops < 0 || v.stale);
        const bool use_rtt = m.rtt_ms > 0 && (v.rtt_ms < 0 || v.stale);
        if (use_hops) v.hops = m.hops;
        if (use_rtt) v.rtt_ms = m.rtt_ms;
        if (use_hops || use_rtt) {
          v.source = Source::kReported;
          v.stale = false;
          v.age_ms = 0;
        }
      }
    }
    servers.push_back(&s);
    candidates.push_back(std::move(c));
  }

  if (settings_.estimate) out.estimated = static_cast<std::uint32_t>(estimate(servers, candidates));
  const auto rankings = rank_all(candidates, slack);
  const auto view = [&](const Score& sc) {
    CandidateView v;
    v.server = *servers[sc.candidate];
    v.score = sc;
    for (std::size_t i = 0; i < in.players.size(); ++i)
      v.players.push_back({in.players[i], candidates[sc.candidate].players[i]});
    return v;
  };
  const Ranking& main = rankings[static_cast<std::size_t>(out.objective)];
  for (const Score& sc : main.ranked) {
    if (out.ranking.size() >= in.limit) break;
    out.ranking.push_back(view(sc));
  }
  for (const Excluded& e : main.excluded)
    out.excluded.emplace_back(*servers[e.candidate], e.reason);
  for (std::size_t o = 0; o < rankings.size(); ++o)
    if (!rankings[o].ranked.empty()) out.best_by[o] = view(rankings[o].ranked.front());
  out.rtt_fallback = main.rtt_fallback;
  out.best_max_hops = main.best_max_hops;
  return out;
}

std::size_t Picker::estimate(const std::vector<const ListedServer*>& servers,
                             std::vector<Candidate>& candidates) const {
  // Only the distances an estimate can use are looked up: from a relay lacking a player's value (column r)
  // to the relays where that player has one (k). A master with many relays and a group nobody measured
  // anywhere looks up nothing.
  std::vector<std::optional<std::uint32_t>> ips(servers.size());
  for (std::size_t i = 0; i < servers.size(); ++i)
    if (servers[i]->relay_id > 0) ips[i] = net::parse_ipv4(servers[i]->host);
  RelayMatrix links(candidates.size());
  bool any = false;
  for (std::size_t r = 0; r < candidates.size(); ++r) {
    const auto& missing_at_r = candidates[r].players;
    if (!ips[r] || std::none_of(missing_at_r.begin(), missing_at_r.end(),
                                [](const PairValue& v) { return v.hops < 0 || v.rtt_ms < 0; }))
      continue;
    for (std::size_t k = 0; k < candidates.size(); ++k) {
      if (k == r || !ips[k]) continue;
      bool useful = false;
      for (std::size_t p = 0; p < missing_at_r.size() && !useful; ++p) {
        const PairValue& want = missing_at_r[p];
        const PairValue& have = candidates[k].players[p];
        useful = (want.hops < 0 && have.hops >= 0) || (want.rtt_ms < 0 && have.rtt_ms >= 0);
      }
      if (!useful) continue;
      // The distance as relay k measured relay r, else as r measured k.
      for (const auto& [from, to] : {std::pair{k, r}, std::pair{r, k}}) {
        const auto e = catalog_.measurements().get(servers[from]->relay_id, *ips[to]);
        if (!e) continue;
        links.set(from, to, {e->hops, e->rtt_ms > 0 ? e->rtt_ms : -1});
        any = true;
      }
    }
  }
  return any ? fill_estimates(candidates, links) : 0;
}

std::size_t Picker::probe_peers(UnixMillis now) {
  const auto snap = catalog_.snapshot(now);
  std::vector<std::pair<std::int64_t, std::uint32_t>> relays;
  for (const ListedServer& s : snap->servers) {
    if (s.relay_id <= 0 || s.external || !s.online) continue;
    if (const auto ip = net::parse_ipv4(s.host)) relays.emplace_back(s.relay_id, *ip);
  }
  std::uint64_t round = 0;
  {
    std::lock_guard lock(mu_);
    round = next_peer_round_++;
  }
  std::size_t sent = 0;
  for (const auto& [relay, own_ip] : relays) {
    std::vector<std::string> peers;
    for (const auto& [other, ip] : relays) {
      if (other == relay || ip == own_ip || peers.size() >= kMaxPeersPerProbe) continue;
      const auto e = catalog_.measurements().get(relay, ip);
      const bool fresh = e && e->hops >= 0 && now - e->hops_unix_ms <= settings_.fresh_ms && e->rtt_ms > 0 &&
                         now - e->rtt_unix_ms <= settings_.fresh_ms;
      if (!fresh) peers.push_back(net::ip_to_string(ip));
    }
    if (peers.empty() || !send_) continue;
    const std::string rid = "peers-" + std::to_string(round) + "-" + std::to_string(relay);
    if (send_(relay, rid, peers, static_cast<std::uint32_t>(settings_.peer_probe_deadline_ms))) ++sent;
  }
  return sent;
}

void Picker::pick(PickInput in, Done done) {
  if (Status s = validate(in, settings_); !s.ok()) {
    PickOutput out;
    out.status = std::move(s);
    done(std::move(out));
    return;
  }
  const UnixMillis now = now_();
  const UnixMillis wait = in.deadline_ms.value_or(settings_.default_deadline_ms);
  // Which pairs need a probe: those of online relays of ours without a fresh hop count and RTT.
  std::map<std::int64_t, std::vector<std::string>> asks;
  if (wait > 0) {
    const auto snap = catalog_.snapshot(now);
    const std::string location = lower(in.location_contains);
    for (const ListedServer& s : snap->servers) {
      if (s.relay_id <= 0 || s.external || !s.online || !wanted(s, in, location)) continue;
      if (s.max_users > 0 && s.users >= s.max_users) continue;
      for (const auto& p : in.players) {
        const auto e = catalog_.measurements().get(s.relay_id, net::parse_ipv4(p).value_or(0));
        const bool fresh = e && e->hops >= 0 && now - e->hops_unix_ms <= settings_.fresh_ms &&
                           e->rtt_ms > 0 && now - e->rtt_unix_ms <= settings_.fresh_ms;
        if (!fresh) asks[s.relay_id].push_back(p);
      }
    }
  }
  if (asks.empty()) {
    done(pick_now(in, now));
    return;
  }
  std::unique_lock lock(mu_);
  if (pending_.size() >= settings_.max_pending) {
    lock.unlock();
    PickOutput out = pick_now(in, now);  // answer with what is known rather than not at all
    done(std::move(out));
    return;
  }
  const std::uint64_t id = next_id_++;
  // Registered before anything is sent: a relay may answer before send_() returns.
  Pending& p = pending_[id];
  p.deadline = now + wait;
  p.input = std::move(in);
  p.done = std::move(done);
  std::vector<std::pair<std::string, std::int64_t>> requests;
  for (const auto& [relay_id, addresses] : asks) {
    const std::string rid = "pick-" + std::to_string(id) + "-" + std::to_string(relay_id);
    p.outstanding[rid] = addresses.size();
    p.requested += static_cast<std::uint32_t>(addresses.size());
    by_request_[rid] = id;
    requests.emplace_back(rid, relay_id);
  }
  lock.unlock();
  for (const auto& [rid, relay_id] : requests) {
    if (send_ && send_(relay_id, rid, asks[relay_id], static_cast<std::uint32_t>(wait))) continue;
    // No stream to that relay: nothing to wait for.
    std::lock_guard relock(mu_);
    by_request_.erase(rid);
    if (auto it = pending_.find(id); it != pending_.end()) {
      it->second.requested -= static_cast<std::uint32_t>(it->second.outstanding[rid]);
      it->second.outstanding.erase(rid);
    }
  }
  cv_.notify_all();
}

void Picker::on_probe_result(std::int64_t, const std::string& request_id, std::size_t) {
  {
    std::lock_guard lock(mu_);
    const auto it = by_request_.find(request_id);
    if (it == by_request_.end()) return;  // late, or not ours
    auto pit = pending_.find(it->second);
    by_request_.erase(it);
    if (pit == pending_.end()) return;
    auto& p = pit->second;
    const auto o = p.outstanding.find(request_id);
    if (o != p.outstanding.end()) {
      p.answered += static_cast<std::uint32_t>(o->second);
      p.outstanding.erase(o);
    }
  }
  cv_.notify_all();
}

void Picker::run() {
  std::unique_lock lock(mu_);
  // The first round of peer probes after one interval: relays connect after the master starts.
  UnixMillis next_peers =
      settings_.peer_probe_interval_ms > 0 ? now_() + settings_.peer_probe_interval_ms : 0;
  while (true) {
    UnixMillis now = now_();
    if (next_peers > 0 && now >= next_peers && !stopping_) {
      lock.unlock();
      probe_peers(now);
      lock.lock();
      next_peers = now + settings_.peer_probe_interval_ms;
      now = now_();
    }
    std::vector<Pending> ready;
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (stopping_ || it->second.outstanding.empty() || now >= it->second.deadline) {
        for (const auto& [rid, n] : it->second.outstanding)
          by_request_.erase(rid);
        ready.push_back(std::move(it->second));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    if (!ready.empty()) {
      lock.unlock();
      for (Pending& p : ready) {
        PickOutput out = pick_now(p.input, now_());
        out.probes_requested = p.requested;
        out.probes_answered = p.answered;
        p.done(std::move(out));
      }
      lock.lock();
      continue;
    }
    if (stopping_) return;
    if (pending_.empty() && next_peers == 0) {
      cv_.wait(lock);
    } else {
      UnixMillis next = next_peers > 0 ? next_peers : pending_.begin()->second.deadline;
      for (const auto& [id, p] : pending_)
        next = std::min(next, p.deadline);
      cv_.wait_for(lock, std::chrono::milliseconds(std::clamp<UnixMillis>(next - now, 1, 1000)));
    }
  }
}

}  // namespace kaillera::master::pick
