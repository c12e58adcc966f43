// Secrets handed to relays: operator tokens (`kaillera-master relay add NAME`) and the session keys of
// Register. Only their SHA-256 is stored; the secret itself is shown once.
#pragma once

#include <string>
#include <string_view>

namespace kaillera::master {

// 32 random bytes from the system's CSPRNG as "kf_" + 64 hex digits. Throws std::runtime_error when the
// random source fails.
std::string new_token();
// 32 random bytes as 64 hex digits.
std::string new_session_key();
// The 32-byte SHA-256 digest of `data`.
std::string sha256(std::string_view data);
std::string to_hex(std::string_view bytes);

}  // namespace kaillera::master
