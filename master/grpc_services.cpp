#include "master/grpc_services.hpp"

#include <charconv>
#include <chrono>
#include <deque>

#include <spdlog/spdlog.h>

#include "master/formats.hpp"
#include "master/pick/render.hpp"
#include "master/proto_convert.hpp"

namespace kaillera::master {

namespace {

grpc::StatusCode grpc_code(Code c) {
  switch (c) {
    case Code::kOk:
      return grpc::StatusCode::OK;
    case Code::kInvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case Code::kUnauthenticated:
      return grpc::StatusCode::UNAUTHENTICATED;
    case Code::kPermissionDenied:
      return grpc::StatusCode::PERMISSION_DENIED;
    case Code::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case Code::kFailedPrecondition:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case Code::kResourceExhausted:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case Code::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case Code::kInternal:
      return grpc::StatusCode::INTERNAL;
  }
  return grpc::StatusCode::UNKNOWN;
}

grpc::Status to_grpc(const Status& s) {
  return grpc::Status(grpc_code(s.code), s.message);
}

std::optional<std::int64_t> parse_id(std::string_view s) {
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

}  // namespace

std::string peer_ipv4(std::string_view peer) {
  if (peer.rfind("ipv4:", 0) == 0) {
    peer.remove_prefix(5);
    const auto colon = peer.rfind(':');
    const std::string_view ip = peer.substr(0, colon);
    return net::parse_ipv4(ip) ? std::string(ip) : std::string();
  }
  if (peer.rfind("ipv6:", 0) == 0) {
    for (std::string_view mapped : {std::string_view("::ffff:"), std::string_view("::FFFF:")}) {
      const auto at = peer.find(mapped);
      if (at == std::string_view::npos) continue;
      std::string_view rest = peer.substr(at + mapped.size());
      const auto end = rest.find_first_of("]%");
      const std::string_view ip = rest.substr(0, end);
      if (net::parse_ipv4(ip)) return std::string(ip);
    }
  }
  return {};
}

// ---- the Report stream
// --------------------------------------------------------------------------------------

class ReportReactor final : public grpc::ServerBidiReactor<v1::RelayMessage, v1::MasterMessage> {
 public:
  ReportReactor(RegistryService& svc, std::string peer) : svc_(svc), peer_(std::move(peer)) {
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the relay closed its side, or the call was cancelled
      finish(grpc::Status::OK);
      return;
    }
    try {
      handle();
    } catch (const std::exception& e) {
      svc_.counters_.store_errors.fetch_add(1);
      spdlog::error("report stream of relay {}: {}", relay_id_, e.what());
      finish(grpc::Status(grpc::StatusCode::INTERNAL,
                          std::string("the master could not store this: ") + e.what()));
    }
    if (!finishing()) {
      in_.Clear();
      StartRead(&in_);
    }
  }

  void OnWriteDone(bool ok) override {
    const v1::MasterMessage* next = nullptr;
    std::optional<grpc::Status> finish_now;
    {
      std::lock_guard lock(mu_);
      out_.pop_front();
      if (ok && !out_.empty() && !pending_finish_) {
        next = &out_.front();
      } else {
        writing_ = false;
        if (!ok) out_.clear();
        if (pending_finish_ && !finished_) {
          finished_ = true;
          finish_now = std::move(*pending_finish_);
        }
      }
    }
    if (next != nullptr) StartWrite(next);
    if (finish_now) Finish(*finish_now);
  }

  void OnDone() override {
    spdlog::debug("report stream of relay {} from {} done", relay_id_, peer_);
    if (attached_) {
      svc_.detach(relay_id_, this);
      svc_.counters_.streams_open.fetch_sub(1);
    }
    delete this;
  }

  // From any thread. False once the stream is finishing.
  bool send(const v1::MasterMessage& msg) {
    const v1::MasterMessage* start = nullptr;
    {
      std::lock_guard lock(mu_);
      if (pending_finish_ || finished_) return false;
      if (out_.size() >= 256) return false;  // the relay does not keep up
      out_.push_back(msg);
      if (!writing_) {
        writing_ = true;
        start = &out_.front();
      }
    }
    if (start != nullptr) StartWrite(start);
    return true;
  }

  // Ends the stream with `status` once the write in flight (if any) is done. Any thread; only the first
  // counts.
  void finish(grpc::Status status) {
    bool now = false;
    {
      std::lock_guard lock(mu_);
      if (pending_finish_ || finished_) return;
      if (writing_) {
        pending_finish_ = std::move(status);
        return;
      }
      finished_ = true;
      now = true;
    }
    if (now) Finish(status);
  }

 private:
  bool finishing() {
    std::lock_guard lock(mu_);
    return finished_ || pending_finish_.has_value();
  }

