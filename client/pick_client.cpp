// The JSON printed by `kaillera pick --json` has the shape of the master's POST /api/v1/pick answer, so one
// program can read either:
//
//   {"objective": "hops", "players": ["10.0.0.1", ...], "summary": "best by hops: ...",
//    "best": CANDIDATE or null, "ranking": [CANDIDATE, ...],
//    "alternatives": {"latency": CANDIDATE or null, "balanced": ...},   (the objectives not asked for)
//    "excluded": [{"relay": {"id", "name"}, "reason": "offline"|"full"|"unreachable"}],
//    "rtt_fallback": false, "probes": {"requested": 0, "answered": 0}, "estimated": 0}
//
//   CANDIDATE = {"relay": {"id", "name", "host", "port", "external"}, "max_hops", "spread", "max_rtt_ms",
//                "missing", "free_slots", "in_slack", "estimated", "max_rtt_uncertainty_ms",
//                "players": [{"address", "hops", "rtt_ms", "source", "stale", "age_s", "estimated",
//                             "hops_uncertainty", "rtt_uncertainty_ms"}],
//                "frame_delay": [{"connection_type", "name", "frame_delay", "input_lag_frames"}]}
//
// Unknown numbers (-1 in the proto) are null; free_slots is null for a relay without a user limit. Unlike the
// HTTP answer the relay carries no location and user counts (PickCandidate has none), but free_slots.
#include "client/pick_client.hpp"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "client/directory_client.hpp"
#include "common/kaillera/conn_type.hpp"
#include "kaillera/directory/v1/directory.grpc.pb.h"

