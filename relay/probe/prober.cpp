#include "relay/probe/prober.hpp"

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <linux/icmp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <memory>
#include <random>
#include <unordered_map>

#include "common/net/address.hpp"
#include "common/net/hops.hpp"

namespace kaillera::relay::probe {

std::string_view to_string(Method m) {
  switch (m) {
    case Method::kNone:
      return "none";
    case Method::kIcmp:
      return "icmp";
    case Method::kUdp:
      return "udp";
  }
  return "?";
}

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::kReached:
      return "reached";
    case Outcome::kNoAnswer:
      return "no_answer";
    case Outcome::kUnreachable:
      return "unreachable";
    case Outcome::kError:
      return "error";
    case Outcome::kBadAddress:
      return "bad_address";
    case Outcome::kSkipped:
      return "skipped";
  }
  return "?";
}

namespace {

using Steady = std::chrono::steady_clock;
using SteadyTime = Steady::time_point;
using std::chrono::milliseconds;

constexpr std::uint8_t kEchoReply = 0;
constexpr std::uint8_t kDestUnreachable = 3;
constexpr std::uint8_t kEchoRequest = 8;
constexpr std::uint8_t kTimeExceeded = 11;
constexpr std::size_t kEchoHeader = 8;
constexpr std::size_t kEchoPayload = 16;     // 8 bytes of the prober's nonce, 4 of the target, 4 spare
constexpr std::size_t kMaxAddressText = 64;  // longer strings from a master are cut (they are bad anyway)

std::size_t idx(Method m) {
  return static_cast<std::size_t>(m);
}
std::size_t idx(Outcome o) {
  return static_cast<std::size_t>(o);
}

// Unicast IPv4: not 0/8, not multicast (224/4), not 240/4 (reserved, and the limited broadcast).
bool probeable(std::uint32_t ip) {
  const std::uint32_t top = ip >> 24;
  return top != 0 && top < 224;
}

std::uint16_t checksum(const std::uint8_t* data, std::size_t n) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2)
    sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
  if (n % 2 != 0) sum += static_cast<std::uint32_t>(data[n - 1] << 8);
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

sockaddr_in to_sockaddr(std::uint32_t ip, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(ip);
  a.sin_port = htons(port);
  return a;
}

std::string errno_text(int e) {
  return std::strerror(e);
}

// errno values of a send that say the target cannot be reached from here (no route, a blackhole route, an
// earlier ICMP error still pending on the socket).
bool unreachable_errno(int e) {
  return e == ENETUNREACH || e == EHOSTUNREACH || e == EHOSTDOWN || e == ECONNREFUSED || e == EINVAL;
}

bool again_errno(int e) {
  return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS || e == EINTR;
}

template <class T>
void bump(std::atomic<T>& a, T by = 1) {
  a.fetch_add(by, std::memory_order_relaxed);
}

}  // namespace

// All the state of the prober's thread. Nothing here is touched by another thread.
struct Prober::Engine {
  struct Request {
    std::vector<Result> results;
    std::size_t pending = 0;
    SteadyTime deadline;
    Done done;
    bool finished = false;
  };
  struct Waiter {
    std::shared_ptr<Request> request;
    std::size_t slot;
    bool cached;  // attached to a probe another slot or request started
  };
  enum class Phase : std::uint8_t { kQueued, kIcmp, kUdp };
  struct Target {
    std::uint32_t ip = 0;
    Phase phase = Phase::kQueued;
    SteadyTime deadline;
    SteadyTime icmp_end;
    SteadyTime next_echo;
    int echoes_sent = 0;
    std::vector<std::uint16_t> echo_seqs;
    std::string icmp_detail;
    int udp_fd = -1;
    std::uint8_t next_ttl = 1;
    SteadyTime next_udp;
    std::vector<SteadyTime> udp_sent;  // by TTL
    std::uint8_t router_ttl = 0;       // highest TTL a router answered "time exceeded" for
    std::uint32_t router_ip = 0;
    std::vector<Waiter> waiters;
    bool done = false;
  };
  struct Echo {
    std::uint32_t ip;
    SteadyTime sent;
  };
  struct Cached {
    Result result;
    SteadyTime until;
  };

  explicit Engine(Prober& p) : p_(p), o_(p.options_) {
    std::random_device rd;
    nonce_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    ident_ = static_cast<std::uint16_t>(rd());
    next_seq_ = static_cast<std::uint16_t>(rd());
    tokens_ = o_.start_burst;
    refilled_ = Steady::now();
  }