  void handle() {
    const UnixMillis now = svc_.now_();
    if (!attached_) {
      if (in_.body_case() != v1::RelayMessage::kHello) {
        finish(grpc::Status(
            grpc::StatusCode::FAILED_PRECONDITION,
            "the first message of a Report stream must be a hello (relay_id and session_key from "
            "Register)"));
        return;
      }
      const auto id = parse_id(in_.hello().relay_id());
      const Status s = id ? svc_.catalog_.check_session(*id, in_.hello().session_key())
                          : Status{Code::kUnauthenticated, "hello.relay_id: not a relay id from Register"};
      if (!s.ok()) {
        finish(to_grpc(s));
        return;
      }
      relay_id_ = *id;
      attached_ = true;
      svc_.counters_.streams_opened.fetch_add(1);
      svc_.counters_.streams_open.fetch_add(1);
      svc_.attach(relay_id_, this);
      spdlog::debug("relay {} opened its report stream from {}", relay_id_, peer_);
      return;
    }
    switch (in_.body_case()) {
      case v1::RelayMessage::kHello:
        svc_.counters_.reports_rejected.fetch_add(1);
        finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "hello: sent twice on one stream"));
        return;
      case v1::RelayMessage::kReport: {
        ReportInput report;
        Status s = report_from_proto(in_.report(), now, report);
        if (s.ok()) {
          const auto t0 = std::chrono::steady_clock::now();
          s = svc_.catalog_.apply_report(relay_id_, report, now);
          const auto ns =
              std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0);
          svc_.counters_.report_ingest_ns.fetch_add(static_cast<std::uint64_t>(ns.count()));
        }
        if (!s.ok()) {
          svc_.counters_.reports_rejected.fetch_add(1);
          spdlog::info("relay {}: report rejected: {}", relay_id_, s.message);
          finish(to_grpc(s));
          return;
        }
        svc_.counters_.reports_ok.fetch_add(1);
        return;
      }
      case v1::RelayMessage::kProbeResult: {
        std::vector<store::MeasurementRow> m;
        Status s =
            measurements_from_proto(in_.probe_result().measurements(), "probe_result.measurements", now, m);
        if (s.ok()) s = svc_.catalog_.add_measurements(relay_id_, m, now);
        if (!s.ok()) {
          finish(to_grpc(s));
          return;
        }
        svc_.counters_.probe_results.fetch_add(1);
        if (svc_.probe_result_) svc_.probe_result_(relay_id_, in_.probe_result().request_id(), m.size());
        return;
      }
      case v1::RelayMessage::BODY_NOT_SET:
        break;
    }
    svc_.counters_.reports_rejected.fetch_add(1);
    finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "body: a RelayMessage must carry hello, report or probe_result"));
  }

  RegistryService& svc_;
  std::string peer_;
  v1::RelayMessage in_;
  std::int64_t relay_id_ = 0;
  bool attached_ = false;  // only touched by the read path and OnDone, which never overlap

  std::mutex mu_;
  std::deque<v1::MasterMessage> out_;
  bool writing_ = false;
  bool finished_ = false;
  std::optional<grpc::Status> pending_finish_;
};

// ---- RelayRegistry
// ------------------------------------------------------------------------------------------

RegistryService::RegistryService(Catalog& catalog, MasterCounters& counters, Now now, Check check)
    : catalog_(catalog), counters_(counters), now_(std::move(now)), check_(std::move(check)) {}

grpc::ServerUnaryReactor* RegistryService::Register(grpc::CallbackServerContext* ctx,
                                                    const v1::RegisterRequest* req,
                                                    v1::RegisterResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  const auto reject = [&](grpc::Status s) {
    counters_.registrations_rejected.fetch_add(1);
    spdlog::info("register from {} refused: {}", ctx->peer(), s.error_message());
    reactor->Finish(s);
    return reactor;
  };
  RegisterInput in;
  if (Status s = register_from_proto(*req, in); !s.ok()) return reject(to_grpc(s));
  in.observed_ip = peer_ipv4(ctx->peer());
  RegisterResult result;
  try {
    result = catalog_.register_relay(in, now_());
  } catch (const std::exception& e) {
    counters_.store_errors.fetch_add(1);
    spdlog::error("register: {}", e.what());
    return reject(grpc::Status(grpc::StatusCode::INTERNAL,
                               std::string("the master could not store this: ") + e.what()));
  }
  if (!result.status.ok()) return reject(to_grpc(result.status));
  if (result.check) {
    const net::Endpoint at = *result.check;
    const std::int64_t id = result.relay_id;
    Catalog& catalog = catalog_;
    Now now = now_;
    const bool started =
        check_ && check_(at, [&catalog, now, id, at](bool pong) {
          try {
            catalog.address_checked(id, at, pong, now());
            if (pong) {
              spdlog::info("relay {} answered PONG from {}: listed", id, net::to_string(at));
            } else {
              spdlog::info("relay {} did not answer PING at {}: not listed", id, net::to_string(at));
            }
          } catch (const std::exception& e) {
            spdlog::error("relay {}: storing its address check failed: {}", id, e.what());
          }
        });
    if (!started) {
      catalog_.address_checked(id, at, false, now_());
      return reject(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 "too many address checks in flight; register again later"));
    }
  }
  counters_.registrations_ok.fetch_add(1);
  resp->set_relay_id(std::to_string(result.relay_id));
  resp->set_session_key(result.session_key);
  resp->set_report_interval_ms(static_cast<std::uint32_t>(catalog_.settings().report_interval_ms));
  resp->set_observed_address(in.observed_ip);
  resp->set_listed(result.listed);
  spdlog::info("relay {} registered from {} ({}{})", result.relay_id, ctx->peer(),
               in.token.empty() ? "open" : "token", result.check ? ", address check started" : "");
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerBidiReactor<v1::RelayMessage, v1::MasterMessage>* RegistryService::Report(
    grpc::CallbackServerContext* ctx) {
  return new ReportReactor(*this, ctx->peer());
}

