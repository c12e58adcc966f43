// Moderation as values (DESIGN.md "Moderate"): access levels, the access list an operator writes, and the
// lasting state staff make with commands (bans, silences, temporary grants). Pure: no clock, no I/O, no
// threads. The core asks a Moderation for decisions; every change it makes is handed to the shell as a
// ModerationChange value (relay/core/journal.hpp), which the shell writes to the relay's SQLite state file.
//
// Times here are steady-clock points, as everywhere in the core; the shell converts them to and from wall
// time when it writes and loads them (relay/state/state_store.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace kaillera::relay {

using ModClock = std::chrono::steady_clock;
using ModTime = ModClock::time_point;

// Access levels, lowest first (EmuLinker-K's order; "owner" is its superadmin).
enum class Level : std::uint8_t {
  kBanned = 0,
  kNormal = 1,
  kElevated = 2,
  kModerator = 3,
  kAdmin = 4,
  kOwner = 5
};

std::string_view level_name(Level l);                     // "banned", "normal", ... "owner"
std::optional<Level> parse_level(std::string_view name);  // the names above, case-insensitive
constexpr bool is_staff(Level l) {
  return l >= Level::kModerator;
}

// An IPv4 network: `prefix` leading bits of `net` (host byte order); /32 is one address.
struct AddressRange {
  std::uint32_t net = 0;
  std::uint8_t prefix = 32;
  bool contains(std::uint32_t ip) const { return prefix == 0 || ((ip ^ net) >> (32 - prefix)) == 0; }
  friend bool operator==(const AddressRange&, const AddressRange&) = default;
};
// "a.b.c.d" or "a.b.c.d/n" (0..32; host bits must be zero). nullopt otherwise.
std::optional<AddressRange> parse_range(std::string_view text);
std::string to_string(const AddressRange& r);  // "a.b.c.d" for /32, else "a.b.c.d/n"

// Glob patterns for game and emulator names: '*' any run, '?' one byte; ASCII letters compare without case.
bool glob_match(std::string_view pattern, std::string_view text);

// One entry of the access file: a level (and optionally a permanent silence and a login announcement) for
// a set of addresses. `dns` names are resolved by the shell off the packet path; `resolved` holds what they
// resolved to last (kept when a later lookup fails).
struct AccessEntry {
  Level level = Level::kNormal;
  std::vector<AddressRange> ranges;     // exact addresses and CIDR ranges
  std::vector<std::string> dns;         // host names, without the "dns:" prefix
  std::vector<std::uint32_t> resolved;  // addresses the dns names resolved to
  bool silenced = false;                // may not chat anywhere on the relay
  std::string announce;  // broadcast to the lobby when a user from here logs in (charset bytes)
  std::string label;     // for logs and /info ("alice's home")
};

// The access file as the core uses it. The first entry that matches an address decides its level (so a
// narrow entry placed first overrides a wide one); an address no entry matches gets `default_level`.
struct AccessList {
  std::vector<AccessEntry> entries;
  Level default_level = Level::kNormal;  // kBanned: a private relay, only listed addresses may log in
  std::vector<std::string> games_allow, games_deny;          // glob patterns; empty allow = every game
  std::vector<std::string> emulators_allow, emulators_deny;  // glob patterns; empty allow = every emulator

  const AccessEntry* match(std::uint32_t ip) const;
  bool game_allowed(std::string_view rom) const;
  bool emulator_allowed(std::string_view emulator) const;
};

// The relay.toml `admins` list (IPv4 addresses) as access entries of level admin; bad addresses are skipped
// (validate() names them at start-up).
AccessList admins_access(const std::vector<std::string>& admins);

// --- Lasting state made by staff ---------------------------------------------------------------------------

// A ban or a silence of an address range. `until` empty = permanent.
struct Sanction {
  std::uint64_t id = 0;  // unique across bans and silences, never reused (the store keeps the next one)
  AddressRange range;
  std::optional<ModTime> until;
  std::string reason;  // charset bytes as typed
  std::string issuer;  // the staff member's name (charset bytes)
  std::uint32_t issuer_ip = 0;
  std::string target_name;  // the name of the user it was issued against, if any (charset bytes)
  ModTime at{};             // when it was issued
  bool active(ModTime now) const { return !until || now < *until; }
};

// A level given for a while by /tempadmin, /tempmoderator, /tempelevated.
struct Grant {
  std::uint64_t id = 0;
  std::uint32_t ip = 0;
  Level level = Level::kElevated;
  ModTime until{};
  std::string issuer;
  std::string target_name;
  ModTime at{};
};

// Everything the store holds, as loaded at start-up (expired entries already left out).
struct ModerationState {
  std::vector<Sanction> bans, silences;
  std::vector<Grant> grants;
  std::uint64_t next_id = 1;
};

// The in-memory view the core asks. Lookups by address cost one hash probe per distinct prefix length in
// use (at most 33), whatever the number of bans.
class Moderation {
 public:
  void set_access(AccessList list);
  const AccessList& access() const { return access_; }
  void load(ModerationState state);

  // The level of an address now: a ban makes it kBanned; otherwise the higher of the access file's level and
  // an unexpired grant.
  Level level_of(std::uint32_t ip, ModTime now) const;
  // The level from the access file and grants only (what a ban would be lifted to).
  Level granted_level(std::uint32_t ip, ModTime now) const;
  const Sanction* ban_of(std::uint32_t ip, ModTime now) const;
  const Sanction* silence_of(std::uint32_t ip, ModTime now) const;  // staff-made silences only
  bool silenced(std::uint32_t ip, ModTime now) const;               // also the access file's `silenced`
  const Grant* grant_of(std::uint32_t ip, ModTime now) const;

  std::uint64_t next_id() { return next_id_++; }
  std::uint64_t peek_next_id() const { return next_id_; }
  void add_ban(Sanction s);
  void add_silence(Sanction s);
  void add_grant(Grant g);
  // Remove by id; false when there is none.
  bool remove_ban(std::uint64_t id);
  bool remove_silence(std::uint64_t id);
  bool remove_grant(std::uint64_t id);

  // Active entries, for /bans, /info and /clear.
  std::vector<const Sanction*> bans(ModTime now) const;
  std::vector<const Sanction*> silences(ModTime now) const;
  std::vector<const Grant*> grants(ModTime now) const;

  // Forgets what has expired by `now`; true when something did (levels may have changed).
  bool expire(ModTime now);

 private:
  struct RangeIndex {
    // prefix length -> masked network -> ids of entries with that range
    std::map<std::uint8_t, std::unordered_map<std::uint32_t, std::vector<std::uint64_t>>> by_prefix;
    void add(const AddressRange& r, std::uint64_t id);
    void remove(const AddressRange& r, std::uint64_t id);
    template <class F>
    void for_each(std::uint32_t ip, F&& f) const;
  };
  const Sanction* find(const std::unordered_map<std::uint64_t, Sanction>& all, const RangeIndex& index,
                       std::uint32_t ip, ModTime now) const;

  AccessList access_;
  std::unordered_map<std::uint64_t, Sanction> bans_, silences_;
  RangeIndex ban_index_, silence_index_;
  std::unordered_map<std::uint64_t, Grant> grants_;
  std::uint64_t next_id_ = 1;
};

}  // namespace kaillera::relay
