#include "master/pick/render.hpp"

#include <nlohmann/json.hpp>

#include "common/kaillera/conn_type.hpp"
#include "master/proto_convert.hpp"

namespace kaillera::master::pick {

namespace {

using nlohmann::json;

Status bad(std::string m) {
  return Status{Code::kInvalidArgument, std::move(m)};
}

json maybe(int v) {
  return v < 0 ? json(nullptr) : json(v);
}

// What the relay would send in 0x11 at `max_rtt` for each connection type (KAILLERA.md §5.3); empty when the
// RTT is unknown. Both answer formats list these.
struct FrameDelay {
  std::uint8_t conn_type;
  std::uint16_t delay;
  std::uint32_t input_lag;
};
std::vector<FrameDelay> frame_delays(int max_rtt) {
  std::vector<FrameDelay> out;
  if (max_rtt < 0) return out;
  for (std::uint8_t ct = 1; ct <= 6; ++ct) {
    const auto d = proto::frame_delay(static_cast<std::uint32_t>(max_rtt), ct);
    out.push_back({ct, d, proto::input_lag_frames(d, ct)});
  }
  return out;
}

json frame_delays_json(int max_rtt) {
  json out = json::array();
  for (const FrameDelay& f : frame_delays(max_rtt)) {
    out.push_back({{"connection_type", f.conn_type},
                   {"name", std::string(proto::conn_type_name(f.conn_type))},
                   {"frame_delay", f.delay},
                   {"input_lag_frames", f.input_lag}});
  }
  return out;
}

json candidate_json(const CandidateView& c) {
  json players = json::array();
  for (const auto& p : c.players) {
    players.push_back({{"address", p.address},
                       {"hops", maybe(p.value.hops)},
                       {"rtt_ms", maybe(p.value.rtt_ms)},
                       {"source", std::string(to_string(p.value.source))},
                       {"stale", p.value.stale},
                       {"age_s", p.value.age_ms / 1000},
                       {"estimated", p.value.estimated},
                       {"hops_uncertainty", maybe(p.value.hops_uncertainty)},
                       {"rtt_uncertainty_ms", maybe(p.value.rtt_uncertainty_ms)}});
  }
  const auto& s = c.server;
  return {{"relay",
           {{"id", s.id},
            {"name", s.name.utf8},
            {"host", s.host},
            {"port", s.port},
            {"game_ports", {s.game_port_first, s.game_port_last}},
            {"location", s.location.utf8},
            {"external", s.external},
            {"users", s.users},
            {"max_users", s.max_users}}},
          {"max_hops", maybe(c.score.max_hops)},
          {"spread", maybe(c.score.spread)},
          {"max_rtt_ms", maybe(c.score.max_rtt_ms)},
          {"missing", c.score.missing_hops},
          {"in_slack", c.score.in_slack},
          {"estimated", c.score.estimated},
          {"max_rtt_uncertainty_ms", c.score.max_rtt_uncertainty_ms},
          {"players", std::move(players)},
          {"frame_delay", frame_delays_json(c.score.max_rtt_ms)}};
}

std::string_view get_string(const json& j, std::string_view field, Status& st) {
  if (!j.is_string()) {
    st = bad(std::string(field) + ": must be a string");
    return {};
  }
  return j.get_ref<const std::string&>();
}

bool get_int(const json& j, std::string_view field, std::int64_t lo, std::int64_t hi, std::int64_t& v,
             Status& st) {
  if (!j.is_number_integer()) {
    st = bad(std::string(field) + ": must be an integer");
    return false;
  }
  v = j.get<std::int64_t>();
  if (v < lo || v > hi) {
    st = bad(std::string(field) + ": " + std::to_string(lo) + " to " + std::to_string(hi) + " (got " +
             std::to_string(v) + ")");
    return false;
  }
  return true;
}

void candidate_proto(const CandidateView& c, v1::PickCandidate& out) {
  out.set_relay_id(c.server.id);
  master::to_proto(c.server.name, *out.mutable_name());
  out.set_host(c.server.host);
  out.set_port(static_cast<std::uint32_t>(c.server.port));
  out.set_game_port_first(static_cast<std::uint32_t>(c.server.game_port_first));
  out.set_game_port_last(static_cast<std::uint32_t>(c.server.game_port_last));
  out.set_external(c.server.external);
  out.set_max_hops(c.score.max_hops);
  out.set_spread(c.score.spread);
  out.set_max_rtt_ms(c.score.max_rtt_ms);
  out.set_missing(static_cast<std::uint32_t>(c.score.missing_hops));
  out.set_free_slots(c.server.max_users > 0 ? c.score.free_slots : -1);
  out.set_in_slack(c.score.in_slack);
  out.set_estimated(static_cast<std::uint32_t>(c.score.estimated));
  out.set_max_rtt_uncertainty_ms(c.score.max_rtt_uncertainty_ms);
  for (const auto& p : c.players) {
    auto* o = out.add_players();
    o->set_address(p.address);
    o->set_hops(p.value.hops);
    o->set_rtt_ms(p.value.rtt_ms);
    o->set_source(std::string(to_string(p.value.source)));
    o->set_stale(p.value.stale);
    o->set_age_ms(p.value.age_ms);
    o->set_estimated(p.value.estimated);
    o->set_hops_uncertainty(p.value.hops_uncertainty);
    o->set_rtt_uncertainty_ms(p.value.rtt_uncertainty_ms);
  }
  for (const FrameDelay& f : frame_delays(c.score.max_rtt_ms)) {
    auto* o = out.add_frame_delays();
    o->set_connection_type(f.conn_type);
    o->set_frame_delay(f.delay);
    o->set_input_lag_frames(f.input_lag);
  }
}

std::string number(int v, std::string_view unit) {
  return v < 0 ? "?" : std::to_string(v) + std::string(unit);
}

}  // namespace

Status from_json(std::string_view body, PickInput& out) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return bad("the body is not valid JSON");
  if (!j.is_object()) return bad("the body must be a JSON object");
  Status st;
  for (auto& [key, v] : j.items()) {
    if (key == "players") {
      if (!v.is_array()) return bad("players: must be an array of IPv4 address strings");
      if (v.size() > kMaxPlayers) {
        return bad("players: at most " + std::to_string(kMaxPlayers) + " (got " + std::to_string(v.size()) +
                   ")");
      }
      for (std::size_t i = 0; i < v.size(); ++i) {
        const auto s = get_string(v[i], "players[" + std::to_string(i) + "]", st);
        if (!st.ok()) return st;
        out.players.emplace_back(s);
      }
    } else if (key == "objective") {
      const auto s = get_string(v, "objective", st);
      if (!st.ok()) return st;
      out.objective = parse_objective(s);
      if (!out.objective) {
        return bad("objective: one of hops, latency, balanced (got \"" + std::string(s.substr(0, 32)) +
                   "\")");
      }
    } else if (key == "deadline_ms") {
      std::int64_t d = 0;
      if (!get_int(v, "deadline_ms", 0, 60'000, d, st)) return st;
      out.deadline_ms = d;
    } else if (key == "hop_slack") {
      std::int64_t d = 0;
      if (!get_int(v, "hop_slack", 0, 32, d, st)) return st;
      out.hop_slack = static_cast<int>(d);
    } else if (key == "limit") {
      std::int64_t d = 0;
      if (!get_int(v, "limit", 1, static_cast<std::int64_t>(kMaxLimit), d, st)) return st;
      out.limit = static_cast<std::size_t>(d);
    } else if (key == "group") {
      // handled by the route (it adds the group's members); accepted here so the body can carry it
      if (!v.is_string()) return bad("group: must be a string");
    } else if (key == "filter") {
      if (!v.is_object()) return bad("filter: must be an object");
      for (auto& [fk, fv] : v.items()) {
        if (fk == "location") {
          out.location_contains = std::string(get_string(fv, "filter.location", st));
          if (!st.ok()) return st;
        } else if (fk == "relay_ids") {
          if (!fv.is_array()) return bad("filter.relay_ids: must be an array of strings");
          for (const auto& id : fv) {
            out.relay_ids.emplace_back(get_string(id, "filter.relay_ids[]", st));
            if (!st.ok()) return st;
          }
        } else {
          return bad("filter." + fk.substr(0, 40) + ": unknown key (known: location, relay_ids)");
        }
      }
    } else if (key == "own_measurements") {
      if (!v.is_array()) return bad("own_measurements: must be an array");
      if (v.size() > kMaxOwnMeasurements) return bad("own_measurements: too many");
      for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string f = "own_measurements[" + std::to_string(i) + "]";
        if (!v[i].is_object()) return bad(f + ": must be an object");
        OwnMeasurement m;
        for (auto& [mk, mv] : v[i].items()) {
          std::int64_t n = 0;
          if (mk == "player") {
            m.player = std::string(get_string(mv, f + ".player", st));
          } else if (mk == "host") {
            m.host = std::string(get_string(mv, f + ".host", st));
          } else if (mk == "port") {
            if (get_int(mv, f + ".port", 1, 65535, n, st)) m.port = static_cast<int>(n);
          } else if (mk == "hops") {
            if (mv.is_null()) continue;
            if (get_int(mv, f + ".hops", 0, 255, n, st)) m.hops = static_cast<int>(n);
          } else if (mk == "rtt_ms") {
            if (mv.is_null()) continue;
            if (get_int(mv, f + ".rtt_ms", 0, 600'000, n, st)) m.rtt_ms = n > 0 ? static_cast<int>(n) : -1;
          } else {
            return bad(f + "." + mk.substr(0, 40) +
                       ": unknown key (known: player, host, port, hops, rtt_ms)");
          }
          if (!st.ok()) return st;
        }
        out.own.push_back(std::move(m));
      }
    } else {
      return bad(
          key.substr(0, 40) +
          ": unknown key (known: players, objective, deadline_ms, hop_slack, filter, own_measurements, "
          "group, limit)");
    }
  }
  return Status::Ok();
}

std::string to_json(const PickOutput& out) {
  json j;
  j["objective"] = std::string(to_string(out.objective));
  j["players"] = out.players;
  j["best"] = out.ranking.empty() ? json(nullptr) : candidate_json(out.ranking.front());
  json ranking = json::array();
  for (const auto& c : out.ranking)
    ranking.push_back(candidate_json(c));
  j["ranking"] = std::move(ranking);
  json excluded = json::array();
  for (const auto& [s, reason] : out.excluded)
    excluded.push_back({{"relay", {{"id", s.id}, {"name", s.name.utf8}, {"host", s.host}, {"port", s.port}}},
                        {"reason", reason}});
  j["excluded"] = std::move(excluded);
  json alternatives = json::object();
  for (const Objective o : kObjectives) {
    if (o == out.objective) continue;
    const auto& b = out.best_by[static_cast<std::size_t>(o)];
    alternatives[std::string(to_string(o))] = b ? candidate_json(*b) : json(nullptr);
  }
  j["alternatives"] = std::move(alternatives);
  j["rtt_fallback"] = out.rtt_fallback;
  j["probes"] = {{"requested", out.probes_requested}, {"answered", out.probes_answered}};
  j["estimated"] = out.estimated;
  j["summary"] = summary(out);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

v1::Objective to_proto(Objective o) {
  switch (o) {
    case Objective::kHops:
      return v1::OBJECTIVE_HOPS;
    case Objective::kLatency:
      return v1::OBJECTIVE_LATENCY;
    case Objective::kBalanced:
      return v1::OBJECTIVE_BALANCED;
  }
  return v1::OBJECTIVE_HOPS;
}

Status from_proto(const v1::PickRequest& req, PickInput& out) {
  if (req.players_size() > static_cast<int>(kMaxPlayers)) {
    return bad("players: at most " + std::to_string(kMaxPlayers) + " (got " +
               std::to_string(req.players_size()) + ")");
  }
  out.players.assign(req.players().begin(), req.players().end());
  switch (req.objective()) {
    case v1::OBJECTIVE_UNSPECIFIED:
      break;
    case v1::OBJECTIVE_HOPS:
      out.objective = Objective::kHops;
      break;
    case v1::OBJECTIVE_LATENCY:
      out.objective = Objective::kLatency;
      break;
    case v1::OBJECTIVE_BALANCED:
      out.objective = Objective::kBalanced;
      break;
    default:
      return bad("objective: unknown value " + std::to_string(req.objective()));
  }
  if (req.deadline_ms() > 0) out.deadline_ms = req.deadline_ms();
  if (req.limit() > 0) out.limit = req.limit();
  if (req.has_hop_slack()) {
    if (req.hop_slack() > 32) return bad("hop_slack: 0 to 32 (got " + std::to_string(req.hop_slack()) + ")");
    out.hop_slack = static_cast<int>(req.hop_slack());
  }
  out.location_contains = req.filter().location_contains();
  out.relay_ids.assign(req.filter().relay_ids().begin(), req.filter().relay_ids().end());
  if (req.own_measurements_size() > static_cast<int>(kMaxOwnMeasurements))
    return bad("own_measurements: too many");
  for (const auto& m : req.own_measurements()) {
    OwnMeasurement o;
    o.player = m.player();
    o.host = m.server_host();
    o.port = m.server_port() > 65535 ? -1 : static_cast<int>(m.server_port());
    o.hops = m.has_hops() ? static_cast<int>(std::min<std::uint32_t>(m.hops(), 256)) : -1;
    o.rtt_ms = m.rtt_ms() > 0 ? static_cast<int>(std::min<std::uint32_t>(m.rtt_ms(), 600'001)) : -1;
    out.own.push_back(std::move(o));
  }
  return Status::Ok();
}

void to_proto(const PickOutput& out, v1::PickResponse& resp) {
  resp.set_objective(to_proto(out.objective));
  for (const auto& p : out.players)
    resp.add_players(p);
  if (!out.ranking.empty()) candidate_proto(out.ranking.front(), *resp.mutable_best());
  for (const auto& c : out.ranking)
    candidate_proto(c, *resp.add_ranking());
  for (const auto& [s, reason] : out.excluded) {
    auto* e = resp.add_excluded();
    e->set_relay_id(s.id);
    master::to_proto(s.name, *e->mutable_name());
    e->set_reason(reason);
  }
  for (const Objective o : kObjectives) {
    if (o == out.objective) continue;
    auto* a = resp.add_alternatives();
    a->set_objective(to_proto(o));
    if (const auto& b = out.best_by[static_cast<std::size_t>(o)]) candidate_proto(*b, *a->mutable_best());
  }
  resp.set_rtt_fallback(out.rtt_fallback);
  resp.set_probes_requested(out.probes_requested);
  resp.set_probes_answered(out.probes_answered);
  resp.set_estimated(out.estimated);
  resp.set_summary(summary(out));
}

std::string describe(const CandidateView& c) {
  std::string s = c.server.name.utf8 + " (" + c.server.host + ":" + std::to_string(c.server.port) +
                  "): " + number(c.score.max_hops, " hops") + " max, spread " + number(c.score.spread, "") +
                  ", worst RTT " + number(c.score.max_rtt_ms, " ms");
  for (const auto& p : c.players) {
    s += "; " + p.address + " " + number(p.value.hops, " hops") + " " + number(p.value.rtt_ms, " ms");
    if (p.value.rtt_uncertainty_ms >= 0) s += " +-" + std::to_string(p.value.rtt_uncertainty_ms) + " ms";
    s += " (" + std::string(to_string(p.value.source)) + (p.value.stale ? ", stale" : "") +
         (p.value.estimated && p.value.source != Source::kEstimated ? ", estimated" : "") + ")";
  }
  return s;
}

std::string summary(const PickOutput& out) {
  if (out.ranking.empty()) return "no relay can be picked (none online with room)";
  return "best by " + std::string(to_string(out.objective)) + ": " + describe(out.ranking.front());
}

}  // namespace kaillera::master::pick
