// The Asio shell around the relay core (DESIGN.md "Time is an argument": only this layer reads the clock and
// touches sockets). One io_context, one thread:
//   - a UdpSocket on the handshake endpoint and one per game port (the shared port, or every port of the
//     range), each waited on with async_wait(wait_read) and drained with recvmmsg;
//   - every datagram goes to Server::on_datagram with steady_clock::now(); what the core sends is collected
//   per
//     socket and flushed with sendmmsg after each batch;
//   - a 10 ms timer drives Server::on_tick;
//   - SIGINT/SIGTERM (or an admin's /shutdown) say goodbye to everyone and stop;
//   - optionally the Prometheus endpoint (--metrics).
#pragma once

#include "relay/shell/settings.hpp"

namespace kaillera::relay::shell {

// Binds, logs the start-up line, serves until a signal or /shutdown. Returns the process exit code.
int run_relay(Settings settings);

// The whole program: settings, logging, run_relay. What main() calls.
int relay_main(int argc, const char* const* argv);

}  // namespace kaillera::relay::shell