  ~Engine() {
    for (auto& [ip, t] : targets_) {
      if (t->udp_fd >= 0) ::close(t->udp_fd);
    }
  }

  // ---- requests ------------------------------------------------------------------------------------------

  void accept(Queued q, SteadyTime now) {
    auto& c = p_.counters_;
    bump(c.requests);
    auto req = std::make_shared<Request>();
    milliseconds d = q.deadline.count() <= 0 ? o_.default_deadline : q.deadline;
    d = std::clamp(d, o_.min_deadline, o_.max_deadline);
    req->deadline = now + d;
    req->done = std::move(q.done);
    req->results.resize(q.addresses.size());
    bump(c.addresses, static_cast<std::uint64_t>(q.addresses.size()));
    const auto wall = std::chrono::system_clock::now();
    for (std::size_t i = 0; i < q.addresses.size(); ++i) {
      Result& r = req->results[i];
      r.address = q.addresses[i].substr(0, kMaxAddressText);
      r.measured = wall;
      if (i >= o_.max_addresses) {
        r.outcome = Outcome::kSkipped;
        r.detail = "over the limit of " + std::to_string(o_.max_addresses) + " addresses per request";
        bump(c.skipped);
        continue;
      }
      const auto ip = net::parse_ipv4(r.address);
      if (!ip || !probeable(*ip)) {
        r.outcome = Outcome::kBadAddress;
        r.detail = ip ? "not a unicast address" : "not an IPv4 address";
        bump(c.bad_addresses);
        continue;
      }
      r.ip = *ip;
      if (auto hit = cache_.find(*ip); hit != cache_.end() && hit->second.until > now) {
        r = hit->second.result;
        r.address = q.addresses[i].substr(0, kMaxAddressText);
        r.cached = true;
        bump(c.cache_hits);
        continue;
      }
      auto& t = targets_[*ip];
      bool cached = true;
      if (!t) {
        t = std::make_unique<Target>();
        t->ip = *ip;
        t->deadline = req->deadline;
        start_queue_.push_back(*ip);
        cached = false;
      } else {
        bump(c.cache_hits);
        t->deadline = std::max(t->deadline, req->deadline);
      }
      t->waiters.push_back({req, i, cached});
      ++req->pending;
    }
    if (req->pending == 0) {
      finish_request(*req);
    } else {
      requests_.push_back(std::move(req));
    }
  }

  void finish_request(Request& req) {
    if (req.finished) return;
    req.finished = true;
    if (!req.done) return;
    try {
      req.done(std::move(req.results));
    } catch (...) {
      // A caller's callback must not take the prober's thread down.
    }
  }

  // ---- the schedule --------------------------------------------------------------------------------------

  void step(SteadyTime now) {
    start_queued(now);
    std::vector<std::uint32_t> ips;
    ips.reserve(targets_.size());
    for (auto& [ip, t] : targets_)
      ips.push_back(ip);
    for (std::uint32_t ip : ips) {
      auto it = targets_.find(ip);
      if (it == targets_.end()) continue;
      Target& t = *it->second;
      advance(t, now);
    }
    reap_targets();
    for (auto& req : requests_) {
      if (req->finished || now < req->deadline) continue;
      for (auto& [ip, t] : targets_) {
        for (const Waiter& w : t->waiters) {
          if (w.request != req) continue;
          Result& r = req->results[w.slot];
          r.measured = std::chrono::system_clock::now();
          r.cached = w.cached;
          if (t->phase == Phase::kQueued) {
            r.outcome = Outcome::kSkipped;
            r.detail = "not started before the deadline (rate limit)";
            bump(p_.counters_.skipped);
          } else {
            r.outcome = Outcome::kNoAnswer;
            r.method = t->phase == Phase::kIcmp ? Method::kIcmp : Method::kUdp;
            r.detail = "no answer before this request's deadline";
          }
        }
      }
      finish_request(*req);
    }
    std::erase_if(requests_, [](const auto& r) { return r->finished; });
    if (now - pruned_ > std::chrono::seconds(1)) {
      std::erase_if(cache_, [&](const auto& kv) { return kv.second.until <= now; });
      pruned_ = now;
    }
  }

