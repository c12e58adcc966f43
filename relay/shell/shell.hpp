// The shell around the relay core (DESIGN.md "Time is an argument": only this layer reads the clock and
// touches sockets). One thread:
//   - a UdpSocket on the handshake endpoint and one per game port (the shared port, or every port of the
//     range), registered once in an epoll set and drained with recvmmsg when epoll_wait reports them;
//   - every datagram goes to Server::on_datagram with steady_clock::now(); what the core sends is collected
//     per socket and flushed with sendmmsg after each batch;
//   - every 10 ms a tick drives Server::on_tick, measures the load and runs what is ready on the shell's Asio
//     io_context: signals (SIGINT/SIGTERM say goodbye to everyone and stop, SIGHUP reloads), the Prometheus
//     endpoint (--metrics), and what the reporter, prober and DNS threads post back.
#pragma once

#include "relay/shell/settings.hpp"

namespace kaillera::relay::shell {

// Binds, logs the start-up line, serves until a signal or /shutdown. Returns the process exit code.
int run_relay(Settings settings);

// The whole program: settings, logging, run_relay. What main() calls.
int relay_main(int argc, const char* const* argv);

}  // namespace kaillera::relay::shell
