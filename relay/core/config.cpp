#include "relay/core/config.hpp"

#include "common/net/address.hpp"

namespace kaillera::relay {

std::string validate(const Config& c) {
  if (c.name.empty()) return "name: must not be empty";
  if (c.name.find('\n') != std::string::npos || c.name.find('|') != std::string::npos) {
    return "name: must not contain a newline or '|'";
  }
  if (!net::parse_endpoint(c.listen)) return "listen: '" + c.listen + "' is not IPv4:PORT";
  if (c.game_port_first > c.game_port_last) return "game_ports: first port above last port";
  if (c.game_port_first == 0 && c.game_port_last != 0)
    return "game_ports: port 0 only as a single shared port";
  if (c.max_ping_ms == 0) return "max_ping_ms: must be at least 1";
  if ((c.allowed_conn_types & 0x7E) == 0 || (c.allowed_conn_types & ~0x7E) != 0) {
    return "allowed_conn_types: must allow at least one of the types 1..6 and nothing else";
  }
  if (c.max_name_length == 0 || c.max_name_length > 31) return "max_name_length: must be 1..31";
  if (c.max_emulator_length == 0 || c.max_emulator_length > 127) return "max_emulator_length: must be 1..127";
  if (c.max_game_name_length == 0 || c.max_game_name_length > 127)
    return "max_game_name_length: must be 1..127";
  if (c.max_chat_length == 0 || c.max_chat_length > 1000) return "max_chat_length: must be 1..1000";
  if (c.max_game_chat_length == 0 || c.max_game_chat_length > 1000)
    return "max_game_chat_length: must be 1..1000";
  if (c.max_quit_length > 127) return "max_quit_length: must be 0..127";
  if (c.max_players < 1 || c.max_players > 8) return "max_players: must be 1..8";
  if (c.login_timeout.count() <= 0) return "login_timeout: must be positive";
  if (c.keepalive_timeout.count() <= 0) return "keepalive_timeout: must be positive";
  if (c.idle_timeout.count() < 0) return "idle_timeout: must not be negative";
  if (c.data_deadline.count() < 500) return "data_deadline: must be at least 500 ms";
  if (c.gap_wait.count() < 0) return "gap_wait: must not be negative";
  if (c.lagstat_window < Seconds(6) || c.lagstat_window > Seconds(3600))
    return "lagstat_window_s: must be 6..3600";
  if (c.lag_notice.count() < 0) return "lag_notice_ms: must not be negative";
  if (c.admission.busy_limit > 0 && c.admission.busy_resume > c.admission.busy_limit)
    return "busy_resume: must not be above busy_limit (" + std::to_string(c.admission.busy_resume) + " > " +
           std::to_string(c.admission.busy_limit) + ")";
  if (c.redundancy > 8) return "redundancy: must be 0..8";
  if (c.burst_redundancy > 16) return "burst_redundancy: must be 0..16";
  if (c.max_datagram < 512 || c.max_datagram > 8192) return "max_datagram: must be 512..8192";
  for (std::uint8_t s : {c.user_status_playing, c.user_status_idle, c.user_status_connecting,
                         c.game_status_waiting, c.game_status_playing, c.game_status_netsync}) {
    if (s > 2) return "status bytes: clients index a 3-entry table, values must be 0..2";
  }
  if (c.hello_rate <= 0 || c.hello_burst < 1) return "hello_rate/hello_burst: must be positive";
  for (const auto& a : c.admins) {
    if (!net::parse_ipv4(a)) return "admins: '" + a + "' is not an IPv4 address";
  }
  for (const auto& line : c.motd) {
    if (line.find('\n') != std::string::npos) return "motd: one line per entry, no newlines";
  }
  return {};
}

}  // namespace kaillera::relay