  void start_queued(SteadyTime now) {
    const double elapsed = std::chrono::duration<double>(now - refilled_).count();
    tokens_ = std::min(o_.start_burst, tokens_ + elapsed * o_.starts_per_second);
    refilled_ = now;
    while (!start_queue_.empty()) {
      auto it = targets_.find(start_queue_.front());
      if (it == targets_.end() || it->second->phase != Phase::kQueued) {
        start_queue_.pop_front();
        continue;
      }
      Target& t = *it->second;
      if (t.deadline <= now) {
        start_queue_.pop_front();
        Result r;
        r.outcome = Outcome::kSkipped;
        r.detail = "not started before the deadline (rate limit)";
        bump(p_.counters_.skipped);
        finish(t, std::move(r), false);
        continue;
      }
      if (tokens_ < 1) break;
      tokens_ -= 1;
      start_queue_.pop_front();
      start(t, now);
    }
  }

  void start(Target& t, SteadyTime now) {
    if (p_.icmp_fd_ < 0) {
      t.icmp_detail = "no ICMP socket: " + p_.icmp_description_;
      start_udp(t, now);
      return;
    }
    t.phase = Phase::kIcmp;
    t.icmp_end = now + (t.deadline - now) / 2;
    t.next_echo = now;
  }

  void advance(Target& t, SteadyTime now) {
    if (t.done) return;
    if (t.phase == Phase::kIcmp) {
      if (now >= t.icmp_end || now >= t.deadline) {
        end_icmp(t, Outcome::kNoAnswer, "no echo reply");
        if (now >= t.deadline) {
          Result r;
          r.outcome = Outcome::kNoAnswer;
          r.method = Method::kIcmp;
          r.detail = "no echo reply before the deadline";
          finish(t, std::move(r), false);
          return;
        }
        start_udp(t, now);
        if (t.done) return;
      } else if (t.echoes_sent < o_.max_echoes && now >= t.next_echo) {
        send_echo(t, now);
        if (t.done) return;
      }
    }
    if (t.phase == Phase::kUdp) {
      while (!t.done && t.next_ttl <= o_.max_ttl && now >= t.next_udp && now < t.deadline)
        send_udp(t, now);
      if (!t.done && now >= t.deadline) {
        Result r;
        r.outcome = Outcome::kNoAnswer;
        r.method = Method::kUdp;
        r.detail = t.icmp_detail.empty() ? "" : t.icmp_detail + "; ";
        r.detail += t.router_ttl == 0 ? "no router or target answered the UDP probes"
                                      : "last answer from router " + net::ip_to_string(t.router_ip) +
                                            " at TTL " + std::to_string(t.router_ttl);
        finish(t, std::move(r), true);
      }
    }
  }

