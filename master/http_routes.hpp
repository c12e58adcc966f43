// What the master answers over HTTP, independent of the socket code (http_server.hpp): the classic list
// formats, the touch requests, the JSON API, /metrics and the web page. Tests call route() directly.
//
//   /                       the web page (web/index.html)
//   /raw_server_list.php    two-line server list (also /raw_server_list2.php and /server_list.php);
//                           with ?wg=1 the waiting-games line instead
//   /game_list.php          waiting-games line
//   /server_list.json       JSON arrays with the Kaillera Reborn keys
//   /game_list.json
//   /touch_server.php       third-party registration (kaillera.com style, header Kaillera-wgames)
//   /touch_list.php         third-party registration (EmuLinker style, header Waiting-games)
//   /api/v1/relays          JSON; ?online=1 &has_room=1 &location=TEXT
//   /api/v1/games           JSON
//   /api/v1/pick            POST: the fair pick (body: {"players": [...], "objective": "hops"}, docs/PICK.md)
//   /api/v1/groups          POST: a new pick group {"code", "link"}; the caller's address joins it
//   /api/v1/groups/CODE     GET: its members; POST .../join: add the caller's address; GET .../pick
//   /metrics                Prometheus text
//   /healthz                200 "ok" (common/http/health.hpp)
//   /readyz                 200 "ready", or 503 "not ready: <reason>"
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/net/address.hpp"
#include "master/catalog.hpp"
#include "master/pick/picker.hpp"

namespace kaillera::master {

inline constexpr std::size_t kMaxTargetBytes = 4096;

struct HttpRequest {
  std::string method;  // "GET", "HEAD", ...
  std::string target;  // "/path?query"
  std::uint32_t remote_ip = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  std::string_view header(std::string_view lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Instead of `body`: a view into a snapshot's cached rendering, kept alive by `keep`.
  std::shared_ptr<const void> keep;
  std::string_view view;
  std::string_view payload() const { return keep ? view : std::string_view(body); }
  // An answer that comes later (the fair pick waiting for probes): the server calls `deferred` with a
  // function that sends the final response, from any thread, exactly once.
  std::function<void(std::function<void(HttpResponse)>)> deferred;
};

struct RouteContext {
  Catalog& catalog;
  std::function<UnixMillis()> now;
  std::function<std::string()> metrics;
  // Starts the PING/PONG check of a touch server; returns false when it cannot (too many in flight).
  std::function<bool(const net::Endpoint&)> check;
  std::string_view web_page;
  std::function<void(bool ok)> on_touch;        // counts touch results; may be empty
  pick::Picker* picker = nullptr;               // the fair pick; null: /api/v1/pick answers 503
  std::function<std::string()> not_ready = {};  // "" when ready, else why not (/readyz); empty: ready
};

HttpResponse route(RouteContext& ctx, const HttpRequest& req);

// What the master answers while it starts (before its database is open): /healthz 200, /readyz 503 with
// `not_ready`, anything else 503 with the same reason and Retry-After.
HttpResponse startup_route(const HttpRequest& req, std::string_view not_ready);

// A plain-text error response ("error: <message>\n"), or JSON {"error": ...} under /api/.
HttpResponse error_response(int status, std::string_view message, bool json = false);

}  // namespace kaillera::master
