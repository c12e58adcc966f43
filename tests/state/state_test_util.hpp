// Shared by the state file's and the audit log's tests: the scratch directory and file reader of the other
// process tests (tests/support/process.hpp).
#pragma once

#include "tests/support/process.hpp"

namespace kf_state_test {
using kf_test::read_file;
using kf_test::TempDir;
}  // namespace kf_state_test
