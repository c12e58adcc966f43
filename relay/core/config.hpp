// The relay's configuration: a plain struct with defaults (DESIGN.md "Config is a plain struct"). The shell
// fills it from the TOML file and the flags; validate() names the first bad key at start-up.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "relay/core/admission.hpp"
#include "relay/core/messages.hpp"

namespace kaillera::relay {

using Millis = std::chrono::milliseconds;
using Seconds = std::chrono::seconds;

struct Config {
  // Identity and addresses.
  std::string name = "Kaillera Federation relay";
  std::string location = "Unknown";
  std::string website;
  std::string public_address;             // empty: the master sees the source address
  std::string listen = "0.0.0.0:27888";   // handshake port
  std::uint16_t game_port_first = 27889;  // one shared port when first == last
  std::uint16_t game_port_last = 27889;
  std::string charset = "windows-1252";  // how the clients' bytes are read; names pass through as bytes

  // Admission.
  std::uint32_t max_users = 100;     // 0 = unlimited (also bounded by the port range in per-client mode)
  std::uint32_t max_ping_ms = 1000;  // logins above are refused
  std::uint8_t allowed_conn_types = 0x7E;  // bit n set = connection type n allowed (1..6)
  std::vector<std::string> admins;  // IPv4 addresses given the admin level (the access file's shorthand)
  std::vector<std::string> motd = {"Welcome to a Kaillera Federation relay."};

  // Limits (KAILLERA.md §6.4).
  std::uint32_t max_name_length = 30;  // hard ceiling 31 (n02's 32-byte buffer)
  std::uint32_t max_emulator_length = 127;
  std::uint32_t max_game_name_length = 127;
  std::uint32_t max_chat_length = 150;
  std::uint32_t max_game_chat_length = 320;
  std::uint32_t max_quit_length = 100;
  std::uint32_t max_players = 8;        // per room, 1..8 (owner may lower it with /maxusers)
  std::uint32_t max_games = 0;          // 0 = unlimited
  Millis chat_flood = Millis(2000);     // between two lobby chats of one user
  Millis create_flood = Millis(2000);   // between two room creations of one user
  bool allow_mixed_conn_types = false;  // start with players of different connection types
  bool allow_single_player = true;

  // Timeouts.
  Millis login_timeout = Millis(15000);       // HELLO or first packet to completed login
  Millis keepalive_timeout = Millis(190000);  // nothing at all from a user for this long: "Ping timeout"
  Millis idle_timeout =
      Millis(3600000);  // no user action (chat, room) in the lobby: "Inactivity Timeout"; 0 = off
  Millis data_deadline = Millis(10000);  // a playing player sends no game data: dropped, zeros fill its slot
  Millis resend_min_interval = Millis(100);  // at most one resend per session per interval
  // A hole in a client's seqs (its datagrams lost beyond its redundancy): wait this long for the client to
  // send the missing messages again (clients resend their recent messages when the game stalls) before
  // giving them up; lost input packets are then played as zeros. 0 = give up at once.
  Millis gap_wait = Millis(1500);

  // Wire.
  std::uint32_t redundancy = 3;        // earlier messages repeated in each datagram
  std::uint32_t max_datagram = 1400;   // bytes; ServerStatus is split to fit
  std::uint32_t burst_redundancy = 8;  // earlier messages repeated during the post-login burst

  // Status bytes (KAILLERA.md §5.11); defaults as recommended there.
  std::uint8_t user_status_playing = 2;
  std::uint8_t user_status_idle = 1;
  std::uint8_t user_status_connecting = 0;
  std::uint8_t game_status_waiting = 0;
  std::uint8_t game_status_playing = 1;
  std::uint8_t game_status_netsync = 2;

  // Handshake port abuse limits, per source IP.
  double hello_rate = 5;  // HELLO/PING per second
  double hello_burst = 20;

  // Abuse limits (elevated users and staff are exempt).
  std::uint32_t max_logins_per_address = 0;  // users logged in from one IP at once; 0 = unlimited
  bool refuse_url_names = true;              // names with www., http://, https://, ://, '\\'
  std::uint32_t join_spam_limit = 4;         // joins of one room from one IP within join_spam_window ...
  Millis join_spam_window = Millis(60000);   // ... above the limit are refused; 0 = off
  std::uint32_t command_burst = 5;           // commands in a row, then one per chat_flood
  std::uint32_t p2p_forced_above = 60;  // /p2pon for everyone while playing above this many users; 0 = never

  // Moderation.
  Millis moderator_max_silence = Millis(15 * 60000);  // moderators silence at most this long; admins any
  bool audit_chat = false;                            // lobby, room and private chat go to the audit log too

  // Play.
  bool same_delay = false;  // rooms start with /samedelay on: every player gets the highest ping's delay
  Seconds lagstat_window = Seconds(60);  // /lagstat looks back this far (lag.hpp)
  // A line in the room when one player has made the game wait this long within the window; 0 = off.
  Millis lag_notice = Millis(0);

  // Admission before overload (admission.hpp): new connections, logins and game starts are refused while the
  // shell's measured load is over these limits; games already playing continue.
  AdmissionLimits admission;

  // Texts (messages.hpp): the catalog of every text sent to players, already in `charset`. English unless the
  // shell loaded a language (relay.toml `language`, `messages_file`).
  Messages messages;
};

// An empty string when the config is usable, else the first problem, naming its key.
std::string validate(const Config& c);

}  // namespace kaillera::relay
