#include <utility>  // before Asio (TOOLCHAIN.md)

#include "master/server.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/http/health.hpp"
#include "common/http/serve_while.hpp"
#include "common/log/logging.hpp"
#include "common/store/backup.hpp"
#include "common/store/retry.hpp"
#include "master/address_checker.hpp"
#include "master/catalog.hpp"
#include "master/charset.hpp"
#include "master/grpc_services.hpp"
#include "master/http_routes.hpp"
#include "master/http_server.hpp"
#include "master/metrics.hpp"
#include "master/mirror.hpp"
#include "master/store/migrations.hpp"
#include "master/store/store.hpp"
#include "master/tokens.hpp"
#include "master/web_page.hpp"
#include "master/webhook/sender.hpp"
#include "master/web_texts.hpp"

namespace kaillera::master {

namespace {

namespace asio = boost::asio;

UnixMillis unix_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Opens the database and brings its schema up to date; throws store::StoreError.
std::unique_ptr<store::Db> open_database(const std::string& path, store::MigrationResult* result = nullptr,
                                         std::chrono::milliseconds busy_timeout = store::Db::kBusyTimeout) {
  auto db = std::make_unique<store::Db>(path, busy_timeout);
  const auto r = store::migrate(*db, store::embedded_migrations(), unix_now());
  if (result != nullptr) *result = r;
  return db;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out << text;
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

// ---- operator subcommands
// -----------------------------------------------------------------------------------

int cmd_migrate(const Settings& s) {
  store::MigrationResult r;
  open_database(s.db, &r);
  if (r.applied.empty()) {
    std::printf("%s: schema up to date (version %d)\n", s.db.c_str(), r.to_version);
  } else {
    std::printf("%s: schema migrated from version %d to %d (applied %zu)\n", s.db.c_str(), r.from_version,
                r.to_version, r.applied.size());
  }
  return kExitOk;
}

int cmd_relay_add(const Settings& s, const std::string& label) {
  auto db = open_database(s.db);
  store::Store st(*db);
  if (const auto existing = st.find_relay(label)) {
    std::fprintf(stderr, "kaillera-master: a relay named \"%s\" exists already (id %lld); remove it first\n",
                 label.c_str(), static_cast<long long>(*existing));
    return kExitRuntime;
  }
  const std::string token = new_token();
  const std::int64_t id = st.add_token_relay(label, sha256(token), unix_now());
  std::printf(
      "relay %lld \"%s\" added. Its token (shown only this once; give it to the relay's --token):\n%s\n",
      static_cast<long long>(id), label.c_str(), token.c_str());
  return kExitOk;
}

std::string age_text(std::optional<std::int64_t> t, UnixMillis now) {
  if (!t) return "never";
  const auto s = (now - *t) / 1000;
  if (s < 120) return std::to_string(s) + "s ago";
  if (s < 7200) return std::to_string(s / 60) + "m ago";
  if (s < 172800) return std::to_string(s / 3600) + "h ago";
  return std::to_string(s / 86400) + "d ago";
}

int cmd_relay_list(const Settings& s, bool json) {
  auto db = open_database(s.db);
  store::Store st(*db);
  const auto relays = st.load_relays();
  const UnixMillis now = unix_now();
  const auto online = [&](const store::RelayRow& r) {
    return r.listed && r.last_report_unix_ms && now - *r.last_report_unix_ms <= 3 * s.report_interval_ms;
  };
  if (json) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& rec : relays) {
      const auto& r = rec.relay;
      a.push_back(
          {{"id", r.id},
           {"label", r.label ? nlohmann::json(*r.label) : nlohmann::json()},
           {"source", r.source},
           {"name", to_utf8(r.name, r.charset)},
           {"address", r.handshake_port ? r.public_host + ":" + std::to_string(r.handshake_port) : ""},
           {"listed", r.listed},
           {"verified", r.verified},
           {"online", online(r)},
           {"users", rec.status ? rec.status->users : 0},
           {"last_report_unix_ms",
            r.last_report_unix_ms ? nlohmann::json(*r.last_report_unix_ms) : nlohmann::json()}});
    }
    std::printf("%s\n", a.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return kExitOk;
  }
  if (relays.empty()) {
    std::printf("no relays (add one with `kaillera-master relay add NAME`)\n");
    return kExitOk;
  }
  std::printf("%-5s %-20s %-6s %-24s %-22s %-7s %-8s %s\n", "ID", "LABEL", "SOURCE", "NAME", "ADDRESS",
              "LISTED", "ONLINE", "LAST REPORT");
  for (const auto& rec : relays) {
    const auto& r = rec.relay;
    const std::string address =
        r.handshake_port ? r.public_host + ":" + std::to_string(r.handshake_port) : "-";
    const std::string name = r.name.empty() ? "-" : to_utf8(r.name, r.charset);
    std::printf("%-5lld %-20s %-6s %-24s %-22s %-7s %-8s %s\n", static_cast<long long>(r.id),
                r.label ? r.label->c_str() : "-", r.source.c_str(), name.c_str(), address.c_str(),
                r.listed ? "yes" : "no", online(r) ? "yes" : "no",
                age_text(r.last_report_unix_ms, now).c_str());
  }
  return kExitOk;
}

int cmd_relay_remove(const Settings& s, const std::string& ref) {
  auto db = open_database(s.db);
  store::Store st(*db);
  const auto id = st.find_relay(ref);
  if (!id) {
    std::fprintf(stderr, "kaillera-master: no relay named or numbered \"%s\"\n", ref.c_str());
    return kExitRuntime;
  }
  st.remove_relay(*id);
  std::printf("relay %lld removed (with its token, status, games and measurements)\n",
              static_cast<long long>(*id));
  return kExitOk;
}

}  // namespace

// ---- the server
// ---------------------------------------------------------------------------------------------

namespace {

constexpr auto kStartupBusyTimeout = std::chrono::milliseconds(1000);

// The database, opened and migrated while the HTTP server already answers /healthz and /readyz: a lock that
// another connection holds (a migration or a long write transaction in another process) is waited out, with
// /readyz saying so. Null when a signal stopped the wait; throws what cannot be waited out.
std::unique_ptr<store::Db> open_database_when_free(asio::io_context& io, const std::string& path,
                                                   kaillera::http::Readiness& readiness, const bool& stopping,
                                                   store::MigrationResult* migrated) {
  std::atomic<bool> give_up{false};
  std::unique_ptr<store::Db> db;
  try {
    db = kaillera::http::serve_while(
        io,
        [&] {
          return kaillera::store::retry_while_locked(
              [&] {
                auto d = open_database(path, migrated, kStartupBusyTimeout);
                d->set_busy_timeout(store::Db::kBusyTimeout);
                return d;
              },
              [&](const store::StoreError& e, int attempt) {
                readiness.set_not_ready("the database " + path +
                                        " is locked by another connection; waiting for it (" + e.what() +
                                        ")");
                if (attempt == 1)
                  spdlog::warn("database {}: locked by another connection; waiting: {}", path, e.what());
              },
              give_up);
        },
        [&] {
          if (stopping) give_up = true;
          return stopping;
        });
  } catch (const store::StoreError&) {
    if (!stopping) throw;  // a signal ended the wait: the last "locked" is no error
  }
  return stopping ? nullptr : std::move(db);
}

MirrorOptions mirror_options(const Settings& s, const std::string& default_charset) {
  MirrorOptions mo;
  mo.interval = std::chrono::seconds(s.mirror_interval_s);
  mo.timeout = std::chrono::milliseconds(s.mirror_timeout_ms);
  mo.max_bytes = static_cast<std::size_t>(s.mirror_max_bytes);
  mo.default_charset = default_charset;
  return mo;
}

std::vector<MirrorUrl> mirror_urls(const Settings& s) {
  std::vector<MirrorUrl> out;
  for (const auto& text : s.mirrors) {
    std::string problem;  // checked by check_settings already
    if (auto u = parse_mirror_url(text, problem)) out.push_back(std::move(*u));
  }
  return out;
}

std::vector<std::string> url_texts(const std::vector<MirrorUrl>& urls) {
  std::vector<std::string> out;
  for (const auto& u : urls)
    out.push_back(u.url);
  return out;
}

}  // namespace

int serve(const Settings& start_settings) {
  Settings s = start_settings;  // SIGHUP changes the reloadable keys
  asio::io_context io;
  MasterCounters counters;
  counters.start_time_seconds = static_cast<double>(unix_now()) / 1000.0;

  // HTTP first, so /healthz and /readyz answer while the database opens; the full routes once it serves.
  kaillera::http::Readiness readiness("opening the database " + s.db);
  std::function<HttpResponse(const HttpRequest&)> router;
  std::unique_ptr<HttpServer> http;
  try {
    http = std::make_unique<HttpServer>(
        io, *net::parse_endpoint(s.http),
        [&](const HttpRequest& req) {
          return router ? router(req) : startup_route(req, readiness.not_ready());
        },
        [&](int status) {
          auto& c = status < 300   ? counters.http_2xx
                    : status < 400 ? counters.http_3xx
                    : status < 500 ? counters.http_4xx
                                   : counters.http_5xx;
          c.fetch_add(1);
        });
  } catch (const std::exception& e) {
    spdlog::critical("cannot listen for HTTP on {}: {}", s.http, e.what());
    return kExitRuntime;
  }
  const std::string http_address = net::to_string(http->local());
  spdlog::info("HTTP on http://{}/: /healthz answers now, /readyz once the database {} is open", http_address,
               s.db);

  bool stopping = false;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: stopping", sig);
    stopping = true;
    readiness.set_not_ready("stopping");
    io.stop();
  });
  // SIGHUP: the log file is reopened at once; the config is reloaded once the master serves (on_hangup).
  std::function<void()> on_hangup = [] {};
  asio::signal_set hangups(io, SIGHUP);
  std::function<void()> wait_for_hangup = [&] {
    hangups.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      kaillera::log::reopen_and_say();
      on_hangup();
      wait_for_hangup();
    });
  };
  wait_for_hangup();

  store::MigrationResult migrated;
  std::unique_ptr<store::Db> db;
  try {
    db = open_database_when_free(io, s.db, readiness, stopping, &migrated);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return kExitRuntime;
  }
  if (!db) {
    spdlog::info("stopped before the database was open");
    return kExitOk;
  }
  if (!migrated.applied.empty()) {
    spdlog::info("database {}: schema migrated from version {} to {}", s.db, migrated.from_version,
                 migrated.to_version);
  }
  store::Store st(*db);
  st.set_mirrors(s.mirrors, unix_now());

  CatalogSettings cs;
  cs.report_interval_ms = s.report_interval_ms;
  cs.open_registration = s.open_registration;
  cs.max_relays_per_ip = s.max_relays_per_ip;
  cs.touch_ttl_ms = s.touch_ttl_ms;
  cs.default_charset = normalize_charset(s.default_charset);
  cs.measurement_retention_ms = s.measurement_retention_s * 1000;
  cs.group_ttl_ms = s.group_ttl_s * 1000;
  cs.mirror_keep_ms = s.mirror_keep_s * 1000;
  cs.mirrors = url_texts(mirror_urls(s));
  Catalog catalog(st, cs, unix_now());

  // Webhooks (issue 17): their own thread reads the list's snapshots; nothing here waits for them.
  std::unique_ptr<webhook::WebhookSender> webhooks;
  if (!s.webhooks.empty()) {
    const bool external = std::any_of(s.webhooks.begin(), s.webhooks.end(),
                                      [](const webhook::WebhookConfig& w) { return w.filter.external; });
    try {
      webhooks = std::make_unique<webhook::WebhookSender>(s.webhooks, [&catalog, external] {
        const UnixMillis now = unix_now();
        return webhook::observation_from(*catalog.snapshot(now), now, external);
      });
    } catch (const std::exception& e) {
      spdlog::critical("{}", e.what());
      return kExitConfig;
    }
  }

  std::unique_ptr<AddressChecker> checker;
  try {
    checker = std::make_unique<AddressChecker>(io, *net::parse_endpoint(s.check_bind),
                                               std::chrono::milliseconds(s.check_timeout_ms));
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return kExitRuntime;
  }

  const auto start_touch_check = [&](const net::Endpoint& at) {
    return checker->check(at, [&catalog, at](bool pong) {
      try {
        catalog.touch_checked(at, pong, unix_now());
        spdlog::info("third-party server {} {}", net::to_string(at),
                     pong ? "answered PONG: listed" : "did not answer PING: not listed");
      } catch (const std::exception& e) {
        spdlog::error("third-party server {}: storing its address check failed: {}", net::to_string(at),
                      e.what());
      }
    });
  };
  const auto make_mirrors = [&](const Settings& with) {
    return std::make_unique<MirrorFetcher>(io, mirror_urls(with), mirror_options(with, cs.default_charset),
                                           [&](const MirrorUrl& url, const MirrorList& list) {
                                             catalog.mirror_update(url.url, list, unix_now());
                                           });
  };
  std::unique_ptr<MirrorFetcher> mirrors = make_mirrors(s);

  // The page's texts are built in: a language that lacks a key or changes a placeholder is a build's mistake,
  // refused before anyone sees the page (the web texts test checks it first).
  if (const std::string problem = check_web_texts(); !problem.empty())
    throw std::runtime_error("web page texts: " + problem);
  RouteContext ctx{catalog,
                   unix_now,
                   [&] {
                     return render_metrics(catalog.stats(unix_now()), counters, &checker->counters()) +
                            mirrors->metrics(catalog.mirror_held(unix_now())) +
                            (webhooks ? webhooks->metrics() : std::string());
                   },
                   start_touch_check,
                   web_page(),
                   [&](bool ok) { (ok ? counters.touches_ok : counters.touches_rejected).fetch_add(1); }};
  ctx.not_ready = [&] { return readiness.not_ready(); };

  RegistryService registry(catalog, counters, unix_now,
                           [&](const net::Endpoint& at, std::function<void(bool)> done) {
                             return checker->check(at, std::move(done));
                           });
  pick::PickerSettings ps;
  ps.default_objective = pick::parse_objective(s.pick_objective).value_or(pick::Objective::kBalanced);
  ps.default_deadline_ms = s.pick_deadline_ms;
  ps.fresh_ms = s.pick_fresh_s * 1000;
  ps.hop_slack = s.pick_hop_slack;
  ps.estimate = s.pick_estimate;
  ps.peer_probe_interval_ms = s.pick_peer_probe_s * 1000;
  pick::Picker picker(catalog, ps, unix_now,
                      [&](std::int64_t relay_id, const std::string& request_id,
                          const std::vector<std::string>& addresses, std::uint32_t deadline_ms) {
                        v1::MasterMessage msg;
                        auto* p = msg.mutable_probe();
                        p->set_request_id(request_id);
                        for (const auto& a : addresses)
                          p->add_addresses(a);
                        p->set_deadline_ms(deadline_ms);
                        const bool sent = registry.send(relay_id, msg);
                        if (sent) counters.probes_sent.fetch_add(1);
                        return sent;
                      });
  registry.on_probe_result([&](std::int64_t relay_id, const std::string& request_id, std::size_t n) {
    picker.on_probe_result(relay_id, request_id, n);
  });
  ctx.picker = &picker;
  DirectoryService directory(catalog, counters, unix_now, &picker);

  std::shared_ptr<grpc::ServerCredentials> creds;
  if (!s.tls_cert.empty()) {
    grpc::SslServerCredentialsOptions opts;
    opts.pem_key_cert_pairs.push_back({read_all(s.tls_key), read_all(s.tls_cert)});
    creds = grpc::SslServerCredentials(opts);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort(s.grpc, creds, &grpc_port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Find relays that vanished without closing their stream (their connection is pinged every minute).
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 100);  // a relay needs one or two
  builder.SetMaxReceiveMessageSize(4 * 1024 * 1024);
  builder.RegisterService(&registry);
  builder.RegisterService(&directory);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || grpc_port == 0) {
    spdlog::critical("cannot listen for gRPC on {} (address in use, or a bad TLS certificate or key?)",
                     s.grpc);
    return kExitRuntime;
  }
  const auto grpc_ep = *net::parse_endpoint(s.grpc);
  const std::string grpc_address =
      net::to_string(net::Endpoint{grpc_ep.ip, static_cast<std::uint16_t>(grpc_port)});
  const std::string check_address = net::to_string(checker->local());

  asio::steady_timer maintenance(io);
  std::function<void()> schedule = [&] {
    maintenance.expires_after(std::chrono::seconds(1));
    maintenance.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      try {
        const std::string done = catalog.maintain(unix_now());
        if (!done.empty()) spdlog::info("maintenance: {}", done);
      } catch (const std::exception& e) {
        counters.store_errors.fetch_add(1);
        spdlog::error("maintenance: {}", e.what());
      }
      schedule();
    });
  };
  schedule();

  // SIGHUP once serving: the config file again (master/settings.hpp plan_reload).
  on_hangup = [&] {
    if (s.config_file.empty()) {
      spdlog::info("reload: no config file (--config); nothing else to reload");
      return;
    }
    ReloadPlan plan = plan_reload(s);
    if (!plan.error.empty()) {
      spdlog::error("reload: {}; every setting keeps its value", plan.error);
      return;
    }
    kaillera::log::log_reload(plan.changed, plan.restart, s.config_file);
    if (plan.settings.log_level != s.log_level) kaillera::log::set_level(plan.settings.log_level);
    s = std::move(plan.settings);
    if (plan.mirrors_changed) {
      mirrors->stop();
      mirrors = make_mirrors(s);
      const auto urls = url_texts(mirror_urls(s));
      catalog.set_mirrors(urls, s.mirror_keep_s * 1000);
      try {
        st.set_mirrors(s.mirrors, unix_now());
      } catch (const std::exception& e) {
        counters.store_errors.fetch_add(1);
        spdlog::error("reload: storing the mirrors failed: {}", e.what());
      }
      mirrors->start();
      spdlog::info("reload: mirroring {} list(s) now", urls.size());
    }
  };

  if (!s.ready_file.empty()) {
    const nlohmann::json ready = {{"grpc", grpc_address},   {"grpc_port", grpc_port},
                                  {"http", http_address},   {"http_port", http->local().port},
                                  {"check", check_address}, {"pid", static_cast<long long>(::getpid())}};
    if (!write_file_atomically(s.ready_file, ready.dump() + "\n")) {
      spdlog::critical("cannot write the ready file {}", s.ready_file);
      server->Shutdown();
      return kExitRuntime;
    }
  }
  mirrors->start();
  if (webhooks) webhooks->start();
  router = [&](const HttpRequest& req) { return route(ctx, req); };
  readiness.set_ready();
  const auto stats = catalog.stats(unix_now());
  spdlog::info(
      "kaillera-master {} serving: gRPC on {} ({}), HTTP on http://{}/, address checks from UDP {}, database "
      "{} "
      "(schema {}, {} relays, {} listed), report interval {} ms, open registration {}, {} mirrored lists, {} "
      "webhooks",
      KF_VERSION, grpc_address, s.tls_cert.empty() ? "plaintext" : "TLS", http_address, check_address, s.db,
      migrated.to_version, stats.relays, stats.relays_listed, s.report_interval_ms,
      s.open_registration ? "on" : "off", cs.mirrors.size(), s.webhooks.size());

  if (!stopping) io.run();

  // Tell the relays first, so they reconnect (to us or another master) at once; then give connected clients a
  // short grace period to go away.
  picker.stop();  // answers picks still waiting for probes with what is known
  registry.finish_all(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the master is shutting down"));
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(1000));
  server->Wait();
  http->stop();
  checker->stop();
  mirrors->stop();
  if (webhooks) webhooks->stop();
  maintenance.cancel();
  signals.cancel();
  hangups.cancel();
  io.restart();
  io.poll();
  spdlog::info("stopped");
  return kExitOk;
}

