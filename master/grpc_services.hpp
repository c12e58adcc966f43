// The master's gRPC services (callback API): RelayRegistry (Register, the Report stream) and Directory
// (ListRelays, ListWaitingGames). Errors carry a precise status: INVALID_ARGUMENT naming the field,
// UNAUTHENTICATED for a wrong token or session, RESOURCE_EXHAUSTED for the per-IP limit, and so on.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "kaillera/directory/v1/directory.grpc.pb.h"
#include "master/catalog.hpp"
#include "master/metrics.hpp"
#include "master/pick/picker.hpp"

namespace kaillera::master {

namespace v1 = ::kaillera::directory::v1;

// "ipv4:1.2.3.4:5678" (or an IPv4-mapped IPv6 peer) -> "1.2.3.4"; "" for anything else.
std::string peer_ipv4(std::string_view peer);

class ReportReactor;

class RegistryService final : public v1::RelayRegistry::CallbackService {
 public:
  using Now = std::function<UnixMillis()>;
  // Starts a PING/PONG check; `done` runs with the outcome. Returns false when it cannot start one.
  using Check = std::function<bool(const net::Endpoint&, std::function<void(bool)> done)>;

  RegistryService(Catalog& catalog, MasterCounters& counters, Now now, Check check);

  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* ctx, const v1::RegisterRequest* req,
                                     v1::RegisterResponse* resp) override;
  grpc::ServerBidiReactor<v1::RelayMessage, v1::MasterMessage>* Report(
      grpc::CallbackServerContext* ctx) override;

  // Sends `msg` (e.g. a probe request) on the relay's open Report stream; false when it has none.
  bool send(std::int64_t relay_id, const v1::MasterMessage& msg);
  std::size_t open_streams();
  // Ends every open Report stream with `status` (at shutdown).
  void finish_all(const grpc::Status& status);
  // Told of every probe result (relay id, request id, measurements in it); set before serving.
  void on_probe_result(std::function<void(std::int64_t, const std::string&, std::size_t)> f) {
    probe_result_ = std::move(f);
  }

 private:
  friend class ReportReactor;
  void attach(std::int64_t relay_id, ReportReactor* r);
  void detach(std::int64_t relay_id, ReportReactor* r);

  Catalog& catalog_;
  MasterCounters& counters_;
  Now now_;
  Check check_;
  std::function<void(std::int64_t, const std::string&, std::size_t)> probe_result_;
  std::mutex mu_;
  std::map<std::int64_t, ReportReactor*> streams_;
};

class DirectoryService final : public v1::Directory::CallbackService {
 public:
  DirectoryService(Catalog& catalog, MasterCounters& counters, RegistryService::Now now,
                   pick::Picker* picker = nullptr);

  grpc::ServerUnaryReactor* ListRelays(grpc::CallbackServerContext* ctx, const v1::ListRelaysRequest* req,
                                       v1::ListRelaysResponse* resp) override;
  grpc::ServerUnaryReactor* ListWaitingGames(grpc::CallbackServerContext* ctx,
                                             const v1::ListWaitingGamesRequest* req,
                                             v1::ListWaitingGamesResponse* resp) override;
  grpc::ServerUnaryReactor* PickRelay(grpc::CallbackServerContext* ctx, const v1::PickRequest* req,
                                      v1::PickResponse* resp) override;

 private:
  Catalog& catalog_;
  MasterCounters& counters_;
  RegistryService::Now now_;
  pick::Picker* picker_;
};

}  // namespace kaillera::master
