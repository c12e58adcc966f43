// kaillera-master: the directory of Kaillera Federation relays. Everything lives in master/server.cpp.
#include "master/server.hpp"

int main(int argc, char** argv) {
  return kaillera::master::master_main(argc, argv);
}
