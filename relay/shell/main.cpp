// kaillera-relay: a Kaillera netplay relay server. Everything lives in relay/shell/shell.cpp.
#include "relay/shell/shell.hpp"

int main(int argc, char** argv) {
  return kaillera::relay::shell::relay_main(argc, argv);
}