int master_main(int argc, char** argv) {
  LoadResult r = load_settings(argc, argv);
  if (r.exit) {
    if (!r.output.empty()) std::fputs(r.output.c_str(), stdout);
    if (!r.error.empty()) std::fprintf(stderr, "kaillera-master: %s\n", r.error.c_str());
    return r.exit_code;
  }
  // The servers log to --log-file; the operator subcommands print their results and log to stderr.
  const std::string log_file = r.command == Command::kServe ? r.settings.log_file : std::string();
  if (const std::string problem = kaillera::log::setup("kaillera-master", r.settings.log_level, log_file);
      !problem.empty()) {
    std::fprintf(stderr, "kaillera-master: %s\n", problem.c_str());
    return kExitRuntime;
  }
  try {
    switch (r.command) {
      case Command::kServe:
        return serve(r.settings);
      case Command::kMigrate:
        return cmd_migrate(r.settings);
      case Command::kRelayAdd:
        return cmd_relay_add(r.settings, r.argument);
      case Command::kRelayList:
        return cmd_relay_list(r.settings, r.json);
      case Command::kRelayRemove:
        return cmd_relay_remove(r.settings, r.argument);
      case Command::kBackup:
        return kaillera::store::run_backup_command("kaillera-master", r.settings.db, r.argument, r.force);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kaillera-master: %s\n", e.what());
    return kExitRuntime;
  }
  return kExitOk;
}

}  // namespace kaillera::master
