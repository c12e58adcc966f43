// The access file (docs/OPERATING.md "The access file", every key in deploy/access.example.toml): TOML that
// gives levels to addresses, CIDR ranges and dns: names, with optional login announcements, permanent
// silences and the game and emulator filters. Parsed into the core's AccessList (relay/core/moderation.hpp);
// every problem names the file, the line and the key. dns: names are kept unresolved here: DnsRefresher
// (relay/shell/dns_refresher.hpp) resolves them off the packet path and apply_resolved() fills them in.
//
// The parser is pure apart from load_access_file's read: no Asio, no threads, no clock.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/core/moderation.hpp"
// DnsRefresher and apply_resolved live there; included here too for the shell, which uses both together.
#include "relay/shell/dns_refresher.hpp"

namespace kaillera::relay::shell {

struct AccessLoad {
  // The list, or nothing when the file has a problem (then `error` says which, as
  // "access.toml:7: [[user]] #2 addresses[1]: ...").
  std::optional<AccessList> list;
  std::string error;
  // Things that are valid but probably not what the operator meant (an entry that an earlier one hides, a
  // private relay nobody may enter, ...), in the same "file:line: key: ..." form. Only with a list.
  std::vector<std::string> warnings;
};

// `text` is the file (UTF-8), `source` its name for messages, `charset` the relay's: announce and label texts
// and the glob patterns are converted to it (clients send and receive bytes in that charset); a character it
// cannot encode is an error naming the key.
AccessLoad parse_access_toml(std::string_view text, std::string_view source, std::string_view charset);
AccessLoad load_access_file(const std::string& path, std::string_view charset);

// relay.toml's `admins = ["1.2.3.4", ...]`, kept as a shorthand: one admin entry per valid IPv4 address,
// labelled "relay.toml admins" (settings validation names the bad ones; they are skipped here).
AccessList admins_shorthand(const std::vector<std::string>& admins);

// The list the core uses: the access file's entries first, then the admins shorthand's. Since the first
// matching entry decides, the access file wins where both name an address (it can ban or demote an address
// that `admins` lists). The file's default level and filters are kept. Each admins address that an access
// file entry hides gets a line in `warnings`, when given.
AccessList merge_admins(AccessList file, const std::vector<std::string>& admins,
                        std::vector<std::string>* warnings = nullptr);

// Every dns: name in the list, once each, sorted (what DnsRefresher resolves).
std::vector<std::string> dns_names(const AccessList& list);

}  // namespace kaillera::relay::shell
