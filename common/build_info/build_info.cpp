#include "common/build_info/build_info.hpp"

namespace kaillera::build_info {

std::string version_line(std::string_view program) {
  std::string line(program);
  line += ' ';
  line += version();
  line += " (git ";
  line += git_commit();
  line += ')';
  return line;
}

}  // namespace kaillera::build_info