  // Time until something is due (capped by the caller).
  milliseconds next_wake(SteadyTime now) const {
    SteadyTime next = now + std::chrono::seconds(1);
    if (!start_queue_.empty()) {
      const double wait = tokens_ >= 1 ? 0 : (1 - tokens_) / std::max(o_.starts_per_second, 1e-3);
      next = std::min(
          next, now + std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(wait)));
    }
    for (const auto& [ip, t] : targets_) {
      next = std::min(next, t->deadline);
      if (t->phase == Phase::kIcmp) {
        next = std::min(next, t->icmp_end);
        if (t->echoes_sent < o_.max_echoes) next = std::min(next, t->next_echo);
      } else if (t->phase == Phase::kUdp && t->next_ttl <= o_.max_ttl) {
        next = std::min(next, t->next_udp);
      }
    }
    for (const auto& r : requests_)
      next = std::min(next, r->deadline);
    if (next <= now) return milliseconds(0);
    // Round up: waking a little late is fine, spinning before a deadline is not.
    return std::chrono::ceil<milliseconds>(next - now);
  }

  // ---- ICMP echo -----------------------------------------------------------------------------------------

  void send_echo(Target& t, SteadyTime now) {
    std::uint8_t pkt[kEchoHeader + kEchoPayload] = {};
    const std::uint16_t seq = next_seq_++;
    pkt[0] = kEchoRequest;
    pkt[4] = static_cast<std::uint8_t>(ident_ >> 8);  // a ping socket puts its own identifier here
    pkt[5] = static_cast<std::uint8_t>(ident_);
    pkt[6] = static_cast<std::uint8_t>(seq >> 8);
    pkt[7] = static_cast<std::uint8_t>(seq);
    std::memcpy(pkt + kEchoHeader, &nonce_, sizeof nonce_);
    const std::uint32_t ip_n = htonl(t.ip);
    std::memcpy(pkt + kEchoHeader + 8, &ip_n, sizeof ip_n);
    const std::uint16_t sum = checksum(pkt, sizeof pkt);
    pkt[2] = static_cast<std::uint8_t>(sum >> 8);
    pkt[3] = static_cast<std::uint8_t>(sum);
    sockaddr_in to = to_sockaddr(t.ip, 0);
    const ssize_t n =
        ::sendto(p_.icmp_fd_, pkt, sizeof pkt, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    if (n < 0) {
      const int e = errno;
      bump(p_.counters_.send_errors);
      if (again_errno(e)) {
        t.next_echo = now + milliseconds(10);
        return;
      }
      end_icmp(t, unreachable_errno(e) ? Outcome::kUnreachable : Outcome::kError, "echo: " + errno_text(e));
      start_udp(t, now);
      return;
    }
    bump(p_.counters_.packets[idx(Method::kIcmp)]);
    echoes_[seq] = {t.ip, now};
    t.echo_seqs.push_back(seq);
    ++t.echoes_sent;
    t.next_echo = now + o_.echo_interval;
  }

  // The ICMP attempt is over without an answer: count it and forget its echoes.
  void end_icmp(Target& t, Outcome o, std::string detail) {
    bump(p_.counters_.attempts[idx(Method::kIcmp)][idx(o)]);
    for (std::uint16_t s : t.echo_seqs)
      echoes_.erase(s);
    t.echo_seqs.clear();
    t.icmp_detail = "ICMP: " + detail;
  }

  void read_icmp(SteadyTime now) {
    std::uint8_t buf[1500];
    alignas(cmsghdr) std::uint8_t control[256];
    for (int i = 0; i < 256; ++i) {
      sockaddr_in from{};
      iovec iov{buf, sizeof buf};
      msghdr msg{};
      msg.msg_name = &from;
      msg.msg_namelen = sizeof from;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      const ssize_t n = ::recvmsg(p_.icmp_fd_, &msg, MSG_DONTWAIT);
      if (n < 0) return;  // EAGAIN, or an error the next echo will see
      const std::uint8_t* icmp = buf;
      std::size_t len = static_cast<std::size_t>(n);
      int ttl = -1;
      if (p_.icmp_raw_) {
        if (len < 20) continue;
        const std::size_t ihl = static_cast<std::size_t>(buf[0] & 0x0f) * 4;
        if (ihl < 20 || len < ihl) continue;
        ttl = buf[8];
        icmp = buf + ihl;
        len -= ihl;
      } else {
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
          if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            std::memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
          }
        }
      }
      if (len < kEchoHeader + kEchoPayload || icmp[0] != kEchoReply || icmp[1] != 0) continue;
      if (p_.icmp_raw_ && (icmp[4] << 8 | icmp[5]) != ident_) continue;  // someone else's ping
      const auto seq = static_cast<std::uint16_t>(icmp[6] << 8 | icmp[7]);
      std::uint64_t nonce = 0;
      std::memcpy(&nonce, icmp + kEchoHeader, sizeof nonce);
      const std::uint32_t src = ntohl(from.sin_addr.s_addr);
      auto e = echoes_.find(seq);
      if (nonce != nonce_ || e == echoes_.end() || e->second.ip != src) continue;
      const SteadyTime sent = e->second.sent;
      auto it = targets_.find(src);
      if (it == targets_.end() || it->second->phase != Phase::kIcmp || it->second->done) continue;
      Target& t = *it->second;
      bump(p_.counters_.attempts[idx(Method::kIcmp)][idx(Outcome::kReached)]);
      for (std::uint16_t s : t.echo_seqs)
        echoes_.erase(s);
      t.echo_seqs.clear();
      Result r;
      r.outcome = Outcome::kReached;
      r.method = Method::kIcmp;
      r.rtt = std::chrono::duration_cast<std::chrono::microseconds>(now - sent);
      if (ttl >= 1 && ttl <= 255) {
        r.hops = net::hops_from_ttl(static_cast<std::uint8_t>(ttl));
      } else {
        r.detail = "the reply carried no TTL: hops unknown";
      }
      finish(t, std::move(r), false);
    }
  }

  // ---- UDP with rising TTL -------------------------------------------------------------------------------

  void start_udp(Target& t, SteadyTime now) {
    t.phase = Phase::kUdp;
    t.udp_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (t.udp_fd < 0 || ::setsockopt(t.udp_fd, IPPROTO_IP, IP_RECVERR, &one, sizeof one) != 0) {
      const std::string why = errno_text(errno);
      bump(p_.counters_.attempts[idx(Method::kUdp)][idx(Outcome::kError)]);
      Result r;
      r.outcome = Outcome::kError;
      r.method = Method::kUdp;
      r.detail = "UDP socket: " + why;
      finish(t, std::move(r), false);
      return;
    }
    t.next_ttl = 1;
    t.next_udp = now;
    t.udp_sent.assign(static_cast<std::size_t>(o_.max_ttl) + 1, SteadyTime{});
  }

  void send_udp(Target& t, SteadyTime now) {
    const std::uint8_t ttl = t.next_ttl;
    const int ttl_opt = ttl;
    ::setsockopt(t.udp_fd, IPPROTO_IP, IP_TTL, &ttl_opt, sizeof ttl_opt);
    const std::uint8_t payload[8] = {'K', 'F', 'P', 'R', 'O', 'B', 'E', ttl};
    sockaddr_in to = to_sockaddr(t.ip, static_cast<std::uint16_t>(o_.udp_port + ttl - 1));
    ssize_t n = -1;
    int e = 0;
    // An ICMP error for an earlier TTL stays pending on the socket and fails the next send once (the
    // error queue has it anyway): a second try tells a pending error from a real one.
    for (int attempt = 0; attempt < 2 && n < 0; ++attempt) {
      n = ::sendto(t.udp_fd, payload, sizeof payload, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
      e = n < 0 ? errno : 0;
      if (n < 0 && !unreachable_errno(e)) break;
    }
    if (n < 0) {
      bump(p_.counters_.send_errors);
      if (again_errno(e)) {
        t.next_udp = now + milliseconds(5);
        return;
      }
      const Outcome o = unreachable_errno(e) ? Outcome::kUnreachable : Outcome::kError;
      bump(p_.counters_.attempts[idx(Method::kUdp)][idx(o)]);
      Result r;
      r.outcome = o;
      r.method = Method::kUdp;
      r.detail = "UDP send: " + errno_text(e);
      finish(t, std::move(r), true);
      return;
    }
    bump(p_.counters_.packets[idx(Method::kUdp)]);
    t.udp_sent[ttl] = now;
    ++t.next_ttl;
    t.next_udp = std::max(t.next_udp + o_.udp_gap, now);
  }

  void read_udp(Target& t, SteadyTime now) {
    std::uint8_t buf[512];
    alignas(cmsghdr) std::uint8_t control[512];
    std::uint8_t reached_ttl = 0;
    std::string unreachable;
    for (int i = 0; i < 256; ++i) {
      sockaddr_in dest{};
      iovec iov{buf, sizeof buf};
      msghdr msg{};
      msg.msg_name = &dest;
      msg.msg_namelen = sizeof dest;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      if (::recvmsg(t.udp_fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
      const sock_extended_err* ee = nullptr;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR &&
            c->cmsg_len >= CMSG_LEN(sizeof(sock_extended_err))) {
          ee = reinterpret_cast<const sock_extended_err*>(CMSG_DATA(c));
        }
      }
      if (ee == nullptr || ee->ee_origin != SO_EE_ORIGIN_ICMP) continue;
      // The datagram that caused it: its destination port says which TTL it was sent with.
      if (msg.msg_namelen < sizeof dest || ntohl(dest.sin_addr.s_addr) != t.ip) continue;
      const int port = ntohs(dest.sin_port);
      const int ttl = port - o_.udp_port + 1;
      if (ttl < 1 || ttl > o_.max_ttl || ttl >= t.next_ttl) continue;
      std::uint32_t offender = 0;
      sockaddr_in off{};
      std::memcpy(&off, SO_EE_OFFENDER(ee), sizeof off);
      if (off.sin_family == AF_INET) offender = ntohl(off.sin_addr.s_addr);
      if (ee->ee_type == kTimeExceeded) {
        if (ttl > t.router_ttl) {
          t.router_ttl = static_cast<std::uint8_t>(ttl);
          t.router_ip = offender;
        }
      } else if (ee->ee_type == kDestUnreachable) {
        if (offender == t.ip) {
          if (reached_ttl == 0 || ttl < reached_ttl) reached_ttl = static_cast<std::uint8_t>(ttl);
        } else if (unreachable.empty()) {
          unreachable = "ICMP destination unreachable (code " + std::to_string(ee->ee_code) + ") from " +
                        (offender ? net::ip_to_string(offender) : std::string("?")) + " at TTL " +
                        std::to_string(ttl);
        }
      }
    }
    // Anything the target sent back on the normal queue (an open port answering) is not needed.
    while (::recv(t.udp_fd, buf, sizeof buf, MSG_DONTWAIT) >= 0) {
    }
    if (reached_ttl != 0) {
      bump(p_.counters_.attempts[idx(Method::kUdp)][idx(Outcome::kReached)]);
      Result r;
      r.outcome = Outcome::kReached;
      r.method = Method::kUdp;
      r.hops = static_cast<std::uint8_t>(reached_ttl - 1);
      r.rtt = std::chrono::duration_cast<std::chrono::microseconds>(now - t.udp_sent[reached_ttl]);
      r.detail = t.icmp_detail;
      finish(t, std::move(r), true);
    } else if (!unreachable.empty()) {
      bump(p_.counters_.attempts[idx(Method::kUdp)][idx(Outcome::kUnreachable)]);
      Result r;
      r.outcome = Outcome::kUnreachable;
      r.method = Method::kUdp;
      r.detail = unreachable;
      finish(t, std::move(r), true);
    }
  }

  // ---- the end of a probe --------------------------------------------------------------------------------

  // Ends the probe of `t`: the result goes to every request waiting for it and into the cache. `udp_ended`:
  // a no-answer result ends the UDP attempt (the other outcomes are counted where they are found).
  void finish(Target& t, Result r, bool udp_ended) {
    if (t.done) return;
    if (udp_ended && r.outcome == Outcome::kNoAnswer)
      bump(p_.counters_.attempts[idx(Method::kUdp)][idx(Outcome::kNoAnswer)]);
    t.done = true;
    r.ip = t.ip;
    r.measured = std::chrono::system_clock::now();
    if (r.outcome != Outcome::kSkipped) cache_[t.ip] = {r, Steady::now() + o_.cache_for};
    for (const Waiter& w : t.waiters) {
      Request& req = *w.request;
      if (req.finished) continue;
      Result& slot = req.results[w.slot];
      std::string address = std::move(slot.address);
      slot = r;
      slot.address = std::move(address);
      slot.cached = w.cached;
      if (--req.pending == 0) finish_request(req);
    }
    t.waiters.clear();
    for (std::uint16_t s : t.echo_seqs)
      echoes_.erase(s);
    t.echo_seqs.clear();
    if (t.udp_fd >= 0) ::close(t.udp_fd);
    t.udp_fd = -1;
  }

  void reap_targets() {
    std::erase_if(targets_, [](const auto& kv) { return kv.second->done; });
  }

  Prober& p_;
  const Options& o_;
  std::uint64_t nonce_ = 0;
  std::uint16_t ident_ = 0;
  std::uint16_t next_seq_ = 0;
  double tokens_ = 0;
  SteadyTime refilled_;
  SteadyTime pruned_{};
  std::unordered_map<std::uint32_t, std::unique_ptr<Target>> targets_;
  std::deque<std::uint32_t> start_queue_;
  std::unordered_map<std::uint16_t, Echo> echoes_;
  std::unordered_map<std::uint32_t, Cached> cache_;
  std::vector<std::shared_ptr<Request>> requests_;
};