namespace kaillera::client {

namespace {

namespace v1 = kaillera::directory::v1;
using nlohmann::json;

std::string objective_name(v1::Objective o) {
  switch (o) {
    case v1::OBJECTIVE_HOPS:
      return "hops";
    case v1::OBJECTIVE_LATENCY:
      return "latency";
    case v1::OBJECTIVE_BALANCED:
      return "balanced";
    default:
      return "default";
  }
}

json maybe(std::int64_t v) {
  return v < 0 ? json(nullptr) : json(v);
}

std::string address_of(const v1::PickCandidate& c) {
  return c.host() + ":" + std::to_string(c.port());
}

json candidate_json(const v1::PickCandidate& c) {
  json players = json::array();
  for (const auto& p : c.players()) {
    players.push_back(
        {{"address", p.address()},
         {"hops", maybe(p.hops())},
         {"rtt_ms", maybe(p.rtt_ms())},
         {"source", p.source()},
         {"stale", p.stale()},
         {"age_s", p.age_ms() / 1000},
         {"estimated", p.estimated()},
         {"hops_uncertainty", p.estimated() ? maybe(p.hops_uncertainty()) : json(nullptr)},
         {"rtt_uncertainty_ms", p.estimated() ? maybe(p.rtt_uncertainty_ms()) : json(nullptr)}});
  }
  json delays = json::array();
  for (const auto& f : c.frame_delays()) {
    delays.push_back({{"connection_type", f.connection_type()},
                      {"name", std::string(proto::conn_type_name(static_cast<std::uint8_t>(
                                   std::min<std::uint32_t>(f.connection_type(), 255))))},
                      {"frame_delay", f.frame_delay()},
                      {"input_lag_frames", f.input_lag_frames()}});
  }
  return {{"relay",
           {{"id", c.relay_id()},
            {"name", c.name().text()},
            {"host", c.host()},
            {"port", c.port()},
            {"external", c.external()}}},
          {"max_hops", maybe(c.max_hops())},
          {"spread", maybe(c.spread())},
          {"max_rtt_ms", maybe(c.max_rtt_ms())},
          {"missing", c.missing()},
          {"free_slots", maybe(c.free_slots())},
          {"in_slack", c.in_slack()},
          {"estimated", c.estimated()},
          {"max_rtt_uncertainty_ms", c.max_rtt_uncertainty_ms()},
          {"players", std::move(players)},
          {"frame_delay", std::move(delays)}};
}

std::string to_json(const v1::PickResponse& r) {
  json j;
  j["objective"] = objective_name(r.objective());
  j["players"] = json::array();
  for (const auto& p : r.players())
    j["players"].push_back(p);
  j["summary"] = r.summary();
  j["best"] = r.has_best() ? candidate_json(r.best()) : json(nullptr);
  j["ranking"] = json::array();
  for (const auto& c : r.ranking())
    j["ranking"].push_back(candidate_json(c));
  j["alternatives"] = json::object();
  for (const auto& a : r.alternatives())
    j["alternatives"][objective_name(a.objective())] =
        a.has_best() ? candidate_json(a.best()) : json(nullptr);
  j["excluded"] = json::array();
  for (const auto& e : r.excluded())
    j["excluded"].push_back(
        {{"relay", {{"id", e.relay_id()}, {"name", e.name().text()}}}, {"reason", e.reason()}});
  j["rtt_fallback"] = r.rtt_fallback();
  j["probes"] = {{"requested", r.probes_requested()}, {"answered", r.probes_answered()}};
  j["estimated"] = r.estimated();
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string number(std::int64_t v, const char* unit = "") {
  return v < 0 ? "?" : std::to_string(v) + unit;
}

std::string one_line(const v1::PickCandidate& c) {
  return printable(c.name().text()) + " (" + printable(address_of(c)) +
         "): " + number(c.max_hops(), " hops") + " max, spread " + number(c.spread()) + ", worst RTT " +
         number(c.max_rtt_ms(), " ms");
}

// "10.0.0.1  5 hops / 12 ms (measured, stale)", "10.0.0.2  3 hops / 20 ms +-4 ms (estimated)"
std::string player_line(const v1::PlayerAtRelay& p) {
  const bool rtt_estimated = p.estimated() && p.rtt_uncertainty_ms() >= 0;
  return printable(p.address()) + "  " + number(p.hops(), " hops") + " / " + number(p.rtt_ms(), " ms") +
         (rtt_estimated ? " +-" + std::to_string(p.rtt_uncertainty_ms()) + " ms" : std::string()) + " (" +
         printable(p.source()) + (p.stale() ? ", stale" : "") +
         (p.estimated() && p.source() != "estimated" ? ", estimated" : "") + ")";
}

std::string to_table(const v1::PickResponse& r) {
  std::string out;
  const std::string objective = objective_name(r.objective());
  if (!r.has_best()) {
    out += "No relay can be picked (objective " + objective + "): " + printable(r.summary()) + "\n";
  } else {
    out += "Best relay (objective " + objective + "): " + one_line(r.best()) + "\n";
  }
  std::string players;
  for (const auto& p : r.players())
    players += (players.empty() ? "" : ", ") + printable(p);
  out += "Players: " + players + "\n";

  if (r.ranking_size() > 0) {
    constexpr std::size_t kColumns = 6;
    std::vector<std::array<std::string, kColumns>> rows;
    rows.push_back({"RANK", "RELAY", "ADDRESS", "MAX HOPS", "SPREAD", "WORST RTT"});
    int rank = 0;
    for (const auto& c : r.ranking()) {
      rows.push_back(
          {std::to_string(++rank), printable(c.name().text()), printable(address_of(c)),
           number(c.max_hops()) + (c.missing() > 0 ? " (" + std::to_string(c.missing()) + " ?)" : ""),
           number(c.spread()), number(c.max_rtt_ms(), " ms")});
    }
    std::array<std::size_t, kColumns> widths{};
    for (const auto& row : rows)
      for (std::size_t k = 0; k < kColumns; ++k)
        widths[k] = std::max(widths[k], display_width(row[k]));
    out += "\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      std::string line;
      for (std::size_t k = 0; k < kColumns; ++k) {
        line += rows[i][k];
        if (k + 1 < kColumns) line.append(widths[k] + 2 - display_width(rows[i][k]), ' ');
      }
      out += line + "\n";
      if (i == 0) continue;
      for (const auto& p : r.ranking(static_cast<int>(i - 1)).players())
        out += std::string(widths[0] + 2, ' ') + player_line(p) + "\n";
    }
  }

  if (r.alternatives_size() > 0) {
    out += "\nOther objectives:\n";
    for (const auto& a : r.alternatives()) {
      out += "  " + objective_name(a.objective()) + ": " +
             (a.has_best() ? one_line(a.best()) : std::string("no relay")) + "\n";
    }
  }
  if (r.excluded_size() > 0) {
    out += "\nExcluded:\n";
    for (const auto& e : r.excluded())
      out += "  " + printable(e.name().text()) + " (" + printable(e.reason()) + ")\n";
  }
  out += "\nProbes: " + std::to_string(r.probes_requested()) + " requested, " +
         std::to_string(r.probes_answered()) + " answered before the deadline\n";
  if (r.rtt_fallback()) out += "Balanced fell back to the hop order: some relay had no RTT.\n";
  if (r.estimated() > 0) {
    out += "Estimated: " + std::to_string(r.estimated()) +
           " value(s) no probe could measure, from the players' other relays and the relays' distances to "
           "each other (+- their uncertainty).\n";
  }

  if (r.has_best()) {
    const auto& b = r.best();
    if (b.frame_delays_size() == 0) {
      out += "Frame delay at " + printable(b.name().text()) + ": unknown (no RTT known for every player)\n";
    } else {
      out += "Frame delay at " + printable(b.name().text()) + " (worst RTT " + number(b.max_rtt_ms(), " ms") +
             "):\n";
      for (const auto& f : b.frame_delays()) {
        const auto ct = static_cast<std::uint8_t>(std::min<std::uint32_t>(f.connection_type(), 255));
        char line[96];
        std::snprintf(line, sizeof line, "  %u %-10s delay %u, input lag %u frames\n", f.connection_type(),
                      std::string(proto::conn_type_name(ct)).c_str(), f.frame_delay(), f.input_lag_frames());
        out += line;
      }
    }
  }
  return out;
}

}  // namespace

std::optional<int> objective_number(const std::string& name) {
  if (name == "hops") return v1::OBJECTIVE_HOPS;
  if (name == "latency") return v1::OBJECTIVE_LATENCY;
  if (name == "balanced") return v1::OBJECTIVE_BALANCED;
  return std::nullopt;
}

PickResult pick_relay(const std::string& master, const PickQuery& query, std::chrono::milliseconds timeout) {
  PickResult result;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  const auto channel = grpc::CreateCustomChannel(master, grpc::InsecureChannelCredentials(), args);
  const auto stub = v1::Directory::NewStub(channel);

  v1::PickRequest req;
  for (const auto& p : query.players)
    req.add_players(p);
  req.set_group(query.group);
  if (!query.objective.empty()) {
    const auto o = objective_number(query.objective);
    if (!o) {
      result.invalid_argument = true;
      result.error = "objective: one of hops, latency, balanced (got \"" + query.objective + "\")";
      return result;
    }
    req.set_objective(static_cast<v1::Objective>(*o));
  }
  req.set_deadline_ms(query.deadline_ms);
  for (const auto& m : query.own) {
    auto* o = req.add_own_measurements();
    o->set_player(m.player);
    o->set_server_host(m.host);
    o->set_server_port(m.port);
    if (m.hops) o->set_hops(*m.hops);
    o->set_rtt_ms(m.rtt_ms);
  }

  v1::PickResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  const grpc::Status status = stub->PickRelay(&ctx, req, &resp);
  if (!status.ok()) {
    const std::string text = status_text(static_cast<int>(status.error_code()), status.error_message());
    switch (status.error_code()) {
      case grpc::StatusCode::INVALID_ARGUMENT:
        result.invalid_argument = true;
        result.error = status.error_message();
        break;
      case grpc::StatusCode::UNAVAILABLE:
        result.error = "cannot reach the master at " + master + " (" + text + ")";
        break;
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        result.error = "no answer from the master at " + master + " within " +
                       std::to_string(timeout.count()) + " ms (is it running, and is that its gRPC address?)";
        break;
      default:
        result.error = "the master at " + master + " refused the pick (" + text + ")";
        break;
    }
    return result;
  }
  result.ok = true;
  result.json = to_json(resp);
  result.table = to_table(resp);
  return result;
}

}  // namespace kaillera::client
