// The health endpoints of both servers (the relay's --metrics address, the master's --http address):
//   GET /healthz  the process is alive and its HTTP loop answers: always 200 "ok"
//   GET /readyz   it serves: 200 "ready" once start-up is done (the relay: UDP ports bound and its state file
//                 open; the master: its database open and migrated), else 503 with the reason in plain text
// Readiness is the flag behind /readyz, set by the start-up code (any thread) and read by the HTTP code.
// Header-only and free of Asio, so route code and tests use it without a server.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace kaillera::http {

struct HealthReply {
  int status = 200;
  std::string body;
};

// The answer for `path` when it is /healthz or /readyz; nullopt for any other path. `not_ready` is "" when
// ready, else the reason /readyz gives.
inline std::optional<HealthReply> health_reply(std::string_view path, std::string_view not_ready) {
  if (path == "/healthz") return HealthReply{200, "ok\n"};
  if (path == "/readyz") {
    if (not_ready.empty()) return HealthReply{200, "ready\n"};
    return HealthReply{503, "not ready: " + std::string(not_ready) + "\n"};
  }
  return std::nullopt;
}

// Not ready (with a reason) until set_ready(). Thread-safe.
class Readiness {
 public:
  explicit Readiness(std::string reason = "starting") : reason_(std::move(reason)) {}
  void set_ready() { set_not_ready({}); }
  void set_not_ready(std::string reason) {
    std::lock_guard lock(mu_);
    reason_ = std::move(reason);
  }
  // "" when ready.
  std::string not_ready() const {
    std::lock_guard lock(mu_);
    return reason_;
  }

 private:
  mutable std::mutex mu_;
  std::string reason_;
};

}  // namespace kaillera::http
