// A webhook receiver for the master's webhook tests: an HTTP/1.1 server on 127.0.0.1, or HTTPS with a
// certificate the test made (OpenSSL, blocking sockets with short receive timeouts so every wait is
// bounded). Each request gets the next scripted answer (then the default one): a status with headers and a
// body, or no answer at all (it hangs until the client goes away or the receiver stops). It records every
// request: arrival time, method, target, headers, body and, over TLS, the SNI name the client sent. One
// thread per connection; the destructor stops and joins them all.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.hpp"

namespace kf_master_test {

class WebhookReceiver {
 public:
  struct Answer {
    int status = 204;
    std::string headers;  // extra header lines, each ending in "\r\n"
    std::string body;
    bool hang = false;  // never answer
  };
  struct Request {
    std::chrono::steady_clock::time_point at;  // when the whole request had arrived
    std::string method, target, head, body;
    std::string sni;  // TLS only: the server name the client asked for
    std::string header(const std::string& name) const {
      kf_test::HttpResponse r;
      r.head = head;
      return r.header(name);
    }
  };

  // Plain HTTP without `cert_file`; HTTPS with it (PEM chain and key).
  explicit WebhookReceiver(const std::string& cert_file = "", const std::string& key_file = "") {
    if (!cert_file.empty()) {
      ctx_ = SSL_CTX_new(TLS_server_method());
      if (ctx_ == nullptr || SSL_CTX_use_certificate_chain_file(ctx_, cert_file.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error("receiver: cannot load " + cert_file + " / " + key_file);
    }
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0)
      throw std::runtime_error("bind/listen failed");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~WebhookReceiver() {
    stop();
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& target, const std::string& host = "127.0.0.1") const {
    return std::string(ctx_ ? "https://" : "http://") + host + ":" + std::to_string(port_) + target;
  }

  // The answers to the next requests, in order; afterwards `fallback`.
  void script(std::vector<Answer> answers, Answer fallback) {
    std::lock_guard lock(mu_);
    script_.assign(answers.begin(), answers.end());
    fallback_ = std::move(fallback);
  }
  void script(std::vector<Answer> answers) { script(std::move(answers), Answer{}); }

  std::vector<Request> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::size_t count() {
    std::lock_guard lock(mu_);
    return requests_.size();
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout) {
    return kf_test::poll_until([&] { return count() >= n; }, timeout, std::chrono::milliseconds(10));
  }
  int hanging() const { return hanging_.load(); }

  void stop() {
    if (stop_.exchange(true)) return;
    accept_thread_.join();
    ::close(fd_);
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads)
      t.join();
  }

 private:
  // One connection: plain or TLS reads and writes with 20 ms receive timeouts.
  struct Conn {
    int fd = -1;
    SSL* ssl = nullptr;
    // >0 bytes, 0 closed or failed, -1 nothing yet (try again)
    ssize_t read(char* buf, std::size_t n) {
      if (ssl == nullptr) {
        const ssize_t r = ::recv(fd, buf, n, 0);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return -1;
        return r < 0 ? 0 : r;
      }
      const int r = SSL_read(ssl, buf, static_cast<int>(n));
      if (r > 0) return r;
      const int e = SSL_get_error(ssl, r);
      return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? -1 : 0;
    }
    bool write(const std::string& data) {
      if (ssl == nullptr) {
        std::size_t off = 0;
        while (off < data.size()) {
          const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
          if (n <= 0) return false;
          off += static_cast<std::size_t>(n);
        }
        return true;
      }
      return SSL_write(ssl, data.data(), static_cast<int>(data.size())) == static_cast<int>(data.size());
    }
  };

  void accept_loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::lock_guard lock(mu_);
      threads_.emplace_back([this, c] { serve(c); });
    }
  }

  void serve(int c) {
    timeval tv{0, 20'000};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    timeval send_tv{2, 0};
    ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &send_tv, sizeof send_tv);
    Conn conn{c, nullptr};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    Request req;
    bool ok = true;
    if (ctx_ != nullptr) {
      conn.ssl = SSL_new(ctx_);
      SSL_set_fd(conn.ssl, c);
      while (true) {
        const int r = SSL_accept(conn.ssl);
        if (r == 1) break;
        const int e = SSL_get_error(conn.ssl, r);
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || stop_ ||
            std::chrono::steady_clock::now() > deadline) {
          ok = false;  // the client refused our certificate, or went away
          break;
        }
      }
      if (ok) {
        const char* sni = SSL_get_servername(conn.ssl, TLSEXT_NAMETYPE_host_name);
        req.sni = sni != nullptr ? sni : "";
      }
    }
    std::string data;
    std::size_t header_end = std::string::npos, need = 0;
    while (ok && !stop_ && std::chrono::steady_clock::now() < deadline) {
      if (header_end != std::string::npos && data.size() >= need) break;
      char buf[4096];
      const ssize_t n = conn.read(buf, sizeof buf);
      if (n < 0) continue;
      if (n == 0) {
        ok = false;
        break;
      }
      data.append(buf, static_cast<std::size_t>(n));
      if (header_end == std::string::npos && (header_end = data.find("\r\n\r\n")) != std::string::npos) {
        req.head = data.substr(0, header_end);
        need = header_end + 4 + static_cast<std::size_t>(std::atoll(req.header("content-length").c_str()));
      }
    }
    if (ok && header_end != std::string::npos && data.size() >= need) {
      req.at = std::chrono::steady_clock::now();
      const auto sp1 = req.head.find(' ');
      const auto sp2 = req.head.find(' ', sp1 + 1);
      req.method = req.head.substr(0, sp1);
      req.target = req.head.substr(sp1 + 1, sp2 - sp1 - 1);
      req.body = data.substr(header_end + 4, need - header_end - 4);
      Answer a;
      {
        std::lock_guard lock(mu_);
        requests_.push_back(req);
        if (!script_.empty()) {
          a = script_.front();
          script_.pop_front();
        } else {
          a = fallback_;
        }
      }
      if (a.hang) {
        ++hanging_;
        char buf[256];
        while (!stop_ && conn.read(buf, sizeof buf) != 0) {
        }
        --hanging_;
      } else {
        conn.write("HTTP/1.1 " + std::to_string(a.status) + " X\r\n" + a.headers + "Content-Length: " +
                   std::to_string(a.body.size()) + "\r\nConnection: close\r\n\r\n" + a.body);
      }
    }
    if (conn.ssl != nullptr) {
      SSL_shutdown(conn.ssl);
      SSL_free(conn.ssl);
    }
    ::shutdown(c, SHUT_RDWR);
    ::close(c);
  }

  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> hanging_{0};
  std::thread accept_thread_;
  std::mutex mu_;
  std::deque<Answer> script_;
  Answer fallback_;
  std::vector<Request> requests_;
  std::vector<std::thread> threads_;
};

}  // namespace kf_master_test