// ---- Prober --------------------------------------------------------------------------------------------

Prober::Prober(Options options) : options_(std::move(options)) {
  options_.max_ttl = std::max<std::uint8_t>(options_.max_ttl, 1);
  options_.udp_port = std::min<std::uint16_t>(options_.udp_port, static_cast<std::uint16_t>(65535 - 255));
  options_.max_echoes = std::max(options_.max_echoes, 1);
  std::string why;
  if (options_.icmp == IcmpMode::kAuto || options_.icmp == IcmpMode::kPingSocket) {
    icmp_fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (icmp_fd_ >= 0) {
      int one = 1;
      ::setsockopt(icmp_fd_, IPPROTO_IP, IP_RECVTTL, &one, sizeof one);
      icmp_description_ = "ping socket";
    } else {
      why = "ping socket: " + errno_text(errno) + " (net.ipv4.ping_group_range)";
    }
  }
  if (icmp_fd_ < 0 && (options_.icmp == IcmpMode::kAuto || options_.icmp == IcmpMode::kRaw)) {
    icmp_fd_ = ::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (icmp_fd_ >= 0) {
      icmp_raw_ = true;
      icmp_filter f{};
      f.data = ~(1u << kEchoReply);  // the kernel drops every other ICMP type before it reaches us
      ::setsockopt(icmp_fd_, SOL_RAW, ICMP_FILTER, &f, sizeof f);
      icmp_description_ = "raw socket";
    } else {
      why += (why.empty() ? "" : "; ") + std::string("raw socket: ") + errno_text(errno) + " (CAP_NET_RAW)";
    }
  }
  if (icmp_fd_ < 0) icmp_description_ = options_.icmp == IcmpMode::kOff ? "none (off)" : "none (" + why + ")";
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    stopping_ = true;  // no thread to answer: submit() refuses everything
    return;
  }
  thread_ = std::thread([this] { run(); });
}

