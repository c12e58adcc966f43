// kaillera-master's main(): the operator subcommands (relay add|list|remove, migrate) and the server (gRPC,
// HTTP, the PING checker and the periodic maintenance), which stops cleanly on SIGINT/SIGTERM.
#pragma once

#include "master/settings.hpp"

namespace kaillera::master {

int master_main(int argc, char** argv);

// Runs the server until a signal; returns the exit code.
int serve(const Settings& settings);

}  // namespace kaillera::master
