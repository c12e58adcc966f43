// What a program says about its build: the project version and the git commit it was built from
// (cmake/Version.cmake generates the two values; the library kf_build_info holds them). Only the programs'
// --version text uses the commit, so a new commit relinks them and recompiles nothing else.
#pragma once

#include <string>
#include <string_view>

namespace kaillera::build_info {

// The project version, e.g. "0.1.0" (KF_VERSION).
std::string_view version();

// The short hash of the commit built, e.g. "bf01b25"; "unknown" when not built from a git checkout.
std::string_view git_commit();

// "<program> <version> (git <commit>)", e.g. "kaillera-relay 0.1.0 (git bf01b25)", without a newline.
std::string version_line(std::string_view program);

}  // namespace kaillera::build_info