Prober::~Prober() {
  stop();
  if (icmp_fd_ >= 0) ::close(icmp_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Prober::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
}

bool Prober::submit(std::vector<std::string> addresses, std::chrono::milliseconds deadline, Done done) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queued_requests) {
      bump(counters_.requests_dropped);
      return false;
    }
    queue_.push_back({std::move(addresses), deadline, std::move(done)});
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  return true;
}

std::vector<Result> Prober::probe(std::vector<std::string> addresses, std::chrono::milliseconds deadline) {
  auto promise = std::make_shared<std::promise<std::vector<Result>>>();
  auto future = promise->get_future();
  if (!submit(std::move(addresses), deadline,
              [promise](std::vector<Result> r) { promise->set_value(std::move(r)); }))
    return {};
  try {
    return future.get();
  } catch (const std::future_error&) {
    return {};  // stopped before the answer: the request was dropped
  }
}

Counters Prober::counters() const {
  auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  Counters c;
  c.requests = get(counters_.requests);
  c.requests_dropped = get(counters_.requests_dropped);
  c.addresses = get(counters_.addresses);
  c.bad_addresses = get(counters_.bad_addresses);
  c.cache_hits = get(counters_.cache_hits);
  c.skipped = get(counters_.skipped);
  c.send_errors = get(counters_.send_errors);
  for (std::size_t m = 0; m < kMethods; ++m) {
    c.packets[m] = get(counters_.packets[m]);
    for (std::size_t o = 0; o < kOutcomes; ++o)
      c.attempts[m][o] = get(counters_.attempts[m][o]);
  }
  return c;
}

