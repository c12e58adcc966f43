#include "master/metrics.hpp"

#include <cstdio>
#include <string_view>

namespace kaillera::master {

namespace {

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

template <typename T>
void sample(std::string& out, std::string_view name, T value, std::string_view labels = {}) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(std::to_string(value)).append("\n");
}

template <typename T>
void one(std::string& out, std::string_view name, std::string_view type, T value, std::string_view help) {
  family(out, name, type, help);
  sample(out, name, value);
}

}  // namespace

std::string render_metrics(const CatalogStats& s, const MasterCounters& c, const CheckerCounters* checks) {
  std::string out;
  out.reserve(4096);
  family(out, "kaillera_master_relays", "gauge", "Relays known to this master, by state.");
  sample(out, "kaillera_master_relays", s.relays_online, "state=\"online\"");
  sample(out, "kaillera_master_relays", s.relays_listed - s.relays_online, "state=\"offline\"");
  sample(out, "kaillera_master_relays", s.relays - s.relays_listed, "state=\"unlisted\"");
  one(out, "kaillera_master_relays_pending_check", "gauge", s.relays_pending,
      "Open registrations waiting for their PONG.");
  family(out, "kaillera_master_third_party_servers", "gauge", "Third-party (touch) servers, by state.");
  sample(out, "kaillera_master_third_party_servers", s.third_party_listed, "state=\"listed\"");
  sample(out, "kaillera_master_third_party_servers", s.third_party - s.third_party_listed,
         "state=\"unverified\"");
  one(out, "kaillera_master_users", "gauge", s.users, "Users on listed online servers.");
  one(out, "kaillera_master_games", "gauge", s.games, "Games on listed online servers.");
  one(out, "kaillera_master_waiting_games", "gauge", s.waiting_games,
      "Waiting games on listed online servers.");

  family(out, "kaillera_master_registrations_total", "counter", "Register calls, by result.");
  sample(out, "kaillera_master_registrations_total", c.registrations_ok.load(), "result=\"ok\"");
  sample(out, "kaillera_master_registrations_total", c.registrations_rejected.load(), "result=\"rejected\"");
  one(out, "kaillera_master_report_streams_opened_total", "counter", c.streams_opened.load(),
      "Report streams that passed their hello.");
  one(out, "kaillera_master_report_streams", "gauge", c.streams_open.load(), "Report streams open now.");
  family(out, "kaillera_master_reports_total", "counter", "Load reports, by result.");
  sample(out, "kaillera_master_reports_total", c.reports_ok.load(), "result=\"ok\"");
  sample(out, "kaillera_master_reports_total", c.reports_rejected.load(), "result=\"rejected\"");
  family(out, "kaillera_master_report_ingest_seconds_total", "counter",
         "Time spent storing accepted reports.");
  char ingest[64];
  std::snprintf(ingest, sizeof ingest, "%.6f", static_cast<double>(c.report_ingest_ns.load()) / 1e9);
  out.append("kaillera_master_report_ingest_seconds_total ").append(ingest).append("\n");
  one(out, "kaillera_master_probe_results_total", "counter", c.probe_results.load(),
      "Probe results received.");
  one(out, "kaillera_master_directory_requests_total", "counter", c.directory_requests.load(),
      "gRPC Directory calls.");
  one(out, "kaillera_master_pick_requests_total", "counter", c.pick_requests.load(), "gRPC PickRelay calls.");
  one(out, "kaillera_master_probe_requests_total", "counter", c.probes_sent.load(),
      "Probe requests pushed to relays for the fair pick.");
  family(out, "kaillera_master_touch_requests_total", "counter",
         "touch_server.php / touch_list.php, by result.");
  sample(out, "kaillera_master_touch_requests_total", c.touches_ok.load(), "result=\"ok\"");
  sample(out, "kaillera_master_touch_requests_total", c.touches_rejected.load(), "result=\"rejected\"");
  family(out, "kaillera_master_http_responses_total", "counter", "HTTP responses, by status class.");
  sample(out, "kaillera_master_http_responses_total", c.http_2xx.load(), "code=\"2xx\"");
  sample(out, "kaillera_master_http_responses_total", c.http_3xx.load(), "code=\"3xx\"");
  sample(out, "kaillera_master_http_responses_total", c.http_4xx.load(), "code=\"4xx\"");
  sample(out, "kaillera_master_http_responses_total", c.http_5xx.load(), "code=\"5xx\"");
  one(out, "kaillera_master_store_errors_total", "counter", c.store_errors.load(), "Failed database writes.");
  if (checks != nullptr) {
    family(out, "kaillera_master_address_checks_total", "counter", "PING/PONG address checks, by result.");
    sample(out, "kaillera_master_address_checks_total", checks->pongs.load(), "result=\"pong\"");
    sample(out, "kaillera_master_address_checks_total", checks->timeouts.load(), "result=\"timeout\"");
    sample(out, "kaillera_master_address_checks_total", checks->refused.load(), "result=\"refused\"");
    one(out, "kaillera_master_address_check_pings_total", "counter", checks->pings_sent.load(),
        "PINGs sent.");
    one(out, "kaillera_master_address_check_stray_total", "counter", checks->stray.load(),
        "Datagrams on the check socket that answered no check.");
  }
  family(out, "kaillera_master_start_time_seconds", "gauge", "Start time of the master, Unix seconds.");
  char start[64];
  std::snprintf(start, sizeof start, "%.3f", c.start_time_seconds);
  out.append("kaillera_master_start_time_seconds ").append(start).append("\n");
  family(out, "kaillera_master_build_info", "gauge", "Version of the master.");
  sample(out, "kaillera_master_build_info", 1, "version=\"" KF_VERSION "\"");
  return out;
}

}  // namespace kaillera::master
