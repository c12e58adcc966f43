// A real multi-hop network for tests, made of Linux network namespaces (needs root): a line of routers
// r1 - r2 - ... - rN (IP forwarding on), and hosts (relays, players, the master) hanging off a router each.
// A datagram from a host at router i to a host at router j passes |i - j| + 1 routers, so its receiver counts
// that many hops from the TTL. Every namespace is named with the test's pid and removed again by the
// destructor. Code runs inside a namespace on a thread of its own (setns changes only the calling thread).
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace kf_netns {

class Topology {
 public:
  explicit Topology(int routers) : prefix_("kf" + std::to_string(::getpid()) + "-"), routers_(routers) {
    remove_orphans();
    for (int i = 1; i <= routers; ++i) {
      const std::string r = router(i);
      add_namespace(r);
      sh("ip netns exec " + ns(r) + " sysctl -qw net.ipv4.ip_forward=1");
    }
    for (int i = 1; i < routers; ++i) {
      const std::string a = ns(router(i)), b = ns(router(i + 1)), net = "10.100." + std::to_string(i) + ".";
      sh("ip -n " + a + " link add right type veth peer name left netns " + b);
      sh("ip -n " + a + " addr add " + net + "1/24 dev right");
      sh("ip -n " + b + " addr add " + net + "2/24 dev left");
      sh("ip -n " + a + " link set right up");
      sh("ip -n " + b + " link set left up");
    }
  }
  ~Topology() {
    for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it)
      std::system(("ip netns del " + *it + " >/dev/null 2>&1").c_str());
  }
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  // Empty when everything was made; otherwise the first command that failed.
  const std::string& problem() const { return problem_; }

  // A host named `name` behind router `at`; returns its address. Routes on every router are added.
  std::string add_host(const std::string& name, int at) {
    const int k = static_cast<int>(hosts_.size()) + 1;
    const std::string net = "10.200." + std::to_string(k) + ".";
    add_namespace(name);
    const std::string r = ns(router(at)), h = ns(name), dev = "h" + std::to_string(k);
    sh("ip -n " + r + " link add " + dev + " type veth peer name eth0 netns " + h);
    sh("ip -n " + r + " addr add " + net + "1/24 dev " + dev);
    sh("ip -n " + h + " addr add " + net + "2/24 dev eth0");
    sh("ip -n " + r + " link set " + dev + " up");
    sh("ip -n " + h + " link set eth0 up");
    sh("ip -n " + h + " route add default via " + net + "1");
    for (int i = 1; i <= routers_; ++i) {
      if (i == at) continue;
      const std::string via =
          i < at ? "10.100." + std::to_string(i) + ".2" : "10.100." + std::to_string(i - 1) + ".1";
      sh("ip -n " + ns(router(i)) + " route add " + net + "0/24 via " + via);
    }
    hosts_[name] = {net + "2", at};
    return net + "2";
  }

  std::string address(const std::string& host) const { return hosts_.at(host).address; }
  int router_of(const std::string& host) const { return hosts_.at(host).router; }
  // Routers a datagram between two hosts passes: the hop count either end reads from the TTL.
  int hops(const std::string& a, const std::string& b) const {
    return std::abs(router_of(a) - router_of(b)) + 1;
  }

  // The system name of a namespace, for "ip netns exec NAME ...".
  std::string ns(const std::string& name) const { return prefix_ + name; }

  // Runs `fn` on a new thread inside the host's namespace and waits for it. False when setns failed.
  bool run_in(const std::string& name, const std::function<void()>& fn) const {
    bool ok = false;
    std::thread t([&] {
      const int fd = ::open(("/var/run/netns/" + ns(name)).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return;
      ok = ::setns(fd, CLONE_NEWNET) == 0;
      ::close(fd);
      if (ok) fn();
    });
    t.join();
    return ok;
  }

 private:
  struct Host {
    std::string address;
    int router = 0;
  };
  static std::string router(int i) { return "r" + std::to_string(i); }

  // Namespaces of an earlier run that was killed before its destructor ran ("kf<pid>-..." of a dead pid).
  static void remove_orphans() {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/var/run/netns", ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("kf", 0) != 0) continue;
      const auto dash = name.find('-');
      if (dash == std::string::npos || dash < 3) continue;
      const std::string pid = name.substr(2, dash - 2);
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      if (std::filesystem::exists("/proc/" + pid)) continue;
      std::system(("ip netns del " + name + " >/dev/null 2>&1").c_str());
    }
  }

  void add_namespace(const std::string& name) {
    if (sh("ip netns add " + ns(name))) namespaces_.push_back(ns(name));
    sh("ip -n " + ns(name) + " link set lo up");
  }
  bool sh(const std::string& cmd) {
    if (!problem_.empty()) return false;
    if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) {
      problem_ = cmd;
      return false;
    }
    return true;
  }

  std::string prefix_;
  int routers_;
  std::vector<std::string> namespaces_;
  std::map<std::string, Host> hosts_;
  std::string problem_;
};

}  // namespace kf_netns