void Prober::run() {
  if (wake_fd_ < 0) return;
  Engine engine(*this);
  std::vector<pollfd> fds;
  std::vector<std::uint32_t> fd_targets;
  while (true) {
    std::deque<Queued> incoming;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      incoming.swap(queue_);
    }
    SteadyTime now = Steady::now();
    for (auto& q : incoming)
      engine.accept(std::move(q), now);
    engine.step(now);

    fds.clear();
    fd_targets.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    if (icmp_fd_ >= 0) fds.push_back({icmp_fd_, POLLIN, 0});
    for (const auto& [ip, t] : engine.targets_) {
      if (t->udp_fd < 0) continue;
      fds.push_back({t->udp_fd, POLLIN, 0});  // POLLERR: the error queue has something
      fd_targets.push_back(ip);
    }
    const auto wait = std::min(engine.next_wake(Steady::now()), milliseconds(1000));
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
    if (ready <= 0) continue;
    now = Steady::now();
    if (fds[0].revents != 0) {
      std::uint64_t v = 0;
      [[maybe_unused]] auto n = ::read(wake_fd_, &v, sizeof v);
    }
    std::size_t next = 1;
    if (icmp_fd_ >= 0) {
      if (fds[next].revents != 0) engine.read_icmp(now);
      ++next;
    }
    for (std::size_t i = 0; i < fd_targets.size(); ++i) {
      if (fds[next + i].revents == 0) continue;
      auto it = engine.targets_.find(fd_targets[i]);
      if (it == engine.targets_.end() || it->second->done || it->second->udp_fd != fds[next + i].fd) continue;
      engine.read_udp(*it->second, now);
    }
    engine.reap_targets();
  }
}

}  // namespace kaillera::relay::probe
