#include "master/http_routes.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>

#include "common/http/health.hpp"
#include "common/net/address.hpp"
#include "master/formats.hpp"
#include "master/pick/render.hpp"
#include "master/touch.hpp"
#include "master/web_texts.hpp"

namespace kaillera::master {

namespace {

int http_status(Code code) {
  switch (code) {
    case Code::kOk:
      return 200;
    case Code::kInvalidArgument:
      return 400;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kNotFound:
      return 404;
    case Code::kFailedPrecondition:
      return 409;
    case Code::kResourceExhausted:
      return 429;
    case Code::kUnavailable:
      return 503;
    case Code::kInternal:
      return 500;
  }
  return 500;
}

HttpResponse cached(const std::shared_ptr<const Snapshot>& snap, FormatSlot slot,
                    std::string (*render)(const Snapshot&), std::string_view content_type) {
  HttpResponse r;
  r.content_type = std::string(content_type);
  const std::string& text = snap->cached(slot, render);
  r.keep = snap;
  r.view = text;
  return r;
}

constexpr std::string_view kClassicType = "text/plain";  // the bytes are in each server's own charset
constexpr std::string_view kJsonType = "application/json; charset=utf-8";

void allow_cors(HttpResponse& r) {
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
}

HttpResponse relays_api(RouteContext& ctx, const Query& q) {
  RelayFilter f;
  for (const auto& p : q.params) {
    if (p.key == "online" || p.key == "has_room") {
      const auto v = parse_flag(p.value);
      if (!v)
        return error_response(
            400, "query parameter " + p.key + ": must be 1 or 0 (got \"" + p.value.substr(0, 20) + "\")",
            true);
      (p.key == "online" ? f.online_only : f.has_room) = *v;
    } else if (p.key == "location") {
      if (p.value.size() > kMaxLocationBytes)
        return error_response(400, "query parameter location: too long", true);
      f.location_contains = p.value;
    } else {
      return error_response(
          400, "unknown query parameter \"" + p.key.substr(0, 40) + "\" (known: online, has_room, location)",
          true);
    }
  }
  auto snap = ctx.catalog.snapshot(ctx.now());
  HttpResponse r;
  if (f.any()) {
    r.content_type = std::string(kJsonType);
    r.body = render_api_relays(*snap, f);
  } else {
    r = cached(
        snap, kSlotApiRelays, [](const Snapshot& s) { return render_api_relays(s); }, kJsonType);
  }
  allow_cors(r);
  return r;
}

HttpResponse touch(RouteContext& ctx, const HttpRequest& req, std::string_view protocol, const Query& q) {
  const bool kaillera = protocol == store::kProtocolTouchServer;
  const std::string_view header = req.header(kaillera ? "kaillera-wgames" : "waiting-games");
  TouchParse parsed = parse_touch(protocol, q, header, req.remote_ip);
  if (!parsed.status.ok()) {
    if (ctx.on_touch) ctx.on_touch(false);
    return error_response(http_status(parsed.status.code), parsed.status.message);
  }
  TouchResult result = ctx.catalog.touch(parsed.input, ctx.now());
  if (!result.status.ok()) {
    if (ctx.on_touch) ctx.on_touch(false);
    return error_response(http_status(result.status.code), result.status.message);
  }
  if (ctx.on_touch) ctx.on_touch(true);
  const std::string address = net::to_string(parsed.input.address);
  HttpResponse r;
  if (result.check) {
    if (!ctx.check || !ctx.check(*result.check)) {
      ctx.catalog.touch_checked(*result.check, false, ctx.now());
      return error_response(503, "too many address checks in flight; touch again later");
    }
    r.body = "OK checking " + address + ": the master sent PING there; the server is listed after its PONG\n";
  } else if (result.listed) {
    r.body = "OK listed " + address + "\n";
  } else {
    r.body = "OK checking " + address + ": waiting for the PONG\n";
  }
  return r;
}

}  // namespace

std::string_view HttpRequest::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

HttpResponse error_response(int status, std::string_view message, bool json) {
  HttpResponse r;
  r.status = status;
  if (json) {
    r.content_type = std::string(kJsonType);
    r.body =
        nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    r.body += "\n";
  } else {
    r.body = "error: " + std::string(message) + "\n";
  }
  return r;
}

namespace {

HttpResponse json_response(int status, const nlohmann::json& j) {
  HttpResponse r;
  r.status = status;
  r.content_type = std::string(kJsonType);
  r.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  allow_cors(r);
  return r;
}

// Runs the pick and answers when it is done (at once, or after the probes).
HttpResponse pick_response(RouteContext& ctx, pick::PickInput in) {
  if (!ctx.picker) return error_response(503, "the fair pick is not running on this master", true);
  HttpResponse r;
  pick::Picker* picker = ctx.picker;
  r.deferred = [picker, in = std::move(in)](std::function<void(HttpResponse)> send) mutable {
    picker->pick(std::move(in), [send = std::move(send)](pick::PickOutput out) {
      if (!out.status.ok()) {
        send(error_response(http_status(out.status.code), out.status.message, true));
        return;
      }
      HttpResponse ok;
      ok.content_type = std::string(kJsonType);
      ok.body = pick::to_json(out) + "\n";
      ok.headers.emplace_back("Access-Control-Allow-Origin", "*");
      ok.headers.emplace_back("Cache-Control", "no-store");
      send(std::move(ok));
    });
  };
  return r;
}

bool valid_group_code(std::string_view code) {
  return code.size() >= 4 && code.size() <= 32 && std::all_of(code.begin(), code.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
         });
}

std::string new_group_code() {
  static constexpr std::string_view kAlphabet = "abcdefghjkmnpqrstuvwxyz23456789";  // no 0/o, 1/l/i
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string code;
  for (int i = 0; i < 10; ++i)
    code += kAlphabet[rng() % kAlphabet.size()];
  return code;
}

HttpResponse group_members_response(RouteContext& ctx, const std::string& code, std::uint32_t you) {
  const auto members = ctx.catalog.group_members(code, ctx.now());
  if (!members) return error_response(404, "no group " + code + " (expired or never made)", true);
  nlohmann::json j{{"code", code}, {"link", "/?group=" + code}, {"members", *members}};
  if (you != 0) j["you"] = net::ip_to_string(you);
  return json_response(200, j);
}

HttpResponse pick_api(RouteContext& ctx, const HttpRequest& req, std::string_view path, const Query& q) {
  const bool post = req.method == "POST";
  if (path == "/api/v1/pick") {
    if (!post) return error_response(405, "use POST with a JSON body", true);
    pick::PickInput in;
    if (Status s = pick::from_json(req.body, in); !s.ok()) return error_response(400, s.message, true);
    const auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_object() && body.contains("group")) {
      const std::string code = body["group"].get<std::string>();
      const auto members = ctx.catalog.group_members(code, ctx.now());
      if (!members) return error_response(404, "group: no group " + code.substr(0, 32), true);
      for (const auto& m : *members)
        if (std::find(in.players.begin(), in.players.end(), m) == in.players.end()) in.players.push_back(m);
    }
    return pick_response(ctx, std::move(in));
  }
  if (path == "/api/v1/groups") {
    if (!post) return error_response(405, "use POST to make a group", true);
    std::string code;
    for (int attempt = 0; attempt < 5 && code.empty(); ++attempt) {
      code = new_group_code();
      if (!ctx.catalog.create_group(code, ctx.now()).ok()) code.clear();
    }
    if (code.empty()) return error_response(503, "could not make a group code; try again", true);
    if (req.remote_ip != 0) ctx.catalog.join_group(code, net::ip_to_string(req.remote_ip), ctx.now());
    HttpResponse r = group_members_response(ctx, code, req.remote_ip);
    r.status = 201;
    return r;
  }
  // /api/v1/groups/CODE[/join|/pick]
  std::string_view rest = path.substr(std::string_view("/api/v1/groups/").size());
  std::string_view action;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    action = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (!valid_group_code(rest))
    return error_response(400, "not a group code: " + std::string(rest.substr(0, 40)), true);
  const std::string code(rest);
  if (action.empty()) {
    if (post) return error_response(405, "use GET (or POST .../join)", true);
    return group_members_response(ctx, code, 0);
  }
  if (action == "join") {
    if (!post) return error_response(405, "use POST to join", true);
    if (req.remote_ip == 0) return error_response(400, "only IPv4 visitors can join a group", true);
    const Status s = ctx.catalog.join_group(code, net::ip_to_string(req.remote_ip), ctx.now());
    if (!s.ok()) return error_response(http_status(s.code), s.message, true);
    return group_members_response(ctx, code, req.remote_ip);
  }
  if (action == "pick") {
    if (post) return error_response(405, "use GET", true);
    const auto members = ctx.catalog.group_members(code, ctx.now());
    if (!members) return error_response(404, "no group " + code + " (expired or never made)", true);
    pick::PickInput in;
    in.players = *members;
    for (const auto& p : q.params) {
      if (p.key == "objective") {
        in.objective = pick::parse_objective(p.value);
        if (!in.objective) return error_response(400, "objective: one of hops, latency, balanced", true);
      } else if (p.key == "deadline_ms") {
        try {
          in.deadline_ms = std::stoll(p.value);
        } catch (const std::exception&) {
          return error_response(400, "deadline_ms: a number of milliseconds", true);
        }
      } else {
        return error_response(
            400, "unknown query parameter \"" + p.key.substr(0, 40) + "\" (known: objective, deadline_ms)",
            true);
      }
    }
    return pick_response(ctx, std::move(in));
  }
  return error_response(404, "not found: " + std::string(path.substr(0, 80)), true);
}

