// What the core hands the shell besides datagrams: lasting moderation changes (to be written to the state
// file) and audit events (to be appended to the audit log). Both are plain values; the shell's Journal must
// return at once (it queues for its own writer thread) and never calls back into the core from inside.
//
// A change is acknowledged to the staff member who made it only when the shell says it is written
// (Server::change_written), so "Banned ..." on a staff member's screen means the ban survives a kill -9.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "relay/core/moderation.hpp"

namespace kaillera::relay {

struct ModerationChange {
  enum class Kind : std::uint8_t {
    kBan,          // sanction: a new ban
    kSilence,      // sanction: a new silence
    kGrant,        // grant: a new temporary level
    kLiftBan,      // id: the ban is lifted (early, by staff)
    kLiftSilence,  // id
    kLiftGrant,    // id
  } kind = Kind::kBan;
  std::uint64_t change_id = 0;  // the core's sequence number; echoed back in change_written()
  Sanction sanction;            // kBan, kSilence
  Grant grant;                  // kGrant
  std::uint64_t id = 0;         // kLift*: the id of the entry
  std::string by;               // kLift*: who lifted it (charset bytes)
};

// One audit event: a type ("login", "logout", "chat", "game_created", "game_started", "game_ended",
// "staff", "refused", ...) and its fields in order. Text fields are raw client bytes in the relay's charset
// unless `ascii`; the shell converts them to UTF-8 for the JSON line.
struct AuditEvent {
  struct Field {
    std::string key;
    std::variant<std::int64_t, std::string, bool, std::vector<std::string>> value;
  };
  std::string type;
  std::vector<Field> fields;

  AuditEvent& num(std::string k, std::int64_t v) {
    fields.push_back({std::move(k), v});
    return *this;
  }
  AuditEvent& text(std::string k, std::string_view v) {
    fields.push_back({std::move(k), std::string(v)});
    return *this;
  }
  AuditEvent& flag(std::string k, bool v) {
    fields.push_back({std::move(k), v});
    return *this;
  }
  AuditEvent& list(std::string k, std::vector<std::string> v) {
    fields.push_back({std::move(k), std::move(v)});
    return *this;
  }
};

class Journal {
 public:
  virtual ~Journal() = default;
  // Whether lasting changes are stored at all (a state file is configured).
  virtual bool has_state_file() const = 0;
  // A lasting change (only asked when has_state_file()). True: it is being written, and
  // Server::change_written(change_id, ok) follows. False: the state file cannot take it now (its queue is
  // full): it lasts until restart.
  virtual bool change(const ModerationChange& c) = 0;
  // An audit event; `chat` events are given only when the operator asked for them (audit_chat).
  virtual void audit(AuditEvent e) = 0;
};

}  // namespace kaillera::relay
