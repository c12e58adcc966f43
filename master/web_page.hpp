// The public web page (master/web/index.html), embedded into the binary at configure time.
#pragma once

#include <string_view>

namespace kaillera::master {

std::string_view web_page();

}  // namespace kaillera::master