bool pick_path(std::string_view path) {
  return path == "/api/v1/pick" || path == "/api/v1/groups" || path.rfind("/api/v1/groups/", 0) == 0;
}

}  // namespace

HttpResponse route(RouteContext& ctx, const HttpRequest& req) {
  const bool api = req.target.rfind("/api/", 0) == 0;
  if (req.target.size() > kMaxTargetBytes) {
    return error_response(414, "request target longer than " + std::to_string(kMaxTargetBytes) + " bytes",
                          api);
  }
  if (req.target.empty() || req.target.front() != '/') {
    return error_response(400, "request target must start with '/'");
  }
  const std::string_view bare_path = std::string_view(req.target).substr(0, req.target.find('?'));
  if (req.method == "POST" && pick_path(bare_path)) {
    std::string_view query_text;
    if (const auto qm = req.target.find('?'); qm != std::string::npos)
      query_text = std::string_view(req.target).substr(qm + 1);
    Query query;
    if (std::string problem = parse_query(query_text, query); !problem.empty())
      return error_response(400, problem, true);
    return pick_api(ctx, req, bare_path, query);
  }
  if (req.method != "GET" && req.method != "HEAD") {
    HttpResponse r = error_response(405, "method " + req.method.substr(0, 20) + " not allowed; use GET", api);
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  std::string_view target = req.target;
  std::string_view path = target, query_text;
  if (const auto q = target.find('?'); q != std::string_view::npos) {
    path = target.substr(0, q);
    query_text = target.substr(q + 1);
  }
  if (const auto hash = query_text.find('#'); hash != std::string_view::npos)
    query_text = query_text.substr(0, hash);
  Query query;
  if (std::string problem = parse_query(query_text, query); !problem.empty()) {
    return error_response(400, problem, api);
  }

  if (path == "/raw_server_list.php" || path == "/raw_server_list2.php" || path == "/server_list.php" ||
      path == "/game_list.php") {
    bool games = path == "/game_list.php";
    if (const std::string* wg = query.get("wg")) {
      const auto v = parse_flag(*wg);
      if (!v)
        return error_response(400, "query parameter wg: must be 1 or 0 (got \"" + wg->substr(0, 20) + "\")");
      games = games || *v;
    }
    auto snap = ctx.catalog.snapshot(ctx.now());
    HttpResponse r = games ? cached(snap, kSlotGameLine, render_game_line, kClassicType)
                           : cached(snap, kSlotServerList, render_server_list, kClassicType);
    allow_cors(r);
    // n02 treats a reply of at most 150 bytes (200 for waiting games), headers included, as "Error refreshing
    // list" (N02R kaillera_ui_mslist.cpp); these headers keep a short list above that.
    r.headers.emplace_back("Cache-Control", "no-cache, max-age=0");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return r;
  }
  if (path == "/server_list.json" || path == "/game_list.json") {
    auto snap = ctx.catalog.snapshot(ctx.now());
    HttpResponse r = path == "/server_list.json"
                         ? cached(snap, kSlotServerListJson, render_server_list_json, kJsonType)
                         : cached(snap, kSlotGameListJson, render_game_list_json, kJsonType);
    allow_cors(r);
    return r;
  }
  if (path == "/touch_server.php") return touch(ctx, req, store::kProtocolTouchServer, query);
  if (path == "/touch_list.php") return touch(ctx, req, store::kProtocolTouchList, query);
  if (path == "/api/v1/relays") return relays_api(ctx, query);
  if (pick_path(path)) return pick_api(ctx, req, path, query);
  if (path == "/api/v1/games") {
    if (!query.params.empty()) {
      return error_response(400, "unknown query parameter \"" + query.params.front().key.substr(0, 40) + "\"",
                            true);
    }
    auto snap = ctx.catalog.snapshot(ctx.now());
    HttpResponse r = cached(snap, kSlotApiGames, render_api_games, kJsonType);
    allow_cors(r);
    return r;
  }
  if (path == "/metrics") {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = ctx.metrics ? ctx.metrics() : std::string();
    return r;
  }
  if (auto health = kaillera::http::health_reply(path, ctx.not_ready ? ctx.not_ready() : std::string())) {
    HttpResponse r;
    r.status = health->status;
    r.body = std::move(health->body);
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  }
  if (path == "/" || path == "/index.html") {
    // The page in the browser's language, or ?lang='s (the page's language switch).
    std::string lang;
    if (const auto q = req.target.find('?'); q != std::string::npos) {
      for (std::string_view rest = std::string_view(req.target).substr(q + 1); !rest.empty();) {
        const auto amp = rest.find('&');
        const std::string_view param = rest.substr(0, amp);
        if (param.rfind("lang=", 0) == 0) lang = web_language_of(param.substr(5));
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      }
    }
    if (lang.empty()) {
      std::string_view accept;
      for (const auto& [name, value] : req.headers)
        if (name == "accept-language") accept = value;
      lang = web_language(accept);
    }
    HttpResponse r;
    r.content_type = "text/html; charset=utf-8";
    r.body = render_web_page(ctx.web_page, lang);
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.headers.emplace_back("Content-Language", lang);
    r.headers.emplace_back("Vary", "Accept-Language");
    return r;
  }
  return error_response(404,
                        "not found: " + std::string(path.substr(0, 80)) +
                            " (try /, /server_list.php, /game_list.php, /api/v1/relays)",
                        api);
}

HttpResponse startup_route(const HttpRequest& req, std::string_view not_ready) {
  const std::string_view path = std::string_view(req.target).substr(0, req.target.find('?'));
  HttpResponse r;
  if (auto health = kaillera::http::health_reply(path, not_ready)) {
    r.status = health->status;
    r.body = std::move(health->body);
  } else {
    r = error_response(503, "the master is starting: " + std::string(not_ready),
                       req.target.rfind("/api/", 0) == 0);
    r.headers.emplace_back("Retry-After", "1");
  }
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace kaillera::master