void RegistryService::attach(std::int64_t relay_id, ReportReactor* r) {
  ReportReactor* old = nullptr;
  {
    std::lock_guard lock(mu_);
    auto& slot = streams_[relay_id];
    old = slot;
    slot = r;
    // Finish the replaced stream while holding the lock, so that it cannot be deleted meanwhile (its OnDone
    // needs the lock to detach).
    if (old != nullptr) {
      old->finish(
          grpc::Status(grpc::StatusCode::ABORTED, "replaced by a newer Report stream of the same relay"));
    }
  }
}

void RegistryService::detach(std::int64_t relay_id, ReportReactor* r) {
  std::lock_guard lock(mu_);
  auto it = streams_.find(relay_id);
  if (it != streams_.end() && it->second == r) streams_.erase(it);
}

bool RegistryService::send(std::int64_t relay_id, const v1::MasterMessage& msg) {
  std::lock_guard lock(mu_);
  auto it = streams_.find(relay_id);
  if (it == streams_.end()) return false;
  return it->second->send(msg);
}

void RegistryService::finish_all(const grpc::Status& status) {
  std::lock_guard lock(mu_);
  for (auto& [id, r] : streams_)
    r->finish(status);
}

std::size_t RegistryService::open_streams() {
  std::lock_guard lock(mu_);
  return streams_.size();
}

// ---- Directory
// ----------------------------------------------------------------------------------------------

DirectoryService::DirectoryService(Catalog& catalog, MasterCounters& counters, RegistryService::Now now,
                                   pick::Picker* picker)
    : catalog_(catalog), counters_(counters), now_(std::move(now)), picker_(picker) {}

grpc::ServerUnaryReactor* DirectoryService::ListRelays(grpc::CallbackServerContext* ctx,
                                                       const v1::ListRelaysRequest* req,
                                                       v1::ListRelaysResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  counters_.directory_requests.fetch_add(1);
  if (req->location_contains().size() > kMaxLocationBytes) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     "location_contains: longer than " + std::to_string(kMaxLocationBytes) + " bytes"));
    return reactor;
  }
  RelayFilter f;
  f.online_only = req->online_only();
  f.has_room = req->has_room();
  f.location_contains = req->location_contains();
  const auto snap = catalog_.snapshot(now_());
  for (const auto& s : snap->servers) {
    if (matches(s, f)) to_proto(s, *resp->add_relays());
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* DirectoryService::ListWaitingGames(grpc::CallbackServerContext* ctx,
                                                             const v1::ListWaitingGamesRequest*,
                                                             v1::ListWaitingGamesResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  counters_.directory_requests.fetch_add(1);
  const auto snap = catalog_.snapshot(now_());
  for (const auto& g : snap->games)
    to_proto(*snap, g, *resp->add_games());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* DirectoryService::PickRelay(grpc::CallbackServerContext* ctx,
                                                      const v1::PickRequest* req, v1::PickResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  counters_.pick_requests.fetch_add(1);
  if (!picker_) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "the fair pick is not running on this master"));
    return reactor;
  }
  pick::PickInput in;
  if (Status s = pick::from_proto(*req, in); !s.ok()) {
    reactor->Finish(to_grpc(s));
    return reactor;
  }
  if (!req->group().empty()) {
    const auto members = catalog_.group_members(req->group(), now_());
    if (!members) {
      reactor->Finish(
          grpc::Status(grpc::StatusCode::NOT_FOUND,
                       "group: no group " + req->group().substr(0, 32) + " (expired or never made)"));
      return reactor;
    }
    for (const auto& m : *members)
      if (std::find(in.players.begin(), in.players.end(), m) == in.players.end()) in.players.push_back(m);
  }
  picker_->pick(std::move(in), [reactor, resp](pick::PickOutput out) {
    if (!out.status.ok()) {
      reactor->Finish(to_grpc(out.status));
      return;
    }
    pick::to_proto(out, *resp);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace kaillera::master
